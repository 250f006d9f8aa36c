"""Pure statement builders for the planning analyses. Distances and areas are computed on the ellipsoid
(geography), never in degrees; index use comes from a bounding-box prefilter on the geometry column.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    case,
    cast,
    column,
    false,
    func,
    literal,
    null,
    or_,
    select,
    table,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
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


#: Candidates the nearest-first search reads before it checks that none beyond them can belong to the answer.
CANDIDATES_PER_RESULT = 4
CANDIDATES_EXTRA = 64
#: Ground metres per degree are at least min(M, N cos lat) * pi / 180 in any direction: M (the meridian's radius
#: of curvature) is never below its value at the equator, N never below the equatorial radius.
MERIDIAN_RADIUS_MIN_M = 6_335_439.0
EQUATOR_RADIUS_M = 6_378_137.0
#: What the lower bound gives away: 1 % and 100 m (a great-circle edge leaves the straight lon/lat edge by
#: L^2 tan(lat) / 8R, 0.4 m for a 10 km edge at 11 degrees), so rounding never decides.
BOUND_SHARE = 0.99
BOUND_SLACK_M = 100.0


def candidates_for(limit: int) -> int:
    """How many nearest-first candidates a ``nearby`` of ``limit`` features reads."""
    return limit * CANDIDATES_PER_RESULT + CANDIDATES_EXTRA


def within(spec: LayerSpec, ref: Expr, with_geometry: bool = True) -> Any:
    """Features within the ``metres`` parameter of ``ref`` ordered by distance (then id), at most ``limit``.

    The answer is the one of :func:`within_scan` (same features, order and distances), found faster: the
    ``candidates`` nearest in lon/lat (the GiST index's KNN order, inside the same box prefilter) get their
    distance on the ellipsoid; the answer comes from them when the last of it is nearer than any feature
    beyond the candidates can be (a lower bound of ground metres per degree), or when the box holds no more
    features than the candidates. Otherwise the statement answers with :func:`within_scan`. ``path`` says
    which one answered."""
    metres = bindparam("metres", type_=Float)
    limit = bindparam("limit", type_=Integer)
    wanted = bindparam("candidates", type_=Integer)
    t = layer_table(spec)
    geom = geom_col(spec)
    box = expand_metres(ref, metres)
    knn = (
        select(t, geom.op("<->")(ref).label("planar_deg"))
        .where(geom.op("&&")(box))
        .order_by(geom.op("<->")(ref))
        .limit(wanted)
        .cte("knn")
    )
    kgeom = knn.c[spec.geometry_column]
    distance = func.ST_Distance(geography(kgeom), geography(ref))
    hits = (
        select(knn, distance.label("distance_m"))
        .where(func.ST_DWithin(geography(kgeom), geography(ref), metres))
        .order_by(distance, knn.c[spec.id_column])
        .limit(limit)
        .cte("hits")
    )
    exact = _knn_is_exact(knn, hits, box, metres, limit, wanted)
    columns: list[Any] = [
        hits.c[spec.id_column].label("id"),
        hits.c.distance_m,
        properties_json(spec, None, hits).label("properties"),
    ]
    if with_geometry:
        columns.append(_geojson(hits.c[spec.geometry_column]).label("geometry"))
    fast = select(*columns, literal("knn").label("path")).where(exact)
    # The scan's gate stands above its LIMIT, so a scan that is not needed starts nothing (no parallel workers).
    scan = within_scan(spec, ref, with_geometry).subquery("scan")
    slow = select(scan, literal("scan").label("path")).where(~exact)
    answer = union_all(fast, slow).subquery("answer")
    return select(answer).order_by(answer.c.distance_m, answer.c.id)


def _knn_is_exact(knn: Any, hits: Any, box: Expr, metres: Expr, limit: Expr, wanted: Expr) -> Expr:
    """True when no feature beyond the nearest-first candidates can be in the answer: the box held fewer, or
    the farthest distance that still counts (the last hit's when the answer is full, else the radius) is
    below a lower bound of the ground distance to any feature at least as far in lon/lat as the last one."""
    lat = func.greatest(func.abs(func.ST_YMin(box)), func.abs(func.ST_YMax(box)))
    per_degree = func.least(
        literal(MERIDIAN_RADIUS_MIN_M, Float), literal(EQUATOR_RADIUS_M, Float) * func.cos(func.radians(lat))
    ) * literal(math.pi / 180.0, Float)
    beyond = func.max(knn.c.planar_deg) * per_degree * literal(BOUND_SHARE, Float) - literal(BOUND_SLACK_M, Float)
    found = select(func.count().label("n"), func.max(hits.c.distance_m).label("last")).subquery("found")
    farthest = case((found.c.n >= limit, found.c.last), else_=metres)
    read = select(func.count().label("n"), beyond.label("beyond")).select_from(knn).subquery("read")
    verdict = select(or_(read.c.n < wanted, farthest < read.c.beyond)).select_from(read.join(found, true()))
    return func.coalesce(verdict.scalar_subquery(), false())


def within_scan(spec: LayerSpec, ref: Expr, with_geometry: bool = True) -> Select[Any]:
    """Every feature in the box and within the ``metres`` parameter, its distance on the ellipsoid, sorted: the
    definition of :func:`within`'s answer, and its fallback."""
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
        columns.append(_geojson(geom).label("geometry"))
    return (
        select(*columns)
        .select_from(t)
        .where(geom.op("&&")(expand_metres(ref, metres)))
        .where(func.ST_DWithin(geography(geom), geography(ref), metres))
        .order_by(distance, id_col(spec))
        .limit(bindparam("limit", type_=Integer))
    )


def _geojson(geom: Expr) -> Expr:
    return func.ST_AsGeoJSON(geom, literal(7, Integer), literal(0, Integer))


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


# ---- area statistics of parcels ----------------------------------------------------------------------


def parcel_units_table() -> Any:
    """Each parcel's area and units (migration 0008, kept by triggers)."""
    return table(
        "parcel_units", column("parcel_id", BigInteger), column("area_ha", Float), column("unit_ids", ARRAY(Integer))
    )


def parcels_by_unit(level: str, day: dt.date) -> Select[Any]:
    """Hectares and counts of parcels per unit in force on ``day``, each parcel in the unit holding a point on
    its surface (the lowest code where two units' edges overlap): the answer of
    ``analysis_stats.polygons_by_unit`` for parcels, read from the kept assignments.

    Parcels with the same units are counted together first (a few thousand sets for a million parcels), so
    only those sets ask which of their units is in force at ``level`` on ``day``."""
    pu = parcel_units_table()
    u = units_table()
    sets = (
        select(
            pu.c.unit_ids,
            func.count().label("count"),
            func.sum(pu.c.area_ha).label("hectares"),
            func.count(pu.c.area_ha).label("count_with_area"),
        )
        .group_by(pu.c.unit_ids)
        .subquery("sets")
    )
    unit = (
        select(u.c.code, u.c.name)
        .where(u.c.id == any_(sets.c.unit_ids), u.c.level == level, valid_on(u, day))
        .order_by(u.c.code)
        .limit(1)
        .lateral("unit")
    )
    return (
        select(
            unit.c.code.label("unit_code"),
            func.max(unit.c.name).label("unit_name"),
            cast(func.sum(sets.c.count), BigInteger).label("count"),
            func.sum(sets.c.hectares).label("hectares"),
            cast(func.sum(sets.c.count_with_area), BigInteger).label("count_with_area"),
        )
        .select_from(sets.join(unit, true()))
        .group_by(unit.c.code)
        .order_by(unit.c.code)
    )
