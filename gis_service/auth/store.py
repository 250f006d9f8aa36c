"""The access tables on the request path (async): keys, principals, grants, the audit log."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from gis_service.auth.principal import GrantInfo, merge_grants
from gis_service.errors import GisServiceError
from gis_service.queries import access as aq

log = logging.getLogger("gis_service.auth")
#: Where the statements of an authentication run (the engine is autocommit: each lands at once): the
#: request's own connection when it holds one, else a short one (:func:`gis_service.auth.dependency.auth_connection`).
Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


@dataclass(frozen=True)
class KeyRecord:
    id: int
    secret_hash: bytes
    scopes: list[str]
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    #: ``last_used_at`` is older than ``key_touch_interval_s`` (:func:`touch`).
    touch_due: bool


@dataclass(frozen=True)
class PrincipalRow:
    id: int
    name: str
    kind: str
    admin: bool
    disabled: bool
    groups: list[str]


@dataclass(frozen=True)
class Caller:
    """What one statement tells of a caller: the principal (None: no account) and its merged grants."""

    principal: PrincipalRow | None
    grants: dict[str, GrantInfo]


async def by_key(conn: AsyncConnection, prefix: str, touch_every_s: int) -> tuple[KeyRecord, Caller] | None:
    """The key of a presented prefix and its account (None: unknown prefix)."""
    row = (await conn.execute(aq.caller_by_key(prefix, touch_every_s))).first()
    if row is None:
        return None
    key = KeyRecord(
        row.key_id, bytes(row.secret_hash), list(row.scopes or []), row.expires_at, row.revoked_at, row.touch_due
    )
    return key, _caller(row)


async def by_subject(conn: AsyncConnection, oidc_subject: str, token_groups: list[str]) -> Caller:
    """The account of an OIDC subject, if there is one, and the grants of it and of the token's groups."""
    return _caller((await conn.execute(aq.caller_by_subject(oidc_subject, token_groups))).one())


def _caller(row: Any) -> Caller:
    principal = None
    if row.id is not None:
        principal = PrincipalRow(row.id, row.name, row.kind, row.admin, row.disabled, list(row.groups or []))
    grants = merge_grants([(collection, role, bool(area)) for collection, role, area in row.grants or []])
    return Caller(principal, grants)


async def touch(conn: AsyncConnection, key_id: int, every_s: int) -> None:
    await conn.execute(aq.touch_key(key_id, every_s))


async def record(connect: Connect, event: str, **fields: Any) -> None:
    """One audit row (autocommit); a failure to write it is logged, not raised: the client gets the answer
    it was due either way."""
    try:
        async with connect() as conn:
            await conn.execute(aq.audit(event, **fields))
    except (GisServiceError, DBAPIError, OSError) as exc:
        log.warning("audit row %s not written: %s", event, type(exc).__name__)
