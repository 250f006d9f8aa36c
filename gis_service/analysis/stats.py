"""Plans for area statistics, site selection, the 2025 crosswalk and the planning timeline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from gis_service.analysis import inputs
from gis_service.analysis import quality as aqual
from gis_service.analysis.access import FULL, Access, withheld_notes
from gis_service.analysis.plan import Plan, Rows
from gis_service.catalog import Catalog
from gis_service.errors import InvalidParameter, NotFound
from gis_service.queries import analysis as aq
from gis_service.queries import analysis_stats as sq

STAT_LAYERS = ("industrial_parks", "industrial_clusters", "planning_zones", "parcels")
UNIT_SETS = {
    "legacy": ("district", sq.LEGACY_DAY),
    "legacy-wards": ("ward", sq.LEGACY_DAY),
    "2025": ("ward", sq.REFORM_DAY),
}
TARGETS = {  # what "near" means for site selection: transport kinds and codes
    "ring_roads": (["ring road"], []),
    "expressway": (["expressway"], []),
    "nh13": ([], ["QL13"]),
    "mptv": ([], ["MPTV"]),
    "port": (["port"], []),
    "rail": (["rail"], []),
}


def _number(value: Any) -> Any:
    return round(float(value), 4) if isinstance(value, float) else value


def area_stats(
    catalog: Catalog,
    collection: str,
    by: str = "unit",
    units: str = "2025",
    day: dt.date | None = None,
    access: Access = FULL,
) -> Plan:
    if collection not in STAT_LAYERS:
        raise InvalidParameter(f"collection must be one of {STAT_LAYERS}", parameter="collection")
    spec = catalog.get(collection)
    access.require(collection, "collection")
    private = access.depends_on([collection, "admin_units" if by == "unit" else None])
    if by == "unit":
        access.require("admin_units", "by")
        if units not in UNIT_SETS:
            raise InvalidParameter(f"units must be one of {sorted(UNIT_SETS)}", parameter="units")
        level, default_day = UNIT_SETS[units]
        day = day or default_day
        if (day >= sq.REFORM_DAY) != (units == "2025"):
            raise InvalidParameter(f"units {units!r} were not in force on {day}", parameter="date")
        if collection in sq.POLYGON_LAYERS:
            return _polygon_stats(spec, level, day, units, private)
        stmt = sq.area_by_unit(spec, level, day)
    elif by in ("status", "horizon_year", "zone_type", "land_use_code") and by in spec.property_names:
        stmt = sq.area_by_attribute(spec, by)
    else:
        raise InvalidParameter(f"by must be unit or an attribute of {collection}", parameter="by")

    def shape(r: dict[str, Rows]) -> dict[str, Any]:
        groups = [{k: _number(v) for k, v in row.items()} for row in r["groups"]]
        for g in groups:
            if g.get("occupancy_denominator_ha"):
                g["occupancy_pct"] = round(100 * (g["leased_ha"] or 0) / g["occupancy_denominator_ha"], 1)
        return {
            "collection": collection,
            "by": by,
            "units": units if by == "unit" else None,
            "date": day.isoformat() if day else None,
            "groups": groups,
            "total": {
                "count": sum(g["count"] for g in groups),
                "hectares": round(sum(g["hectares"] or 0 for g in groups), 4),
            },
        }

    return Plan({"groups": stmt}, shape, private=private)


def _polygon_stats(spec: Any, level: str, day: dt.date, units: str, private: bool) -> Plan:
    """Parcels are counted from their kept assignments (``parcel_units``), other polygon layers by asking
    the units' geometries."""
    groups = aq.parcels_by_unit(level, day) if spec.table == "parcels" else sq.polygons_by_unit(spec, level, day)
    statements = {"groups": groups, "totals": sq.layer_totals(spec)}

    def shape(r: dict[str, Rows]) -> dict[str, Any]:
        groups = [{k: _number(v) for k, v in row.items()} for row in r["groups"]]
        total = r["totals"][0]
        located = sum(g["count"] for g in groups)
        if total["count"] > located:
            hectares = (total["hectares"] or 0) - sum(g["hectares"] or 0 for g in groups)
            groups.append(
                {
                    "unit_code": "unlocated",
                    "unit_name": None,
                    "count": total["count"] - located,
                    "hectares": _number(hectares),
                    "count_with_area": total["count"] - located,
                }
            )
        return {
            "collection": spec.id,
            "by": "unit",
            "units": units,
            "date": day.isoformat(),
            "groups": groups,
            "total": {"count": total["count"], "hectares": _number(total["hectares"] or 0.0)},
        }

    return Plan(statements, shape, private=private)


@dataclass(frozen=True)
class SiteCriteria:
    collection: str = "planning_zones"
    types: list[str] = field(default_factory=lambda: ["industrial"])
    min_area_ha: float = 50.0
    max_distance_m: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    bbox: tuple[float, float, float, float] | None = None
    limit: int = 20


def site_selection(catalog: Catalog, c: SiteCriteria, access: Access = FULL) -> Plan:
    """Every layer a site selection reads is named by the caller (the sites' layer, the excluded layers, the
    transport lines of ``max_distance_m``): one it may not read is refused."""
    if c.collection not in ("planning_zones", "parcels"):
        raise InvalidParameter("collection must be planning_zones or parcels", parameter="collection")
    spec = catalog.get(c.collection)
    access.require(c.collection, "collection")
    unknown = sorted(set(c.max_distance_m) - set(TARGETS))
    if unknown:
        raise InvalidParameter(f"max_distance_m keys must be among {sorted(TARGETS)}", parameter="max_distance_m")
    for metres in c.max_distance_m.values():
        inputs.radius(metres, parameter="max_distance_m")
    if not 0 < c.min_area_ha <= 100_000:
        raise InvalidParameter("min_area_ha must be > 0", parameter="min_area_ha")
    excluded = [catalog.get(name) for name in c.exclude]
    for name in c.exclude:
        access.require(name, "exclude")
    type_column = "zone_type" if c.collection == "planning_zones" else "land_use_code"
    site_rows = sq.candidates(spec, type_column, c.types, excluded, c.bbox)
    targets = {name: sq.target_geometry(*TARGETS[name]) for name in c.max_distance_m}
    statements = {"sites": sq.sites(site_rows, c.min_area_ha, targets, 5000)}
    if c.max_distance_m:
        access.require("transport_projects", "max_distance_m")
    if access.readable("transport_projects"):
        statements["targets"] = sq.targets_with_geometry(catalog.get("transport_projects"))
    uses = [c.collection, *c.exclude, "transport_projects" if c.max_distance_m else None]
    return Plan(statements, lambda r: shape_sites(r, c), private=access.depends_on(uses))


def shape_sites(r: dict[str, Rows], c: SiteCriteria) -> dict[str, Any]:
    lines = r.get("targets", [])
    located = {row["kind"] for row in lines if row["has_geometry"]}
    located |= {row["code"] for row in lines if row["has_geometry"]}
    warnings: list[str] = []
    usable: dict[str, float] = {}
    for name, limit in c.max_distance_m.items():
        kinds, codes = TARGETS[name]
        if located & set(kinds + codes):
            usable[name] = limit
            warnings += aqual.target_warnings(name, limit, [t for t in lines if _in_group(t, kinds, codes)])
        else:
            warnings.append(
                f"{name}: no transport line of this group has a sourced geometry yet; the criterion was not applied"
            )
    weights = {"area": c.weights.get("area", 1.0), **{n: c.weights.get(n, 1.0) for n in usable}}
    sites: list[dict[str, Any]] = []
    for row in r["sites"]:
        criteria = {
            "area": {"value_ha": round(row["area_ha"], 3), "score": min(1.0, row["area_ha"] / (2 * c.min_area_ha))}
        }
        ok = True
        for name, limit in usable.items():
            d = row[f"d_{name}"]
            ok = ok and d is not None and d <= limit
            criteria[name] = {
                "distance_m": None if d is None else round(d, 1),
                "max_m": limit,
                "score": 0.0 if d is None else max(0.0, 1 - d / limit),
            }
        if not ok:
            continue
        total = sum(weights.values()) or 1.0
        score = sum(weights[n] * criteria[n]["score"] for n in weights) / total
        sites.append(
            {
                "type": "Feature",
                "id": int(row["site"]) + 1,
                "geometry": orjson.loads(row["geometry"]) if row["geometry"] else None,
                "properties": {"score": round(score, 4), "members": list(row["members"]), "criteria": criteria},
            }
        )
    sites.sort(key=lambda s: -s["properties"]["score"])
    return {
        "type": "FeatureCollection",
        "collection": c.collection,
        "warnings": warnings,
        "weights": weights,
        "numberReturned": min(len(sites), c.limit),
        "features": sites[: c.limit],
    }


def _in_group(target: dict[str, Any], kinds: list[str], codes: list[str]) -> bool:
    return bool(target["has_geometry"]) and (target["kind"] in kinds or target["code"] in codes)


def crosswalk(code: str, direction: str = "forward", level: str = "ward", access: Access = FULL) -> Plan:
    """Old units -> new units (or back): a question about the administrative units, so they must be readable."""
    access.require("admin_units", "code")
    if direction not in ("forward", "reverse"):
        raise InvalidParameter("direction must be forward (old -> new) or reverse", parameter="direction")
    if level not in ("ward", "district"):
        raise InvalidParameter("level must be ward or district", parameter="level")
    statements = {"overlaps": sq.overlaps(code, direction, level), "successions": sq.successions(code, direction)}

    def shape(r: dict[str, Rows]) -> dict[str, Any]:
        legal = {(s["old_code"], s["new_code"]) for s in r["successions"]}
        rows = []
        for o in r["overlaps"]:
            pair = (o["from_code"], o["to_code"]) if direction == "forward" else (o["to_code"], o["from_code"])
            if o["share_of_from"] is not None and o["share_of_from"] < 0.01 and pair not in legal:
                continue  # a sliver where two sources' boundaries disagree
            rows.append({**{k: _number(v) for k, v in o.items()}, "basis": "geometry", "in_resolution": pair in legal})
        if not rows:
            rows = [
                {
                    "from_code": code,
                    "to_code": s["new_code"] if direction == "forward" else s["old_code"],
                    "to_name": s["new_name"] if direction == "forward" else s["old_name"],
                    "basis": "succession table",
                    "share_of_from": None,
                    "in_resolution": True,
                }
                for s in r["successions"]
            ]
        if not rows:
            raise NotFound(f"no unit {code!r} at level {level} on the {direction} side", parameter="code")
        return {"code": code, "direction": direction, "level": level, "links": rows}

    return Plan(statements, shape, private=access.depends_on(["admin_units"]))


def reassign(
    catalog: Catalog, collection: str, day: dt.date | None = None, limit: int = 10_000, access: Access = FULL
) -> Plan:
    spec = catalog.get(collection)
    access.require(collection, "collection")
    access.require("admin_units", "collection")  # the units the features are assigned to
    day = day or sq.REFORM_DAY
    return Plan(
        {"rows": sq.reassign(spec, day, limit)},
        lambda r: {
            "collection": collection,
            "date": day.isoformat(),
            "assignments": [{k: _number(v) for k, v in row.items()} for row in r["rows"]],
        },
        private=access.depends_on([collection, "admin_units"]),
    )


#: What the timeline counts, and the collection each part reads.
TIMELINE_LAYERS = ("industrial_parks", "industrial_clusters", "transport_projects", "admin_units")


def timeline(catalog: Catalog, year: int, access: Access = FULL) -> Plan:
    """What exists or is planned in ``year``; layers the caller may not read are left out, with a warning."""
    if not 2000 <= year <= 2060:
        raise InvalidParameter("year must be between 2000 and 2060", parameter="year")
    shown, withheld = access.split(TIMELINE_LAYERS)
    builders: dict[str, Callable[[], Any]] = {
        "industrial_parks": lambda: sq.estates_in(catalog.get("industrial_parks"), year),
        "industrial_clusters": lambda: sq.estates_in(catalog.get("industrial_clusters"), year),
        "transport_projects": lambda: sq.transport_in(year),
        "admin_units": lambda: sq.units_in(year),
    }
    statements = {name: builders[name]() for name in shown}

    def shape(r: dict[str, Rows]) -> dict[str, Any]:
        out: dict[str, Any] = {"year": year, "data_year": sq.DATA_YEAR}
        for name in ("industrial_parks", "industrial_clusters", "transport_projects"):
            if name not in r:
                continue
            states: dict[str, int] = {}
            for row in r[name]:
                states[row["state"]] = states.get(row["state"], 0) + 1
            out[name] = {"by_state": states, "features": [{k: _number(v) for k, v in row.items()} for row in r[name]]}
        if "admin_units" in r:
            out["admin_units"] = {row["level"]: row["count"] for row in r["admin_units"]}
        out["warnings"] = withheld_notes(withheld)
        return out

    return Plan(statements, shape, private=access.depends_on(TIMELINE_LAYERS))
