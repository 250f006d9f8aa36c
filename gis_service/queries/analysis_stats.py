"""Statement builders for area statistics, site selection, the 2025 crosswalk and the planning timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, Integer, Select, and_, case, func, literal, null, or_, select, true
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.sql.expression import ColumnElement

from gis_service.catalog import LayerSpec
from gis_service.queries.analysis import geography, valid_on
from gis_service.queries.tables import geom_col, id_col, layer_table, transport_table, units_table

Expr = ColumnElement[Any]
REFORM_DAY = dt.date(2025, 7, 1)
LEGACY_DAY = dt.date(2025, 6, 30)
#: The year the bundled statuses describe: "operating" means operating in this year.
DATA_YEAR = 2025
POLYGON_LAYERS = ("planning_zones", "parcels")


# ---- area statistics -------------------------------------------------------------------------------


def area_by_unit(spec: LayerSpec, level: str, day: dt.date) -> Select[Any]:
    """Hectares and counts per unit in force on ``day``; polygons are assigned by a point on their surface,
    points by containment; parks without a location fall back to their recorded legacy district."""
    t = layer_table(spec)
    u = units_table()
    geom = geom_col(spec)
    polygon = spec.id in POLYGON_LAYERS
    anchor = func.ST_PointOnSurface(geom) if polygon else geom
    join = and_(u.c.level == level, valid_on(u, day), func.ST_Intersects(u.c.geom, anchor))
    fallback = t.c.district_code if ("district_code" in t.c and level == "district" and day <= LEGACY_DAY) else None
    code = (
        func.coalesce(u.c.code, fallback, literal("unlocated"))
        if fallback is not None
        else func.coalesce(u.c.code, literal("unlocated"))
    )
    name: Expr = func.max(u.c.name)
    if fallback is not None:
        name = func.coalesce(name, func.max(t.c.district_name))
    hectares = t.c.area_ha if polygon else t.c.planned_area_ha
    stmt = select(code.label("unit_code"), name.label("unit_name"), *measures(t, hectares))
    return stmt.select_from(t.outerjoin(u, join)).group_by(code).order_by(code)


def polygons_by_unit(spec: LayerSpec, level: str, day: dt.date) -> Select[Any]:
    """Hectares and counts of a polygon layer per unit in force on ``day``, each feature counted once, in the
    unit holding a point on its surface (the lowest code where two units' edges overlap).

    Driven from the few units: each unit's box scans the layer's GiST index and its geometry stays prepared
    across the candidates, so a million parcels take seconds, not minutes. Features in no unit are the
    difference to :func:`layer_totals`."""
    t = layer_table(spec)
    u = units_table()
    geom = geom_col(spec)
    hits = (
        select(id_col(spec).label("fid"), u.c.code, u.c.name, t.c.area_ha)
        .select_from(
            u.join(t, and_(geom.op("&&")(u.c.geom), func.ST_Intersects(u.c.geom, func.ST_PointOnSurface(geom))))
        )
        .where(u.c.level == level, valid_on(u, day))
        .ext(distinct_on(id_col(spec)))
        .order_by(id_col(spec), u.c.code)
        .subquery("hits")
    )
    return (
        select(
            hits.c.code.label("unit_code"), func.max(hits.c.name).label("unit_name"), *measures(hits, hits.c.area_ha)
        )
        .group_by(hits.c.code)
        .order_by(hits.c.code)
    )


def layer_totals(spec: LayerSpec) -> Select[Any]:
    t = layer_table(spec)
    return select(*measures(t, t.c.area_ha if spec.id in POLYGON_LAYERS else t.c.planned_area_ha))


def measures(t: Any, hectares: Expr) -> list[Expr]:
    columns: list[Expr] = [
        func.count().label("count"),
        func.sum(hectares).label("hectares"),
        func.count(hectares).label("count_with_area"),
    ]
    if "leased_area_ha" in t.c:
        known = t.c.leased_area_ha.is_not(null())
        columns += [
            func.sum(t.c.leased_area_ha).label("leased_ha"),
            func.sum(case((known, hectares), else_=None)).label("occupancy_denominator_ha"),
            func.count(t.c.leased_area_ha).label("count_with_occupancy"),
        ]
    return columns


def area_by_attribute(spec: LayerSpec, attribute: str) -> Select[Any]:
    t = layer_table(spec)
    hectares = t.c.area_ha if spec.id in POLYGON_LAYERS else t.c.planned_area_ha
    key = t.c[attribute]
    return select(key.label(attribute), *measures(t, hectares)).group_by(key).order_by(key.asc().nulls_last())


# ---- site selection --------------------------------------------------------------------------------


def candidates(
    spec: LayerSpec,
    type_column: str,
    types: list[str],
    excluded: list[LayerSpec],
    bbox: tuple[float, float, float, float] | None,
) -> Any:
    """Qualifying features grouped into contiguous sites (touching features form one site)."""
    t = layer_table(spec)
    geom = geom_col(spec)
    where: list[Expr] = [t.c[type_column].in_(types)]
    if bbox is not None:
        where.append(geom.op("&&")(func.ST_MakeEnvelope(*bbox, literal(4326, Integer))))
    for other in excluded:
        o = layer_table(other).alias(f"x_{other.id}")
        other_geom = o.c[other.geometry_column]
        where.append(~select(literal(1)).select_from(o).where(func.ST_Intersects(other_geom, geom)).exists())
    members = (
        select(
            id_col(spec).label("member_id"),
            geom.label("geom"),
            func.ST_ClusterDBSCAN(geom, literal(0.0, Float), literal(1, Integer)).over().label("site"),
        )
        .where(*where)
        .subquery("members")
    )
    return (
        select(
            members.c.site,
            func.array_agg(members.c.member_id).label("members"),
            func.ST_Union(members.c.geom).label("geom"),
        )
        .group_by(members.c.site)
        .subquery("sites")
    )


def target_geometry(kinds: list[str], codes: list[str]) -> Expr:
    t = transport_table()
    return (
        select(func.ST_Collect(t.c.geom))
        .where(t.c.geom.is_not(null()), or_(t.c.kind.in_(kinds or [""]), t.c.code.in_(codes or [""])))
        .scalar_subquery()
    )


def sites(site_rows: Any, min_area_ha: float, targets: dict[str, Expr], limit: int) -> Select[Any]:
    area = func.ST_Area(geography(site_rows.c.geom)) / 10_000.0
    distances = {
        name: func.ST_Distance(geography(site_rows.c.geom), geography(target)).label(f"d_{name}")
        for name, target in targets.items()
    }
    inner = select(
        site_rows.c.site,
        site_rows.c.members,
        area.label("area_ha"),
        func.ST_AsGeoJSON(site_rows.c.geom, literal(6, Integer), literal(0, Integer)).label("geometry"),
        *distances.values(),
    ).subquery("scored")
    return select(inner).where(inner.c.area_ha >= min_area_ha).order_by(inner.c.area_ha.desc()).limit(limit)


def targets_with_geometry(spec: LayerSpec) -> Select[Any]:
    """Every transport project: whether it has a geometry, and how good it is."""
    t = layer_table(spec)
    quality = [t.c[n] for n in ("geometry_quality", "accuracy_m", "geometry_missing") if n in spec.property_names]
    return select(t.c.code, t.c.kind, (geom_col(spec).is_not(null())).label("has_geometry"), *quality)


# ---- crosswalk -------------------------------------------------------------------------------------


def overlaps(code: str, direction: str, level: str) -> Select[Any]:
    """Old unit -> new units (``forward``) or new -> old (``reverse``), with area shares from geometry."""
    src, dst = units_table().alias("src"), units_table().alias("dst")
    if direction == "forward":
        src_when, dst_when = valid_on(src, LEGACY_DAY), dst.c.valid_from == REFORM_DAY
        dst_level: Expr = dst.c.level == "ward"
    else:
        src_when, dst_when = src.c.valid_from == REFORM_DAY, valid_on(dst, LEGACY_DAY)
        dst_level = dst.c.level == level
    inter = func.ST_Area(geography(func.ST_Intersection(src.c.geom, dst.c.geom)))
    return (
        select(
            src.c.code.label("from_code"),
            src.c.name.label("from_name"),
            dst.c.code.label("to_code"),
            dst.c.name.label("to_name"),
            dst.c.level.label("to_level"),
            (inter / func.nullif(func.ST_Area(geography(src.c.geom)), 0)).label("share_of_from"),
            (inter / func.nullif(func.ST_Area(geography(dst.c.geom)), 0)).label("share_of_to"),
        )
        .select_from(src.join(dst, and_(dst_when, dst_level, func.ST_Intersects(src.c.geom, dst.c.geom))))
        .where(src.c.code == code, src_when, src.c.level == (level if direction == "forward" else "ward"))
        .order_by(inter.desc())
    )


def successions(code: str, direction: str) -> Any:
    from sqlalchemy import text

    return text(
        "SELECT s.old_code, o.name AS old_name, s.new_code, n.name AS new_name, s.old_unit_split, "
        "s.share_of_old, s.share_of_new FROM admin_unit_successions s "
        "JOIN admin_units o ON o.id = s.old_unit_id JOIN admin_units n ON n.id = s.new_unit_id "
        "WHERE CASE WHEN :forward THEN s.old_code ELSE s.new_code END = :code "
        "ORDER BY s.share_of_old DESC NULLS LAST"
    ).bindparams(code=code, forward=direction == "forward")


def reassign(spec: LayerSpec, day: dt.date, limit: int) -> Select[Any]:
    """Each feature -> the unit in force on ``day`` with the largest overlap (never by code join)."""
    t = layer_table(spec)
    u = units_table()
    geom = geom_col(spec)
    overlap = func.ST_Area(geography(func.ST_Intersection(geom, u.c.geom)))
    best = (
        select(u.c.code, u.c.name, overlap.label("overlap_m2"))
        .where(u.c.level == "ward", valid_on(u, day), func.ST_Intersects(u.c.geom, geom))
        .order_by(overlap.desc(), u.c.code)
        .limit(1)
        .lateral("best")
    )
    whole = func.ST_Area(geography(geom))
    return (
        select(
            id_col(spec).label("id"),
            best.c.code.label("unit_code"),
            best.c.name.label("unit_name"),
            case((whole > 0, best.c.overlap_m2 / whole), else_=None).label("share"),
        )
        .select_from(t.outerjoin(best, true()))
        .where(geom.is_not(null()))
        .order_by(id_col(spec))
        .limit(limit)
    )


# ---- timeline --------------------------------------------------------------------------------------


def estate_state(t: Any, year: int) -> Expr:
    """Operating/under construction/planned/removed as of ``year``; 'unknown' where the sources cannot say."""
    established = t.c.established_year
    return case(
        (t.c.status == "removed", literal("removed")),
        (t.c.status == "unknown", literal("unknown")),  # no cited status: never drawn as planned
        (and_(established.is_not(null()), established > year), literal("not yet")),
        (
            t.c.status == "operating",
            case((or_(established <= year, literal(year) >= DATA_YEAR), "existing"), else_="unknown"),
        ),
        (
            t.c.status == "under construction",
            case((literal(year) <= DATA_YEAR, "under construction"), else_="expected"),
        ),
        else_=literal("planned"),
    )


def estates_in(spec: LayerSpec, year: int) -> Select[Any]:
    t = layer_table(spec)
    return select(
        t.c.code,
        t.c.name,
        t.c.status,
        t.c.established_year,
        t.c.horizon_year,
        t.c.planned_area_ha,
        estate_state(t, year).label("state"),
        (geom_col(spec).is_not(null())).label("located"),
    ).order_by(t.c.code)


def transport_state(t: Any, year: int) -> Expr:
    return case(
        (t.c.status.in_(["existing"]), literal("existing")),
        (and_(t.c.completion_year.is_not(null()), t.c.completion_year <= year), literal("completed")),
        (and_(t.c.start_year.is_not(null()), t.c.start_year <= year), literal("under construction")),
        else_=literal("planned"),
    )


def transport_in(year: int) -> Select[Any]:
    t = transport_table()
    return select(
        t.c.code,
        t.c.name,
        t.c.kind,
        t.c.status,
        t.c.start_year,
        t.c.completion_year,
        transport_state(t, year).label("state"),
        (t.c.geom.is_not(null())).label("located"),
    ).order_by(t.c.code)


def units_in(year: int) -> Select[Any]:
    u = units_table()
    day = dt.date(year, 12, 31) if year != 2025 else dt.date(2025, 7, 1)
    return (
        select(u.c.level, func.count().label("count")).where(valid_on(u, day)).group_by(u.c.level).order_by(u.c.level)
    )
