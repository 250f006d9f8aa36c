"""The planning map in a real browser (headless Chromium via playwright) against a real server process.

Nothing may leave 127.0.0.1: Leaflet and its plugins come from our /static, the basemap from our layers.
Screenshots go to artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from gis_service.analysis.api import Planner
from gis_service.settings import PROJECT_ROOT, Settings, load_settings
from tests.serverproc import free_port, get_json
from tests.test_maps import HOSTILE, hostile_park, planner, vendored

pytestmark = pytest.mark.clients
__all__ = ["hostile_park", "planner", "vendored"]  # fixtures shared with test_maps
HIDDEN = ("not yet", "removed")
CHROMIUM = "/usr/lib/chromium/chromium-headless-shell"
CHROMIUM_ARGS = ["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"]
ARTIFACTS = PROJECT_ROOT / "artifacts"
START_TIMEOUT_S = 30.0


def create_app_for_browser() -> FastAPI:
    """The whole service (maps, vector tiles, rasters) as ``main.create_app`` wires it, for uvicorn."""
    from gis_service.main import create_app

    return create_app(load_settings())


@pytest.fixture(scope="module")
def rasters_dir(migrated: Settings, bundled: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gis_service.raster import build

    directory = tmp_path_factory.mktemp("map-rasters")
    settings = migrated.model_copy(update={"raster": migrated.raster.model_copy(update={"directory": directory})})
    assert all("with data" in line for line in build.build_all(settings))
    return directory


@pytest.fixture(scope="module")
def server(migrated: Settings, bundled: Engine, vendored: Path, rasters_dir: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "GIS_DATABASE_URL": migrated.dsn, "GIS_RASTER__DIRECTORY": str(rasters_dir)}
    command = [sys.executable, "-m", "uvicorn", "tests.test_maps_browser:create_app_for_browser", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _healthy(base):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"map server did not start:\n{log.read().decode(errors='replace')[-5000:]}", False)
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)


def _healthy(base: str) -> bool:
    try:
        return get_json(f"{base}/health", timeout=2.0)[0] == 200
    except (OSError, ValueError):
        return False


@dataclass
class Watched:
    """What a page did: console errors, uncaught exceptions, requests, dialogs (alert())."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-packages.sh (make system) as root", False)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def open_map(browser: Any, url: str) -> tuple[Any, Watched]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    seen = Watched()
    page.on("console", lambda m: seen.errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("request", lambda r: seen.requests.append(r.url))
    page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
    page.goto(url, wait_until="networkidle")
    page.wait_for_selector("html[data-gis-ready]", state="attached", timeout=15_000)
    return page, seen


def assert_local(seen: Watched, base: str) -> None:
    outside = [u for u in seen.requests if not u.startswith((base + "/", "data:"))]
    assert not outside, f"requests left 127.0.0.1: {outside}"
    assert not seen.errors, seen.errors
    assert not seen.dialogs, seen.dialogs


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
