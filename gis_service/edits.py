"""Part 4 edits as transactions: parse and check the feature the loader's way, then ONE conditional write.

A write runs as the app role in one transaction that says who is writing (``app.user_id``) and what the
change set says (``app.comment``, ``app.client``, ``app.unconditional``); row-level security keeps an
editor inside the edit area; the triggers version the row, keep the history and bump the layer's data
version. A write that touches no row is explained afterwards: gone (404), changed since the client's
``If-Match`` (412 with the current ETag) or outside the editor's area (403).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd
import shapely
from shapely.geometry import shape
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gis_service.auth.dependency import writing_as
from gis_service.auth.principal import Principal
from gis_service.catalog import LayerSpec
from gis_service.crs import ServiceCrs
from gis_service.db import database_message
from gis_service.errors import (
    Conflict,
    FeatureNotFound,
    Forbidden,
    InvalidFeature,
    InvalidParameter,
    LoadError,
    PreconditionFailed,
    UnsupportedMediaType,
)
from gis_service.ingest.reader import RawLayer, SourceCrs
from gis_service.ingest.validate import LOADER_DEFAULTS, Notes, check, check_geometries, table_spec
from gis_service.literals import INT64
from gis_service.queries import edits as eq
from gis_service.queries.features import ItemsQuery

MERGE_PATCH = "application/merge-patch+json"
FEATURE_TYPES = ("application/geo+json", "application/json")
MAX_DEPTH = 16
#: Unconditional PATCHes are retried when another write lands between their read and their update.
PATCH_ATTEMPTS = 3
#: SQLSTATEs of a write that raced another one, not of a bad feature: an exclusion violation (the versions of
#: one feature in its history), a serialization failure, a deadlock. Worth one more attempt, else a 409.
RACE_STATES = ("23P01", "40001", "40P01")
#: One entity tag of a list, then optional whitespace (RFC 9110: spaces and tabs) and a comma or the end.
ETAG = re.compile(r'(W/)?"([^"]*)"[ \t]*(?:,|$)')
#: A tag this service gives (ASCII digits: `"v²"` is no version).
VERSION_TAG = re.compile(r"v[0-9]{1,18}")
#: What the integer columns hold, by SQLAlchemy type (BIGINT otherwise).
INTEGER_RANGES = {"SmallInteger": (-(2**15), 2**15 - 1), "Integer": (-(2**31), 2**31 - 1)}
#: The loader's reasons that are about a property: "missing name", "status: 'x' is not a valid int".
PROPERTY_REASON = re.compile(r"^(?:missing (?:natural key )?(\w+)$|(\w+): )")


def etag(version: int) -> str:
    return f'"v{version}"'


# ---- request parsing (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IfMatch:
    """``If-Match`` per RFC 9110 13.1.1: ``*``, or strong tags (a weak tag never matches)."""

    star: bool = False
    versions: frozenset[int] = frozenset()

    @classmethod
    def parse(cls, header: str | None) -> IfMatch | None:
        if header is None:
            return None
        if header.strip(" \t") == "*":
            return cls(star=True)
        versions: set[int] = set()
        rest = header.lstrip(" \t,")  # empty list elements are allowed (RFC 9110 5.6.1): no tag, no match
        while rest:
            match = ETAG.match(rest)
            if match is None:
                raise InvalidParameter("If-Match: not a list of entity tags (\"v3\", \"v3\", \"v4\" or *)",
                                       parameter="If-Match")  # fmt: skip
            weak, tag = match.groups()
            if not weak and VERSION_TAG.fullmatch(tag):
                versions.add(int(tag[1:]))
            rest = rest[match.end() :].lstrip(" \t,")
        return cls(versions=frozenset(versions))

    def holds(self, version: int | None) -> bool:
        return version is not None and (self.star or version in self.versions)

    @property
    def expected(self) -> frozenset[int] | None:
        """The versions the write is conditional on (None: any existing row)."""
        return None if self.star else self.versions


def media_type(content_type: str | None, accepted: tuple[str, ...]) -> None:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in accepted:
        raise UnsupportedMediaType(f"the body must be {' or '.join(accepted)}, not {media or 'untyped'}",
                                   parameter="Content-Type")  # fmt: skip


def json_body(body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"body: not JSON ({exc})", parameter="body") from None
    if not isinstance(document, dict):
        raise InvalidParameter("body: a JSON object is expected", parameter="body")
    _depth(document)
    return document


def _depth(document: Any) -> None:
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidParameter(f"body: nested deeper than {MAX_DEPTH} levels", parameter="body")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge member by member, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


# ---- checking a feature: the loader's checks, on one feature ------------------------------------------


@dataclass
class Candidate:
    """A feature ready to write: column values and the geometry (WKB, EPSG:4326)."""

    values: dict[str, Any]
    wkb: bytes | None
    warnings: list[str] = field(default_factory=list)
    #: Further geometry columns (``footprint``) as WKB in EPSG:4326, None where the feature has none.
    extra: dict[str, bytes | None] = field(default_factory=dict)


def required_properties(spec: LayerSpec) -> list[str]:
    """What a client must give: the table's required columns and the sourced fields, the id excepted."""
    required = [*table_spec(spec.table).required, *[c for c in LOADER_DEFAULTS if c != "synthetic"]]
    return [c for c in required if c not in (spec.id_column, "name_ascii")]


def checked_feature(spec: LayerSpec, feature: dict[str, Any], crs: ServiceCrs, key: Any = None) -> Candidate:
    """The feature's writable properties and geometry, refused (422) where the loader would reject it;
    ``key``: the id it is written under where the id is a column of the layer (``code``)."""
    if feature.get("type") != "Feature":
        raise InvalidFeature('the body must be a GeoJSON Feature ("type": "Feature")', parameter="type")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise InvalidFeature("properties must be an object", parameter="properties")
    extra_names = eq.extra_geometries(spec)
    extra = {name: extra_geometry(spec, name, properties.get(name), crs) for name in extra_names}
    values = _properties(spec, {k: v for k, v in properties.items() if k not in extra_names})
    if key is not None and spec.id_column in eq.writable_columns(spec):
        values[spec.id_column] = str(key)
    geometry = _geometry(feature.get("geometry"), crs)
    raw = RawLayer("feature", "GeoJSON", pd.DataFrame({k: [v] for k, v in values.items()}, dtype=object),
                   np.array([geometry], dtype=object), np.array([False]), np.array([False]), None)  # fmt: skip
    try:
        checked = check(raw, table_spec(spec.table), SourceCrs.of(crs.srid), {})
    except LoadError as exc:
        raise InvalidFeature(exc.detail.replace("feature lacks", "the feature lacks")) from None
    if checked.rejects:
        raise _rejected(checked.rejects[0].reason, geometry)
    row = {c: checked.values[c][0] for c in checked.values}
    _in_range(spec, row)
    notes = [_one(w) for w in checked.warnings]
    notes += [f"properties.{name}: {w}" for name, (_, ws) in extra.items() for w in ws]
    return Candidate(row, shapely.to_wkb(checked.geometries[0]), notes, {n: wkb for n, (wkb, _) in extra.items()})


def _in_range(spec: LayerSpec, row: dict[str, Any]) -> None:
    """Integers the column can hold (the driver would refuse them naming no property)."""
    columns = eq.model_table(spec).c
    for name, value in row.items():
        if isinstance(value, int | np.integer) and not isinstance(value, bool) and name in columns:
            low, high = INTEGER_RANGES.get(type(columns[name].type).__name__, INT64)
            if not low <= value <= high:
                raise InvalidFeature(
                    f"properties.{name}: {value} is outside {low}..{high}", parameter=f"properties.{name}"
                )


def _one(warning: str) -> str:
    return re.sub(r"^1 feature\(s\): | \(feature 1\)$", "", warning)


def extra_geometry(spec: LayerSpec, name: str, value: Any, crs: ServiceCrs) -> tuple[bytes | None, list[str]]:
    """A footprint given as a GeoJSON (Multi)Polygon in the properties, checked as the loader checks a
    polygon layer's geometry (finite, inside the province, repaired or refused); (WKB, warnings)."""
    parameter = f"properties.{name}"
    if value is None:
        return None, []
    if isinstance(value, str):  # clients that keep it as a text field (QGIS) send it back as text
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            value = None
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidFeature(f"{parameter}: a GeoJSON Polygon or MultiPolygon is expected", parameter=parameter)
    geom = _geometry(value, crs, parameter)
    polygons = dataclasses.replace(table_spec(spec.table), geometry_type="MULTIPOLYGON")
    raw = RawLayer(name, "GeoJSON", pd.DataFrame(index=[0]), np.array([geom], dtype=object), np.array([False]),
                   np.array([False]), None)  # fmt: skip
    reasons: list[list[str]] = [[]]
    notes = Notes()
    checked = check_geometries(raw, polygons, SourceCrs.of(crs.srid), reasons, notes)
    if reasons[0]:
        raise InvalidFeature(f"{parameter}: {reasons[0][0]}", parameter=parameter)
    return shapely.to_wkb(checked[0]), [_one(w) for w in notes.render()]


def _properties(spec: LayerSpec, properties: dict[str, Any]) -> dict[str, Any]:
    writable = eq.writable_columns(spec)
    readonly = {spec.id_column, *(p.name for p in spec.properties), *eq.SYSTEM_COLUMNS}
    values = {}
    for name, value in properties.items():
        if name not in writable:
            if name in readonly:
                continue  # the id and computed values are the server's (QGIS sends them back)
            raise InvalidFeature(f"properties.{name}: {spec.id} has no such property", parameter=f"properties.{name}")
        if isinstance(value, dict | list):
            raise InvalidFeature(f"properties.{name}: a string, number, boolean or null is expected",
                                 parameter=f"properties.{name}")  # fmt: skip
        if isinstance(value, str) and "\x00" in value:  # PostgreSQL text cannot hold it
            raise InvalidFeature(f"properties.{name}: NUL characters are not allowed", parameter=f"properties.{name}")
        prop = spec.property(name)
        if value is not None and prop is not None and prop.enum and value not in prop.enum:
            raise InvalidFeature(f"properties.{name}: {value!r} is not one of {', '.join(prop.enum)}",
                                 parameter=f"properties.{name}")  # fmt: skip
        values[name] = value
    for name in required_properties(spec):
        if values.get(name) in (None, ""):
            raise InvalidFeature(f"properties.{name} is required", parameter=f"properties.{name}")
    return values


def _geometry(geometry: Any, crs: ServiceCrs, parameter: str = "geometry") -> Any:
    if geometry is None:
        raise InvalidFeature(f"{parameter} is required", parameter=parameter)
    try:
        geom = shape(geometry)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise InvalidFeature(f"{parameter}: not a GeoJSON geometry ({exc})", parameter=parameter) from None
    if crs.lat_first:
        geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
    return geom


def _rejected(reason: str, geometry: Any) -> InvalidFeature:
    """The loader's first reason, named: ``properties.<name>`` or ``geometry`` (with the coordinate)."""
    first = reason.split("; ")[0]
    named = PROPERTY_REASON.match(first)
    if named:
        name = named.group(1) or named.group(2)
        return InvalidFeature(f"properties.{first}", parameter=f"properties.{name}")
    if "outside" in first:
        x, y = shapely.get_coordinates(geometry)[0]
        return InvalidFeature(f"geometry: {first}; its first coordinate is [{x:g}, {y:g}]",
                              parameter="geometry", coordinate=[x, y])  # fmt: skip
    return InvalidFeature(f"geometry: {first}", parameter="geometry")


# ---- the transactions ------------------------------------------------------------------------------


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


async def _begin(conn: AsyncConnection, ctx: EditContext) -> None:
    await conn.execute(eq.edit_context(ctx.comment, ctx.client, ctx.unconditional))


async def _representation(conn: AsyncConnection, spec: LayerSpec, feature_id: Any) -> tuple[str, int] | None:
    row = (await conn.execute(eq.item_with_version(spec, feature_id, ItemsQuery()))).first()
    return (str(row[0]), int(row[1])) if row else None


async def create(
    engine: AsyncEngine, spec: LayerSpec, ctx: EditContext, candidate: Candidate, idempotency_key: str | None
) -> Written:
    principal_id = ctx.principal.id or 0
    async with writing_as(engine, ctx.principal) as conn:
        await _begin(conn, ctx)
        if idempotency_key:
            earlier = (await conn.execute(eq.idempotent_result(principal_id, idempotency_key))).first()
            if earlier is not None:
                return await _replayed(conn, spec, earlier, ctx)
        feature_id, version = (
            await run(conn, eq.insert_feature(spec, candidate.values, candidate.wkb, candidate.extra))
        ).one()
        if idempotency_key:
            await run(conn, eq.remember_idempotent(principal_id, idempotency_key, spec.id, str(feature_id)))
        body = (await _representation(conn, spec, feature_id) or ("", 0))[0] if ctx.representation else None
    return Written(feature_id, int(version), body)


async def _replayed(conn: AsyncConnection, spec: LayerSpec, earlier: Any, ctx: EditContext) -> Written:
    if earlier.collection != spec.id:
        raise Conflict("this Idempotency-Key was used for a create in another collection",
                       parameter="Idempotency-Key")  # fmt: skip
    feature_id = spec.feature_id(earlier.feature_key)
    current = await _representation(conn, spec, feature_id)
    if current is None:
        raise FeatureNotFound(f"the feature this Idempotency-Key created ({feature_id}) was deleted since")
    return Written(feature_id, current[1], current[0] if ctx.representation else None, replayed=True)


async def replace(
    engine: AsyncEngine, spec: LayerSpec, ctx: EditContext, feature_id: Any, candidate: Candidate
) -> Written:
    expected = ctx.if_match.expected if ctx.if_match else None
    async with writing_as(engine, ctx.principal) as conn:
        await _begin(conn, ctx)
        values = {c: candidate.values.get(c) for c in eq.writable_columns(spec) if c in candidate.values
                  or not _has_default(spec, c)}  # fmt: skip
        statement = eq.update_feature(spec, feature_id, values, candidate.wkb, expected, candidate.extra)
        row = (await run(conn, statement)).first()
        if row is None:
            await _explain_miss(conn, spec, feature_id, ctx.if_match)
        return await _written(conn, spec, ctx, feature_id, int(row[0]))


def _has_default(spec: LayerSpec, column: str) -> bool:
    return eq.model_table(spec).c[column].server_default is not None


async def _written(conn: AsyncConnection, spec: LayerSpec, ctx: EditContext, feature_id: Any, version: int) -> Written:
    body = (await _representation(conn, spec, feature_id) or ("", 0))[0] if ctx.representation else None
    return Written(feature_id, version, body)


async def patch(
    engine: AsyncEngine,
    spec: LayerSpec,
    ctx: EditContext,
    feature_id: Any,
    document: dict[str, Any],
    check_merged: Callable[[dict[str, Any]], Candidate],
) -> tuple[Written, Candidate]:
    """Merge the patch into the current GeoJSON and write it, conditional on the version it was merged into
    (and on ``If-Match``): a write in between makes it 412, or, without If-Match, a fresh attempt."""
    for attempt in range(PATCH_ATTEMPTS):
        try:
            written = await _patch_once(engine, spec, ctx, feature_id, document, check_merged)
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
    engine: AsyncEngine,
    spec: LayerSpec,
    ctx: EditContext,
    feature_id: Any,
    document: dict[str, Any],
    check_merged: Callable[[dict[str, Any]], Candidate],
) -> tuple[Written, Candidate] | None:
    """One transaction: lock the row, merge into its version, write that version's successor; None: the
    feature came back (a revert) between the lock and the read, so there was nothing to lock yet."""
    async with writing_as(engine, ctx.principal) as conn:
        await _begin(conn, ctx)
        locked = (await conn.execute(eq.lock_feature(spec, feature_id))).first()  # later PATCHes wait here
        if locked is None:
            editable = (await conn.execute(eq.may_edit(spec, feature_id))).first()
            if editable is None:  # absent when looked at: later reads may see it come back (a revert)
                raise _absent(spec, feature_id, ctx.if_match)
            if editable[0]:
                return None
        current = await _representation(conn, spec, feature_id)
        if current is None or locked is None or (ctx.if_match is not None and not ctx.if_match.holds(current[1])):
            await _explain_miss(conn, spec, feature_id, ctx.if_match)
        text, version = current  # type: ignore[misc]
        merged = merge_patch(orjson.loads(text), document)
        keep_id(spec, feature_id, document)
        candidate = check_merged(merged)
        values = {c: candidate.values.get(c) for c in eq.writable_columns(spec) if c in candidate.values
                  or not _has_default(spec, c)}  # fmt: skip
        statement = eq.update_feature(spec, feature_id, values, candidate.wkb, frozenset({version}), candidate.extra)
        row = (await run(conn, statement)).first()
        if row is not None:
            return await _written(conn, spec, ctx, feature_id, int(row[0])), candidate
        now = (await conn.execute(eq.current_version(spec, feature_id))).scalar()
        if ctx.if_match is not None or now is None or now == version:  # not a write in between
            await _explain_miss(conn, spec, feature_id, ctx.if_match)
    raise Conflict("the feature changed between its lock and its write; send it again", parameter="featureId")


def keep_id(spec: LayerSpec, feature_id: Any, document: dict[str, Any]) -> None:
    """A merge patch may not change the feature's id (400), in ``id`` or in the id property."""
    given = document.get("properties")
    properties: dict[str, Any] = given if isinstance(given, dict) else {}
    for name, value in (("id", document.get("id")), (f"properties.{spec.id_column}", properties.get(spec.id_column))):
        if value is not None and str(value) != str(feature_id):
            raise InvalidParameter(f"{name}: the id of a feature cannot be changed", parameter=name)


async def delete(engine: AsyncEngine, spec: LayerSpec, ctx: EditContext, feature_id: Any) -> None:
    expected = ctx.if_match.expected if ctx.if_match else None
    async with writing_as(engine, ctx.principal) as conn:
        await _begin(conn, ctx)
        row = (await run(conn, eq.delete_feature(spec, feature_id, expected))).first()
        if row is None:
            await _explain_miss(conn, spec, feature_id, ctx.if_match)


def _absent(spec: LayerSpec, feature_id: Any, if_match: IfMatch | None) -> Exception:
    if if_match is not None:
        return PreconditionFailed(f"{spec.id} has no feature {feature_id!r}, so If-Match cannot hold",
                                  parameter="If-Match")  # fmt: skip
    return FeatureNotFound(f"{spec.id} has no feature {feature_id!r}", parameter="featureId")


async def _explain_miss(conn: AsyncConnection, spec: LayerSpec, feature_id: Any, if_match: IfMatch | None) -> None:
    """Why a conditional write touched no row; always raises."""
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
    row = (await conn.execute(eq.item_with_version(spec, feature_id, query))).first()
    if row is None:
        raise FeatureNotFound(f"{spec.id} has no feature {feature_id!r}", parameter="featureId")
    return str(row[0]), int(row[1])
