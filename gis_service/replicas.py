"""Reads on streaming replicas, writes on the primary, and read-your-writes through the WAL position.

With ``db.replica_urls`` set, every read connection of a request (items, tiles, analyses, maps) comes from
a replica, taken round-robin; a replica that cannot be reached or checked within ``db.replica_timeout_s``
is skipped for ``db.replica_retry_s`` and the next one is tried, the primary last. Writes stay on the
primary and answer with the WAL position after their commit (header and cookie); a read that carries one
uses a replica only once it has replayed that far (waiting at most ``db.replica_wait_ms``), else the
primary. A read that fails on a replica mid-request (the server went away) is answered again from the
primary by :class:`PrimaryRetry`. Without replicas nothing of this runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gis_service.db import async_engine, database_errors, failed_engines, request_connection
from gis_service.errors import InvalidParameter
from gis_service.queries import replication
from gis_service.settings import Settings

log = logging.getLogger(__name__)

WAL_HEADER = "X-WAL-LSN"
WAL_COOKIE = "gis_wal_lsn"
LSN = re.compile(r"[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}")
#: How often a read carrying a WAL position asks its replica again while waiting for the replay.
POLL_S = 0.005
READ_METHODS = ("GET", "HEAD")
#: ``scope["state"]`` key: this request runs again, on the primary.
ON_PRIMARY = "read_on_primary"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class Replica:
    name: str  # host:port/database, for logs
    engine: AsyncEngine
    down_until: float = 0.0

    @property
    def up(self) -> bool:
        return time.monotonic() >= self.down_until


class ReadEngines:
    """The primary and its replicas; which one serves a read."""

    def __init__(self, primary: AsyncEngine, replicas: list[Replica], settings: Settings) -> None:
        self.primary, self.replicas = primary, replicas
        self.timeout_s = settings.db.replica_timeout_s
        self.retry_s = settings.db.replica_retry_s
        self.wait_s = settings.db.replica_wait_ms / 1000
        self._turn = itertools.count()

    @classmethod
    def from_settings(cls, settings: Settings, primary: AsyncEngine) -> ReadEngines:
        timeout = settings.db.replica_timeout_s
        replicas = [
            Replica(
                url.rpartition("@")[2],
                async_engine(
                    settings, url=url, name="gis_service replica", connect_timeout_s=timeout, pool_timeout_s=timeout
                ),
            )
            for url in settings.replica_request_urls
        ]
        return cls(primary, replicas, settings)

    @property
    def enabled(self) -> bool:
        return bool(self.replicas)

    async def dispose(self) -> None:
        for replica in self.replicas:
            await replica.engine.dispose()

    def candidates(self) -> list[Replica]:
        """The replicas not known to be down, starting with the next one's turn."""
        start = next(self._turn) % len(self.replicas)
        ordered = self.replicas[start:] + self.replicas[:start]
        return [replica for replica in ordered if replica.up]

    def mark_down(self, replica: Replica, why: object) -> None:
        if replica.up:
            log.warning("replica %s skipped for %g s: %s", replica.name, self.retry_s, why)
        replica.down_until = time.monotonic() + self.retry_s

    def failed(self, engines: list[AsyncEngine]) -> bool:
        """Mark the replicas among ``engines`` down; whether there was one."""
        hit = [replica for replica in self.replicas if replica.engine in engines]
        for replica in hit:
            self.mark_down(replica, "it failed during a request")
        return bool(hit)

    def engine_for(self, request: Request) -> AsyncEngine:
        """An engine for work that opens its own connections (tile renders): the next replica up, unless
        the request must read on the primary. No check here: a failure is answered by :class:`PrimaryRetry`."""
        if not self.enabled or on_primary(request) or wal_position(request) is not None:
            return self.primary
        candidates = self.candidates()
        return candidates[0].engine if candidates else self.primary

    @asynccontextmanager
    async def connection(self, request: Request) -> AsyncIterator[AsyncConnection]:
        """The read connection of one request: a replica that is up (and has replayed the request's WAL
        position), else the primary."""
        chosen = None if not self.enabled or on_primary(request) else await self._replica(wal_position(request))
        if chosen is None:
            async with request_connection(self.primary) as conn:
                yield conn
            return
        engine, conn = chosen
        async with database_errors(engine):
            try:
                yield conn
            finally:
                await conn.close()

    async def _replica(self, lsn: str | None) -> tuple[AsyncEngine, AsyncConnection] | None:
        deadline = time.monotonic() + self.wait_s
        for replica in self.candidates():
            conn = await self._open(replica)
            if conn is None:
                continue
            caught_up = await self._caught_up(replica, conn, lsn, deadline)
            if caught_up:
                return replica.engine, conn
            if caught_up is False:  # alive but behind: the primary has the write now
                await conn.close()
                return None
        return None

    async def _open(self, replica: Replica) -> AsyncConnection | None:
        try:
            return await replica.engine.connect()
        except PoolTimeout:
            return None  # busy, not down: another replica or the primary takes this read
        except (TimeoutError, DBAPIError, OSError) as exc:
            self.mark_down(replica, exc)
            return None

    async def _caught_up(
        self, replica: Replica, conn: AsyncConnection, lsn: str | None, deadline: float
    ) -> bool | None:
        """True when the replica answers and has replayed ``lsn``; False when it stays behind until
        ``deadline``; None when it did not answer in time (the connection is dropped, the replica skipped)."""
        statement = replication.replayed(lsn)
        try:
            while True:
                if await asyncio.wait_for(conn.scalar(statement), self.timeout_s):
                    return True
                if time.monotonic() + POLL_S > deadline:
                    return False
                await asyncio.sleep(POLL_S)
        except (TimeoutError, DBAPIError, OSError) as exc:
            self.mark_down(replica, exc or "no answer")
            await _drop(conn)
            return None


async def _drop(conn: AsyncConnection) -> None:
    """Close a connection to a server that may not answer at all (stopped): no goodbye, no waiting."""
    with contextlib.suppress(SQLAlchemyError, OSError):
        if not conn.invalidated:  # a lost connection is invalidated already
            raw = await conn.get_raw_connection()
            if raw.driver_connection is not None:
                raw.driver_connection.terminate()
            await conn.invalidate()
    with contextlib.suppress(SQLAlchemyError, OSError):
        await conn.close()


def wal_position(request: Request) -> str | None:
    """The WAL position a read must see: the ``X-WAL-LSN`` header (a malformed one is a 400) or the cookie
    a write set (a malformed cookie is ignored: browsers send it unasked)."""
    header = request.headers.get(WAL_HEADER)
    if header is not None:
        if not LSN.fullmatch(header.strip()):
            raise InvalidParameter(
                f"{WAL_HEADER} must be a WAL position such as 16/B374D848 (the header of a write's answer)",
                parameter=WAL_HEADER,
            )
        return header.strip()
    cookie = (request.cookies.get(WAL_COOKIE) or "").replace("-", "/")
    return cookie if LSN.fullmatch(cookie) else None


def on_primary(request: Request) -> bool:
    return bool(request.scope.get("state", {}).get(ON_PRIMARY))


def read_engines(request: Request) -> ReadEngines | None:
    reads: ReadEngines | None = getattr(request.app.state, "reads", None)
    return reads if reads is not None and reads.enabled else None


def read_engine(request: Request) -> AsyncEngine:
    """The engine a request's own renders use (tiles): a replica when configured, else the primary."""
    reads = read_engines(request)
    return reads.engine_for(request) if reads is not None else request.app.state.engine


@asynccontextmanager
async def read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """The connection of a request's reads (the dependency ``ConnDep``)."""
    reads = read_engines(request)
    if reads is None:
        async with request_connection(request.app.state.engine) as conn:
            yield conn
        return
    async with reads.connection(request) as conn:
        yield conn


async def remember_write(request: Request, response: Response) -> None:
    """After a committed write: its WAL position as a header and a cookie, so the writer's next reads see
    it on a replica (or on the primary). Nothing when no replica is configured."""
    reads = read_engines(request)
    if reads is None:
        return
    async with request_connection(reads.primary) as conn:
        position = str(await conn.scalar(replication.wal_position()))
    response.headers[WAL_HEADER] = position
    max_age = request.app.state.settings.db.wal_cookie_max_age_s
    # "/" would make the cookie a quoted string: "-" keeps it a plain token
    response.set_cookie(WAL_COOKIE, position.replace("/", "-"), max_age=max_age, httponly=True, samesite="lax")


class PrimaryRetry:
    """A read (GET, HEAD) whose replica went away mid-request answered 503: run it once more on the primary,
    so a replica's crash costs its in-flight readers a little time, not an error. Only 503 answers are held
    back; every other answer streams as it comes."""

    def __init__(self, app: App, reads: Callable[[], ReadEngines | None]) -> None:
        self.app, self.reads = app, reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reads = self.reads() if scope["type"] == "http" and scope["method"] in READ_METHODS else None
        if reads is None or not reads.enabled:
            await self.app(scope, receive, send)
            return
        failed: list[AsyncEngine] = []
        held: list[Message] = []
        token = failed_engines.set(failed)
        try:
            await self.app(scope, receive, _holding_503(send, held))
        finally:
            failed_engines.reset(token)
        if not held:
            return
        if reads.failed(failed):
            retry = {**scope, "state": {**scope.get("state", {}), ON_PRIMARY: True}}
            await self.app(retry, receive, send)
            return
        for message in held:
            await send(message)


def _holding_503(send: Send, held: list[Message]) -> Send:
    async def holding(message: Message) -> None:
        if held or (message["type"] == "http.response.start" and message["status"] == 503):
            held.append(message)
            return
        await send(message)

    return holding
