"""The HTML of the map's panels (legend with side notes, time control, search, empty-state note).

Rendered on the server with every value escaped and written into the page body as it is (never through a
template, see ``controls.Body``); ``GisMaps.init`` moves each panel into a Leaflet control.
Swatches are SVG attributes, never inline ``style``, so the page's Content-Security-Policy stays strict.
"""

from __future__ import annotations

import json
from typing import Any

from gis_service.html import esc
from gis_service.maps import style
from gis_service.maps.data import LayerData, MapData
from gis_service.maps.popups import fmt
from gis_service.maps.style import STATE_LABELS, STATE_STYLES


def line_swatch(color: str, dash: str | None = None, width: float = 3) -> str:
    dashes = f' stroke-dasharray="{esc(dash)}"' if dash else ""
    return (
        f'<svg class="gis-swatch" width="28" height="12" aria-hidden="true"><line x1="1" y1="6" x2="27" y2="6" '
        f'stroke="{esc(color)}" stroke-width="{width}"{dashes}/></svg>'
    )


def dot_swatch(
    color: str, radius: float = 5, fill_opacity: float = 0.5, *, stroke: str | None = None, weight: float = 2
) -> str:
    """A circle filled with ``color``, outlined in ``stroke`` (the fill colour when None)."""
    size = int(2 * radius + 4)
    return (
        f'<svg class="gis-swatch" width="{size}" height="{size}" aria-hidden="true"><circle cx="{size / 2}" '
        f'cy="{size / 2}" r="{radius}" stroke="{esc(stroke or color)}" stroke-width="{weight}" fill="{esc(color)}" '
        f'fill-opacity="{fill_opacity}"/></svg>'
    )


def box_swatch(color: str) -> str:
    return (
        f'<svg class="gis-swatch" width="18" height="12" aria-hidden="true"><rect x="1" y="1" width="16" height="10" '
        f'fill="{esc(color)}" stroke="#555555" stroke-width="0.6"/></svg>'
    )


def items(rows: list[tuple[str, str]]) -> str:
    return "<ul>" + "".join(f"<li>{swatch} {label}</li>" for swatch, label in rows) + "</ul>"


def section(title: str, body: str, *, open_: bool = False) -> str:
    return f"<details{' open' if open_ else ''}><summary>{esc(title)}</summary>{body}</details>"


def state_rows() -> str:
    rows = []
    for state, look in STATE_STYLES.items():
        if look is None:
            continue
        rows.append((line_swatch(str(look.get("color", "#444444")), look.get("dashArray")), esc(STATE_LABELS[state])))
    hidden = ", ".join(s for s, look in STATE_STYLES.items() if look is None)
    return items(rows) + f'<p class="gis-hint">Not drawn in a year: {esc(hidden)}.</p>'


def unlocated_list(layer_id: str, layer: LayerData, data: MapData, what: str) -> str:
    """The side note: features the sources name but do not locate, with their state in the chosen year."""
    if not layer.unlocated:
        return ""
    rows = []
    for props in sorted(layer.unlocated, key=lambda p: str(p.get("name") or p.get("id"))):
        code = str(props.get("code") or props["id"])
        states = {str(y): s for y, s in data.states.get(layer_id, {}).get(code, {}).items()}
        facts = [esc(props.get("status"))]
        if props.get("planned_area_ha") is not None:
            facts.append(f"{fmt(float(props['planned_area_ha']))} ha")
        if props.get("completion_year"):
            facts.append(f"completion {esc(props['completion_year'])}")
        now = esc(states.get(str(data.request.year), ""))
        rows.append(
            f'<li data-states="{esc(json.dumps(states))}"><b>{esc(props.get("name") or code)}</b> '
            f"<small>{esc(code)} · {' · '.join(f for f in facts if f)}</small> "
            f'<span class="gis-state-now">{now}</span></li>'
        )
    title = f"{len(rows)} {what} without a sourced location (listed, not drawn)"
    return section(title, f'<ul class="gis-unlocated">{"".join(rows)}</ul>')


def estates_section(data: MapData, layer_id: str, noun: str) -> str:
    layer = data.layers[layer_id]
    spec = layer.spec
    rows = [(dot_swatch(color), esc(status)) for status, color in spec.style.palette.items()]
    body = items(rows) if rows else items([(dot_swatch(spec.style.color), esc(spec.title))])
    body += '<p class="gis-hint">Circle area grows with the planned hectares; darker fill = higher occupancy '
    body += "where a source gives it.</p>"
    if layer.features:
        body += items(quality_rows())
    else:
        body += f'<p class="gis-empty-note">None of the {esc(noun)} has a sourced location yet.</p>'
    return section(spec.title, body + unlocated_list(layer_id, layer, data, noun), open_=True)


def transport_section(data: MapData) -> str:
    layer = data.layers["transport_projects"]
    spec = layer.spec
    rows = [(line_swatch(color), esc(kind)) for kind, color in spec.style.palette.items()]
    rows.append(
        (
            line_swatch("#555555", str(style.SCHEMATIC["dashArray"])),
            "schematic line: straight segments through OSM waypoints, kilometre scale (accuracy in the popup)",
        )
    )
    body = items(rows) + '<p class="gis-hint">Labels: code → completion year (status when none is sourced).</p>'
    return section(spec.title, body + unlocated_list("transport_projects", layer, data, "projects"), open_=True)


def site_swatch(weight: float, fill: str) -> str:
    return dot_swatch(fill, fill_opacity=0.6, stroke="#555555", weight=weight)


def quality_rows() -> list[tuple[str, str]]:
    """How a site point's quality shows: outline weight (surveyed vs approximate), a hollow weak location."""
    return [
        (site_swatch(style.POINT_WEIGHTS["surveyed"], "#888888"), "surveyed site"),
        (
            site_swatch(style.POINT_WEIGHTS["approximate"], "#888888"),
            "approximate site point: an OSM object at or in the park, not its centre",
        ),
        (site_swatch(style.POINT_WEIGHTS["approximate"], style.WEAK_FILL), "weak location (a mis-tagged OSM node)"),
    ]


def admin_section() -> str:
    legacy, reform = style.ADMIN_LEGACY, style.ADMIN_REFORM
    rows = [
        (line_swatch(str(legacy["district"]["color"]), width=2), "district, to 2025-06-30"),
        (line_swatch(str(legacy["ward"]["color"]), width=1), "ward/commune, to 2025-06-30"),
        (line_swatch(str(reform["color"]), width=1.5), "ward/commune of Ho Chi Minh City, from 2025-07-01"),
    ]
    hint = '<p class="gis-hint">The time control shows the units in force in the chosen year.</p>'
    return section("Administrative units", items(rows) + hint)


def choropleth_section(data: MapData) -> str:
    if data.choropleth is None:
        return ""
    rows = [(box_swatch(color), esc(label)) for color, label in style.choropleth_classes()]
    unlocated = next((g for g in data.choropleth["groups"] if g["unit_code"] == "unlocated"), None)
    note = ""
    if unlocated:
        ha = fmt(float(unlocated.get("hectares") or 0.0))
        note = (
            f'<p class="gis-hint">{esc(unlocated["count"])} parks ({ha} ha) have no location and count in no unit.</p>'
        )
    title = f"Industrial hectares per unit ({data.request.unit_set})"
    return section(title, items(rows) + note)


def simple_section(layer: LayerData, hint: str) -> str:
    spec = layer.spec
    empty = f'<p class="gis-empty-note">{esc(spec.title)}: no features yet. {esc(hint)}</p>' if layer.empty else ""
    return section(spec.title, empty + (f'<p class="gis-hint">{esc(spec.description)}</p>'))


def sources_section(data: MapData) -> str:
    lines = [
        f"<li><b>{esc(layer.spec.title)}</b>: {esc(layer.spec.attribution or 'see each feature')}"
        + (f" ({esc(layer.spec.license)})" if layer.spec.license else "")
        + "</li>"
        for layer in [*data.layers.values(), *data.basemap.values()]
    ]
    note = (
        f"Statuses are those the sources give as of {data.data_year}; other years apply the timeline of "
        "/analysis/timeline to the sourced start, completion and establishment years."
    )
    return section("Sources and notes", f'<p class="gis-hint">{esc(note)}</p><ul>{"".join(lines)}</ul>')


def legend_html(panel_id: str, data: MapData, *, tiled: dict[str, Any]) -> str:
    parts = []
    layers = data.layers
    for layer_id, noun in (("industrial_parks", "parks"), ("industrial_clusters", "clusters")):
        if layer_id in layers:
            parts.append(estates_section(data, layer_id, noun))
    if "transport_projects" in layers:
        parts.append(transport_section(data))
    if any(lid in layers for lid in ("industrial_parks", "industrial_clusters", "transport_projects")):
        parts.append(section("Timeline states", state_rows()))
    if "admin_units" in layers:
        parts.append(admin_section())
    parts.append(choropleth_section(data))
    if "planning_zones" in layers:
        parts.append(
            simple_section(layers["planning_zones"], "Load them: gis-service load FILE --layer planning_zones.")
        )
    if "rivers" in layers:
        parts.append(simple_section(layers["rivers"], ""))
    for layer_id, note in tiled.items():
        parts.append(section(layer_id.replace("_", " ").capitalize(), f'<p class="gis-hint">{esc(note)}</p>'))
    parts.append(sources_section(data))
    body = "".join(p for p in parts if p)
    return f'<div id="{esc(panel_id)}" class="gis-panel gis-legend" hidden><h3>Legend</h3>{body}</div>'


def time_html(panel_id: str, years: tuple[int, ...], year: int) -> str:
    ticks = "".join(f"<span>{y}</span>" for y in years)
    return (
        f'<div id="{esc(panel_id)}" class="gis-panel gis-time" hidden>'
        f'<label for="{esc(panel_id)}-range">Planning year <output id="{esc(panel_id)}-out">{year}</output></label>'
        f'<input id="{esc(panel_id)}-range" type="range" min="0" max="{len(years) - 1}" step="1" '
        f'value="{years.index(year)}" aria-label="Planning year">'
        f'<div class="gis-ticks">{ticks}</div></div>'
    )


def search_html(panel_id: str) -> str:
    return (
        f'<div id="{esc(panel_id)}" class="gis-panel gis-search" hidden>'
        f'<input type="search" placeholder="Search by name…" title="Vietnamese names, with or without diacritics" '
        f'aria-label="Search features by name" autocomplete="off"><ol class="gis-results"></ol></div>'
    )


def empty_html(panel_id: str, messages: list[str]) -> str:
    if not messages:
        return ""
    body = "".join(f"<p>{esc(m)}</p>" for m in messages)
    return f'<div id="{esc(panel_id)}" class="gis-empty" role="status" hidden>{body}</div>'
