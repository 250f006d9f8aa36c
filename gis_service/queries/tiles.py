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
from sqlalchemy import BigInteger, Date, Integer, LargeBinary, Select, Text, cast, func, literal, select, true
from sqlalchemy.sql.expression import ColumnClause, ColumnElement, TableClause, column

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


def envelope(bounds: tuple[float, float, float, float], srid: int, margin: float = 0.0) -> Expr:
    left, bottom, right, top = bounds
    return func.ST_MakeEnvelope(
        literal(left - margin),
        literal(bottom - margin),
        literal(right + margin),
        literal(top + margin),
        literal(srid, Integer),
    )


def _geometry(spec: LayerSpec, query: TileQuery, *, label: bool = False) -> Expr:
    geom: Expr = source_geometry(spec, query.srid)
    pixel = (query.bounds[2] - query.bounds[0]) / query.extent
    if label:  # one point per polygon, inside it: labels are not repeated on every tile the polygon spans
        geom = func.ST_PointOnSurface(geom)
    elif query.zoom < query.simplify_below_zoom and spec.geometry_type.lower() not in POINT_TYPES:
        geom = func.ST_Simplify(geom, literal(pixel), true())
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
    margin = (query.bounds[2] - query.bounds[0]) * query.buffer / query.extent
    where: list[Expr] = [geom.op("&&")(envelope(query.bounds, query.srid, margin))]
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
    margin = (query.bounds[2] - query.bounds[0]) * query.buffer / query.extent
    box = envelope(query.bounds, query.srid, margin)
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


def tile(layers: list[tuple[LayerSpec, TileQuery]], labels: tuple[str, ...] = ()) -> Select[Any]:
    """A tile of one or more layers in one statement: MVT layers concatenate byte-wise. Layers whose id
    is in ``labels`` also get their ``<id>_labels`` point layer; point layers with a footprint column their
    ``<id>_footprints`` polygon layer."""
    parts = [layer_mvt(spec, query).scalar_subquery() for spec, query in layers]
    parts += [layer_mvt(spec, query, label=True).scalar_subquery() for spec, query in layers if spec.id in labels]
    parts += [footprint_mvt(spec, query).scalar_subquery() for spec, query in layers if has_footprint(spec)]
    body: Expr = func.coalesce(parts[0], literal(b"", LargeBinary))
    for part in parts[1:]:
        body = body.op("||")(func.coalesce(part, literal(b"", LargeBinary)))
    return select(body.label("mvt"))
