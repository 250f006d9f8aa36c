"""Part 4 edits as transactions: a feature checked the loader's way (:mod:`gis_service.edit_input`), then ONE
conditional write.

A write runs as the app role in one transaction that says who is writing (``app.user_id``) and what the
change set says (``app.comment``, ``app.client``, ``app.unconditional``); row-level security keeps an
editor inside the edit area; the triggers version the row, keep the history and bump the layer's data
version. A write that touches no row is explained afterwards: gone (404), changed since the client's
``If-Match`` (412 with the current ETag) or outside the editor's area (403).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gis_service.auth.dependency import writing_as
from gis_service.auth.principal import Principal
from gis_service.catalog import LayerSpec
from gis_service.db import database_message
from gis_service.edit_input import CRS84, Candidate, IfMatch, checked_feature, keep_id, merge_patch
from gis_service.errors import Conflict, FeatureNotFound, Forbidden, InvalidFeature, PreconditionFailed
from gis_service.queries import edits as eq
from gis_service.queries.features import ItemsQuery

#: Unconditional PATCHes are retried when another write lands between their read and their update.
PATCH_ATTEMPTS = 3
#: SQLSTATEs of a write that raced another one, not of a bad feature: an exclusion violation (the versions of
#: one feature in its history), a serialization failure, a deadlock. Worth one more attempt, else a 409.
RACE_STATES = ("23P01", "40001", "40P01")


def etag(version: int) -> str:
    return f'"v{version}"'


@dataclass(frozen=True)
class EditContext:
    principal: Principal
    comment: str | None
    client: str | None
    representation: bool
    if_match: IfMatch | None = None

    @property
    def unconditional(self) -> bool:
        return self.if_match is None

    @property
    def expected(self) -> frozenset[int] | None:
        """The versions the write is conditional on (None: any existing row)."""
        return self.if_match.expected if self.if_match else None


@dataclass
class Written:
    feature_id: Any
    version: int
    body: str | None = None
    replayed: bool = False


async def run(conn: AsyncConnection, statement: Any) -> Any:
    """Execute; what the database refuses about the feature becomes a 403, 409 or 422 (the transaction is
    rolled back by the caller's context)."""
    try:
        return await conn.execute(statement)
    except DBAPIError as exc:
        code = str(getattr(exc.orig, "sqlstate", "") or "")
        message = database_message(exc)
        if code == "42501":
            raise Forbidden(f"outside your edit area: {message}", parameter="geometry") from exc
        if code in RACE_STATES:  # the history of this feature was written by a concurrent write meanwhile
            raise Conflict(f"a concurrent write to this feature collided with this one and nothing was written; "
                           f"send it again ({message})", parameter="featureId") from exc  # fmt: skip
        if code.startswith("23"):
            error = Conflict if code == "23505" else InvalidFeature
            raise error(f"the layer refused the feature: {message}") from exc
        raise


@asynccontextmanager
async def transaction(engine: AsyncEngine, ctx: EditContext) -> AsyncIterator[AsyncConnection]:
    """One write transaction as ``ctx.principal`` whose change set says why, with which client and whether
    the write was conditional (the triggers read it)."""
    async with writing_as(engine, ctx.principal) as conn:
        await conn.execute(eq.edit_context(ctx.comment, ctx.client, ctx.unconditional))
        yield conn


# ---- one feature, in a transaction the caller holds -------------------------------------------------------


async def representation(
    conn: AsyncConnection, spec: LayerSpec, feature_id: Any, query: ItemsQuery | None = None, *, lock: bool = False
) -> tuple[str, int] | None:
    """(GeoJSON text, version) of the feature, None where there is none; ``lock``: its row locked until the
    transaction ends (None too where this writer may not change it)."""
    statement = eq.item_with_version(spec, feature_id, query if query is not None else ItemsQuery(), lock=lock)
    row = (await conn.execute(statement)).first()
    return (str(row[0]), int(row[1])) if row else None


async def insert(conn: AsyncConnection, spec: LayerSpec, candidate: Candidate) -> tuple[Any, int]:
    """(feature id, version) of the new feature."""
    statement = eq.insert_feature(spec, candidate.values, candidate.wkb, candidate.extra)
    feature_id, version = (await run(conn, statement)).one()
    return feature_id, int(version)


async def update(
    conn: AsyncConnection, spec: LayerSpec, feature_id: Any, candidate: Candidate, expected: frozenset[int] | None
) -> int | None:
    """The feature replaced by ``candidate``: its new version; None where no row was written (gone, changed
    since ``expected``, or outside the writer's edit area)."""
    statement = eq.update_feature(spec, feature_id, candidate.values, candidate.wkb, expected, candidate.extra)
    row = (await run(conn, statement)).first()
    return int(row[0]) if row else None


async def remove(
    conn: AsyncConnection, spec: LayerSpec, feature_id: Any, expected: frozenset[int] | None
) -> int | None:
    """The version the history keeps the deletion as (the row's next); None where no row was deleted."""
    row = (await run(conn, eq.delete_feature(spec, feature_id, expected))).first()
    return int(row[0]) + 1 if row else None


# ---- the Part 4 writes ------------------------------------------------------------------------------------


async def create(
    engine: AsyncEngine, spec: LayerSpec, ctx: EditContext, candidate: Candidate, idempotency_key: str | None
) -> Written:
    principal_id = ctx.principal.id or 0
    async with transaction(engine, ctx) as conn:
        if idempotency_key:
            earlier = (await conn.execute(eq.idempotent_result(principal_id, idempotency_key))).first()
            if earlier is not None:
                return await _replayed(conn, spec, earlier, ctx)
        feature_id, version = await insert(conn, spec, candidate)
        if idempotency_key:
            await run(conn, eq.remember_idempotent(principal_id, idempotency_key, spec.id, str(feature_id)))
        return await _written(conn, spec, ctx, feature_id, version)


async def _replayed(conn: AsyncConnection, spec: LayerSpec, earlier: Any, ctx: EditContext) -> Written:
    if earlier.collection != spec.id:
        raise Conflict("this Idempotency-Key was used for a create in another collection",
                       parameter="Idempotency-Key")  # fmt: skip
    feature_id = spec.feature_id(earlier.feature_key)
    current = await representation(conn, spec, feature_id)
    if current is None:
        raise FeatureNotFound(f"the feature this Idempotency-Key created ({feature_id}) was deleted since")
    return Written(feature_id, current[1], current[0] if ctx.representation else None, replayed=True)


async def _written(conn: AsyncConnection, spec: LayerSpec, ctx: EditContext, feature_id: Any, version: int) -> Written:
    body = (await representation(conn, spec, feature_id) or ("", 0))[0] if ctx.representation else None
    return Written(feature_id, version, body)


async def replace(
    engine: AsyncEngine, spec: LayerSpec, ctx: EditContext, feature_id: Any, candidate: Candidate
) -> Written:
    async with transaction(engine, ctx) as conn:
        version = await update(conn, spec, feature_id, candidate, ctx.expected)
        if version is None:
            await _explain_miss(conn, spec, feature_id, ctx.if_match)
        return await _written(conn, spec, ctx, feature_id, version)


async def patch(
    engine: AsyncEngine, spec: LayerSpec, ctx: EditContext, feature_id: Any, document: dict[str, Any]
) -> tuple[Written, Candidate]:
    """Merge the patch into the current GeoJSON and write it, conditional on the version it was merged into
    (and on ``If-Match``): a write in between makes it 412, or, without If-Match, a fresh attempt."""
    for attempt in range(PATCH_ATTEMPTS):
        try:
            async with transaction(engine, ctx) as conn:
                written = await _patch_once(conn, spec, ctx, feature_id, document)
        except Conflict as exc:
            if not _raced(exc) or attempt == PATCH_ATTEMPTS - 1:
                raise
        else:
            if written is not None:
                return written
    raise Conflict("the feature kept changing while this PATCH was applied; send it again", parameter="featureId")


def _raced(exc: Conflict) -> bool:
    """Whether the write collided with a concurrent one (rolled back whole, so safe to run again)."""
    cause = exc.__cause__
    return isinstance(cause, DBAPIError) and str(getattr(cause.orig, "sqlstate", "") or "") in RACE_STATES


async def _patch_once(
    conn: AsyncConnection, spec: LayerSpec, ctx: EditContext, feature_id: Any, document: dict[str, Any]
) -> tuple[Written, Candidate] | None:
    """Lock the row, merge into its version, write that version's successor; None: the feature came back (a
    revert) between the lock and the look, so there was nothing to lock yet."""
    current = await representation(conn, spec, feature_id, lock=True)  # later PATCHes wait here
    if current is None:
        editable = (await conn.execute(eq.may_edit(spec, feature_id))).first()
        if editable is None:  # absent when looked at: later reads may see it come back (a revert)
            raise _absent(spec, feature_id, ctx.if_match)
        if editable[0]:
            return None
        await _explain_miss(conn, spec, feature_id, ctx.if_match)
    text, version = current
    if ctx.if_match is not None and not ctx.if_match.holds(version):
        await _explain_miss(conn, spec, feature_id, ctx.if_match)
    merged = merge_patch(orjson.loads(text), document)
    keep_id(spec, feature_id, document)
    candidate = checked_feature(spec, merged, CRS84, feature_id)
    new_version = await update(conn, spec, feature_id, candidate, frozenset({version}))
    if new_version is not None:
        return await _written(conn, spec, ctx, feature_id, new_version), candidate
    now = (await conn.execute(eq.current_version(spec, feature_id))).scalar()
    if ctx.if_match is not None or now is None or now == version:  # not a write in between
        await _explain_miss(conn, spec, feature_id, ctx.if_match)
    raise Conflict("the feature changed between its lock and its write; send it again", parameter="featureId")


async def delete(engine: AsyncEngine, spec: LayerSpec, ctx: EditContext, feature_id: Any) -> None:
    async with transaction(engine, ctx) as conn:
        if await remove(conn, spec, feature_id, ctx.expected) is None:
            await _explain_miss(conn, spec, feature_id, ctx.if_match)


def _absent(spec: LayerSpec, feature_id: Any, if_match: IfMatch | None) -> Exception:
    if if_match is not None:
        return PreconditionFailed(f"{spec.id} has no feature {feature_id!r}, so If-Match cannot hold",
                                  parameter="If-Match")  # fmt: skip
    return FeatureNotFound(f"{spec.id} has no feature {feature_id!r}", parameter="featureId")


async def _explain_miss(conn: AsyncConnection, spec: LayerSpec, feature_id: Any, if_match: IfMatch | None) -> NoReturn:
    """Why a conditional write touched no row."""
    version = (await conn.execute(eq.current_version(spec, feature_id))).scalar()
    if version is None:
        raise _absent(spec, feature_id, if_match)
    if if_match is not None and not if_match.holds(version):
        raise PreconditionFailed(
            f"the feature has changed since: its current ETag is {etag(version)}; GET it, merge, send again",
            parameter="If-Match",
            headers={"ETag": etag(version)},
            etag=etag(version),
        )
    raise Forbidden(f"{feature_id!r} lies outside your edit area of {spec.id}", parameter="featureId")


async def item_with_version(
    conn: AsyncConnection, spec: LayerSpec, feature_id: Any, query: ItemsQuery
) -> tuple[str, int]:
    """A feature of an editable layer and its version (the ETag), read in one statement."""
    current = await representation(conn, spec, feature_id, query)
    if current is None:
        raise FeatureNotFound(f"{spec.id} has no feature {feature_id!r}", parameter="featureId")
    return current
