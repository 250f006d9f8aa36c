"""Cartography of the planning maps: colours from the catalogue, the look of each timeline state,
choropleth classes, symbol sizes. Pure functions; no folium, no I/O."""

from __future__ import annotations

import math
from typing import Any

from gis_service.catalog import LayerSpec

#: How a feature looks in a year, by its timeline state (``queries.analysis_stats``). ``None``: not drawn.
STATE_STYLES: dict[str, dict[str, Any] | None] = {
    "existing": {"opacity": 0.95, "dashArray": None},
    "completed": {"opacity": 0.95, "dashArray": None},
    "under construction": {"opacity": 0.9, "dashArray": "8 5", "fillOpacity": 0.35},
    "expected": {"opacity": 0.85, "dashArray": "8 5", "fillOpacity": 0.3},
    "planned": {"opacity": 0.75, "dashArray": "2 6", "fillOpacity": 0.15},
    "unknown": {"opacity": 0.7, "dashArray": "1 5", "fillOpacity": 0.12, "color": "#7f8c8d"},
    "not yet": None,
    "removed": None,
}
STATE_LABELS = {
    "existing": "exists",
    "completed": "completed",
    "under construction": "under construction",
    "expected": "expected (was under construction in 2025)",
    "planned": "planned / proposed",
    "unknown": "not sourced for that year (operating by 2025, or no cited status)",
    "not yet": "not yet (hidden)",
    "removed": "removed from the plan (hidden)",
}
#: Industrial hectares per unit: class breaks (ha) and a sequential palette (ColorBrewer YlOrRd).
CHOROPLETH_BREAKS = (1.0, 250.0, 500.0, 1000.0, 2500.0)
CHOROPLETH_COLORS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
NO_PARKS_COLOR = "#ffffff"
ZONE_COLORS = {
    "industrial": "#8e44ad",
    "residential": "#e67e22",
    "urban": "#e67e22",
    "commercial": "#c0392b",
    "green": "#27ae60",
    "agricultural": "#a9cf54",
    "transport": "#7f8c8d",
}
#: Land-use codes (Circular 08/2024) of the parcels' vector tiles.
LAND_USE_COLORS = {
    "ONT": "#f5b041",
    "ODT": "#e67e22",
    "CLN": "#58d68d",
    "BHK": "#abebc6",
    "LUC": "#f7dc6f",
    "TMD": "#ec7063",
    "SKC": "#af7ac5",
    "SKK": "#8e44ad",
    "SKN": "#6c3483",
    "DGT": "#aab7b8",
    "NTS": "#85c1e9",
    "DTL": "#5dade2",
    "DGD": "#f1948a",
    "RSX": "#239b56",
}
OTHER_COLOR = "#95a5a6"
#: Site points by geometry quality: a surveyed site has a heavy outline, an approximate one (an OSM object at or
#: in the park, not its centre) a thin one; a weak location (a mis-tagged node) is hollow.
POINT_WEIGHTS = {"surveyed": 3.0, "official": 3.0, "approximate": 1.2}
WEAK_FILL = "#ffffff"
#: A schematic line (straight segments through OSM waypoints): dash-dot, unlike the states' dashes and dots.
SCHEMATIC = {"dashArray": "14 5 2 5", "lineCap": "butt"}
ADMIN_LEGACY = {"district": {"color": "#34495e", "weight": 2.0}, "ward": {"color": "#7f8c8d", "weight": 0.8}}
ADMIN_REFORM = {"color": "#1f618d", "weight": 1.4}


def palette_color(spec: LayerSpec, value: Any) -> str:
    """The catalogue's colour for ``value`` of its ``color_by`` property, else the layer colour."""
    if value is not None and str(value) in spec.style.palette:
        return spec.style.palette[str(value)]
    return spec.style.color


def park_radius(hectares: float | None) -> float:
    """Circle radius (px) growing with the square root of the planned area; unknown areas small."""
    if hectares is None or hectares <= 0:
        return 4.0
    return round(min(22.0, max(4.0, 2.5 + math.sqrt(hectares) / 2.6)), 1)


def occupancy(properties: dict[str, Any]) -> float | None:
    """Occupancy in percent where a source gives it (or leased / planned area)."""
    if properties.get("occupancy_pct") is not None:
        return float(properties["occupancy_pct"])
    leased, planned = properties.get("leased_area_ha"), properties.get("planned_area_ha")
    if leased is not None and planned:
        return round(100.0 * float(leased) / float(planned), 1)
    return None


def estate_style(spec: LayerSpec, properties: dict[str, Any]) -> dict[str, Any]:
    """Parks and clusters: coloured by status, sized by area, filled darker the more occupied."""
    color = palette_color(spec, properties.get("status"))
    filled = occupancy(properties)
    weak = properties.get("location_confidence") == "weak"
    return {
        "color": color,
        "fillColor": WEAK_FILL if weak else color,
        "weight": POINT_WEIGHTS.get(str(properties.get("geometry_quality")), 2),
        "radius": park_radius(properties.get("planned_area_ha")),
        "fillOpacity": 0.25 + 0.6 * min(filled, 100.0) / 100.0 if filled is not None else 0.35,
    }


def transport_style(spec: LayerSpec, properties: dict[str, Any]) -> dict[str, Any]:
    color = palette_color(spec, properties.get("kind"))
    return {
        "color": color,
        "weight": spec.style.weight,
        "fillColor": color,
        "radius": 7,
        "fillOpacity": 0.6,
        **pinned_style(properties),
    }


def pinned_style(properties: dict[str, Any]) -> dict[str, Any]:
    """Style a feature keeps in every year, whatever its timeline state: a schematic line stays dash-dotted."""
    return dict(SCHEMATIC) if properties.get("geometry_quality") == "schematic" else {}


def zone_style(properties: dict[str, Any]) -> dict[str, Any]:
    color = ZONE_COLORS.get(str(properties.get("zone_type", "")).lower(), "#16a085")
    dashed = "6 4" if properties.get("synthetic") else None
    return {"color": color, "fillColor": color, "weight": 1.5, "fillOpacity": 0.25, "dashArray": dashed}


def layer_style(spec: LayerSpec) -> dict[str, Any]:
    style = spec.style
    return {
        "color": style.color,
        "fillColor": style.fill_color or style.color,
        "weight": style.weight,
        "opacity": style.opacity,
        "fillOpacity": style.fill_opacity,
    }


def choropleth_color(hectares: float | None) -> str:
    if not hectares or hectares < CHOROPLETH_BREAKS[0]:
        return NO_PARKS_COLOR
    index = sum(1 for b in CHOROPLETH_BREAKS if hectares >= b) - 1
    return CHOROPLETH_COLORS[index]


def choropleth_classes() -> list[tuple[str, str]]:
    """(colour, label) for the legend."""
    bounds = [*CHOROPLETH_BREAKS, math.inf]
    out = [(NO_PARKS_COLOR, "no located park")]
    for color, low, high in zip(CHOROPLETH_COLORS, bounds, bounds[1:], strict=False):
        out.append((color, f"{low:,.0f}+ ha" if math.isinf(high) else f"{low:,.0f}–{high:,.0f} ha"))
    return out
