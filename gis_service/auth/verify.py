"""From a credential to a :class:`Principal`: the key's HMAC or the token's signature, then the grants.

Every failure is a :class:`NotAuthenticated` whose message says what was wrong without repeating the
secret; an unknown prefix costs the same HMAC as a known one.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from gis_service.auth import dbroles, keys, store
from gis_service.auth.credentials import Credential, KeyCredential
from gis_service.auth.principal import Principal, Scope
from gis_service.auth.store import Connect
from gis_service.auth.throttle import FailureThrottle
from gis_service.auth.tokens import OidcVerifier, TokenRejected
from gis_service.errors import NotAuthenticated
from gis_service.queries import access as aq
from gis_service.settings import Settings

log = logging.getLogger("gis_service.auth")
#: Compared against when the prefix is unknown, so that case takes as long as a wrong secret.
NO_HASH = b"\0" * 32


@dataclass
class AuthState:
    """Per worker (``app.state.auth``): the issuer's cached keys and the failure counters."""

    settings: Settings
    verifier: OidcVerifier
    throttle: FailureThrottle

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthState:
        if not settings.db.app_role:
            log.warning("GIS_DB__APP_ROLE is not set: %s", dbroles.DBA_SENTENCE)
        if settings.auth.pepper is None:
            log.warning("GIS_AUTH__PEPPER is not set: API keys cannot be checked (gis-service db up makes one)")
        return cls(settings, OidcVerifier(settings.auth), FailureThrottle(settings.auth))


async def authenticate(state: AuthState, connect: Connect, credential: Credential) -> Principal:
    if isinstance(credential, KeyCredential):
        return await _by_key(state, connect, credential)
    try:
        claims = await state.verifier.verify(credential.token)
    except TokenRejected as exc:
        raise NotAuthenticated(str(exc)) from None
    async with connect() as conn:
        caller = await store.by_subject(conn, claims.subject, list(claims.groups))
    row = caller.principal
    if row is not None and row.disabled:
        raise NotAuthenticated("this account is disabled")
    groups = list(dict.fromkeys([*(row.groups if row else []), *claims.groups]))
    return Principal(
        id=row.id if row else None,
        name=row.name if row else claims.name,
        kind=row.kind if row else "user",
        admin=bool(row and row.admin) or _admin_group(state, groups),
        groups=tuple(groups),
        grants=caller.grants,
        scheme="oidc",
    )


async def _by_key(state: AuthState, connect: Connect, credential: KeyCredential) -> Principal:
    """One statement reads the key, its account and the grants; ``last_used_at`` is written only when due."""
    pepper = state.settings.auth.pepper_bytes
    if pepper is None:
        raise NotAuthenticated("API keys cannot be checked: the service has no GIS_AUTH__PEPPER")
    presented = credential.key
    every_s = state.settings.auth.key_touch_interval_s
    async with connect() as conn:
        found = await store.by_key(conn, presented.prefix, every_s)
        if not keys.matches(pepper, presented.secret, found[0].secret_hash if found else NO_HASH) or found is None:
            raise NotAuthenticated("unknown API key, or a wrong secret")
        record, caller = found
        _check_validity(record)
        row = caller.principal
        if row is None or row.disabled:
            raise NotAuthenticated("the key's account is disabled")
        if credential.username is not None and credential.username != row.name:
            raise NotAuthenticated("the Basic user name is not the name of the key's account")
        if record.touch_due:
            await store.touch(conn, record.id, every_s)
    return Principal(
        id=row.id,
        name=row.name,
        kind=row.kind,
        admin=row.admin or _admin_group(state, row.groups),
        groups=tuple(row.groups),
        grants=caller.grants,
        scopes=tuple(Scope.parse(s) for s in record.scopes) if record.scopes else None,
        scheme=credential.scheme,
    )


def _check_validity(record: store.KeyRecord) -> None:
    if record.revoked_at is not None:
        raise NotAuthenticated("this API key has been revoked")
    if record.expires_at is not None and record.expires_at <= dt.datetime.now(dt.UTC):
        raise NotAuthenticated("this API key has expired")


def _admin_group(state: AuthState, groups: list[str]) -> bool:
    return any(g in state.settings.auth.admin_groups for g in groups)


async def set_actor(conn: AsyncConnection, principal: Principal) -> None:
    """In a write transaction: who is writing, for the policies and the history triggers."""
    if principal.id is None:
        raise NotAuthenticated("writing needs an account of this service (no principal for this token)")
    await conn.execute(aq.set_actor(principal.id, list(principal.groups)))
