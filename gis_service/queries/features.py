"""Items, item and count statements for OGC API Features, from a collection spec and parsed parameters.

Features are serialised by PostgreSQL itself (one text per feature, aggregated into one string), so the
service never parses and re-encodes GeoJSON on the hot path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Integer,
    Numeric,
    Select,
    Text,
    and_,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.expression import ColumnElement, FromClause

from gis_service.catalog import LayerSpec
from gis_service.queries import history
from gis_service.queries.tables import geom_col, id_col, layer_table

Expr = ColumnElement[Any]
#: Abbreviations planners type, expanded before the search (Vietnamese admin and transport usage).
ABBREVIATIONS = {
    "kcn": "khu cong nghiep",
    "ccn": "cum cong nghiep",
    "ql": "quoc lo",
    "dt": "duong tinh",
    "vd": "vanh dai",
    "tp": "thanh pho",
    "tx": "thi xa",
}


@dataclass(frozen=True)
class ItemsQuery:
    bbox: tuple[float, float, float, float] | None = None
    bbox_srid: int = 4326
    interval: tuple[dt.date | None, dt.date | None] | None = None
    equals: dict[str, Any] = field(default_factory=dict)
    where: Expr | None = None
    q: str | None = None
    sortby: tuple[tuple[str, bool], ...] = ()
    properties: tuple[str, ...] | None = None
    limit: int = 100
    offset: int = 0
    out_srid: int = 4326
    lat_first: bool = False
    decimals: int = 7
    #: The layer as it was at this instant (history, migration 0005), not as it is.
    as_of: dt.datetime | None = None


def _as_of(spec: LayerSpec, query: ItemsQuery, stmt: Select[Any]) -> Select[Any]:
    """With ``asOf``, a CTE named like the layer stands in for its table (every other parameter applies)."""
    if query.as_of is None:
        return stmt
    return stmt.add_cte(history.as_of(spec, query.as_of))


def conditions(spec: LayerSpec, query: ItemsQuery) -> list[Expr]:
    t = layer_table(spec)
    where: list[Expr] = []
    if query.bbox is not None:
        envelope = func.ST_MakeEnvelope(*query.bbox, literal(query.bbox_srid, Integer))
        if query.bbox_srid != 4326:
            envelope = func.ST_Transform(envelope, literal(4326, Integer))
        where.append(func.ST_Intersects(geom_col(spec), envelope))
    if query.interval is not None:
        where.append(temporal_condition(spec, *query.interval))
    for name, value in query.equals.items():
        where.append(t.c[name] == literal(value, t.c[name].type))
    if query.q:
        where.append(search_condition(spec, query.q))
    if query.where is not None:
        where.append(query.where)
    return where


def temporal_condition(spec: LayerSpec, start: dt.date | None, end: dt.date | None) -> Expr:
    """Features whose validity (dates) or life (years) overlaps [start, end]; unknown bounds are open."""
    temporal = spec.temporal
    if temporal is None:
        return literal(True)
    t = layer_table(spec)
    parts: list[Expr] = []
    as_value = (lambda d: d) if temporal.kind == "date" else (lambda d: d.year)
    if temporal.start and end is not None:
        col = t.c[temporal.start]
        parts.append(or_(col.is_(null()), col <= as_value(end)))
    if temporal.end and start is not None:
        col = t.c[temporal.end]
        parts.append(or_(col.is_(null()), col >= as_value(start)))
    return and_(*parts) if parts else literal(True)


def expand(q: str) -> str:
    words = q.strip().lower().split()
    return " ".join(ABBREVIATIONS.get(w.replace("đ", "d"), w) for w in words)


def search_condition(spec: LayerSpec, q: str) -> Expr:
    """Diacritics-insensitive substring match on the searchable names, or an alias of the feature."""
    t = layer_table(spec)
    key = func.gis_search_key(literal(expand(q), Text))
    pattern = literal("%") + key + literal("%")
    matches = [func.gis_search_key(t.c[name]).like(pattern) for name in spec.search]
    aliases = table("name_aliases", column("alias"), column("layer"), column("feature_code"))
    alias_match = exists().where(
        aliases.c.layer == spec.id,
        aliases.c.feature_code == cast(id_col(spec), Text),
        func.gis_search_key(aliases.c.alias) == func.gis_search_key(literal(q.strip(), Text)),
    )
    return or_(*matches, alias_match)


def output_geometry(spec: LayerSpec, query: ItemsQuery, src: FromClause | None = None) -> Expr:
    geom: Expr = (src if src is not None else layer_table(spec)).c[spec.geometry_column]
    if query.out_srid != 4326:
        geom = func.ST_Transform(geom, literal(query.out_srid, Integer))
    if query.lat_first:
        geom = func.ST_FlipCoordinates(geom)
    return geom


def geojson_geometry(geom: Expr, decimals: int) -> Expr:
    """GeoJSON geometry text without a ``crs`` member (options 0): the CRS travels in ``Content-Crs``,
    and PostGIS cannot name the pinned VN-2000 SRIDs, whose authority was cleared on purpose."""
    return func.ST_AsGeoJSON(geom, literal(decimals, Integer), literal(0, Integer))


def properties_json(spec: LayerSpec, names: tuple[str, ...] | None, src: FromClause | None = None) -> Expr:
    t = src if src is not None else layer_table(spec)
    chosen = names if names is not None else tuple(spec.property_names)
    pairs: list[Any] = []
    for name in chosen:
        prop = spec.property(name)
        value = real_number(t.c[name]) if prop is not None and prop.type == "number" else t.c[name]
        pairs.extend((literal(name), value))
    return func.json_build_object(*pairs)


def real_number(col: Expr) -> Expr:
    """A float with a fraction even when whole (2000.0, not 2000): clients such as GDAL type a field from the
    first values they see, and an integer guess truncates the later 2375.23."""
    as_numeric = cast(col, Numeric)
    return case((as_numeric == func.trunc(as_numeric), func.round(as_numeric, 1)), else_=as_numeric)


def feature_text(spec: LayerSpec, query: ItemsQuery, src: FromClause | None = None) -> Expr:
    """One GeoJSON Feature as text, built by PostgreSQL."""
    src = src if src is not None else layer_table(spec)
    decimals = query.decimals if query.out_srid == 4326 else 3
    geometry = func.coalesce(geojson_geometry(output_geometry(spec, query, src), decimals), literal("null"))
    return (
        literal('{"type":"Feature","id":')
        + cast(func.to_json(src.c[spec.id_column]), Text)
        + literal(',"geometry":')
        + geometry
        + literal(',"properties":')
        + cast(properties_json(spec, query.properties, src), Text)
        + literal("}")
    )


def order_by(spec: LayerSpec, query: ItemsQuery) -> list[Expr]:
    t = layer_table(spec)
    keys: list[Expr] = []
    if spec.located_first and not query.sortby:
        # Clients (QGIS) guess a layer's geometry type from its first page: located features come first.
        keys.append(geom_col(spec).is_(null()))
    for name, descending in query.sortby or ((spec.default_sort, False),):
        col = t.c[name]
        keys.append(col.desc().nulls_last() if descending else col.asc().nulls_last())
    if not query.sortby or query.sortby[-1][0] != spec.id_column:
        keys.append(id_col(spec).asc())
    return keys


def items_text(spec: LayerSpec, query: ItemsQuery, sep: str = ",") -> Select[Any]:
    """(the page's features joined by ``sep``, how many), in page order; one row, one round trip."""
    t = layer_table(spec)
    keys = order_by(spec, query)
    rows = (
        select(t, func.row_number().over(order_by=keys).label("_n"))
        .where(*conditions(spec, query))
        .order_by(*keys)
        .limit(query.limit)
        .offset(query.offset)
        .subquery("page")
    )
    joined = func.string_agg(feature_text(spec, query, rows), aggregate_order_by(literal(sep), rows.c._n))
    return _as_of(spec, query, select(joined, func.count()))


def items_rows(spec: LayerSpec, query: ItemsQuery) -> Select[Any]:
    """The page as rows (id, GeoJSON geometry text, properties JSON) for CSV, HTML and GeoPackage."""
    return _as_of(
        spec,
        query,
        select(
            id_col(spec).label("id"),
            geojson_geometry(output_geometry(spec, query), query.decimals).label("geometry"),
            func.ST_AsText(output_geometry(spec, query)).label("wkt"),
            properties_json(spec, query.properties).label("properties"),
        )
        .where(*conditions(spec, query))
        .order_by(*order_by(spec, query))
        .limit(query.limit)
        .offset(query.offset),
    )


def count(spec: LayerSpec, query: ItemsQuery) -> Select[Any]:
    t = layer_table(spec)
    return _as_of(spec, query, select(func.count()).select_from(t).where(*conditions(spec, query)))


def item_text(spec: LayerSpec, feature_id: Any, query: ItemsQuery) -> Select[Any]:
    t = layer_table(spec)
    return select(feature_text(spec, query)).select_from(t).where(id_col(spec) == feature_id)


def extent(spec: LayerSpec) -> Select[Any]:
    t = layer_table(spec)
    box = func.ST_Extent(geom_col(spec))
    columns: list[Any] = [func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box)]
    temporal = spec.temporal
    if temporal:
        # An unknown start (or end) on any feature leaves that end of the collection's interval open.
        start = t.c[temporal.start] if temporal.start else None
        end = t.c[temporal.end] if temporal.end else None
        columns += [
            null() if start is None else case((func.bool_or(start.is_(null())), null()), else_=func.min(start)),
            null() if end is None else case((func.bool_or(end.is_(null())), null()), else_=func.max(end)),
        ]
    return select(*columns).select_from(t)
