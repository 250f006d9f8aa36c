"""Response headers of access control, in one place for every router (pages and problem+json alike).

- a 401 names the schemes a client may answer with (``WWW-Authenticate``, RFC 9110);
- an answer that holds a non-public collection (``request.state.cache_private``) is ``Cache-Control:
  private, no-cache`` and varies on the credentials, so no cache serves it without asking us again.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def challenges(realm: str) -> list[str]:
    return [f'Bearer realm="{realm}"', f'Basic realm="{realm}", charset="UTF-8"']


def private(cache_control: str | None) -> str:
    """``private, no-cache`` and the directives that still apply (max-age, must-revalidate ...): no shared
    cache keeps it, and a client's own cache (QGIS keeps one on disk per OS user) asks again before reusing
    it, so credentials are checked every time."""
    dropped = {"public", "private", "no-cache"}
    kept = [d.strip() for d in (cache_control or "").split(",") if d.strip() and d.strip().lower() not in dropped]
    return ", ".join(["private", "no-cache", *kept])


class AccessHeaders:
    def __init__(self, app: ASGIApp, realm: str) -> None:
        self.app = app
        self.realm = realm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # the dict request.state writes to, however scope is copied

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if message["status"] == 401 and "www-authenticate" not in headers:
                    for challenge in challenges(self.realm):
                        headers.append("WWW-Authenticate", challenge)
                if state.get("cache_private"):
                    headers["Cache-Control"] = private(headers.get("cache-control"))
                    headers.append("Vary", "Authorization, X-API-Key")
            await send(message)

        await self.app(scope, receive, send_with_headers)
