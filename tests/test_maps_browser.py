"""The planning map in a real browser (headless Chromium via playwright) against a real server process.

Nothing may leave 127.0.0.1: Leaflet and its plugins come from our /static, the basemap from our layers.
Screenshots go to artifacts/ (gitignored).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from gis_service.analysis.api import Planner
from gis_service.settings import PROJECT_ROOT, Settings
from tests.chromium import VIEWPORT, Watched, assert_local, watch
from tests.serverproc import server_process
from tests.test_maps import HOSTILE, hostile_park, planner

pytestmark = pytest.mark.clients
__all__ = ["hostile_park", "planner"]  # fixtures shared with test_maps
HIDDEN = ("not yet", "removed")
ARTIFACTS = PROJECT_ROOT / "artifacts"


@pytest.fixture(scope="module")
def rasters_dir(migrated: Settings, bundled: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gis_service.raster import build

    directory = tmp_path_factory.mktemp("map-rasters")
    settings = migrated.model_copy(update={"raster": migrated.raster.model_copy(update={"directory": directory})})
    assert all("with data" in line for line in build.build_all(settings))
    return directory


@pytest.fixture(scope="module")
def server(migrated: Settings, bundled: Engine, vendored: Path, rasters_dir: Path) -> Iterator[str]:
    """The whole service (maps, vector tiles, rasters) in its own process."""
    with server_process(migrated.dsn, env={"GIS_RASTER__DIRECTORY": str(rasters_dir)}) as process:
        yield process.base


def open_map(browser: Any, url: str) -> tuple[Any, Watched]:
    page = browser.new_page(viewport=VIEWPORT)
    seen = watch(page)
    page.goto(url, wait_until="networkidle")
    page.wait_for_selector("html[data-gis-ready]", state="attached", timeout=15_000)
    return page, seen


def set_year(page: Any, year: int) -> None:
    years = page.evaluate("() => GisMaps.maps[0]._gis.cfg.years")
    page.eval_on_selector(
        ".gis-time input[type=range]",
        "(input, i) => { input.value = String(i); input.dispatchEvent(new Event('input')); }",
        years.index(year),
    )


def test_planning_map_loads_offline(browser: Any, server: str) -> None:
    page, seen = open_map(browser, f"{server}/maps/planning-2040")
    assert page.locator(".leaflet-pane path").count() > 50
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "planning-map.png"))
    assert_local(seen, server)
    page.close()


def test_choropleth_in_the_legacy_districts(browser: Any, server: str) -> None:
    page, seen = open_map(browser, f"{server}/maps/planning-2040?year=2020")
    page.locator(".leaflet-control-layers label", has_text="Industrial hectares per unit").locator("input").check()
    filled = page.locator(".leaflet-gis-choropleth-pane path")
    assert filled.count() == 9  # the legacy districts: every park counts in the district its sources name
    page.screenshot(path=str(ARTIFACTS / "planning-map-2020-choropleth.png"))
    assert_local(seen, server)
    page.close()


def located(planner: Planner, layer: str) -> str:
    features = planner.timeline(2040)[layer]["features"]
    return f"{sum(1 for f in features if f['located'])} of {len(features)} located"


def test_layer_control_lists_the_layers(
    browser: Any, server: str, hostile_park: str, migrated: Settings, rasters_dir: Path, planner: Planner
) -> None:
    from gis_service.raster.catalog import RasterCatalog

    page, seen = open_map(browser, f"{server}/maps/planning-2040")
    names = [n.strip() for n in page.locator(".leaflet-control-layers label span").all_inner_texts()]
    rasters = [spec.title for spec in RasterCatalog.from_file(migrated.layers_dir / "rasters.yaml", rasters_dir)]
    assert rasters, "layers/rasters.yaml lists no raster"
    for expected in (
        *rasters,
        "Plain basemap (offline, our layers)",
        "OpenStreetMap (online)",
        "Units to 2025-06-30 (9 districts, 91 wards)",
        "Units from 2025-07-01 (36 wards)",
        "Industrial hectares per unit (2025)",
        "Planning zones (empty)",
        "Land parcels (vector tiles, zoom 12+)",
        f"Transport projects ({located(planner, 'transport_projects')})",
        f"Industrial clusters (CCN) ({located(planner, 'industrial_clusters')})",
        f"Industrial parks (KCN) ({located(planner, 'industrial_parks')})",
    ):
        assert expected in names, (expected, names)
    assert_local(seen, server)
    page.close()


def test_time_control_changes_the_visible_features(
    browser: Any, server: str, hostile_park: str, planner: Planner
) -> None:
    parks_2040 = planner.timeline(2040)["industrial_parks"]["features"]
    in_2040 = {f["code"] for f in parks_2040 if f["located"] and f["state"] not in HIDDEN}
    hidden_2020 = {f["code"] for f in planner.timeline(2020)["industrial_parks"]["features"] if f["state"] in HIDDEN}
    fewer = len(in_2040 & hidden_2020)
    assert hostile_park in in_2040 & hidden_2020  # the test park is established in 2028
    page, seen = open_map(browser, f"{server}/maps/planning-2040?year=2040")
    visible = "() => GisMaps.maps[0]._gis.visible('state:industrial_parks')"
    units = "() => [GisMaps.maps[0].hasLayer(GisMaps.maps[0]._gis.layers['admin:legacy']), " + (
        "GisMaps.maps[0].hasLayer(GisMaps.maps[0]._gis.layers['admin:reform'])]"
    )
    circles = ".leaflet-gis-estates-pane path"
    at_2040, drawn_2040 = page.evaluate(visible), page.locator(circles).count()
    assert page.evaluate(units) == [False, True]
    set_year(page, 2020)
    assert page.locator(".gis-time output").inner_text() == "2020"
    assert page.evaluate(visible) == at_2040 - fewer
    assert page.locator(circles).count() == drawn_2040 - fewer
    assert page.evaluate(units) == [True, False]  # the legacy districts and wards were in force
    assert "2020: not yet" in page.locator(".gis-legend").text_content()  # e.g. BBMR2 (2025), a side note
    set_year(page, 2040)
    assert page.evaluate(visible) == at_2040
    assert_local(seen, server)
    page.close()


def test_popup_shows_escaped_text(browser: Any, server: str, hostile_park: str) -> None:
    page, seen = open_map(browser, f"{server}/maps/planning-2040")
    page.fill(".gis-search input", "thu nghiem")  # no diacritics; the name has them
    page.locator(".gis-results button").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")
    assert popup.locator("h4").inner_text() == HOSTILE
    assert popup.locator("script, img").count() == 0
    assert "<img src=x" in popup.inner_text()  # the source, shown as text
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "planning-map-popup.png"))
    assert_local(seen, server)
    page.close()


def test_search_with_and_without_diacritics(browser: Any, server: str) -> None:
    page, seen = open_map(browser, f"{server}/maps/planning-2040")
    for query in ("Sóng Thần", "song than", "SONG THAN"):
        page.fill(".gis-search input", query)
        assert any("Sóng Thần" in t for t in page.locator(".gis-results button").all_inner_texts()), query
    assert_local(seen, server)
    page.close()


def test_raster_overlay_and_measure(browser: Any, server: str) -> None:
    page, seen = open_map(browser, f"{server}/maps/planning-2040")
    page.locator(".leaflet-control-layers label", has_text="Population density").locator("input").check()
    page.wait_for_load_state("networkidle")
    assert any("/rasters/population_density/tiles/" in u for u in seen.requests)
    page.screenshot(path=str(ARTIFACTS / "planning-map-raster.png"))
    page.locator(".gis-measure-toggle").click()
    box = page.locator(".folium-map").bounding_box()
    for dx, dy in ((600, 300), (700, 300), (700, 400)):
        page.mouse.click(box["x"] + dx, box["y"] + dy)
        page.wait_for_timeout(350)  # three quick clicks would be a double click
    assert "area" in page.locator(".gis-measure-out").inner_text()
    assert_local(seen, server)
    page.close()


def test_empty_collection_map_says_so(browser: Any, server: str) -> None:
    page, seen = open_map(browser, f"{server}/maps/collections/planning_zones")
    note = page.locator(".gis-empty")
    assert note.is_visible() and "no features yet" in note.inner_text()
    assert_local(seen, server)
    page.close()


def test_exported_map_opens_from_disk(browser: Any, migrated: Settings, bundled: Engine, vendored: Path) -> None:
    from gis_service.maps.export import export

    with tempfile.TemporaryDirectory(prefix="gis-export-") as folder:
        export(migrated, Path(folder))
        page, seen = open_map(browser, Path(folder, "planning-2040.html").as_uri())
        assert page.locator(".leaflet-control-layers label").count() >= 8
        assert all(u.startswith("file://") for u in seen.requests), seen.requests
        assert not seen.errors and not seen.dialogs
        page.close()
