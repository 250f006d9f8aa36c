"""The layers of the planning maps as descriptions that travel in the page's JSON block; ``GisMaps.makeLayer``
(static/maps.js) turns each into a Leaflet layer. No folium layer is built from data (see ``controls``).

A description is a plain dict: ``kind`` (``geojson``, ``group``, ``xyz``, ``vectortiles``), ``role`` (how the
page script drives it: ``state:…``, ``admin:…``, ``search:…``, ``tiles:…``, ``base:…``), ``show``, ``base``,
and what the kind needs. Fields ending in ``Html`` are HTML made here with every value escaped (Leaflet puts
layer names and attributions into ``innerHTML``); so are a feature's ``popup``, ``tooltip`` and ``label``.
Every other string is text, which the page script only ever sets as ``textContent``.
"""

from __future__ import annotations

from typing import Any

from gis_service.catalog import LayerSpec
from gis_service.html import esc
from gis_service.maps import popups, style
from gis_service.maps.data import LayerData, MapData

Layer = dict[str, Any]
LEGACY_END = "2025-06-30"


def browser_feature(
    feature: dict[str, Any], base_style: dict[str, Any], popup: str, tooltip: str = "", label: str = ""
) -> dict[str, Any]:
    """What the page needs of a feature: name, ASCII name and code as text (search), its base ``style``,
    and its server-made popup, tooltip or label HTML."""
    props = feature["properties"]
    out: dict[str, Any] = {
        "name": str(props.get("name") or props.get("code") or feature["id"]),
        "name_ascii": str(props.get("name_ascii") or props.get("code") or feature["id"]),
        "code": str(props.get("code") or feature["id"]),
        "style": base_style,
        "popup": popup,
    }
    if tooltip:
        out["tooltip"] = tooltip
    if label:
        out["label"] = label
    return {"type": "Feature", "id": feature["id"], "geometry": feature["geometry"], "properties": out}


def collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def geojson(name: str, features: list[dict[str, Any]], pane: str, *, show: bool = True, points: bool = False) -> Layer:
    """An overlay whose features bind their own popup/tooltip/label; styles come from ``properties.style``;
    points are circle markers."""
    return {
        "kind": "geojson",
        "nameHtml": esc(name),
        "show": show,
        "pane": pane,
        "points": points,
        "smoothFactor": 0.5,
        "data": collection(features),
    }


def state_layer(data: MapData, layer_id: str, title: str) -> Layer:
    """Parks, clusters or transport: styled by status or kind, with their state in every horizon year."""
    layer = data.layers[layer_id]
    spec = layer.spec
    features = []
    for feature in layer.features:
        props = feature["properties"]
        code = str(props.get("code") or feature["id"])
        states = data.states.get(layer_id, {}).get(code, {})
        citations = data.sources.get((layer_id, code), [])
        popup = popups.popup_html(spec, props, states=states, citations=citations)
        if layer_id == "transport_projects":
            base = style.transport_style(spec, props)
            item = browser_feature(feature, base, popup, label=popups.transport_label(props))
        else:
            base = style.estate_style(spec, props)
            item = browser_feature(feature, base, popup, tooltip=popups.tooltip_html(props))
        item["properties"]["states"] = {str(y): s for y, s in states.items()}
        if pinned := style.pinned_style(props):  # kept over the states' looks (GisMaps.Timeline.setYear)
            item["properties"]["pinned"] = pinned
        features.append(item)
    pane = "gis-transport" if layer_id == "transport_projects" else "gis-estates"
    return geojson(title, features, pane, points=spec.geometry_type == "Point")


def admin_layers(layer: LayerData) -> tuple[Layer, Layer]:
    """Two overlays: the legacy districts and wards (to 2025-06-30) and the 36 wards from 2025-07-01."""
    spec = layer.spec
    legacy: list[dict[str, Any]] = []
    reform: list[dict[str, Any]] = []
    for feature in layer.features:
        props = feature["properties"]
        level = props.get("level")
        if level == "province":
            continue
        is_legacy = props.get("valid_to") is not None and str(props["valid_to"]) <= LEGACY_END
        base = {**style.ADMIN_LEGACY.get(str(level), style.ADMIN_LEGACY["ward"]), "fillOpacity": 0.0}
        if not is_legacy:
            base = {**style.ADMIN_REFORM, "fillOpacity": 0.0}
        item = browser_feature(feature, base, popups.popup_html(spec, props), tooltip=popups.tooltip_html(props))
        (legacy if is_legacy else reform).append(item)
    legacy.sort(key=lambda f: f["properties"]["style"]["weight"])  # districts drawn over wards
    districts = sum(1 for f in legacy if f["properties"]["style"]["weight"] > 1)
    legacy_name = f"Units to 2025-06-30 ({districts} districts, {len(legacy) - districts} wards)"
    reform_name = f"Units from 2025-07-01 ({len(reform)} wards)"
    return geojson(legacy_name, legacy, "gis-admin", show=False), geojson(reform_name, reform, "gis-admin")


def choropleth_layer(data: MapData) -> Layer | None:
    """Industrial hectares per unit of the chosen unit set, from the area-stats analysis."""
    if data.choropleth is None or "admin_units" not in data.layers:
        return None
    unit_set = data.request.unit_set
    level = "district" if unit_set == "legacy" else "ward"
    groups = {g["unit_code"]: g for g in data.choropleth["groups"]}
    admin = data.layers["admin_units"]
    features = []
    for feature in admin.features:
        props = feature["properties"]
        is_legacy = props.get("valid_to") is not None and str(props["valid_to"]) <= LEGACY_END
        if props.get("level") != level or is_legacy != (unit_set != "2025"):
            continue
        group = groups.get(props.get("code"))
        hectares = group.get("hectares") if group else None
        base = {"color": "#555555", "weight": 0.6, "fillColor": style.choropleth_color(hectares), "fillOpacity": 0.7}
        popup = popups.unit_popup(props, group, unit_set)
        tip = f"<b>{esc(props.get('name'))}</b><br>{popups.fmt(hectares or 0.0)} ha of industrial parks"
        features.append(browser_feature(feature, base, popup, tooltip=tip))
    return geojson(f"Industrial hectares per unit ({unit_set})", features, "gis-choropleth", show=False)


def plain_layer(spec: LayerSpec, layer: LayerData) -> Layer:
    """Any other embedded layer (planning zones, rivers): catalogue style, popups and tooltips."""
    features = []
    for feature in layer.features:
        props = feature["properties"]
        look = style.zone_style(props) if spec.id == "planning_zones" else style.layer_style(spec)
        features.append(
            browser_feature(feature, look, popups.popup_html(spec, props), tooltip=popups.tooltip_html(props))
        )
    return geojson(layer_title(spec, layer), features, "gis-zones")


RESULT_COLORS = ("#d35400", "#8e44ad", "#16a085", "#c0392b", "#2e4053")


def as_features(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Features of a FeatureCollection, a Feature or a bare geometry (e.g. a corridor polygon)."""
    if answer.get("type") == "FeatureCollection":
        return list(answer.get("features") or [])
    if answer.get("type") == "Feature":
        return [answer]
    return [{"type": "Feature", "id": 1, "geometry": answer, "properties": {}}] if answer.get("type") else []


def result_layer(name: str, answer: dict[str, Any], index: int = 0) -> Layer:
    """An analysis answer (a corridor, candidate sites ...) as an overlay; its properties escaped in popups."""
    color = RESULT_COLORS[index % len(RESULT_COLORS)]
    look = {"color": color, "weight": 2.5, "fillColor": color, "fillOpacity": 0.3, "fill": True, "radius": 7}
    features = []
    for n, feature in enumerate(as_features(answer), 1):
        if not feature.get("geometry"):
            continue
        props = {k: v for k, v in (feature.get("properties") or {}).items() if not isinstance(v, dict | list)}
        item = {"id": feature.get("id", n), "geometry": feature["geometry"], "properties": props}
        popup = popups.generic_popup(name, props)
        features.append(browser_feature(item, look, popup, tooltip=f"<b>{esc(name)}</b> {esc(item['id'])}"))
    points = bool(features) and features[0]["geometry"]["type"] == "Point"
    return geojson(f"{name} ({len(features)})", features, "gis-zones", points=points)


def layer_title(spec: LayerSpec, layer: LayerData) -> str:
    if layer.empty:
        return f"{spec.title} (empty)"
    if layer.truncated:
        return f"{spec.title} (first {len(layer.features) + len(layer.unlocated)} of {layer.matched})"
    located = len(layer.features)
    if located < layer.matched:
        return f"{spec.title} ({located} of {layer.matched} located)"
    return f"{spec.title} ({located})"


def vector_tiles_layer(spec: LayerSpec, tiles_url: str) -> Layer:
    """A layer as our own vector tiles (one MVT layer named after the collection), from the layer's minzoom;
    drawn by Leaflet.VectorGrid with ``GisMaps.parcelStyle``."""
    return {
        "kind": "vectortiles",
        "nameHtml": esc(f"{spec.title} (vector tiles, zoom {spec.minzoom}+)"),
        "show": True,
        "url": tiles_url.replace("{collection}", spec.id),
        "layer": spec.id,
        "attributionHtml": esc(spec.attribution),
        "options": {
            "minZoom": spec.minzoom,
            "maxNativeZoom": min(spec.maxzoom, 20),
            "maxZoom": 22,
            "pane": "gis-parcels",
        },
    }


def xyz_layer(
    name: str, url: str, attribution: str, *, base: bool = False, show: bool = False, **options: Any
) -> Layer:
    """Raster ``{z}/{x}/{y}`` tiles (the online basemap, our raster overlays)."""
    return {
        "kind": "xyz",
        "nameHtml": esc(name),
        "base": base,
        "show": show,
        "url": url,
        "attributionHtml": esc(attribution),
        "options": options,
    }


def outline(layer: LayerData, look: dict[str, Any]) -> Layer:
    """A layer of the plain basemap: drawn, not interactive, not in the layer control."""
    return {
        "kind": "geojson",
        "interactive": False,
        "pane": "gis-base",
        "smoothFactor": 1.0,
        "data": outline_collection(layer, {"style": look}),
    }


def outline_collection(layer: LayerData | None, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """Geometries only (the minimap's districts), each with ``properties`` (none by default)."""
    features = [
        {"type": "Feature", "geometry": f["geometry"], "properties": properties or {}}
        for f in (layer.features if layer else [])
    ]
    return collection(features)


PLAIN_DISTRICTS = {"color": "#b3b6b7", "weight": 1.0, "fillColor": "#fbfaf6", "fillOpacity": 1.0}
PLAIN_RIVERS = {"color": "#5dade2", "fillColor": "#aed6f1", "weight": 1.5, "fillOpacity": 0.8}


def basemap(data: MapData, osm_url: str | None, osm_attribution: str) -> list[Layer]:
    """Base layers: a plain map drawn from our own layers (default, offline) and OpenStreetMap (online)."""
    looks = (("districts", PLAIN_DISTRICTS), ("rivers", PLAIN_RIVERS))
    plain = {
        "kind": "group",
        "role": "base:plain",
        "nameHtml": esc("Plain basemap (offline, our layers)"),
        "base": True,
        "show": True,
        "layers": [outline(data.basemap[key], look) for key, look in looks if key in data.basemap],
    }
    layers: list[Layer] = [plain]
    if osm_url:
        osm = xyz_layer("OpenStreetMap (online)", osm_url, osm_attribution, base=True, maxZoom=19)
        layers.append({**osm, "role": "base:osm"})
    return layers
