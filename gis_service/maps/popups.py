"""Popup, tooltip and label HTML, built on the server with every value escaped.

Leaflet puts popup, tooltip and label content into ``innerHTML``, so the page never builds HTML from data
in the browser: each feature carries its popup, tooltip and label as strings made here, where every value
goes through :func:`~gis_service.html.esc` and only ``http(s)`` links become anchors. The strings travel
to the browser inside the page's JSON block, never through a folium element (see ``controls``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from gis_service.catalog import LayerSpec
from gis_service.html import esc
from gis_service.maps.style import STATE_LABELS, occupancy

URL = re.compile(r"https?://[^\s;,<>\"'()]+")
#: Shown in the popup's heading or its sources section, not in the attribute table.
NOT_IN_TABLE = {"name", "name_ascii", "source", "license"}


def fmt(value: Any) -> str:
    """A value as planners read it, escaped: numbers with separators, yes/no, ISO dates."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
        return esc(text)
    if isinstance(value, int):
        return esc(f"{value:,}" if abs(value) >= 10_000 else str(value))
    if isinstance(value, dt.date):
        return esc(value.isoformat())
    return esc(value)


def linkify(text: Any) -> str:
    """Escaped text whose http(s) URLs are links opening in a new tab."""
    if text is None:
        return ""
    raw = str(text)
    out, last = [], 0
    for match in URL.finditer(raw):
        out.append(esc(raw[last : match.start()]))
        url = esc(match.group(0))
        out.append(f'<a href="{url}" target="_blank" rel="noopener noreferrer">{url}</a>')
        last = match.end()
    out.append(esc(raw[last:]))
    return "".join(out)


def label_of(spec: LayerSpec, name: str) -> str:
    prop = spec.property(name)
    if prop is not None and prop.title:
        return prop.title
    return name.replace("_", " ").capitalize()


def attribute_rows(spec: LayerSpec, properties: dict[str, Any]) -> str:
    rows = []
    for name in spec.property_names:
        value = properties.get(name)
        if name in NOT_IN_TABLE or value is None or value == "":
            continue
        rows.append(f"<tr><th>{esc(label_of(spec, name))}</th><td>{fmt(value)}</td></tr>")
    return "".join(rows)


def timeline_row(states: dict[int, str] | None) -> str:
    if not states:
        return ""
    cells = "".join(
        f'<li class="gis-state gis-state-{esc(state.replace(" ", "-"))}" title="{esc(STATE_LABELS.get(state, state))}">'
        f"<b>{year}</b> {esc(state)}</li>"
        for year, state in sorted(states.items())
    )
    return f'<div class="gis-timeline"><span>Timeline</span><ul>{cells}</ul></div>'


def cited_figures(citations: Iterable[dict[str, Any]]) -> str:
    items = []
    for c in citations:
        value = fmt(c["value_num"]) if c.get("value_num") is not None else esc(c.get("value_text"))
        where = esc(c.get("publisher") or "unnamed source")
        if c.get("url") and URL.fullmatch(str(c["url"])):
            where = f'<a href="{esc(c["url"])}" target="_blank" rel="noopener noreferrer">{where}</a>'
        when = f" ({esc(c['source_date'])})" if c.get("source_date") else ""
        mark = ' <span class="gis-canonical">canonical</span>' if c.get("is_canonical") else ""
        definition = f" <i>{esc(c['definition'])}</i>" if c.get("definition") else ""
        items.append(f"<li>{esc(c.get('attribute'))}: {value}{definition} — {where}{when}{mark}</li>")
    if not items:
        return ""
    return f"<details><summary>Every cited figure ({len(items)})</summary><ul>{''.join(items)}</ul></details>"


def popup_html(
    spec: LayerSpec,
    properties: dict[str, Any],
    *,
    states: dict[int, str] | None = None,
    citations: Iterable[dict[str, Any]] = (),
    extra: str = "",
) -> str:
    """The whole popup of a feature: heading, attributes, timeline, sources and licence."""
    name = properties.get("name") or properties.get("code") or properties.get("id") or spec.title
    ascii_name = properties.get("name_ascii")
    subtitle = esc(spec.title) + (f" · {esc(ascii_name)}" if ascii_name and ascii_name != name else "")
    sources = f"<p><b>Source:</b> {linkify(properties.get('source'))}</p>" if properties.get("source") else ""
    licence = f"<p><b>Licence:</b> {esc(properties.get('license'))}</p>" if properties.get("license") else ""
    return (
        f'<div class="gis-popup"><h4>{esc(name)}</h4><p class="gis-sub">{subtitle}</p>{extra}'
        f"<table>{attribute_rows(spec, properties)}</table>{timeline_row(states)}"
        f'<div class="gis-sources">{sources}{licence}{cited_figures(citations)}</div></div>'
    )


def tooltip_html(properties: dict[str, Any]) -> str:
    """One or two short lines on hover: name, status, area, occupancy."""
    name = properties.get("name") or properties.get("code") or properties.get("id")
    facts = [esc(properties[k]) for k in ("status", "level", "zone_type", "kind") if properties.get(k)]
    if properties.get("planned_area_ha") is not None:
        facts.append(f"{fmt(float(properties['planned_area_ha']))} ha")
    filled = occupancy(properties)
    if filled is not None:
        facts.append(f"{fmt(filled)}% occupied")
    return f"<b>{esc(name)}</b>" + (f"<br>{' · '.join(facts)}" if facts else "")


def transport_label(properties: dict[str, Any]) -> str:
    """A line's permanent label: its code and completion year (or status when no year is sourced)."""
    year = properties.get("completion_year")
    when = f"→ {esc(year)}" if year else esc(properties.get("status") or "")
    return f"{esc(properties.get('code'))} · {when}" if when else esc(properties.get("code"))


def unit_popup(unit: dict[str, Any], group: dict[str, Any] | None, unit_set: str) -> str:
    """Choropleth popup: the area-stats figures of one unit."""
    rows = [("Unit set", unit_set), ("Code", unit.get("code"))]
    if group:
        rows += [
            ("Industrial parks", group.get("count")),
            ("with a sourced area", group.get("count_with_area")),
            ("Planned hectares", group.get("hectares")),
            ("Leased hectares", group.get("leased_ha")),
            ("Occupancy", f"{group['occupancy_pct']}%" if group.get("occupancy_pct") is not None else None),
        ]
    else:
        rows.append(("Industrial parks", "no located park"))
    table = "".join(f"<tr><th>{esc(k)}</th><td>{fmt(v)}</td></tr>" for k, v in rows if v is not None)
    source = "Area statistics of /analysis/area-stats (parks assigned to units by location)."
    return (
        f'<div class="gis-popup"><h4>{esc(unit.get("name"))}</h4><table>{table}</table>'
        f'<p class="gis-sub">{esc(source)}</p></div>'
    )


def generic_popup(title: str, properties: dict[str, Any]) -> str:
    """Popup of an analysis answer's feature: every scalar property, escaped."""
    rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{fmt(v)}</td></tr>"
        for k, v in properties.items()
        if v is not None and not isinstance(v, dict | list)
    )
    return f'<div class="gis-popup"><h4>{esc(title)}</h4><table>{rows}</table></div>'
