"""The access tables on the request path (async): keys, principals, grants, the audit log."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gis_service.auth.principal import GrantInfo, merge_grants
from gis_service.db import request_connection
from gis_service.errors import GisServiceError
from gis_service.queries import access as aq

log = logging.getLogger("gis_service.auth")


@dataclass(frozen=True)
class KeyRecord:
    id: int
    principal_id: int
    secret_hash: bytes
    scopes: list[str]
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class PrincipalRow:
    id: int
    name: str
    kind: str
    admin: bool
    disabled: bool
    groups: list[str]


async def key(conn: AsyncConnection, prefix: str) -> KeyRecord | None:
    row = (await conn.execute(aq.key_lookup(prefix))).first()
    if row is None:
        return None
    return KeyRecord(
        row.id, row.principal_id, bytes(row.secret_hash), list(row.scopes or []), row.expires_at, row.revoked_at
    )


async def principal(conn: AsyncConnection, **where: Any) -> PrincipalRow | None:
    row = (await conn.execute(aq.principal(**where))).first()
    if row is None:
        return None
    return PrincipalRow(row.id, row.name, row.kind, row.admin, row.disabled, list(row.groups or []))


async def grants(conn: AsyncConnection, principal_id: int | None, groups: list[str]) -> dict[str, GrantInfo]:
    rows = (await conn.execute(aq.grants(principal_id, groups))).all()
    return merge_grants([(r.collection, r.role, bool(r.area)) for r in rows])


async def touch(conn: AsyncConnection, key_id: int, every_s: int) -> None:
    await conn.execute(aq.touch_key(key_id, every_s))


async def record(engine: AsyncEngine, event: str, **fields: Any) -> None:
    """One audit row, on a connection of its own (autocommit); a failure to write it is logged, not raised:
    the client gets the answer it was due either way."""
    try:
        async with request_connection(engine) as conn:
            await conn.execute(aq.audit(event, **fields))
    except (GisServiceError, DBAPIError, OSError) as exc:
        log.warning("audit row %s not written: %s", event, type(exc).__name__)
