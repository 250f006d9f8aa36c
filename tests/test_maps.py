"""Folium maps: builders, the /maps pages, escaping, CSP, vendored assets and the offline export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import folium
import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient
from folium.plugins import MeasureControl
from sqlalchemy import Engine, delete, insert, text

from gis_service import html as pages_html
from gis_service.analysis.api import Planner
from gis_service.catalog import Catalog
from gis_service.maps import Assets, MapRequest, build_map, fetch, notebook_map, popups, render, vendor
from gis_service.maps.assets import PACKAGES, STATIC_DIR
from gis_service.maps.controls import check_constant
from gis_service.maps.export import export
from gis_service.models import IndustrialPark
from gis_service.settings import Settings

HOSTILE = "<script>alert(1)</script> KCN Thử nghiệm"
HOSTILE_CODE = "XSS_TEST"
CDN_HOSTS = ("jsdelivr", "unpkg", "cdnjs", "code.jquery", "bootstrapcdn", "netdna", "d3js.org", "@latest")
LAYER_NAMES = (
    "Plain basemap (offline, our layers)",
    "OpenStreetMap (online)",
    "Units to 2025-06-30 (9 districts, 91 wards)",
    "Units from 2025-07-01 (36 wards)",
    "Industrial parks (KCN)",
    "Industrial clusters (CCN)",
    "Transport projects",
    "Planning zones (empty)",
    "Land parcels (vector tiles, zoom 12+)",
    "Industrial hectares per unit (2025)",
)
SRC = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"([^\"]+)\"")
DATA_BLOCK = re.compile(r'<script type="application/json" id="(map_[0-9a-f]+)-data">(.*?)</script>', re.S)


def page_data(html: str) -> dict[str, Any]:
    """The map's JSON block: the one place where a map page carries data."""
    blocks = DATA_BLOCK.findall(html)
    assert len(blocks) == 1, "one data block per map page"
    data: dict[str, Any] = json.loads(blocks[0][1])
    return data


def layer_names(html: str) -> list[str]:
    return [layer["nameHtml"] for layer in page_data(html)["layers"]]


def with_maps(app: FastAPI) -> FastAPI:
    """The app as main.py assembles it (maps router, /static), also before main.py includes them."""
    from gis_service.routers import maps

    if not any(getattr(route, "path", None) == "/maps" for route in app.routes):
        app.include_router(maps.router)
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


@pytest.fixture(scope="session")
def planner(migrated: Settings, bundled: Engine) -> Iterator[Planner]:
    with Planner(migrated) as p:
        yield p


@pytest.fixture(scope="module")
def hostile_park(bundled: Engine) -> Iterator[str]:
    """A park whose name and source are markup (under construction from 2028, so hidden before)."""
    row = {
        "code": HOSTILE_CODE,
        "name": HOSTILE,
        "name_ascii": "<script>alert(1)</script> KCN Thu nghiem",
        "kind": "KCN",
        "status": "under construction",
        "established_year": 2028,
        "planned_area_ha": 120.0,
        "geometry_quality": "approximate",
        "source": 'test <img src=x onerror="alert(2)"> https://example.org/?a=1&b=<2> javascript:alert(3)',
        "geom": "SRID=4326;POINT(106.70 11.08)",
    }
    with bundled.begin() as conn:
        conn.execute(insert(IndustrialPark.__table__).values(**row))
    yield HOSTILE_CODE
    with bundled.begin() as conn:
        conn.execute(delete(IndustrialPark.__table__).where(IndustrialPark.__table__.c.code == HOSTILE_CODE))


@pytest.fixture(scope="module")
def maps_client(migrated: Settings, bundled: Engine, vendored: Path) -> Iterator[TestClient]:
    from gis_service.main import create_app

    with TestClient(with_maps(create_app(migrated))) as test_client:
        yield test_client


# ---- builders ------------------------------------------------------------------------------------


def test_popup_escapes_every_attribute(planner: Planner) -> None:
    spec = planner.catalog.get("industrial_parks")
    html = popups.popup_html(
        spec,
        {"name": HOSTILE, "status": '"><b>x</b>', "source": "see <i>x</i> javascript:alert(1) https://a.vn/?q=<1>"},
        states={2030: "<expected>"},
        citations=[{"attribute": "<a>", "value_text": "<b>", "publisher": "<p>", "url": "javascript:alert(1)"}],
    )
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>x</b>" not in html and "<i>x</i>" not in html and "&lt;expected&gt;" in html
    assert 'href="javascript' not in html
    assert 'href="https://a.vn/?q="' in html  # the URL stops at the markup; the rest stays escaped text


def test_measure_control_from_a_cdn_is_refused(vendored: Path) -> None:
    m = folium.Map(tiles=None)
    MeasureControl().add_to(m)
    with pytest.raises(ValueError, match="MeasureControl"):
        Assets().attach(m)


def test_a_folium_layer_on_a_map_is_refused(planner: Planner) -> None:
    """branca compiles a folium element's output as a template: data may only travel in the JSON block."""
    with planner.engine.connect() as conn:
        m = build_map(fetch(conn, planner.catalog, MapRequest(collections=("rivers",))))
    check_constant(m)
    folium.GeoJson({"type": "FeatureCollection", "features": []}, name="{{ 7*7 }}").add_to(m)
    with pytest.raises(ValueError, match="GeoJson on a map"):
        check_constant(m)


def test_vendored_packages_match_their_pins(vendored: Path) -> None:
    for package in PACKAGES:
        assert vendor.installed(package, vendored), package.spec
        for name in (*package.js, *package.css):
            assert (vendored / package.spec / name).is_file()


def test_states_are_the_timeline_states(planner: Planner) -> None:
    with planner.engine.connect() as conn:
        data = fetch(conn, planner.catalog, MapRequest(year=2030))
    assert data.request.years == (2020, 2025, 2030, 2035, 2040)
    for year in data.request.years:
        answer = planner.timeline(year)
        for layer in ("industrial_parks", "industrial_clusters", "transport_projects"):
            expected = {f["code"]: f["state"] for f in answer[layer]["features"]}
            assert {code: states[year] for code, states in data.states[layer].items()} == expected


def test_unlocated_features_are_listed_not_drawn(planner: Planner, bundled: Engine) -> None:
    with planner.engine.connect() as conn:
        data = fetch(conn, planner.catalog, MapRequest())
        missing = conn.execute(text("SELECT count(*) FROM industrial_parks WHERE geom IS NULL")).scalar_one()
    parks = data.layers["industrial_parks"]
    assert len(parks.unlocated) == missing and all(f["geometry"] for f in parks.features)
    html = render(build_map(data))
    legend = html[html.index('class="gis-panel gis-legend"') :]
    assert legend.count("<li data-states=") >= missing + len(data.layers["transport_projects"].unlocated)
    for project in data.layers["transport_projects"].unlocated:
        assert f"<b>{pages_html.esc(project['name'])}</b>" in legend, project["name"]
        if project.get("completion_year"):
            assert f"completion {project['completion_year']}" in legend


def test_choropleth_uses_the_area_statistics(planner: Planner) -> None:
    with planner.engine.connect() as conn:
        data = fetch(conn, planner.catalog, MapRequest(year=2020))
    assert data.request.unit_set == "legacy"
    assert data.choropleth == planner.area_stats("industrial_parks", "unit", "legacy")


def test_year_outside_the_range_is_refused() -> None:
    from gis_service.errors import InvalidParameter

    for year in (1999, 2061):
        with pytest.raises(InvalidParameter, match="between 2000 and 2060"):
            MapRequest(year=year)


def test_notebook_map_inlines_its_assets(planner: Planner, vendored: Path) -> None:
    html = render(notebook_map(planner, collections=("industrial_parks",), year=2025))
    assert not SRC.findall(html), "a notebook map cannot load from /static"
    assert "L.Control.MiniMap" in html and "GisMaps.init" in html
    assert not any(host in html for host in CDN_HOSTS)
    roles = [layer["role"] for layer in page_data(html)["layers"]]
    assert roles == ["base:plain", "base:osm", "state:industrial_parks"]


# ---- HTTP ------------------------------------------------------------------------------------------


def test_index_lists_the_maps(maps_client: TestClient) -> None:
    response = maps_client.get("/maps")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert 'href="/maps/planning-2040"' in response.text
    assert 'href="/maps/collections/industrial_parks"' in response.text


def test_planning_map_page(maps_client: TestClient, hostile_park: str) -> None:
    response = maps_client.get("/maps/planning-2040")
    assert response.status_code == 200
    html = response.text
    names = layer_names(html)
    for name in LAYER_NAMES:
        assert any(n.startswith(name) for n in names), (name, names)
    sources = SRC.findall(html)
    assert sources and all(s.startswith("/static/") for s in sources), sources
    assert not any(host in html for host in CDN_HOSTS)
    assert HOSTILE not in html and "<script>alert(1)" not in html
    # popups: escaped once in Python (&lt;), then embedded as JSON whose & < > are \u escapes
    assert "\\u0026lt;script\\u0026gt;alert(1)\\u0026lt;/script\\u0026gt;" in html
    assert 'onerror="alert(2)"' not in html and 'href="javascript' not in html
    parks = next(layer for layer in page_data(html)["layers"] if layer["role"] == "state:industrial_parks")
    test_park = next(f["properties"] for f in parks["data"]["features"] if f["id"] == HOSTILE_CODE)
    assert test_park["name"] == HOSTILE  # text for the search list (textContent), the JSON made it inert
    assert "<h4>&lt;script&gt;alert(1)&lt;/script&gt; KCN Thử nghiệm</h4>" in test_park["popup"]


def test_planning_map_csp(maps_client: TestClient) -> None:
    response = maps_client.get("/maps/planning-2040?year=2030")
    policy = dict(d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";"))
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    scripts = pages_html.INLINE_SCRIPT.findall(response.text)
    assert scripts and all(pages_html.digest(script) in policy["script-src"] for script in scripts)
    assert not any("FeatureCollection" in script for script in scripts), "data never in an executed script"
    assert policy["img-src"] == "'self' https://tile.openstreetmap.org"
    assert policy["connect-src"] == "'self'" and policy["object-src"] == "'none'"


def test_year_and_units_parameters(maps_client: TestClient) -> None:
    html = maps_client.get("/maps/planning-2040?year=2030&units=legacy-wards").text
    assert page_data(html)["year"] == 2030 and "Industrial hectares per unit (legacy-wards)" in layer_names(html)
    assert "Industrial hectares per unit (legacy)" in layer_names(maps_client.get("/maps/planning-2040?year=2020").text)
    odd = maps_client.get("/maps/planning-2040?year=2027").text
    assert page_data(odd)["years"] == [2020, 2025, 2027, 2030, 2035, 2040]


@pytest.mark.parametrize(
    ("url", "status", "parameter", "message"),
    [
        ("/maps/planning-2040?year=1999", 400, "year", "year must be between 2000 and 2060"),
        ("/maps/planning-2040?year=2061", 400, "year", "year must be between 2000 and 2060"),
        ("/maps/planning-2040?year=soon", 400, "year", "year"),
        ("/maps/planning-2040?units=2030", 400, "units", "units must be one of"),
        ("/maps/planning-2040?colour=red", 400, "colour", "colour"),
        ("/maps?colour=red", 400, "colour", "colour"),
        ("/maps/collections/nowhere", 404, "collectionId", "collection 'nowhere' does not exist"),
        ("/maps/collections/%3Cimg%20src=x%20onerror=alert(1)%3E", 404, "collectionId", "<img src=x onerror=alert(1)>"),
        ("/maps/collections/rivers?year=3000", 400, "year", "year must be between 2000 and 2060"),
    ],
)
def test_errors_are_problem_json(maps_client: TestClient, url: str, status: int, parameter: str, message: str) -> None:
    response = maps_client.get(url, headers={"Accept": "text/html"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["parameter"] == parameter and message in problem["detail"]


def test_empty_layer_shows_a_note(maps_client: TestClient) -> None:
    response = maps_client.get("/maps/collections/planning_zones")
    assert response.status_code == 200
    assert 'class="gis-empty"' in response.text and "Planning zones: no features yet" in response.text
    clusters = maps_client.get("/maps/collections/industrial_clusters").text
    assert "none with a sourced location" in clusters


def test_collection_maps(maps_client: TestClient) -> None:
    for collection_id in ("admin_units", "industrial_parks", "transport_projects", "rivers", "parcels"):
        response = maps_client.get(f"/maps/collections/{collection_id}")
        assert response.status_code == 200, collection_id
    parcels = maps_client.get("/maps/collections/parcels").text
    tiles = [layer for layer in page_data(parcels)["layers"] if layer["kind"] == "vectortiles"]
    assert [(t["role"], t["url"]) for t in tiles] == [("tiles:parcels", "/tiles/parcels/{z}/{x}/{y}.pbf")]
    assert "/static/vendor/leaflet.vectorgrid@1.3.0/Leaflet.VectorGrid.bundled.min.js" in SRC.findall(parcels)


def test_map_is_revalidated_by_etag(maps_client: TestClient) -> None:
    first = maps_client.get("/maps/planning-2040?year=2035")
    again = maps_client.get("/maps/planning-2040?year=2035", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


def test_static_assets_are_served(maps_client: TestClient) -> None:
    html = maps_client.get("/maps/planning-2040").text
    for source in SRC.findall(html):
        assert maps_client.get(source).status_code == 200, source


def test_closed_network_names_no_outside_host(migrated: Settings, bundled: Engine, vendored: Path) -> None:
    from gis_service.main import create_app

    closed = migrated.model_copy(update={"maps": migrated.maps.model_copy(update={"osm_tiles_url": None})})
    with TestClient(with_maps(create_app(closed))) as test_client:
        response = test_client.get("/maps/planning-2040")
    assert "OpenStreetMap (online)" not in response.text and "openstreetmap.org/{z}" not in response.text
    assert "img-src 'self';" in response.headers["content-security-policy"]


# ---- export ------------------------------------------------------------------------------------


def test_export_writes_offline_pages(migrated: Settings, bundled: Engine, vendored: Path, tmp_path: Path) -> None:
    written = export(migrated, tmp_path)
    names = {p.path.relative_to(tmp_path).as_posix() for p in written}
    assert {"planning-2040.html", "index.html", "collections/industrial_parks.html"} <= names
    for page in written[:-1]:
        for source in SRC.findall(page.path.read_text(encoding="utf-8")):
            assert not source.startswith(("http:", "https:", "/")), source
            assert (page.path.parent / source).resolve().is_file(), source
    parcels = (tmp_path / "collections" / "parcels.html").read_text(encoding="utf-8")
    assert "not part of this offline export" in parcels
    assert not [layer for layer in page_data(parcels)["layers"] if layer["kind"] == "vectortiles"]


def test_export_inline_is_one_file_per_map(migrated: Settings, bundled: Engine, vendored: Path, tmp_path: Path) -> None:
    written = export(migrated, tmp_path, inline=True, server="http://127.0.0.1:8000")
    planning = (tmp_path / "planning-2040.html").read_text(encoding="utf-8")
    assert not SRC.findall(planning) and not (tmp_path / "assets").exists()
    tiles = [layer["url"] for layer in page_data(planning)["layers"] if layer["kind"] == "vectortiles"]
    assert tiles == ["http://127.0.0.1:8000/tiles/parcels/{z}/{x}/{y}.pbf"]
    assert len(written) == 2 + len(Catalog.from_dir(migrated.layers_dir))
