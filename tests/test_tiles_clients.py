"""Real clients against a real server process: QGIS reads the XYZ vector tiles, GDAL's MVT driver reads a
tile and a zoom level (TileJSON as metadata), and MapLibre GL JS in headless Chromium renders our style.

MapLibre comes from npm (``npm pack maplibre-gl@5`` into ``.data/vendor``, not committed) and is served
to the page by Playwright's request routing; the page's tile, style and glyph requests go to the server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import morecantile
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from gis_service.settings import PROJECT_ROOT, Settings, load_settings
from tests.serverproc import free_port
from tests.test_tiles import expected_codes, install_state, make_app, parks

pytestmark = pytest.mark.clients
WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
VENDOR = PROJECT_ROOT / ".data" / "vendor"
CLIENT_TIMEOUT_S = 120


def create_tiles_app() -> FastAPI:
    """``uvicorn --factory`` entry: the service with the tile routes, configured from the environment."""
    app = make_app(load_settings())
    install_state(app)
    return app


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server") / "uvicorn.log"


@pytest.fixture(scope="module")
def server(migrated: Settings, bundled: Engine, server_log: Path) -> Iterator[str]:
    port, log = free_port(), server_log
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "GIS_DATABASE_URL": migrated.dsn}
    app = "tests.test_tiles_clients:create_tiles_app"
    command = [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/tiles/industrial_parks.json", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the server did not start:\n{log.read_text()[-5000:]}", pytrace=False)
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def park_tile(engine: Engine, zoom: int) -> tuple[morecantile.Tile, set[str]]:
    rows = parks(engine)
    tile = WEB_MERCATOR.tile(rows[0]["lon"], rows[0]["lat"], zoom)
    return tile, expected_codes(rows, WEB_MERCATOR, tile)


def run(command: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"{command[:3]} exited {done.returncode}:\n{done.stderr[-4000:]}", pytrace=False)
    return done.stdout


# ---- GDAL -----------------------------------------------------------------------------------------------


def test_gdal_reads_a_tile(server: str, bundled: Engine) -> None:
    tile, codes = park_tile(bundled, 12)
    ogrinfo = shutil.which("ogrinfo") or pytest.fail("ogrinfo not found: install gdal-bin", pytrace=False)
    out = run([ogrinfo, "-ro", "-al", "-q", f"MVT:{server}/tiles/industrial_parks/12/{tile.x}/{tile.y}.pbf"])
    found = {line.split("=", 1)[1].strip() for line in out.splitlines() if line.strip().startswith("code (String)")}
    assert found == codes and codes


def test_gdal_reads_a_zoom_level_with_the_tilejson(server: str, bundled: Engine) -> None:
    ogrinfo = shutil.which("ogrinfo") or pytest.fail("ogrinfo not found: install gdal-bin", pytrace=False)
    source = f"MVT:{server}/tiles/industrial_parks/10"
    out = run([ogrinfo, "-ro", "-al", "-q", source, "-oo", f"METADATA_FILE={server}/tiles/industrial_parks.json"])
    found = {line.split("=", 1)[1].strip() for line in out.splitlines() if line.strip().startswith("code (String)")}
    assert found == {row["code"] for row in parks(bundled)}


# ---- QGIS -----------------------------------------------------------------------------------------------

QGIS_PROBE = textwrap.dedent(
    """
    import json, sys
    from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsMapRendererSequentialJob,
                           QgsMapSettings, QgsRectangle, QgsVectorTileLayer)
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor
    url, xmin, ymin, xmax, ymax = sys.argv[1], *map(float, sys.argv[2:6])
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    layer = QgsVectorTileLayer(f"type=xyz&url={url}&zmin=0&zmax=18", "parks")
    report = {"valid": layer.isValid()}
    if layer.isValid():
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
        settings.setExtent(QgsRectangle(xmin, ymin, xmax, ymax))
        settings.setOutputSize(QSize(256, 256))
        settings.setBackgroundColor(QColor(255, 255, 255))
        job = QgsMapRendererSequentialJob(settings)
        job.start()
        job.waitForFinished()
        image = job.renderedImage()
        white = QColor(255, 255, 255).rgb()
        report["drawn_pixels"] = sum(
            image.pixel(i, j) != white for i in range(0, 256, 2) for j in range(0, 256, 2)
        )
    del layer
    app.exitQgis()
    print(json.dumps(report))
    """
)


def test_qgis_opens_and_draws_the_xyz_vector_tiles(
    server: str, server_log: Path, bundled: Engine, tmp_path: Path
) -> None:
    python = "/usr/bin/python3"
    if subprocess.run([python, "-c", "import qgis.core"], capture_output=True, check=False).returncode:
        pytest.fail("python3-qgis is missing: apt-get install python3-qgis qgis-providers", pytrace=False)
    tile, codes = park_tile(bundled, 14)
    box = WEB_MERCATOR.xy_bounds(tile)
    url = f"{server}/tiles/industrial_parks/{{z}}/{{x}}/{{y}}.pbf"
    args = [url, *(str(v) for v in (box.left, box.bottom, box.right, box.top))]
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env = {"QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime)}
    logged = len(server_log.read_text())
    for attempt in range(2):  # QGIS 3.22 now and then crashes while building a layer: one retry
        done = subprocess.run(
            [python, "-c", QGIS_PROBE, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
        )
        if done.returncode == 0 or attempt == 1:
            break
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["valid"] and codes
    assert report["drawn_pixels"] > 0
    requests = server_log.read_text()[logged:]
    assert '"GET /tiles/industrial_parks/' in requests and '.pbf HTTP/1.1" 200' in requests  # it fetched ours


# ---- MapLibre GL JS in Chromium ---------------------------------------------------------------------------


def maplibre_files() -> dict[str, bytes]:
    """maplibre-gl.js and .css from the npm package, fetched into .data/vendor once."""
    packages = sorted(VENDOR.glob("maplibre-gl-5*.tgz"))
    if not packages:
        VENDOR.mkdir(parents=True, exist_ok=True)
        run(["npm", "pack", "maplibre-gl@5", "--silent", "--pack-destination", str(VENDOR)])
        packages = sorted(VENDOR.glob("maplibre-gl-5*.tgz"))
    with tarfile.open(packages[-1]) as archive:
        return {
            name: archive.extractfile(f"package/dist/{name}").read()  # type: ignore[union-attr]
            for name in ("maplibre-gl.js", "maplibre-gl.css")
        }


PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="maplibre-gl.css">
<style>html,body,#map{{margin:0;width:900px;height:700px}}</style></head><body><div id="map"></div>
<script src="maplibre-gl.js"></script><script>
window.mapErrors = [];
window.map = new maplibregl.Map({{container: "map", style: "{style}", center: [{lon}, {lat}], zoom: 12.5,
  fadeDuration: 0, attributionControl: false}});
map.on("error", (e) => window.mapErrors.push(String(e.error && e.error.message)));
map.once("idle", () => {{ window.mapIdle = true; }});
</script></body></html>"""


def test_maplibre_renders_our_style_and_finds_a_park(
    browser: Any, server: str, bundled: Engine, tmp_path: Path
) -> None:
    from playwright.sync_api import Route

    files, park = maplibre_files(), parks(bundled)[0]
    page_html = PAGE.format(style=f"{server}/styles/planning.json", lon=park["lon"], lat=park["lat"])
    statuses: dict[str, int] = {}

    def fulfil(route: Route) -> None:
        name = route.request.url.rsplit("/", 1)[1]
        body, kind = (
            (files[name], "text/css" if name.endswith(".css") else "text/javascript")
            if name in files
            else (
                page_html.encode(),
                "text/html",
            )
        )
        route.fulfill(status=200, body=body, content_type=kind)

    page = browser.new_page()
    try:
        # The page is served on the server's own origin (intercepted, never reaching it): Chromium
        # blocks a public-looking origin from fetching loopback addresses (local network access).
        page.route(f"{server}/__maplibre_test__/**", fulfil)
        page.on("response", lambda r: statuses.__setitem__(r.url, r.status))
        page.goto(f"{server}/__maplibre_test__/index.html")
        page.wait_for_function("window.mapIdle === true || window.mapErrors.length > 0", timeout=90_000)
        found: list[dict[str, Any]] = page.evaluate(
            "map.queryRenderedFeatures({layers: ['industrial-parks']})"
            ".map(f => ({id: f.id, code: f.properties.code, name: f.properties.name}))"
        )
        labels = page.evaluate("map.queryRenderedFeatures({layers: ['industrial-park-labels']}).length")
        errors = page.evaluate("window.mapErrors")
        page.screenshot(path=str(tmp_path / "map.png"))
    finally:
        page.close()
    assert errors == []
    assert park["code"] in {f["code"] for f in found}
    assert all(isinstance(f["id"], int) for f in found)  # integer ids: feature-state works
    assert labels > 0
    glyphs = {url: status for url, status in statuses.items() if "/fonts/" in url}
    assert any("7680-7935" in url for url in glyphs) and set(glyphs.values()) == {200}
