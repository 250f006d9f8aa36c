"""What a map shows, read through the project's own builders as one :class:`~gis_service.analysis.Plan`.

Features come from :mod:`gis_service.queries.features`; each feature's state in each horizon year from the
``/analysis/timeline`` plan (``estate_state`` / ``transport_state``); the choropleth from the area-stats
plan. The plan runs on a sync connection (CLI, notebooks) or an async one (HTTP): same SQL either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Select, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from gis_service.analysis import Plan, run, run_async, stats
from gis_service.analysis.plan import Rows
from gis_service.catalog import Catalog, LayerSpec
from gis_service.errors import InvalidParameter
from gis_service.models import FeatureSource
from gis_service.queries import features as fq

HORIZON_YEARS = (2020, 2025, 2030, 2035, 2040)
YEAR_RANGE = (2000, 2060)
#: Layers whose features have a state per year (the timeline's logic).
STATE_LAYERS = ("industrial_parks", "industrial_clusters", "transport_projects")
#: Layers drawn from our vector tiles, not embedded (there may be millions of parcels).
TILED_LAYERS = ("parcels",)
PLANNING_LAYERS = (
    "admin_units",
    "planning_zones",
    "industrial_parks",
    "industrial_clusters",
    "transport_projects",
    "parcels",
)
#: What the plain (offline) basemap is drawn from: our own layers, filtered.
BASEMAP_LAYERS: dict[str, tuple[str, dict[str, Any]]] = {
    "districts": ("admin_units", {"level": "district"}),
    "rivers": ("rivers", {}),
}
UNIT_SETS = tuple(stats.UNIT_SETS)


def check_year(year: int) -> int:
    low, high = YEAR_RANGE
    if not low <= year <= high:
        raise InvalidParameter(f"year must be between {low} and {high}, not {year}", parameter="year")
    return year


def check_units(units: str | None) -> str | None:
    if units is not None and units not in stats.UNIT_SETS:
        raise InvalidParameter(f"units must be one of {', '.join(UNIT_SETS)}", parameter="units")
    return units


@dataclass(frozen=True)
class MapRequest:
    """Which map: the year the time control opens on, the unit set of the choropleth, the layers."""

    year: int = 2040
    units: str | None = None
    collections: tuple[str, ...] = PLANNING_LAYERS
    horizon: tuple[int, ...] = HORIZON_YEARS
    max_features: int = 5000
    choropleth: bool = True

    def __post_init__(self) -> None:
        check_year(self.year)
        check_units(self.units)

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted({*self.horizon, self.year}))

    @property
    def unit_set(self) -> str:
        """The units in force in the year unless asked: the legacy districts before the reform."""
        return self.units or ("2025" if self.year >= 2025 else "legacy")


@dataclass
class LayerData:
    spec: LayerSpec
    #: GeoJSON features with a geometry; properties as the catalogue publishes them.
    features: list[dict[str, Any]] = field(default_factory=list)
    #: Properties of the features without a (sourced) geometry: listed, never drawn.
    unlocated: list[dict[str, Any]] = field(default_factory=list)
    matched: int = 0

    @property
    def empty(self) -> bool:
        return self.matched == 0

    @property
    def truncated(self) -> bool:
        return self.matched > len(self.features) + len(self.unlocated)


@dataclass
class MapData:
    request: MapRequest
    layers: dict[str, LayerData]
    basemap: dict[str, LayerData]
    #: layer -> feature code -> year -> state ("existing", "planned", "not yet", ...).
    states: dict[str, dict[str, dict[int, str]]]
    #: (layer, feature code) -> every cited statement, canonical first.
    sources: dict[tuple[str, str], list[dict[str, Any]]]
    #: The area-stats answer for industrial parks by unit (``None`` when not asked).
    choropleth: dict[str, Any] | None
    #: Tiled layers (vector tiles, not embedded); ``matched`` is 1 when the layer has any feature, else 0.
    tiled: dict[str, LayerData]
    data_year: int = 2025


def sources_statement(layers: list[str]) -> Select[Any]:
    """Every cited figure of the features of ``layers`` (the ``feature_sources`` table, via its model)."""
    t = FeatureSource.__table__
    return (
        select(
            t.c.layer,
            t.c.feature_code,
            t.c.attribute,
            t.c.value_num,
            t.c.value_text,
            t.c.definition,
            t.c.url,
            t.c.publisher,
            t.c.source_date,
            t.c.is_canonical,
        )
        .where(t.c.layer.in_(layers))
        .order_by(t.c.layer, t.c.feature_code, t.c.is_canonical.desc(), t.c.id)
    )


def map_plan(catalog: Catalog, request: MapRequest) -> Plan:
    specs = {cid: catalog.get(cid) for cid in request.collections}
    embedded = [cid for cid in specs if cid not in TILED_LAYERS]
    statements: dict[str, Executable] = {}
    for cid in embedded:
        statements[f"items/{cid}"] = fq.items_rows(specs[cid], fq.ItemsQuery(limit=request.max_features, decimals=6))
        statements[f"count/{cid}"] = fq.count(specs[cid], fq.ItemsQuery())
    for key, (cid, equals) in BASEMAP_LAYERS.items():
        query = fq.ItemsQuery(equals=equals, limit=request.max_features, decimals=5, properties=("name",))
        statements[f"items/base:{key}"] = fq.items_rows(catalog.get(cid), query)  # not the layer's own query
        statements[f"count/base:{key}"] = fq.count(catalog.get(cid), query)
    tiled = [cid for cid in specs if cid in TILED_LAYERS]
    for cid in tiled:
        statements[f"any/{cid}"] = fq.items_rows(specs[cid], fq.ItemsQuery(limit=1, properties=(), decimals=0))
    with_states = bool(set(embedded) & set(STATE_LAYERS))
    timelines = {year: stats.timeline(catalog, year) for year in request.years} if with_states else {}
    for year, plan in timelines.items():
        statements.update({f"timeline/{year}/{name}": stmt for name, stmt in plan.statements.items()})
    # Industrial hectares per unit are the parks' data: only on a map that shows the parks (a reader's).
    with_area = request.choropleth and "admin_units" in specs and "industrial_parks" in specs
    area = stats.area_stats(catalog, "industrial_parks", "unit", request.unit_set) if with_area else None
    if area is not None:
        statements.update({f"area/{name}": stmt for name, stmt in area.statements.items()})
    statements["sources"] = sources_statement([c for c in embedded if c in STATE_LAYERS] or ["-"])

    def shape(r: dict[str, Rows]) -> MapData:
        answers = {year: plan.finish(_part(r, f"timeline/{year}/")) for year, plan in timelines.items()}
        return MapData(
            request=request,
            layers={cid: layer_data(specs[cid], r) for cid in embedded},
            basemap={key: layer_data(catalog.get(cid), r, f"base:{key}") for key, (cid, _) in BASEMAP_LAYERS.items()},
            states=states_by_feature(answers),
            sources=sources_by_feature(r["sources"]),
            choropleth=area.finish(_part(r, "area/")) if area is not None else None,
            tiled={cid: LayerData(specs[cid], matched=len(r[f"any/{cid}"])) for cid in tiled},
            data_year=next((a["data_year"] for a in answers.values()), 2025),
        )

    return Plan(statements, shape)


def _part(results: dict[str, Rows], prefix: str) -> dict[str, Rows]:
    return {name[len(prefix) :]: rows for name, rows in results.items() if name.startswith(prefix)}


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def layer_data(spec: LayerSpec, r: dict[str, Rows], key: str | None = None) -> LayerData:
    key = key or spec.id
    layer = LayerData(spec, matched=int(next(iter(r[f"count/{key}"][0].values()))))
    for row in r[f"items/{key}"]:
        properties = _json(row["properties"]) or {}
        if row["geometry"] is None:
            layer.unlocated.append({"id": row["id"], **properties})
            continue
        feature = {"type": "Feature", "id": row["id"], "geometry": _json(row["geometry"]), "properties": properties}
        layer.features.append(feature)
    return layer


def states_by_feature(answers: dict[int, dict[str, Any]]) -> dict[str, dict[str, dict[int, str]]]:
    states: dict[str, dict[str, dict[int, str]]] = {name: {} for name in STATE_LAYERS}
    for year, answer in answers.items():
        for name in STATE_LAYERS:
            for feature in answer[name]["features"]:
                states[name].setdefault(str(feature["code"]), {})[year] = feature["state"]
    return states


def sources_by_feature(rows: Rows) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault((row["layer"], row["feature_code"]), []).append(row)
    return out


def fetch(conn: Connection, catalog: Catalog, request: MapRequest) -> MapData:
    """The map's data on a sync connection (CLI, notebooks)."""
    data: MapData = run(conn, map_plan(catalog, request))
    return data


async def fetch_async(conn: AsyncConnection, catalog: Catalog, request: MapRequest) -> MapData:
    """The map's data on the request's async connection (HTTP)."""
    data: MapData = await run_async(conn, map_plan(catalog, request))
    return data
