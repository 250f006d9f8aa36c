"""Statements of the access tables: principals, keys, grants, edit areas, audit. Pure builders, bound values.

API keys are read through ``gis_api_key_lookup`` (SECURITY DEFINER, migration 0004): the app role may not
select the hashes, only the one row whose prefix a client presented.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    Delete,
    Insert,
    Integer,
    LargeBinary,
    Numeric,
    Select,
    Text,
    Update,
    cast,
    column,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSON
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.expression import ColumnElement, Executable

from gis_service.models.access import ApiKey, AuditEvent, EditArea, Grant, Principal, PrincipalGroup

# ---- request path -----------------------------------------------------------------------------


def _key(prefix: str) -> Any:
    """The key row of one presented prefix, hash included (for a constant-time comparison in Python)."""
    return func.gis_api_key_lookup(prefix).table_valued(
        column("id", Integer),
        column("principal_id", Integer),
        column("secret_hash", LargeBinary),
        column("scopes", ARRAY(Text)),
        column("expires_at"),
        column("revoked_at"),
        column("last_used_at"),
    )


def _member_groups() -> Select:
    """The groups of the enclosing query's principal (``principal_groups``)."""
    return select(PrincipalGroup.group_name).where(PrincipalGroup.principal_id == Principal.id).correlate(Principal)


def _groups() -> ColumnElement[Any]:
    return func.array(_member_groups().scalar_subquery())


def _area_of_grant() -> tuple[ColumnElement[bool], ...]:
    """The edit area of the enclosing query's grant: same subject, same collection."""
    return (
        EditArea.collection == Grant.collection,
        EditArea.principal_id.is_not_distinct_from(Grant.principal_id),
        EditArea.group_name.is_not_distinct_from(Grant.group_name),
    )


def _grants_of(extra_groups: list[str]) -> ColumnElement[Any]:
    """``[[collection, role, has_area], ...]`` (JSON, NULL: none) of every grant to the enclosing query's
    principal, to one of its groups, or to one of ``extra_groups`` (an OIDC token's)."""
    area = exists().where(*_area_of_grant())
    theirs = Grant.group_name == func.any(cast(literal(extra_groups), ARRAY(Text))) if extra_groups else false()
    who = or_(Grant.principal_id == Principal.id, Grant.group_name.in_(_member_groups()), theirs)
    rows = func.json_agg(func.json_build_array(Grant.collection, Grant.role, area), type_=JSON)
    return select(rows).where(who).correlate(Principal).scalar_subquery()


def _caller_columns(extra_groups: list[str]) -> list[Any]:
    return [
        Principal.id,
        Principal.name,
        Principal.kind,
        Principal.admin,
        Principal.disabled,
        _groups().label("groups"),
        _grants_of(extra_groups).label("grants"),
    ]


def _stale(last_used_at: Any, every_s: int) -> ColumnElement[bool]:
    """``last_used_at`` is written at most every ``every_s`` seconds: not a write on every request."""
    return or_(last_used_at.is_(None), last_used_at < func.now() - dt.timedelta(seconds=every_s))


def caller_by_key(prefix: str, touch_every_s: int) -> Select:
    """One statement per authenticated request: the key of a presented prefix (hash included, compared in
    Python in constant time), its principal with groups and grants, and whether the key's ``last_used_at``
    is due (:func:`touch_key`). No row: an unknown prefix."""
    key = _key(prefix)
    return select(
        key.c.id.label("key_id"),
        key.c.secret_hash,
        key.c.scopes,
        key.c.expires_at,
        key.c.revoked_at,
        _stale(key.c.last_used_at, touch_every_s).label("touch_due"),
        *_caller_columns([]),
    ).select_from(key.outerjoin(Principal, Principal.id == key.c.principal_id))


def caller_by_subject(oidc_subject: str, token_groups: list[str]) -> Select:
    """One row: the principal of an OIDC subject (NULL columns: none) and the grants of it, of its groups
    and of the token's groups."""
    one = select(literal(1).label("one")).subquery("one")
    joined = one.outerjoin(Principal, Principal.oidc_subject == oidc_subject)
    return select(*_caller_columns(token_groups)).select_from(joined)


def touch_key(key_id: int, every_s: int) -> Update:
    """Stamp a key's use, unless it was stamped within ``every_s`` seconds."""
    return (
        update(ApiKey).where(ApiKey.id == key_id, _stale(ApiKey.last_used_at, every_s)).values(last_used_at=func.now())
    )


def audit(
    event: str,
    *,
    actor: str | None = None,
    subject: str | None = None,
    collection: str | None = None,
    address: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Insert:
    values = {"actor": actor, "subject": subject, "collection": collection, "address": address}
    # inline: no RETURNING of the new id, which the app role may not read (it may only append).
    return insert(AuditEvent).values(event=event, detail=detail or {}, **values).inline()


def set_actor(principal_id: int, groups: list[str]) -> Select:
    """Who is writing, for row-level security and history: local to the transaction (``is_local``)."""
    return select(
        func.set_config("app.user_id", str(principal_id), true()),
        func.set_config("app.groups", ",".join(groups), true()),
    )


# ---- administration (CLI) ---------------------------------------------------------------------


def add_principal(name: str, kind: str, display_name: str, oidc_subject: str | None, admin: bool) -> Insert:
    return (
        insert(Principal)
        .values(name=name, kind=kind, display_name=display_name, oidc_subject=oidc_subject, admin=admin)
        .returning(Principal.id)
    )


def add_groups(principal_id: int, groups: list[str]) -> Insert:
    rows = [{"principal_id": principal_id, "group_name": g} for g in groups]
    return pg_insert(PrincipalGroup).values(rows).on_conflict_do_nothing()


def principals() -> Select:
    keys = (
        select(func.count()).where(ApiKey.principal_id == Principal.id, ApiKey.revoked_at.is_(None)).scalar_subquery()
    )
    return select(
        Principal.id,
        Principal.name,
        Principal.kind,
        Principal.display_name,
        Principal.oidc_subject,
        Principal.admin,
        Principal.disabled,
        Principal.db_role,
        _groups().label("groups"),
        keys.label("keys"),
    ).order_by(Principal.name)


def principal_by_name(name: str) -> Select:
    return select(Principal.id, Principal.name, Principal.disabled, Principal.db_role).where(Principal.name == name)


def set_disabled(principal_id: int, disabled: bool) -> Update:
    return update(Principal).where(Principal.id == principal_id).values(disabled=disabled)


def set_db_role(principal_id: int, role: str | None) -> Update:
    return update(Principal).where(Principal.id == principal_id).values(db_role=role)


def add_key(
    principal_id: int, prefix: str, secret_hash: bytes, label: str | None, scopes: list[str], expires: Any
) -> Insert:
    return (
        insert(ApiKey)
        .values(
            principal_id=principal_id,
            prefix=prefix,
            secret_hash=secret_hash,
            label=label,
            scopes=scopes,
            expires_at=expires,
        )
        .returning(ApiKey.id)
    )


def keys(principal_id: int | None = None) -> Select:
    """Keys without their hashes."""
    query = select(
        ApiKey.prefix,
        Principal.name,
        ApiKey.label,
        ApiKey.scopes,
        ApiKey.created_at,
        ApiKey.expires_at,
        ApiKey.last_used_at,
        ApiKey.revoked_at,
    ).join(Principal, Principal.id == ApiKey.principal_id)
    if principal_id is not None:
        query = query.where(ApiKey.principal_id == principal_id)
    return query.order_by(Principal.name, ApiKey.created_at)


def revoke_key(prefix: str) -> Update:
    return (
        update(ApiKey)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(ApiKey.principal_id)
    )


def _subject(model: Any, principal_id: int | None, group: str | None) -> ColumnElement[bool]:
    return model.principal_id == principal_id if principal_id is not None else model.group_name == group


def _unique_key(principal_id: int | None) -> list[str]:
    """The unique index a grant or an edit area of this subject is found by (``ON CONFLICT``)."""
    return ["principal_id" if principal_id is not None else "group_name", "collection"]


def set_grant(principal_id: int | None, group: str | None, collection: str, role: str, by: str) -> Insert:
    statement = pg_insert(Grant).values(
        principal_id=principal_id, group_name=group, collection=collection, role=role, created_by=by
    )
    return statement.on_conflict_do_update(
        index_elements=_unique_key(principal_id), set_={"role": role, "created_by": by, "created_at": func.now()}
    )


def revoke_grant(principal_id: int | None, group: str | None, collection: str, role: str | None) -> Executable:
    statement = delete(Grant).where(_subject(Grant, principal_id, group), Grant.collection == collection)
    if role is not None:
        statement = statement.where(Grant.role == role)
    return statement.returning(Grant.role)


def set_area(principal_id: int | None, group: str | None, collection: str, wkb: bytes, by: str) -> Insert:
    geom = func.ST_Multi(func.ST_GeomFromWKB(wkb, 4326))
    statement = pg_insert(EditArea).values(
        principal_id=principal_id, group_name=group, collection=collection, geom=geom, created_by=by
    )
    return statement.on_conflict_do_update(
        index_elements=_unique_key(principal_id), set_={"geom": geom, "created_by": by, "created_at": func.now()}
    )


def drop_area(principal_id: int | None, group: str | None, collection: str) -> Delete:
    return delete(EditArea).where(_subject(EditArea, principal_id, group), EditArea.collection == collection)


def grant_list(principal_id: int | None = None, group: str | None = None) -> Select:
    area_ha = (
        select(func.round(cast(func.ST_Area(cast(EditArea.geom, Geography())) / 10_000, Numeric()), 1))
        .where(*_area_of_grant())
        .scalar_subquery()
    )
    who = func.coalesce(Principal.name, "group:" + Grant.group_name)
    query = select(who.label("subject"), Grant.collection, Grant.role, area_ha.label("area_ha"), Grant.created_by)
    query = query.outerjoin(Principal, Principal.id == Grant.principal_id)
    if principal_id is not None or group is not None:
        query = query.where(_subject(Grant, principal_id, group))
    return query.order_by(who, Grant.collection)


def audit_log(limit: int) -> Select:
    return (
        select(
            AuditEvent.at,
            AuditEvent.event,
            AuditEvent.actor,
            AuditEvent.subject,
            AuditEvent.collection,
            AuditEvent.address,
            AuditEvent.detail,
        )
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )


def current_database() -> Select:
    return select(func.current_database())
