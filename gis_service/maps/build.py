"""The planning map and the one-collection maps as folium ``Map`` objects, and their HTML.

Shared by the ``/maps`` routes, ``gis-service map export`` and the notebooks: they differ only in where the
data comes from (async or sync connection) and where the page finds its assets (:class:`Assets`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import folium
from branca.element import Figure
from folium.plugins import Fullscreen

from gis_service.analysis.inputs import REGION
from gis_service.html import esc, json_block
from gis_service.maps import layers, legend
from gis_service.maps.assets import Assets
from gis_service.maps.controls import (
    MINIMAP_LOOK,
    Body,
    Init,
    Measure,
    OfflineMiniMap,
    Panes,
    VectorTiles,
    check_constant,
)
from gis_service.maps.data import MapData
from gis_service.maps.style import LAND_USE_COLORS, OTHER_COLOR, STATE_STYLES

OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
TILES_URL = "/tiles/{collection}/{z}/{x}/{y}.pbf"
REFORM_YEAR = 2025


@dataclass(frozen=True)
class RasterOverlay:
    """An XYZ raster layer of our service (``{z}/{x}/{y}`` URL on our origin)."""

    name: str
    url: str
    attribution: str = ""
    opacity: float = 0.7
    min_zoom: int = 0
    max_zoom: int = 22


@dataclass(frozen=True)
class MapOptions:
    assets: Assets = field(default_factory=Assets)
    #: Our vector tiles (``{collection}`` is replaced); ``None`` leaves tiled layers out (offline exports).
    tiles_url: str | None = TILES_URL
    #: The online basemap; ``None`` on closed networks (then the page names no outside host at all).
    osm_url: str | None = OSM_URL
    osm_attribution: str = OSM_ATTRIBUTION
    title: str = "Former Binh Duong: planning to 2040"
    rasters: tuple[RasterOverlay, ...] = ()
    #: Analysis answers drawn over the map: (name, FeatureCollection / Feature / geometry).
    results: tuple[tuple[str, dict[str, Any]], ...] = ()


def bounds(data: MapData) -> list[list[float]]:
    """[[south, west], [north, east]] of the district outlines, else the planning region."""
    xs: list[float] = []
    ys: list[float] = []
    outline = data.basemap.get("districts")
    for feature in outline.features if outline else []:
        for x, y in _coordinates(feature["geometry"]["coordinates"]):
            xs.append(x)
            ys.append(y)
    if not xs:
        x1, y1, x2, y2 = REGION
        return [[y1, x1], [y2, x2]]
    return [[min(ys), min(xs)], [max(ys), max(xs)]]


def _coordinates(node: Any) -> Iterator[tuple[float, float]]:
    if node and isinstance(node[0], int | float):
        yield float(node[0]), float(node[1])
        return
    for child in node:
        yield from _coordinates(child)


def build_map(data: MapData, options: MapOptions | None = None) -> folium.Map:
    """The map of ``data.request.collections`` with basemaps, layer control, legend, time control, search,
    fullscreen, measure, minimap and scale.

    The folium part is constant code; everything that depends on the data (layers, names, popups, the
    panels' text) is escaped HTML or JSON placed in the page body (:class:`~gis_service.maps.controls.Body`).
    """
    options = options or MapOptions()
    m = folium.Map(tiles=None, control_scale=True, zoom_start=10, location=[11.15, 106.65])
    m.options.update(minZoom=7, maxZoom=20)  # else a layer's minZoom (parcels: 12) would bound the map
    overlays = add_overlays(data, options)
    Panes().add_to(m)
    Fullscreen(position="topleft", title="Full screen", title_cancel="Exit full screen").add_to(m)
    Measure().add_to(m)
    OfflineMiniMap(position="bottomright", toggle_display=True, zoom_level_offset=-5).add_to(m)
    if any(layer["kind"] == "vectortiles" for layer in overlays):
        VectorTiles().add_to(m)
    for block in body_blocks(data, options, m.get_name(), overlays):
        Body(block).add_to(m)
    Init().add_to(m)
    figure = m.get_root()
    assert isinstance(figure, Figure)
    figure.title = esc(options.title)  # a value of branca's page template, never its source
    options.assets.attach(m)
    check_constant(m)
    return m


def body_blocks(data: MapData, options: MapOptions, name: str, overlays: list[layers.Layer]) -> list[str]:
    """The panels (escaped HTML) and the JSON block ``<name>-data`` that ``GisMaps.init`` reads."""
    roles = [layer["role"] for layer in overlays]
    with_time = any(r.startswith(("state:", "admin:")) for r in roles)
    messages = empty_messages(data, options)
    config = page_data(data, roles, name, with_time=with_time, empty=bool(messages))
    config.update(
        layers=[*layers.basemap(data, options.osm_url, options.osm_attribution), *overlays],
        bounds=bounds(data),
        minimap={"data": layers.outline_collection(data.basemap.get("districts")), "style": MINIMAP_LOOK},
    )
    panels = [
        legend.legend_html(f"{name}-legend", data, tiled=tiled_notes(data, options)),
        legend.search_html(f"{name}-search"),
        legend.time_html(f"{name}-time", data.request.years, data.request.year) if with_time else "",
        legend.empty_html(f"{name}-empty", messages),
    ]
    return [*filter(None, panels), json_block(f"{name}-data", config)]


def add_overlays(data: MapData, options: MapOptions) -> list[layers.Layer]:
    """The overlays, bottom to top, each with the role the page script knows it by."""
    out: list[layers.Layer] = []

    def add(role: str, layer: layers.Layer) -> None:
        out.append({**layer, "role": role})

    present = data.layers
    choropleth = layers.choropleth_layer(data)
    if choropleth is not None:
        add("layer:choropleth", choropleth)  # not searched: its units are the admin layers
    if "admin_units" in present:
        legacy, reform = layers.admin_layers(present["admin_units"])
        add("admin:legacy", legacy)
        add("admin:reform", reform)
    for layer_id in ("planning_zones", "rivers"):
        if layer_id in present:
            add(f"search:{layer_id}", layers.plain_layer(present[layer_id].spec, present[layer_id]))
    for index, raster in enumerate(options.rasters):
        overlay = layers.xyz_layer(
            raster.name,
            raster.url,
            raster.attribution,
            opacity=raster.opacity,
            minZoom=raster.min_zoom,
            maxZoom=raster.max_zoom,
            bounds=bounds(data),  # no request for tiles off the raster (they would answer 404)
            pane="gis-choropleth",
        )
        add(f"raster:{index}", overlay)
    if options.tiles_url:
        for layer_id, tiled in data.tiled.items():
            add(f"tiles:{layer_id}", layers.vector_tiles_layer(tiled.spec, options.tiles_url))
    for index, (result_name, answer) in enumerate(options.results):
        add(f"search:result{index}", layers.result_layer(result_name, answer, index))
    for layer_id in ("transport_projects", "industrial_clusters", "industrial_parks"):
        if layer_id in present:
            title = layers.layer_title(present[layer_id].spec, present[layer_id])
            add(f"state:{layer_id}", layers.state_layer(data, layer_id, title))
    return out


def tiled_notes(data: MapData, options: MapOptions) -> dict[str, str]:
    notes = {}
    for layer_id, tiled in data.tiled.items():
        if not options.tiles_url:
            notes[layer_id] = "Drawn from the service's vector tiles; not part of this offline export."
        elif tiled.empty:
            notes[layer_id] = "No features loaded yet (gis-service load FILE --layer parcels, or synth parcels)."
        else:
            notes[layer_id] = "Vector tiles of the service; zoom in to see them, click one for its attributes."
    return notes


def empty_messages(data: MapData, options: MapOptions) -> list[str]:
    """What to say over a map whose only layer has nothing to draw (never a blank map)."""
    messages = []
    for layer in data.layers.values():
        spec = layer.spec
        if layer.empty:
            messages.append(f"{spec.title}: no features yet. Load some with gis-service load FILE --layer {spec.id}.")
        elif not layer.features:
            messages.append(
                f"{spec.title}: {layer.matched} features, none with a sourced location; they are listed in the legend."
            )
    for layer_id, tiled in data.tiled.items():
        if tiled.empty or not options.tiles_url:
            messages.append(f"{tiled.spec.title}: {tiled_notes(data, options)[layer_id]}")
    drawn = any(layer.features for layer in data.layers.values()) or any(not t.empty for t in data.tiled.values())
    return [] if drawn and len(data.layers) + len(data.tiled) > 1 else messages


def page_data(data: MapData, roles: list[str], name: str, *, with_time: bool, empty: bool) -> dict[str, Any]:
    """What ``GisMaps.init`` needs besides the layers: the years, the panels and which roles do what."""
    panels = [{"id": f"{name}-search", "position": "topleft"}, {"id": f"{name}-legend", "position": "bottomleft"}]
    if with_time:
        panels.insert(1, {"id": f"{name}-time", "position": "topright"})
    return {
        "years": list(data.request.years),
        "year": data.request.year,
        "reformYear": REFORM_YEAR,
        "stateStyles": STATE_STYLES,
        "panels": panels,
        "time": f"{name}-time" if with_time else None,
        "search": f"{name}-search",
        "legend": f"{name}-legend",
        "empty": f"{name}-empty" if empty else None,
        "stateLayers": [r for r in roles if r.startswith("state:")],
        "searchLayers": [r for r in roles if r.startswith(("state:", "search:", "admin:"))],
        "admin": {"legacy": "admin:legacy", "reform": "admin:reform"} if "admin:legacy" in roles else None,
        "tileLayers": [r for r in roles if r.startswith("tiles:")],
        "landUse": LAND_USE_COLORS,
        "otherColor": OTHER_COLOR,
    }


def render(m: folium.Map) -> str:
    """The complete HTML page of a map."""
    html: str = m.get_root().render()
    return html
