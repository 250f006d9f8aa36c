"""The hostile features of ``test_stored_xss`` in headless Chromium, against a real server process: every
map page with every popup, tooltip and label opened, search results and the legend; the OGC HTML pages; the
exported maps opened from disk. Nothing may run (``window.__xss`` stays undefined, no dialog, no console
error, which includes Content-Security-Policy violations, no request for an injected ``<img src=x>``) and
the hostile text must be readable on the page as typed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from gis_service.cli import app as cli
from tests.chromium import Watched, watch
from tests.serverproc import running_server
from tests.test_maps_browser import open_map
from tests.test_stored_xss import UNLOCATED, Hostile, hostile

pytestmark = pytest.mark.clients
__all__ = ["hostile"]  # fixture shared with test_stored_xss
#: Opens the popup and the tooltip of every feature of every GeoJSON layer; returns their text.
OPEN_EVERYTHING = """() => {
  const map = GisMaps.maps[0], texts = [];
  for (const group of Object.values(map._gis.layers)) {
    if (!(group instanceof L.GeoJSON)) { continue; }
    if (!map.hasLayer(group)) { map.addLayer(group); }
    group.eachLayer((member) => {
      if (member.getPopup()) {
        member.openPopup();
        texts.push(member.getPopup().getElement().textContent);
        member.closePopup();
      }
      const tip = member.getTooltip();
      if (tip) {
        if (!tip.options.permanent) { member.openTooltip(); }
        texts.push(tip.getElement().textContent);
        if (!tip.options.permanent) { member.closeTooltip(); }
      }
    });
  }
  return texts;
}"""
#: Layers embedded in each map page (parcels are vector tiles).
EMBEDDED = ("admin_units", "industrial_parks", "industrial_clusters", "transport_projects", "planning_zones", "rivers")
PLANNING = ("admin_units", "industrial_parks", "industrial_clusters", "transport_projects", "planning_zones")


@pytest.fixture(scope="module")
def server(hostile: Hostile, vendored: Path) -> Iterator[str]:
    with running_server(hostile.settings.dsn) as base:
        yield base


def assert_nothing_ran(page: Any, seen: Watched, origin: str) -> None:
    assert page.evaluate("() => window.__xss") is None, f"hostile script ran on {page.url}"
    assert not seen.dialogs, seen.dialogs
    assert not seen.errors, seen.errors  # CSP violations are console errors
    assert not [u for u in seen.requests if u.rstrip("/").endswith("/x")], "an injected <img src=x> loaded"
    assert all(u.startswith((origin, "data:")) for u in seen.requests), [
        u for u in seen.requests if not u.startswith(origin)
    ]


def assert_map_shows(page: Any, hostile: Hostile, layers: tuple[str, ...]) -> None:
    """Every located hostile feature's name is the text of its popup heading or tooltip, as typed; the
    unlocated ones are in the legend."""
    texts = "\n".join(page.evaluate(OPEN_EVERYTHING))
    legend = page.locator(".gis-legend").text_content()
    for layer in layers:
        for index, props in enumerate(hostile.features[layer]):
            where = legend if UNLOCATED.get(layer) == index else texts
            assert props["name"] in where, (layer, props["name"])
            if UNLOCATED.get(layer) != index:
                assert props["source"] in texts, (layer, props["source"])


def test_planning_map(browser: Any, server: str, hostile: Hostile) -> None:
    page, seen = open_map(browser, f"{server}/maps/planning-2040")
    assert_map_shows(page, hostile, PLANNING)
    assert_nothing_ran(page, seen, server)
    page.close()


def test_map_of_every_collection(browser: Any, server: str, hostile: Hostile) -> None:
    for layer in (*EMBEDDED, "parcels"):
        page, seen = open_map(browser, f"{server}/maps/collections/{layer}")
        if layer != "parcels":
            assert_map_shows(page, hostile, (layer,))
        assert_nothing_ran(page, seen, server)
        page.close()


def test_search_results_and_popups(browser: Any, server: str, hostile: Hostile) -> None:
    page, seen = open_map(browser, f"{server}/maps/planning-2040")
    for layer, index in (("industrial_parks", 4), ("industrial_parks", 5), ("industrial_parks", 7)):
        tag, name = f"p{index}[", hostile.name(layer, index)
        page.fill(".gis-search input", tag)
        button = page.locator(".gis-results button").first
        assert button.text_content() == f"{name} {hostile.features[layer][index]['code']}"
        button.click()
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(state="visible")
        assert popup.locator("h4").text_content() == name
        assert popup.locator("script, img, svg").count() == 0
        page.evaluate("() => GisMaps.maps[0].closePopup()")
        popup.wait_for(state="detached")
    page.fill(".gis-search input", "no such place at all")
    assert page.locator(".gis-results").text_content() == "No match"
    assert_nothing_ran(page, seen, server)
    page.close()


def test_parcel_from_the_vector_tiles(browser: Any, server: str, hostile: Hostile) -> None:
    """A click on a hostile parcel: the popup of its vector-tile attributes (escaped in the page script)."""
    page, seen = open_map(browser, f"{server}/maps/collections/parcels")
    index = 4
    (x, y), d = hostile_parcel_corner(hostile, index), 0.006
    page.evaluate(f"() => GisMaps.maps[0].setView([{y + d}, {x + d}], 16, {{animate: false}})")
    page.wait_for_load_state("networkidle")
    page.wait_for_selector(".leaflet-gis-parcels-pane path", timeout=10_000)
    box = page.locator(".folium-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")
    assert hostile.features["parcels"][index]["land_use_code"] in popup.text_content()
    assert popup.locator("script, img, svg").count() == 0
    assert_nothing_ran(page, seen, server)
    page.close()


def hostile_parcel_corner(hostile: Hostile, index: int) -> tuple[float, float]:
    from tests.test_stored_xss import geometry

    ring = geometry("parcels", index)["coordinates"][0][0]
    return float(ring[0][0]), float(ring[0][1])


def test_html_pages(browser: Any, server: str, hostile: Hostile) -> None:
    page = browser.new_page()
    seen = watch(page)
    for url in ("/?f=html", "/collections?f=html", "/maps"):
        page.goto(f"{server}{url}", wait_until="load")
    for spec in hostile.catalog:
        page.goto(f"{server}/collections/{spec.id}/items?f=html&limit=10000", wait_until="load")
        text = page.locator("body").text_content()
        for props in hostile.features[spec.id]:
            assert all(v in text for v in hostile.shown(spec.id, props).values()), (spec.id, props)
        for feature_id, props in zip(hostile.ids[spec.id], hostile.features[spec.id], strict=True):
            page.goto(f"{server}/collections/{spec.id}/items/{quote(feature_id, safe='')}?f=html", wait_until="load")
            assert page.locator("h1").text_content() == f"{spec.title}: {feature_id}"
            text = page.locator("table").first.text_content()
            assert all(v in text for v in hostile.shown(spec.id, props).values()), (spec.id, props)
    assert_nothing_ran(page, seen, server)
    page.close()


def test_exported_maps_from_disk(browser: Any, hostile: Hostile) -> None:
    with tempfile.TemporaryDirectory(prefix="gis-xss-export-") as folder:
        done = CliRunner().invoke(
            cli, ["map", "export", "--out", folder], env={"GIS_DATABASE_URL": hostile.settings.dsn}
        )
        assert done.exit_code == 0, done.output
        pages = [("planning-2040.html", PLANNING), *((f"collections/{layer}.html", (layer,)) for layer in EMBEDDED)]
        for name, layers in pages:
            page, seen = open_map(browser, Path(folder, name).as_uri())
            assert_map_shows(page, hostile, layers)
            assert_nothing_ran(page, seen, "file://")
            page.close()
