"""Proposals: an editor's set of feature changes that a curator approves (all applied in ONE transaction, as
one change set) or rejects with a reason.

Each change is checked as a Part 4 write is (the loader's checks, 422 naming ``changes[i].<field>``) when it
is proposed and again when it is applied. An update or delete names the version it was based on; approval
writes each one conditionally on it, so a proposal whose base changed meanwhile is refused (409) with every
conflicting feature listed, and nothing of it is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gis_service import edits
from gis_service.auth.dependency import writing_as
from gis_service.auth.principal import Action, Principal
from gis_service.catalog import Catalog, LayerSpec
from gis_service.edit_input import CRS84, Candidate, checked_feature
from gis_service.errors import (
    Conflict,
    FeatureNotFound,
    Forbidden,
    InvalidFeature,
    InvalidParameter,
    NotAuthenticated,
    NotFound,
    PreconditionFailed,
    UnknownCollection,
)
from gis_service.history import rfc3339
from gis_service.literals import text_value
from gis_service.queries import edits as eq
from gis_service.queries import proposals as pq

OPERATIONS = ("create", "update", "delete")
MAX_CHANGES = 200
MAX_TEXT = 2000


@dataclass(frozen=True)
class Change:
    """One change as proposed: ``feature`` for create and update, ``feature_id`` and ``base`` (the version it
    was based on) for update and delete."""

    index: int
    spec: LayerSpec
    op: str
    feature: dict[str, Any] | None
    feature_id: str | None
    base: int | None

    def stored(self, before: dict[str, Any] | None) -> dict[str, Any]:
        return {"collection": self.spec.id, "op": self.op, "id": self.feature_id, "baseVersion": self.base,
                "feature": self.feature, "before": before}  # fmt: skip


def signed_in(principal: Principal | None) -> Principal:
    if principal is None:
        raise NotAuthenticated("proposals need credentials (an API key or a bearer token)")
    return principal


def reason(document: dict[str, Any]) -> str:
    return _text(document, "reason", required=True) or ""


def _text(document: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = document.get(name)
    if value is None or value == "":
        if required:
            raise InvalidParameter(f"{name} is required", parameter=name)
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise InvalidParameter(f"{name}: a string of at most {MAX_TEXT} characters is expected", parameter=name)
    return text_value(value, parameter=name)


# ---- parsing and checking (pure) ----------------------------------------------------------------------


def parse(catalog: Catalog, principal: Principal, document: dict[str, Any]) -> tuple[str, str | None, list[Change]]:
    """(title, comment, changes) of a proposal body; 400/403/404/422 naming the change and field at fault."""
    title = _text(document, "title", required=True) or ""
    comment = _text(document, "comment", required=False)
    changes = document.get("changes")
    if not isinstance(changes, list) or not changes or len(changes) > MAX_CHANGES:
        raise InvalidParameter(f"changes: a list of 1 to {MAX_CHANGES} changes is expected", parameter="changes")
    return title, comment, [_change(catalog, principal, i, c) for i, c in enumerate(changes)]


def _change(catalog: Catalog, principal: Principal, index: int, item: Any) -> Change:
    where = f"changes[{index}]"
    if not isinstance(item, dict):
        raise InvalidParameter(f"{where}: an object is expected", parameter=where)
    op = item.get("op")
    if op not in OPERATIONS:
        raise InvalidParameter(f"{where}.op: one of {', '.join(OPERATIONS)} is expected", parameter=f"{where}.op")
    try:
        spec = catalog.get(str(item.get("collection")))
    except UnknownCollection:
        raise InvalidParameter(f"{where}.collection: no such collection", parameter=f"{where}.collection") from None
    if not spec.editable:
        raise InvalidParameter(f"{where}.collection: {spec.id} is read-only", parameter=f"{where}.collection")
    if not principal.may(spec.id, Action.EDIT):
        raise Forbidden(f"{principal} may not edit {spec.id}", parameter=f"{where}.collection")
    feature_id, base = _target(item, where) if op != "create" else (None, None)
    feature = item.get("feature") if op != "delete" else None
    if op != "delete":
        if not isinstance(feature, dict):
            raise InvalidParameter(f"{where}.feature: a GeoJSON Feature is expected", parameter=f"{where}.feature")
        feature = {"type": feature.get("type"), "geometry": feature.get("geometry"),
                   "properties": feature.get("properties")}  # fmt: skip
    change = Change(index, spec, str(op), feature, feature_id, base)
    if feature is not None:
        key = eq.new_code(spec) if op == "create" else spec.feature_id(str(feature_id), parameter=f"{where}.id")
        checked(change, key)
    return change


def _target(item: dict[str, Any], where: str) -> tuple[str, int]:
    feature_id, base = item.get("id"), item.get("baseVersion")
    if not isinstance(feature_id, str | int) or isinstance(feature_id, bool) or str(feature_id) == "":
        raise InvalidParameter(f"{where}.id: the feature id is required", parameter=f"{where}.id")
    text_value(str(feature_id), parameter=f"{where}.id")
    if not isinstance(base, int) or isinstance(base, bool) or base < 1:
        raise InvalidParameter(f"{where}.baseVersion: the version the change is based on (its ETag's number) "
                               "is required", parameter=f"{where}.baseVersion")  # fmt: skip
    return str(feature_id), base


def checked(change: Change, key: Any = None) -> Candidate:
    """The loader's checks on the proposed feature; a refusal names ``changes[i].<field>``."""
    assert change.feature is not None
    try:
        return checked_feature(change.spec, change.feature, CRS84, key)
    except InvalidFeature as exc:
        where = f"changes[{change.index}]"
        raise InvalidFeature(f"{where}: {exc.detail}", parameter=f"{where}.{exc.parameter or 'feature'}",
                             change=change.index, **exc.extra) from None  # fmt: skip


def differences(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """What a change changes: the properties whose value differs and whether the geometry moved."""
    old = (before or {}).get("properties") or {}
    new = (after or {}).get("properties") or {}
    names = sorted(set(new) | (set(old) if after is None else set()))
    changed = [n for n in names if old.get(n) != new.get(n)]
    moved = (before or {}).get("geometry") != (after or {}).get("geometry")
    return {"changedProperties": changed, "geometryChanged": moved}


# ---- the transactions ----------------------------------------------------------------------------------


async def create(
    engine: AsyncEngine, principal: Principal, title: str, comment: str | None, changes: list[Change]
) -> int:
    """Store the proposal with each feature as it is now; a change based on a version that is no longer
    current is refused at once (412)."""
    stored = []
    async with writing_as(engine, principal) as conn:
        for change in changes:
            before = None
            if change.feature_id is not None:
                where = f"changes[{change.index}]"
                key = change.spec.feature_id(change.feature_id, parameter=f"{where}.id")
                current = await edits.representation(conn, change.spec, key)
                if current is None:
                    raise FeatureNotFound(f"{where}.id: {change.spec.id} has no feature {change.feature_id!r}",
                                          parameter=f"{where}.id")  # fmt: skip
                before, version = orjson.loads(current[0]), current[1]
                if version != change.base:
                    raise PreconditionFailed(f"{where}: {change.feature_id} is at version {version}, not "
                                             f"{change.base}; reload it and propose again",
                                             parameter=f"{where}.baseVersion", etag=edits.etag(version))  # fmt: skip
            stored.append(change.stored(before))
        collections = sorted({c.spec.id for c in changes})
        statement = pq.insert_proposal(title, comment, principal.id, principal.name, collections, stored)
        return int((await conn.execute(statement)).scalar_one())


def _curator(principal: Principal, collections: list[str]) -> None:
    refused = [c for c in collections if not principal.may(c, Action.CURATE)]
    if refused:
        raise Forbidden(f"{principal} may not decide proposals on {', '.join(refused)} (curators do)",
                        parameter="proposalId")  # fmt: skip


async def _open(conn: AsyncConnection, proposal_id: int) -> Any:
    row = (await conn.execute(pq.one(proposal_id, for_update=True))).mappings().first()
    if row is None:
        raise NotFound(f"there is no proposal {proposal_id}", parameter="proposalId")
    if row["status"] != "open":
        raise Conflict(f"proposal {proposal_id} was {row['status']} already ({row['decided_by']})",
                       parameter="proposalId")  # fmt: skip
    return row


async def approve(
    engine: AsyncEngine, catalog: Catalog, principal: Principal, proposal_id: int, client: str | None
) -> dict[str, Any]:
    """Apply every change in one transaction (one change set); any conflict rolls all of it back."""
    async with writing_as(engine, principal) as conn:
        row = await _open(conn, proposal_id)
        _curator(principal, list(row["collections"]))
        comment = f"proposal {proposal_id}: {row['title']} (by {row['author']})"
        if row["comment"]:
            comment += f": {row['comment']}"
        await conn.execute(eq.edit_context(comment[:MAX_TEXT], client, False))
        applied: list[dict[str, Any]] = []
        conflicts: list[dict[str, Any]] = []
        for index, stored in enumerate(row["changes"]):
            outcome = await _apply(conn, catalog, index, stored)
            (applied if "version" in outcome else conflicts).append(outcome)
        if conflicts:
            raise Conflict(f"proposal {proposal_id} was based on features that changed since; nothing was "
                           "applied", parameter="proposalId", conflicts=conflicts)  # fmt: skip
        change_set = (await conn.execute(pq.this_change_set())).scalar()
        await conn.execute(pq.decide(proposal_id, "approved", principal.name, None, change_set))
    return {"id": proposal_id, "status": "approved", "changeSet": change_set, "applied": applied}


async def _apply(conn: AsyncConnection, catalog: Catalog, index: int, stored: dict[str, Any]) -> dict[str, Any]:
    """Write one change conditionally on its base version: {…, "version"} when written, else the conflict."""
    spec = catalog.get(stored["collection"])
    change = Change(index, spec, stored["op"], stored.get("feature"), stored.get("id"), stored.get("baseVersion"))
    if change.op == "create":
        feature_id, version = await edits.insert(conn, spec, checked(change, eq.new_code(spec)))
        return {"collection": spec.id, "op": "create", "id": str(feature_id), "version": version}
    key = spec.feature_id(str(change.feature_id))
    expected = frozenset({int(change.base or 0)})
    if change.op == "delete":
        written = await edits.remove(conn, spec, key, expected)
    else:
        written = await edits.update(conn, spec, key, checked(change, key), expected)
    outcome = {"collection": spec.id, "op": change.op, "id": change.feature_id, "baseVersion": change.base}
    if written is not None:
        return {**outcome, "version": written}
    now = (await conn.execute(eq.current_version(spec, key))).scalar()
    if now == change.base:
        raise Forbidden(f"{change.feature_id!r} lies outside your edit area of {spec.id}", parameter="proposalId")
    return {**outcome, "currentVersion": now, "reason": "deleted since" if now is None else "changed since"}


async def reject(engine: AsyncEngine, principal: Principal, proposal_id: int, reason: str) -> dict[str, Any]:
    async with writing_as(engine, principal) as conn:
        row = await _open(conn, proposal_id)
        _curator(principal, list(row["collections"]))
        await conn.execute(pq.decide(proposal_id, "rejected", principal.name, reason, None))
    return {"id": proposal_id, "status": "rejected", "reason": reason}


# ---- reading ----------------------------------------------------------------------------------------------


def summary(row: Any, base: str) -> dict[str, Any]:
    counts = {op: sum(1 for c in row["changes"] if c["op"] == op) for op in OPERATIONS}
    return {
        "id": row["id"],
        "title": row["title"],
        "comment": row["comment"],
        "status": row["status"],
        "author": row["author"],
        "createdAt": rfc3339(row["created_at"]),
        "collections": list(row["collections"]),
        "counts": counts,
        "decidedAt": rfc3339(row["decided_at"]),
        "decidedBy": row["decided_by"],
        "reason": row["reason"],
        "changeSet": row["change_set_id"],
        "links": [{"href": f"{base}/proposals/{row['id']}", "rel": "self", "type": "application/json"}],
    }


def detail(row: Any, base: str) -> dict[str, Any]:
    changes = [
        {
            "collection": c["collection"],
            "op": c["op"],
            "id": c.get("id"),
            "baseVersion": c.get("baseVersion"),
            "before": c.get("before"),
            "after": c.get("feature"),
            **differences(c.get("before"), c.get("feature")),
        }
        for c in row["changes"]
    ]
    return {**summary(row, base), "changes": changes}


def visible(principal: Principal, row: Any) -> bool:
    """Editors and curators of any collection a proposal touches see it."""
    return any(principal.may(c, Action.EDIT) for c in row["collections"])


async def listing(conn: AsyncConnection, principal: Principal, status: str | None, base: str) -> dict[str, Any]:
    rows = (await conn.execute(pq.listing(status))).mappings().all()
    shown = [summary(r, base) for r in rows if visible(principal, r)]
    return {"proposals": shown, "numberReturned": len(shown)}


async def one(conn: AsyncConnection, principal: Principal, proposal_id: int, base: str) -> dict[str, Any]:
    row = (await conn.execute(pq.one(proposal_id))).mappings().first()
    if row is None or not visible(principal, row):
        raise NotFound(f"there is no proposal {proposal_id} you may see", parameter="proposalId")
    return detail(row, base)
