"""Pure statement builders for the planning analyses. Distances and areas are computed on the ellipsoid
(geography), never in degrees; index use comes from a bounding-box prefilter on the geometry column.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    column,
    func,
    literal,
    null,
    or_,
    select,
    text,
)
from sqlalchemy.sql import Executable
from sqlalchemy.sql.expression import ColumnElement

from gis_service.catalog import LayerSpec
from gis_service.queries.features import properties_json
from gis_service.queries.tables import geom_col, id_col, layer_table, transport_table, units_table

Expr = ColumnElement[Any]
METRES_PER_DEGREE_LAT = 110_574.0
#: Columns that say how good a feature's geometry is, read where a layer publishes them.
QUALITY_FIELDS = (
    "geometry_quality",
    "accuracy_m",
    "geometry_stub",
    "geometry_missing",
    "location_kind",
    "location_confidence",
)


def point(lon: float | None = None, lat: float | None = None) -> Expr:
    """A lon/lat point; without values it takes the ``lon`` and ``lat`` parameters at execution."""
    x = bindparam("lon", type_=Float) if lon is None else literal(lon, Float)
    y = bindparam("lat", type_=Float) if lat is None else literal(lat, Float)
    return func.ST_SetSRID(func.ST_MakePoint(x, y), literal(4326, Integer))


def geojson_geometry(geojson: Expr) -> Expr:
    return func.ST_SetSRID(func.ST_GeomFromGeoJSON(geojson), literal(4326, Integer))


def feature_geometry(spec: LayerSpec, feature_id: Any) -> Expr:
    t = layer_table(spec)
    return select(geom_col(spec)).select_from(t).where(id_col(spec) == feature_id).scalar_subquery()


def geography(geom: Expr) -> Expr:
    return func.geography(geom)


def expand_metres(geom: Expr, metres: Expr, max_lat: float = 12.0) -> Expr:
    """A box around ``geom`` at least ``metres`` wide on every side, in degrees (index prefilter only);
    a degree of longitude is taken at ``max_lat``, the shortest it gets in the region."""
    import math

    per_lat = 1.01 / METRES_PER_DEGREE_LAT
    per_lon = 1.01 / (METRES_PER_DEGREE_LAT * math.cos(math.radians(max_lat)))
    return func.ST_Expand(geom, metres * literal(per_lon, Float), metres * literal(per_lat, Float))


def valid_on(spec_table: Any, day: dt.date) -> Expr:
    return and_(
        or_(spec_table.c.valid_from.is_(null()), spec_table.c.valid_from <= day),
        or_(spec_table.c.valid_to.is_(null()), spec_table.c.valid_to >= day),
    )


# ---- locate -----------------------------------------------------------------------------------------


def units_at() -> Any:
    """Units containing the ``lon``/``lat`` parameters and in force on the ``day`` parameter."""
    columns = ("level", "code", "name", "unit_type", "valid_from", "valid_to", "geometry_quality")
    return (
        text(
            "SELECT level, code, name, unit_type, valid_from, valid_to, geometry_quality FROM admin_units "
            "WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
            "AND (valid_from IS NULL OR valid_from <= :day) AND (valid_to IS NULL OR valid_to >= :day) "
            "ORDER BY CASE level WHEN 'province' THEN 0 WHEN 'district' THEN 1 ELSE 2 END, code"
        )
        .bindparams(bindparam("lon", type_=Float), bindparam("lat", type_=Float), bindparam("day", type_=Date))
        .columns(*(column(name) for name in columns))
    )


def containing(spec: LayerSpec, column: str | None = None) -> Executable:
    """Features of a polygon layer (or a layer's footprint column) containing the ``lon``/``lat`` point."""
    t = layer_table(spec)
    geom = t.c[column] if column else geom_col(spec)
    return (
        select(id_col(spec).label("id"), properties_json(spec, None).label("properties"))
        .where(func.ST_Intersects(geom, point()))
        .limit(5)
    )


def nearest(spec: LayerSpec, ref: Expr, limit: int, max_metres: float | None = None) -> Select[Any]:
    """The ``limit`` features nearest to ``ref`` in metres: KNN on the index, then re-ranked on the ellipsoid."""
    t = layer_table(spec)
    geom = geom_col(spec)
    knn = (
        select(t, func.ST_Distance(geography(geom), geography(ref)).label("distance_m"))
        .where(geom.is_not(null()))
        .order_by(geom.op("<->")(ref))
        .limit(limit * 4)
        .subquery("knn")
    )
    stmt = select(
        knn.c[spec.id_column].label("id"), knn.c.distance_m, properties_json(spec, None, knn).label("properties")
    )
    if max_metres is not None:
        stmt = stmt.where(knn.c.distance_m <= max_metres)
    return stmt.order_by(knn.c.distance_m).limit(limit)


# ---- nearby -----------------------------------------------------------------------------------------


def within(spec: LayerSpec, ref: Expr, with_geometry: bool = True) -> Select[Any]:
    """Features within the ``metres`` parameter of ``ref`` ordered by distance, at most ``limit`` of them;
    the box prefilter uses the GiST index."""
    metres = bindparam("metres", type_=Float)
    t = layer_table(spec)
    geom = geom_col(spec)
    distance = func.ST_Distance(geography(geom), geography(ref))
    columns: list[Any] = [
        id_col(spec).label("id"),
        distance.label("distance_m"),
        properties_json(spec, None).label("properties"),
    ]
    if with_geometry:
        columns.append(func.ST_AsGeoJSON(geom, literal(7, Integer), literal(0, Integer)).label("geometry"))
    return (
        select(*columns)
        .select_from(t)
        .where(geom.op("&&")(expand_metres(ref, metres)))
        .where(func.ST_DWithin(geography(geom), geography(ref), metres))
        .order_by(distance, id_col(spec))
        .limit(bindparam("limit", type_=Integer))
    )


def reference_exists(ref: Expr) -> Select[Any]:
    return select(ref.is_not(null()).label("exists"), func.ST_IsValid(ref).label("valid"))


# ---- corridor ---------------------------------------------------------------------------------------


def corridor_polygon(project_code: str, width_m: float) -> Expr:
    """The right of way: the line buffered by half the width on the ellipsoid."""
    t = transport_table()
    line = select(t.c.geom).where(t.c.code == project_code).scalar_subquery()
    return func.geometry(func.ST_Buffer(geography(line), literal(width_m / 2.0, Float)))


def corridor_take(spec: LayerSpec, corridor: Expr, level: str | None = None, day: dt.date | None = None) -> Select[Any]:
    """Area taken from every polygon feature the corridor touches, in hectares and as a share."""
    t = layer_table(spec)
    geom = geom_col(spec)
    inter = func.ST_Area(geography(func.ST_Intersection(geom, corridor)))
    whole = func.ST_Area(geography(geom))
    stmt = (
        select(
            id_col(spec).label("id"),
            properties_json(
                spec,
                tuple(n for n in ("code", "name", "zone_type", "land_use_code", "level") if n in spec.property_names),
            ).label("properties"),
            (inter / 10_000.0).label("taken_ha"),
            (whole / 10_000.0).label("area_ha"),
            case((whole > 0, inter / whole), else_=None).label("share"),
        )
        .select_from(t)
        .where(geom.op("&&")(corridor), func.ST_Intersects(geom, corridor))
        .order_by(inter.desc())
    )
    if level is not None:
        stmt = stmt.where(t.c.level == level)
    if day is not None:
        stmt = stmt.where(valid_on(t, day))
    return stmt


def _quality_names(spec: LayerSpec) -> tuple[str, ...]:
    return tuple(n for n in QUALITY_FIELDS if n in spec.property_names)


def corridor_points(spec: LayerSpec, corridor: Expr) -> Executable:
    """Point features (park sites) inside the corridor: no area can be taken from a point."""
    geom = geom_col(spec)
    return select(
        id_col(spec).label("id"),
        properties_json(spec, ("code", "name", "planned_area_ha", *_quality_names(spec))).label("properties"),
    ).where(geom.op("&&")(corridor), func.ST_Intersects(geom, corridor))


def corridor_summary(corridor: Expr) -> Select[Any]:
    return select(
        (func.ST_Area(geography(corridor)) / 10_000.0).label("corridor_ha"),
        func.ST_AsGeoJSON(corridor, literal(6, Integer), literal(0, Integer)).label("geometry"),
    )


def project_state(spec: LayerSpec, code: str) -> Select[Any]:
    """A transport project's geometry and how good it is: the sourced ``length_km`` (the project's) and the
    length of the drawn line, which for a schematic or partial line is not the project's length."""
    t = layer_table(spec)
    geom = geom_col(spec)
    quality = [t.c[n] for n in _quality_names(spec)]
    return select(
        t.c.code,
        geom.is_not(null()).label("has_geometry"),
        *quality,
        t.c.length_km,
        (func.ST_Length(geography(geom)) / 1000.0).label("line_length_km"),
        func.ST_NumGeometries(geom).label("parts"),
    ).where(t.c.code == code)


def feature_quality(spec: LayerSpec, feature_id: Any) -> Select[Any]:
    """The quality fields (``geometry_quality``, ``accuracy_m`` ...) of one feature a question is measured from."""
    t = layer_table(spec)
    columns: list[Any] = [t.c[n] for n in _quality_names(spec)] or [null().label("geometry_quality")]
    return select(*columns).select_from(t).where(id_col(spec) == feature_id)


def unit_geometry(code: str) -> Select[Any]:
    """The most recent geometry of an administrative unit code, as GeoJSON (codes were reused in 2025)."""
    u = units_table()
    return (
        select(func.ST_AsGeoJSON(u.c.geom))
        .where(u.c.code == literal(code), u.c.geom.is_not(null()))
        .order_by(u.c.valid_from.desc().nulls_last())
        .limit(1)
    )
