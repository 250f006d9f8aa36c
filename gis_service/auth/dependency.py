"""FastAPI dependencies: who is calling (once per request) and whether they may read this collection.

Routers take ``CurrentPrincipal``, ``ReadableCollection`` or ``ReadableLayers`` and stay thin. A non-public
collection marks the request private, so the answer carries ``Cache-Control: private`` (see
:mod:`gis_service.auth.middleware`) and never lands in a shared cache.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gis_service.auth import credentials, store
from gis_service.auth.principal import Action, Principal
from gis_service.auth.verify import AuthState, authenticate, set_actor
from gis_service.catalog import LayerSpec
from gis_service.db import request_connection
from gis_service.dependencies import PRIMARY_CONNECTION, CollectionDep
from gis_service.errors import Forbidden, NotAuthenticated
from gis_service.settings import Settings


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@asynccontextmanager
async def auth_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """Where authentication runs its statement: the request's own connection to the primary when it was
    taken first (``ConnDep`` before the access dependency), else a connection of its own, returned before
    the request takes its connection. So a request never holds one pooled connection while waiting for
    another (``gis_service.dependencies.get_connection``). A replica's connection is not used: a key made
    a moment ago may not have reached it, and the key's use is written."""
    held: AsyncConnection | None = getattr(request.state, PRIMARY_CONNECTION, None)
    if held is not None:
        yield held
        return
    async with request_connection(request.app.state.engine) as conn:
        yield conn


async def current_principal(request: Request) -> Principal | None:
    """The caller, or None for an anonymous request; bad credentials are a 401 (audited, throttled)."""
    state: AuthState = request.app.state.auth
    address = client_address(request)
    throttle_keys = [f"address:{address}"]
    credential: credentials.Credential | None = None
    try:
        credential = credentials.from_headers(request.headers.get("authorization"), request.headers.get("x-api-key"))
        if credential is None:
            return None
        if isinstance(credential, credentials.KeyCredential):  # one key's holder; tokens share no counter
            throttle_keys.append(f"credential:{credential.label}")
        await state.throttle.wait(*throttle_keys)
        return await authenticate(state, partial(auth_connection, request), credential)
    except NotAuthenticated as exc:
        state.throttle.failed(*throttle_keys)
        subject = credential.label if credential else None
        scheme = credential.scheme if credential else "malformed"
        detail = {"reason": exc.detail, "scheme": scheme, "path": request.url.path}
        connect = partial(auth_connection, request)
        await store.record(connect, "auth_failure", subject=subject, address=address, detail=detail)
        raise


CurrentPrincipal = Annotated[Principal | None, Depends(current_principal)]


def allowed(settings: Settings, principal: Principal | None, spec: LayerSpec, action: Action) -> bool:
    """The decision alone, without side effects (the analyses ask it of every layer they might read)."""
    if action is Action.READ and spec.public and (principal is not None or settings.auth.anonymous_reads):
        return True
    return principal is not None and principal.may(spec.id, action)


def permitted(request: Request, principal: Principal | None, spec: LayerSpec, action: Action) -> bool:
    """The decision for this request; a non-public collection it allows makes the answer private."""
    ok = allowed(request.app.state.settings, principal, spec, action)
    if ok and not spec.public:
        request.state.cache_private = True
    return ok


def authorize(request: Request, principal: Principal | None, spec: LayerSpec, action: Action) -> LayerSpec:
    """``spec`` when ``principal`` may do ``action`` on it; 401 for anonymous callers, 403 for the others."""
    if permitted(request, principal, spec, action):
        return spec
    if principal is None:
        raise NotAuthenticated(f"{spec.id} needs credentials to be {DONE[action]}", parameter="collectionId")
    raise Forbidden(f"{principal} may not {action.value} {spec.id}", parameter="collectionId")


#: The past participle of each action, for the 401's detail.
DONE = {Action.READ: "read", Action.EDIT: "edited", Action.CURATE: "curated", Action.ADMINISTER: "administered"}


async def readable_collection(request: Request, spec: CollectionDep, principal: CurrentPrincipal) -> LayerSpec:
    return authorize(request, principal, spec, Action.READ)


ReadableCollection = Annotated[LayerSpec, Depends(readable_collection)]


class Readable:
    """Which collections this caller may read: multi-layer answers (the planning tileset and map) drop the
    others, or refuse when they were asked for by name."""

    def __init__(self, request: Request, principal: Principal | None) -> None:
        self.request, self.principal = request, principal

    def __call__(self, spec: LayerSpec) -> bool:
        return permitted(self.request, self.principal, spec, Action.READ)

    def only(self, specs: Iterable[LayerSpec], *, named: bool = False) -> list[LayerSpec]:
        """The readable ones; with ``named`` (the client listed them) any other one is a 401/403."""
        if named:
            return [authorize(self.request, self.principal, spec, Action.READ) for spec in specs]
        return [spec for spec in specs if self(spec)]


async def readable_layers(request: Request, principal: CurrentPrincipal) -> Readable:
    return Readable(request, principal)


ReadableLayers = Annotated[Readable, Depends(readable_layers)]


@asynccontextmanager
async def writing_as(engine: AsyncEngine, principal: Principal) -> AsyncIterator[AsyncConnection]:
    """One write transaction that says who is writing (``app.user_id``, ``app.groups``, local to it), so
    row-level security judges the change as this principal's."""
    async with request_connection(engine) as conn:
        conn = await conn.execution_options(isolation_level="READ COMMITTED")
        async with conn.begin():
            await set_actor(conn, principal)
            yield conn
