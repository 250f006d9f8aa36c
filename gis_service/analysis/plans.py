"""Each planning question as a :class:`Plan`: the statements to run and the shape of the answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import orjson
from sqlalchemy import BigInteger, Select, Text, bindparam
from sqlalchemy.sql import Executable

from gis_service.analysis import inputs
from gis_service.analysis import quality as aqual
from gis_service.analysis.access import FULL, Access, withheld_notes
from gis_service.analysis.plan import Plan, Rows, as_one_query
from gis_service.catalog import Catalog, LayerSpec
from gis_service.errors import InvalidParameter, NotFound
from gis_service.queries import analysis as aq
from gis_service.queries import analysis_stats as sq

TODAY_UNITS = sq.REFORM_DAY


def _props(row: dict[str, Any]) -> dict[str, Any]:
    value = row.get("properties")
    return value if isinstance(value, dict) else orjson.loads(value) if value else {}


def _features(rows: Rows, extra: tuple[str, ...] = ("distance_m",)) -> list[dict[str, Any]]:
    return [{"id": r["id"], **{k: r[k] for k in extra if k in r}, "properties": _props(r)} for r in rows]


def _with_id(feature: dict[str, Any]) -> dict[str, Any]:
    return {"id": feature["id"], **feature["properties"]}


# ---- locate -----------------------------------------------------------------------------------------


#: What locate asks, and the collection each question reads.
LOCATE_LAYERS = {
    "units": "admin_units",
    "parks": "industrial_parks",
    "clusters": "industrial_clusters",
    "zones": "planning_zones",
    "parcels": "parcels",
    "transport": "transport_projects",
    "nearest_parks": "industrial_parks",
}


def locate(
    catalog: Catalog,
    lon: float,
    lat: float,
    day: dt.date | None = None,
    nearest: int = 3,
    access: Access = FULL,
) -> Plan:
    """Units in force on ``day`` (legacy before 2025-07-01, new after), containing park/zone/parcel,
    nearest transport projects with a geometry, in metres. Layers the caller may not read are left out."""
    lon, lat = inputs.in_region(lon, lat)
    day = day or dt.date.today()
    shown, withheld = access.split(LOCATE_LAYERS.values())
    statements, one_query = locate_statements(catalog, nearest, shown)

    def shape(r: dict[str, Rows]) -> dict[str, Any]:
        units = {
            u["level"]: {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in u.items()}
            for u in r.get("units", [])
        }
        transport, parks = _features(r.get("transport", [])), _features(r.get("nearest_parks", []))
        warnings = aqual.results_warnings("nearest transport projects", [_with_id(f) for f in transport])
        warnings += aqual.results_warnings("nearest industrial parks", [_with_id(f) for f in parks])
        return {
            "point": {"lon": lon, "lat": lat},
            "date": day.isoformat(),
            "units": units,
            "industrial_park": _features(r.get("parks", []))[:1] or None,
            "industrial_cluster": _features(r.get("clusters", []))[:1] or None,
            "planning_zone": _features(r.get("zones", []))[:1] or None,
            "parcel": _features(r.get("parcels", []))[:1] or None,
            "nearest_transport": transport,
            "nearest_industrial_parks": parks,
            "warnings": warnings + withheld_notes(withheld),
        }

    params = {"lon": lon, "lat": lat, "day": day}
    private = access.depends_on(LOCATE_LAYERS.values())
    return Plan(statements, shape, params=params, one_query=one_query, private=private)


@lru_cache(maxsize=64)
def locate_statements(
    catalog: Catalog, nearest: int, layers: tuple[str, ...]
) -> tuple[dict[str, Any], Select[Any] | None]:
    """Built once per catalogue and set of readable ``layers`` (only the point and the day change between
    requests), and run as one query: seven small questions in one round trip."""
    ref = aq.point()
    builders: dict[str, Callable[[], Any]] = {
        "units": aq.units_at,
        "parks": lambda: aq.containing(catalog.get("industrial_parks"), "footprint"),
        "clusters": lambda: aq.containing(catalog.get("industrial_clusters"), "footprint"),
        "zones": lambda: aq.containing(catalog.get("planning_zones")),
        "parcels": lambda: aq.containing(catalog.get("parcels")),
        "transport": lambda: aq.nearest(catalog.get("transport_projects"), ref, nearest),
        "nearest_parks": lambda: aq.nearest(catalog.get("industrial_parks"), ref, nearest),
    }
    statements = {name: build() for name, build in builders.items() if LOCATE_LAYERS[name] in layers}
    return statements, as_one_query(statements) if statements else None


# ---- nearby -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """What ``nearby`` measures from: a point, a feature of a collection, or a posted geometry."""

    lon: float | None = None
    lat: float | None = None
    collection: str | None = None
    feature_id: str | None = None
    geojson: str | None = None

    @classmethod
    def of_feature(cls, text: str) -> Reference:
        """``collection/id``, e.g. ``transport_projects/QL13``."""
        collection, _, feature_id = text.partition("/")
        if not collection or not feature_id:
            raise InvalidParameter("feature must look like collection/id", parameter="feature")
        return cls(collection=collection, feature_id=feature_id)

    @property
    def kind(self) -> str:
        if self.geojson is not None:
            return "geometry"
        if self.collection is not None and self.feature_id is not None:
            return "feature"
        if self.lon is not None and self.lat is not None:
            return "point"
        raise InvalidParameter("give lon and lat, a feature (collection/id) or a geometry", parameter="reference")

    def params(self, catalog: Catalog) -> dict[str, Any]:
        """Values for the reference's parameters (checked: the point in the region, the id typed)."""
        if self.kind == "geometry":
            return {"geojson": self.geojson}
        if self.kind == "feature":
            assert self.collection is not None and self.feature_id is not None
            return {"feature_id": catalog.get(self.collection).feature_id(self.feature_id, parameter="feature")}
        assert self.lon is not None and self.lat is not None
        lon, lat = inputs.in_region(self.lon, self.lat)
        return {"lon": lon, "lat": lat}


def reference_expression(catalog: Catalog, kind: str, collection: str | None) -> Any:
    if kind == "geometry":
        return aq.geojson_geometry(bindparam("geojson", type_=Text))
    if kind == "feature":
        spec = catalog.get(collection or "")
        return aq.feature_geometry(spec, _feature_id(spec))
    return aq.point()


def _feature_id(spec: LayerSpec) -> Any:
    """The ``feature_id`` parameter, typed like the collection's id (text, or a bigint ``id`` column)."""
    return bindparam("feature_id", type_=Text() if spec.property(spec.id_column) is not None else BigInteger())


@lru_cache(maxsize=64)
def nearby_statements(catalog: Catalog, collection: str, kind: str, ref_collection: str | None) -> dict[str, Any]:
    """Built once per (collection, kind of reference); the values travel as parameters."""
    ref = reference_expression(catalog, kind, ref_collection)
    statements = {"reference": aq.reference_exists(ref), "features": aq.within(catalog.get(collection), ref)}
    if kind == "feature":
        spec = catalog.get(ref_collection or "")
        statements["quality"] = aq.feature_quality(spec, _feature_id(spec))
    return statements


def nearby(
    catalog: Catalog,
    collection: str,
    reference: Reference,
    distance_m: float,
    limit: int = 100,
    access: Access = FULL,
) -> Plan:
    """Features of ``collection`` within ``distance_m`` of the reference; both collections are named by the
    caller, so one it may not read is refused."""
    catalog.get(collection)
    access.require(collection, "collection")
    if reference.collection is not None:
        access.require(reference.collection, "feature")
    metres = inputs.radius(distance_m)
    params = {**reference.params(catalog), "metres": metres, "limit": limit, "candidates": aq.candidates_for(limit)}
    statements = nearby_statements(catalog, collection, reference.kind, reference.collection)

    def check(r: dict[str, Rows]) -> None:
        if not r["reference"] or not r["reference"][0]["exists"]:
            where = f"{reference.collection}/{reference.feature_id}"
            raise NotFound(f"{where} does not exist or has no sourced geometry yet", parameter="feature")

    def shape(r: dict[str, Rows]) -> dict[str, Any]:
        features = [
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": orjson.loads(row["geometry"]) if row["geometry"] else None,
                "properties": {**_props(row), "distance_m": round(float(row["distance_m"]), 2)},
            }
            for row in r["features"]
        ]
        ref, warnings = _reference(reference, r.get("quality"), metres)
        warnings += aqual.results_warnings(collection, [_with_id(f) for f in features])
        return {
            "type": "FeatureCollection",
            "collection": collection,
            "distance_m": metres,
            "reference": ref,
            "reliable": aqual.reliable(metres, ref.get("accuracy_m"), ref.get("geometry_quality")),
            "warnings": warnings,
            "numberReturned": len(features),
            "features": features,
        }

    private = access.depends_on([collection, reference.collection])
    return Plan(statements, shape, [check], params, private=private)


def _reference(reference: Reference, rows: Rows | None, metres: float) -> tuple[dict[str, Any], list[str]]:
    """What ``nearby`` measured from, with the quality of a reference feature and what to say about it."""
    if reference.kind != "feature":
        return {"kind": reference.kind}, []
    name = f"{reference.collection}/{reference.feature_id}"
    q = aqual.quality_of(rows[0]) if rows else {}
    ref = {"kind": "feature", "collection": reference.collection, "id": reference.feature_id, **q}
    return ref, aqual.measured_from_warnings(name, "distance_m", metres, q)


# ---- corridor ---------------------------------------------------------------------------------------


#: What a corridor takes from, by answer key, and the collection each one reads.
CORRIDOR_TAKES = {"parcels": "parcels", "planning_zones": "planning_zones", "wards": "admin_units"}


def corridor(catalog: Catalog, project: str, width_m: float, day: dt.date | None = None, access: Access = FULL) -> Plan:
    """What a right of way takes. On a schematic line the corridor covers only the located pieces, says what
    is missing, and is flagged unreliable when narrower than the line's accuracy. Layers the caller may not
    read are left out (the project itself must be readable: it is named)."""
    width = inputs.corridor_width(width_m)
    access.require("transport_projects", "project")
    day = day or dt.date.today()
    layers = [*CORRIDOR_TAKES.values(), "industrial_parks"]
    _, withheld = access.split(layers)
    takes = {key: name for key, name in CORRIDOR_TAKES.items() if access.readable(name)}
    with_parks = access.readable("industrial_parks")
    statements = _corridor_statements(catalog, project, width, day, takes, with_parks)

    def shape(r: dict[str, Rows]) -> dict[str, Any]:
        taken = {key: [_taken(row) for row in r[key]] for key in takes}
        summary, state = r["summary"][0], r["project"][0]
        parks = _features(r.get("industrial_parks", []), ())
        warnings = aqual.corridor_warnings(project, width, state, [_with_id(p) for p in parks])
        answer = {
            "project": project,
            "width_m": width,
            "date": day.isoformat(),
            **_corridor_quality(width, state),
            "corridor_ha": summary["corridor_ha"],
            "corridor": orjson.loads(summary["geometry"]) if summary["geometry"] else None,
            **taken,
            "totals_ha": {name: round(sum(x["taken_ha"] for x in rows), 4) for name, rows in taken.items()},
            "industrial_parks": parks,
            "warnings": warnings + withheld_notes(withheld),
        }
        if not with_parks:
            del answer["industrial_parks"]
        return answer

    private = access.depends_on(["transport_projects", *layers])
    return Plan(statements, shape, [partial(_located_project, project)], private=private)


def _corridor_statements(
    catalog: Catalog, project: str, width: float, day: dt.date, takes: dict[str, str], with_parks: bool
) -> dict[str, Executable]:
    """The project's line and its quality, the corridor itself, and what it takes from each layer in ``takes``
    (and the park sites inside it)."""
    buffer = aq.corridor_polygon(project, width)
    statements: dict[str, Executable] = {
        "project": aq.project_state(catalog.get("transport_projects"), project),
        "summary": aq.corridor_summary(buffer),
    }
    for key, name in takes.items():
        wards = name == "admin_units"  # the wards in force on the day, not every unit ever
        statements[key] = aq.corridor_take(catalog.get(name), buffer, "ward" if wards else None, day if wards else None)
    if with_parks:
        statements["industrial_parks"] = aq.corridor_points(catalog.get("industrial_parks"), buffer)
    return statements


def _located_project(project: str, r: dict[str, Rows]) -> None:
    if not r["project"]:
        raise NotFound(f"transport project {project!r} does not exist", parameter="project")
    if not r["project"][0]["has_geometry"]:
        raise NotFound(
            f"transport project {project!r} has no sourced geometry yet; its corridor cannot be computed",
            parameter="project",
        )


def _taken(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "properties": _props(row),
        "taken_ha": round(row["taken_ha"], 4),
        "area_ha": round(row["area_ha"], 4),
        "share": row["share"],
    }


def _corridor_quality(width: float, state: dict[str, Any]) -> dict[str, Any]:
    """The line's quality: the sourced project length beside the length of what is drawn, its pieces, what is
    missing, and whether a corridor this narrow means anything on it."""
    return {
        "length_km": state["length_km"],
        "line_length_km": round(float(state["line_length_km"]), 3),
        "geometry_quality": state["geometry_quality"],
        "accuracy_m": state.get("accuracy_m"),
        "geometry_stub": bool(state.get("geometry_stub")),
        "parts": state["parts"],
        "missing": state.get("geometry_missing"),
        "reliable": aqual.reliable(width, state.get("accuracy_m"), state["geometry_quality"]),
    }
