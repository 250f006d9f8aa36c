"""Statements of Part 4 edits: pure builders over the layer's model table, every value bound.

Each write is ONE statement, conditional on the version the client saw when it sent ``If-Match``
(``UPDATE … WHERE id = :id AND version = :v RETURNING version``): no read-then-write race. The triggers of
migration 0005 bump the version, stamp the row and keep the history; the statement triggers of 0001 bump
the layer's data version, in the same transaction.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import BigInteger, Insert, Integer, Select, Table, Update, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.expression import ColumnElement

from gis_service.catalog import LayerSpec
from gis_service.ingest.validate import LOADER_DEFAULTS, table_spec
from gis_service.models import Base
from gis_service.models.history import IdempotencyKey
from gis_service.queries.features import ItemsQuery, feature_text, geojson_geometry
from gis_service.queries.tables import id_col, layer_table

#: A new feature's id where the layer's id is a text code: the prefix says which layer, the rest is random.
CODE_PREFIXES = {
    "industrial_parks": "KCN-N",
    "industrial_clusters": "CCN-N",
    "transport_projects": "TP-N",
    "planning_zones": "PZ-N",
}


def model_table(spec: LayerSpec) -> Table:
    return Base.metadata.tables[spec.table]


def writable_columns(spec: LayerSpec) -> list[str]:
    """Columns a client may set: those a loaded file may fill (not the key, not computed, not a geometry, not
    the triggers' stamps)."""
    return list(table_spec(spec.table).columns)


def required_properties(spec: LayerSpec) -> list[str]:
    """What a client must give: the table's required columns and the sourced fields, the id excepted."""
    required = [*table_spec(spec.table).required, *[c for c in LOADER_DEFAULTS if c != "synthetic"]]
    return [c for c in required if c not in (spec.id_column, "name_ascii")]


def extra_geometries(spec: LayerSpec) -> list[str]:
    """Further geometry columns a client writes as a GeoJSON member of the properties (a park's
    ``footprint`` besides its site point)."""
    return [c for c in spec.extra_geometry_columns if c in model_table(spec).c]


def _extras(extra: dict[str, bytes | None] | None) -> dict[str, ColumnElement[Any]]:
    return {c: _geometry(w) for c, w in (extra or {}).items()}


def new_code(spec: LayerSpec) -> str | None:
    """The id of a new feature where the id is a code of the layer; None where the database numbers them."""
    if spec.id_column == "id":
        return None
    return f"{CODE_PREFIXES.get(spec.table, 'N')}{secrets.token_hex(4).upper()}"


def _geometry(wkb: bytes | None) -> ColumnElement[Any]:
    if wkb is None:
        return literal(None)
    return func.ST_SetSRID(func.ST_GeomFromWKB(literal(wkb)), literal(4326, Integer))


def _version() -> ColumnElement[Any]:
    return literal_column("version", BigInteger)


def insert_feature(
    spec: LayerSpec, values: dict[str, Any], wkb: bytes | None, extra: dict[str, bytes | None] | None = None
) -> Insert:
    """(feature id, version) of the new row."""
    t = model_table(spec)
    return (
        t.insert()
        .values(**values, **_extras(extra), **{spec.geometry_column: _geometry(wkb)})
        .returning(t.c[spec.id_column], t.c.version)
    )


def update_feature(
    spec: LayerSpec,
    feature_id: Any,
    values: dict[str, Any],
    wkb: bytes | None,
    expected: frozenset[int] | None,
    extra: dict[str, bytes | None] | None = None,
) -> Update:
    """The new version, or no row: gone, changed since ``expected``, or outside the writer's edit area. The
    feature is replaced: a writable column missing from ``values`` becomes NULL, or keeps its value where it
    has a default."""
    t = model_table(spec)
    columns = {c: values.get(c) for c in writable_columns(spec) if c in values or t.c[c].server_default is None}
    stmt = t.update().where(t.c[spec.id_column] == feature_id)
    if expected is not None:
        stmt = stmt.where(t.c.version.in_(sorted(expected)))
    return stmt.values(**columns, **_extras(extra), **{spec.geometry_column: _geometry(wkb)}).returning(t.c.version)


def delete_feature(spec: LayerSpec, feature_id: Any, expected: frozenset[int] | None) -> Any:
    t = model_table(spec)
    stmt = t.delete().where(t.c[spec.id_column] == feature_id)
    if expected is not None:
        stmt = stmt.where(t.c.version.in_(sorted(expected)))
    return stmt.returning(t.c.version)


def current_version(spec: LayerSpec, feature_id: Any) -> Select[Any]:
    t = model_table(spec)
    return select(t.c.version).where(t.c[spec.id_column] == feature_id)


def may_edit(spec: LayerSpec, feature_id: Any) -> Select[Any]:
    """Whether row-level security lets this writer touch the feature (its edit area)."""
    t = model_table(spec)
    return select(func.gis_may_edit(spec.table, t.c.geom, True)).where(t.c[spec.id_column] == feature_id)


def item_with_version(spec: LayerSpec, feature_id: Any, query: ItemsQuery, *, lock: bool = False) -> Select[Any]:
    """(GeoJSON text, version) in one statement, so the ETag is the version of exactly this body. ``lock``: the
    row locked until the transaction ends, so a PATCH merges into the version it then writes and concurrent
    PATCHes of one feature queue on the lock instead of racing."""
    stmt = select(with_extra_geometries(spec, query), _version()).select_from(layer_table(spec))
    stmt = stmt.where(id_col(spec) == feature_id)
    return stmt.with_for_update() if lock else stmt


def with_extra_geometries(spec: LayerSpec, query: ItemsQuery) -> ColumnElement[Any]:
    """The feature's text with its further geometries (``footprint``) as GeoJSON members of its properties,
    in the output CRS: the text ends with the properties object's ``}`` and the feature's ``}``."""
    text = feature_text(spec, query)
    names = extra_geometries(spec) if query.properties is None else []
    if not names:
        return text
    t = layer_table(spec)
    decimals = query.decimals if query.out_srid == 4326 else 3
    members: ColumnElement[Any] = literal("")
    for name in names:
        geom: ColumnElement[Any] = t.c[name]
        if query.out_srid != 4326:
            geom = func.ST_Transform(geom, literal(query.out_srid, Integer))
        if query.lat_first:
            geom = func.ST_FlipCoordinates(geom)
        value = func.coalesce(geojson_geometry(geom, decimals), literal("null"))
        members = members + literal(f', "{name}" : ') + value
    return func.left(text, literal(-2, Integer)) + members + literal("}}")


def edit_context(comment: str | None, client: str | None, unconditional: bool) -> Select[Any]:
    """What the change set of this transaction says (read by the triggers), local to the transaction."""
    return select(
        func.set_config("app.comment", comment or "", True),
        func.set_config("app.client", client or "", True),
        func.set_config("app.unconditional", "true" if unconditional else "false", True),
    )


def idempotent_result(principal_id: int, key: str) -> Select[Any]:
    k = IdempotencyKey.__table__
    return select(k.c.collection, k.c.feature_key).where(k.c.principal_id == principal_id, k.c.key == key)


def remember_idempotent(principal_id: int, key: str, collection: str, feature_key: str) -> Insert:
    return pg_insert(IdempotencyKey).values(
        principal_id=principal_id, key=key, collection=collection, feature_key=feature_key
    )
