"""Folium layers of the planning map, from :class:`~gis_service.maps.data.MapData`.

Each feature sent to the browser carries only what the page needs: escaped ``name``/``name_ascii``/``code``
(search), its base ``style``, its ``states`` per year (the time control), and the server-made ``popup``,
``tooltip`` or ``label`` HTML. ``GisMaps.bindFeature`` (static/maps.js) binds them; no HTML is built from
data in the browser.
"""

from __future__ import annotations

import json
from typing import Any

import folium
from folium.plugins import VectorGridProtobuf
from folium.utilities import JsCode

from gis_service.catalog import LayerSpec
from gis_service.maps import popups, style
from gis_service.maps.data import LayerData, MapData
from gis_service.maps.popups import esc

BIND = JsCode("GisMaps.bindFeature")
LEGACY_END = "2025-06-30"


def browser_feature(
    feature: dict[str, Any], base_style: dict[str, Any], popup: str, tooltip: str = "", label: str = ""
) -> dict[str, Any]:
    props = feature["properties"]
    out: dict[str, Any] = {
        "name": esc(props.get("name") or props.get("code") or feature["id"]),
        "name_ascii": esc(props.get("name_ascii") or props.get("code") or feature["id"]),
        "code": esc(props.get("code") or feature["id"]),
        "style": base_style,
        "popup": popup,
    }
    if tooltip:
        out["tooltip"] = tooltip
    if label:
        out["label"] = label
    return {"type": "Feature", "id": esc(feature["id"]), "geometry": feature["geometry"], "properties": out}


def collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def geojson(
    name: str, features: list[dict[str, Any]], pane: str, *, show: bool = True, points: bool = False
) -> folium.GeoJson:
    """An overlay whose features bind their own popup/tooltip/label; styles come from ``properties.style``."""
    marker = None
    if points:
        marker = folium.CircleMarker(radius=6, weight=2, fill=True)
        marker.options["pane"] = pane  # circle markers are made by pointToLayer, which ignores the layer's pane
    return folium.GeoJson(
        collection(features),
        name=esc(name),
        show=show,
        on_each_feature=BIND,
        marker=marker,
        smooth_factor=0.5,
        pane=pane,
    )


def state_layer(data: MapData, layer_id: str, title: str) -> folium.GeoJson:
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
        features.append(item)
    pane = "gis-transport" if layer_id == "transport_projects" else "gis-estates"
    return geojson(title, features, pane, points=spec.geometry_type == "Point")


def admin_layers(layer: LayerData) -> tuple[folium.GeoJson, folium.GeoJson]:
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


def choropleth_layer(data: MapData) -> folium.GeoJson | None:
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


def plain_layer(spec: LayerSpec, layer: LayerData) -> folium.GeoJson:
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


def result_layer(name: str, answer: dict[str, Any], index: int = 0) -> folium.GeoJson:
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


def parcels_layer(spec: LayerSpec, tiles_url: str) -> VectorGridProtobuf:
    """Parcels as our own vector tiles (one MVT layer named after the collection), from the layer's minzoom."""
    url = tiles_url.replace("{collection}", spec.id)
    options = (
        "{vectorTileLayerStyles: {"
        + spec.id
        + ": GisMaps.parcelStyle}, interactive: true, getFeatureId: GisMaps.tileFeatureId, "
        + 'pane: "gis-parcels", '
        + f"minZoom: {spec.minzoom}, maxNativeZoom: {min(spec.maxzoom, 20)}, maxZoom: 22, "
        + f"attribution: {js_string(spec.attribution)}}}"
    )
    return VectorGridProtobuf(url, name=esc(f"{spec.title} (vector tiles, zoom {spec.minzoom}+)"), options=options)


def js_string(text: str) -> str:
    """A JavaScript string literal of escaped text (no ``<`` survives, so no ``</script>``)."""
    return json.dumps(esc(text))


def outline(layer: LayerData, look: dict[str, Any]) -> folium.GeoJson:
    """A layer of the plain basemap: drawn, not interactive, not in the layer control."""
    features = [browser_feature(f, look, "") for f in layer.features]
    for f in features:
        del f["properties"]["popup"]
    return folium.GeoJson(collection(features), control=False, interactive=False, smooth_factor=1.0, pane="gis-base")


PLAIN_DISTRICTS = {"color": "#b3b6b7", "weight": 1.0, "fillColor": "#fbfaf6", "fillOpacity": 1.0}
PLAIN_RIVERS = {"color": "#5dade2", "fillColor": "#aed6f1", "weight": 1.5, "fillOpacity": 0.8}


def basemap(data: MapData, osm_url: str | None, osm_attribution: str) -> list[folium.map.Layer]:
    """Base layers: a plain map drawn from our own layers (default, offline) and OpenStreetMap (online)."""
    plain = folium.FeatureGroup(name="Plain basemap (offline, our layers)", overlay=False, control=True)
    if "districts" in data.basemap:
        outline(data.basemap["districts"], PLAIN_DISTRICTS).add_to(plain)
    if "rivers" in data.basemap:
        outline(data.basemap["rivers"], PLAIN_RIVERS).add_to(plain)
    layers: list[folium.map.Layer] = [plain]
    if osm_url:
        layers.append(
            folium.TileLayer(osm_url, name="OpenStreetMap (online)", attr=esc(osm_attribution), max_zoom=19, show=False)
        )
    return layers
