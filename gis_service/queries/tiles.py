"""Mapbox Vector Tile statements: ``ST_AsMVT`` over ``ST_AsMVTGeom``, one layer or several in one tile.

Pure builders: a collection spec and a :class:`TileQuery` in, a ``Select`` out. Rules that keep tiles fast:

- integer SRIDs only (a text SRID in ``ST_Transform`` made one peer 800x slower);
- WebMercatorQuad reads the stored, indexed ``geom_3857`` (migration 0002), so no row is reprojected;
  WorldCRS84Quad reads ``geom`` (SRID 4326, indexed) against a 4326 envelope;
- the index filter is ``geom && envelope`` widened by the tile buffer; clipping is ``ST_AsMVTGeom``'s;
- lines and polygons are pre-simplified by one tile pixel below ``simplify_below_zoom`` (the MVT grid
  would drop that detail anyway, and fewer vertices make clipping cheaper);
- at most ``max_features`` rows per layer per tile;
- properties per zoom come from the catalogue's ``tile_properties``: the list under the greatest zoom key
  at or below the tile's zoom (the smallest key's list below every key), and all properties from the
  layer's ``maxzoom`` on, where overzoomed tiles are the only detail a client gets. The property a
  style colours by (``style.color_by``) always travels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    Integer,
    LargeBinary,
    Select,
    Text,
    TextClause,
    bindparam,
    cast,
    func,
    literal,
    select,
    text,
    true,
)
from sqlalchemy.sql.expression import ColumnClause, ColumnElement, TableClause, column, table

from gis_service.catalog import LayerSpec
from gis_service.queries.features import temporal_condition
from gis_service.queries.tables import layer_table

Expr = ColumnElement[Any]
GEOM = "mvt_geom"
FID = "mvt_id"
WEB_MERCATOR = 3857
POINT_TYPES = {"point", "multipoint"}
FOOTPRINT = "footprint"


@dataclass(frozen=True)
class TileQuery:
    """One tile of one tile matrix set, in that set's CRS (``srid``), with the per-request filters."""

    bounds: tuple[float, float, float, float]
    srid: int
    zoom: int
    extent: int = 4096
    buffer: int = 64
    max_features: int = 20_000
    simplify_below_zoom: int = 14
    interval: tuple[Any, Any] | None = None
    where: Expr | None = None


def tile_property_names(spec: LayerSpec, zoom: int) -> list[str]:
    """The properties a tile of ``spec`` carries at ``zoom`` (see the module docstring)."""
    if not spec.tile_properties or zoom >= spec.maxzoom:
        return spec.property_names
    keys = sorted(spec.tile_properties)
    chosen = spec.tile_properties[max([k for k in keys if k <= zoom], default=keys[0])]
    names = [n for n in chosen if n in spec.property_names]
    color_by = spec.style.color_by
    if color_by and color_by in spec.property_names and color_by not in names:
        names.append(color_by)
    return names


def _extra(t: TableClause, name: str, type_: Any) -> ColumnClause[Any]:
    """A column of ``t`` that the catalogue's table clause does not list (the tile id, ``geom_3857``)."""
    return t.c[name] if name in t.c else column(name, type_, _selectable=t)


def source_geometry(spec: LayerSpec, srid: int) -> ColumnClause[Any]:
    t = layer_table(spec)
    if srid == WEB_MERCATOR:
        return _extra(t, spec.tile_geometry_column, Geometry(srid=WEB_MERCATOR))
    return t.c[spec.geometry_column]


def _value(name: str, value: float) -> Expr:
    """A named parameter of the tile's geometry: a statement built for one tile serves every tile of the same
    shape with :func:`tile_parameters` (building and keying a statement costs more than a millisecond)."""
    return bindparam(name, value, type_=Float)


def _corners(bounds: tuple[float, float, float, float], margin: float) -> dict[str, float]:
    left, bottom, right, top = bounds
    prefix = "tile_w" if margin else "tile"  # the tile widened by its buffer has parameters of its own
    return {
        f"{prefix}_xmin": left - margin,
        f"{prefix}_ymin": bottom - margin,
        f"{prefix}_xmax": right + margin,
        f"{prefix}_ymax": top + margin,
    }


def envelope(bounds: tuple[float, float, float, float], srid: int, margin: float = 0.0) -> Expr:
    corners = [_value(name, value) for name, value in _corners(bounds, margin).items()]
    return func.ST_MakeEnvelope(*corners, literal(srid, Integer))


def _margin(query: TileQuery) -> float:
    return (query.bounds[2] - query.bounds[0]) * query.buffer / query.extent


def _pixel(query: TileQuery) -> float:
    return (query.bounds[2] - query.bounds[0]) / query.extent


def tile_parameters(query: TileQuery) -> dict[str, float]:
    """The values of the named parameters of a statement built for ``query``'s tile (see :func:`_value`)."""
    return {**_corners(query.bounds, 0.0), **_corners(query.bounds, _margin(query)), "tile_pixel": _pixel(query)}


def simplified(spec: LayerSpec, query: TileQuery) -> bool:
    return query.zoom < query.simplify_below_zoom and spec.geometry_type.lower() not in POINT_TYPES


def _geometry(spec: LayerSpec, query: TileQuery, *, label: bool = False) -> Expr:
    geom: Expr = source_geometry(spec, query.srid)
    if label:  # one point per polygon, inside it: labels are not repeated on every tile the polygon spans
        geom = func.ST_PointOnSurface(geom)
    elif simplified(spec, query):
        geom = func.ST_Simplify(geom, _value("tile_pixel", _pixel(query)), true())
    return func.ST_AsMVTGeom(
        geom,
        envelope(query.bounds, query.srid),
        literal(query.extent, Integer),
        literal(query.buffer, Integer),
        true(),
    )


def _property(t: TableClause, spec: LayerSpec, name: str) -> Expr:
    col = t.c[name]
    # ST_AsMVT has no date value type: ISO text is what every client can read.
    return (cast(col, Text) if isinstance(col.type, Date) else col).label(name)


def layer_rows(spec: LayerSpec, query: TileQuery, *, label: bool = False) -> Select[Any]:
    """The rows of one layer's tile: clipped MVT geometry, integer feature id, the zoom's properties."""
    t = layer_table(spec)
    geom = source_geometry(spec, query.srid)
    where: list[Expr] = [geom.op("&&")(envelope(query.bounds, query.srid, _margin(query)))]
    if query.interval is not None:
        where.append(temporal_condition(spec, *query.interval))
    if query.where is not None:
        where.append(query.where)
    fid = _extra(t, spec.tile_id_column, BigInteger())
    props = [_property(t, spec, n) for n in tile_property_names(spec, query.zoom)]
    return (
        select(_geometry(spec, query, label=label).label(GEOM), fid.label(FID), *props)
        .select_from(t)
        .where(*where)
        .limit(query.max_features)
    )


def layer_mvt(spec: LayerSpec, query: TileQuery, *, label: bool = False) -> Select[Any]:
    """One MVT layer named after the collection (empty bytes when nothing falls in the tile); with
    ``label``, ``<id>_labels``: a point on the surface of each polygon, for symbol layers."""
    name = f"{spec.id}_labels" if label else spec.id
    rows = layer_rows(spec, query, label=label).subquery(f"{name}_rows")
    mvt = func.ST_AsMVT(
        rows.table_valued(), literal(name, Text), literal(query.extent, Integer), literal(GEOM), literal(FID)
    )
    return select(func.coalesce(mvt, literal(b"", LargeBinary))).where(rows.c[GEOM].is_not(None))


def footprint_mvt(spec: LayerSpec, query: TileQuery) -> Select[Any]:
    """``<id>_footprints``: the polygons of a point layer's ``footprint`` column (a park's mapped area
    besides its site point), with the tile's properties. A layer of its own, so a style draws the points
    and the areas apart; the footprint has no stored Web Mercator copy and is transformed per tile (few
    parks have one), filtered on its own 4326 index."""
    t = layer_table(spec)
    area: Expr = t.c[FOOTPRINT]
    tile_srid_area = area if query.srid == 4326 else func.ST_Transform(area, literal(query.srid, Integer))
    box = envelope(query.bounds, query.srid, _margin(query))
    where: list[Expr] = [area.op("&&")(box if query.srid == 4326 else func.ST_Transform(box, literal(4326, Integer)))]
    if query.interval is not None:
        where.append(temporal_condition(spec, *query.interval))
    if query.where is not None:
        where.append(query.where)
    geom = func.ST_AsMVTGeom(tile_srid_area, envelope(query.bounds, query.srid), literal(query.extent, Integer),
                             literal(query.buffer, Integer), true())  # fmt: skip
    props = [_property(t, spec, n) for n in tile_property_names(spec, query.zoom)]
    fid = _extra(t, spec.tile_id_column, BigInteger())
    rows = select(geom.label(GEOM), fid.label(FID), *props).select_from(t).where(*where).limit(query.max_features)
    sub = rows.subquery(f"{spec.id}_footprint_rows")
    name = f"{spec.id}_footprints"
    mvt = func.ST_AsMVT(
        sub.table_valued(), literal(name, Text), literal(query.extent, Integer), literal(GEOM), literal(FID)
    )
    return select(func.coalesce(mvt, literal(b"", LargeBinary))).where(sub.c[GEOM].is_not(None))


def has_footprint(spec: LayerSpec) -> bool:
    return FOOTPRINT in spec.extra_geometry_columns and spec.geometry_type.lower() in POINT_TYPES


def cluster_identity() -> TextClause:
    """The database cluster's system identifier (a primary and its physical replicas share it) and the
    database's name: what a shared tile cache's keys are namespaced by."""
    return text("SELECT system_identifier::text || '/' || current_database() FROM pg_control_system()")


def seen_versions(tables: list[str]) -> Expr:
    """``(layer, version, changed_at)`` rows of ``layer_versions`` for ``tables``, as one array value."""
    t = table("layer_versions", column("layer"), column("version"), column("changed_at"))
    rows = select(func.array_agg(func.row(t.c.layer, t.c.version, t.c.changed_at))).where(t.c.layer.in_(tables))
    return rows.scalar_subquery()


def tile(
    layers: list[tuple[LayerSpec, TileQuery]], labels: tuple[str, ...] = (), versions_of: list[str] | None = None
) -> Select[Any]:
    """A tile of one or more layers in one statement: MVT layers concatenate byte-wise. Layers whose id
    is in ``labels`` also get their ``<id>_labels`` point layer; point layers with a footprint column their
    ``<id>_footprints`` polygon layer. With ``versions_of`` (tables) a second column, ``versions``, holds
    their data versions read by the same statement, so from the same snapshot as the tile."""
    parts = [layer_mvt(spec, query).scalar_subquery() for spec, query in layers]
    parts += [layer_mvt(spec, query, label=True).scalar_subquery() for spec, query in layers if spec.id in labels]
    parts += [footprint_mvt(spec, query).scalar_subquery() for spec, query in layers if has_footprint(spec)]
    body: Expr = func.coalesce(parts[0], literal(b"", LargeBinary))
    for part in parts[1:]:
        body = body.op("||")(func.coalesce(part, literal(b"", LargeBinary)))
    if versions_of is None:
        return select(body.label("mvt"))
    return select(body.label("mvt"), seen_versions(versions_of).label("versions"))
