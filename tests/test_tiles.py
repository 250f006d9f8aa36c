"""Vector tiles through the real app on PostGIS: contents checked against the database, caching, errors.

Expected features are computed independently: park points are read from the table and projected with
pyproj, tile bounds come from morecantile; the tiles are decoded with mapbox-vector-tile.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import mapbox_vector_tile
import morecantile
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine, event, text

from gis_service.catalog import Catalog
from gis_service.main import create_app
from gis_service.settings import Settings
from gis_service.tilecache import TileCache

MVT = "application/vnd.mapbox-vector-tile"
WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
CRS84 = morecantile.tms.get("WorldCRS84Quad")
TO_3857 = Transformer.from_crs(4326, 3857, always_xy=True)
PARK_PROPERTIES_Z12 = {"code", "name", "status", "planned_area_ha", "geometry_quality", "location_confidence"}
OCEAN_Z10 = (10, 600, 600)
ENVELOPE = "ST_TileEnvelope(:z, :x, :y)"


def make_app(settings: Settings) -> FastAPI:
    return create_app(settings)


def install_state(app: FastAPI, cache: TileCache | None = None) -> None:
    """Swap in a tile cache of the test's own (to count its loads); the app's lifespan made the default."""
    if cache is not None:
        app.state.tile_cache = cache


@contextmanager
def tile_client(settings: Settings, cache: TileCache | None = None) -> Iterator[TestClient]:
    app = make_app(settings)
    with TestClient(app) as test_client:
        install_state(app, cache)
        yield test_client


@pytest.fixture(scope="module")
def tc(migrated: Settings, bundled: Engine) -> Iterator[TestClient]:
    with tile_client(migrated) as test_client:
        yield test_client


def decode(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MVT
    return dict(mapbox_vector_tile.decode(response.content))


def parks(engine: Engine) -> list[dict[str, Any]]:
    sql = "SELECT id, code, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM industrial_parks WHERE geom IS NOT NULL"
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(text(sql)).mappings()]


def expected_codes(rows: list[dict[str, Any]], tms: morecantile.TileMatrixSet, tile: morecantile.Tile) -> set[str]:
    """Codes of the parks inside the tile widened by the 64/4096 buffer, in the set's own CRS."""
    box = tms.xy_bounds(tile)
    margin = (box.right - box.left) * 64 / 4096
    found = set()
    for row in rows:
        x, y = TO_3857.transform(row["lon"], row["lat"]) if tms.id == "WebMercatorQuad" else (row["lon"], row["lat"])
        if box.left - margin <= x <= box.right + margin and box.bottom - margin <= y <= box.top + margin:
            found.add(row["code"])
    return found


@pytest.mark.parametrize("zoom", [6, 9, 12, 14, 16])
def test_xyz_tile_holds_the_parks_that_fall_in_it(tc: TestClient, bundled: Engine, zoom: int) -> None:
    rows = parks(bundled)
    first = rows[0]
    tile = WEB_MERCATOR.tile(first["lon"], first["lat"], zoom)
    layer = decode(tc.get(f"/tiles/industrial_parks/{zoom}/{tile.x}/{tile.y}.pbf"))["industrial_parks"]
    codes = {f["properties"]["code"] for f in layer["features"]}
    assert codes == expected_codes(rows, WEB_MERCATOR, tile) and first["code"] in codes
    ids = {row["code"]: row["id"] for row in rows}
    for feature in layer["features"]:
        assert feature["id"] == ids[feature["properties"]["code"]]  # the integer primary key
        assert set(feature["properties"]) <= PARK_PROPERTIES_Z12


def test_properties_follow_the_zoom(tc: TestClient, bundled: Engine, migrated: Settings) -> None:
    spec = Catalog.from_dir(migrated.layers_dir).get("industrial_parks")
    park = parks(bundled)[0]
    low = WEB_MERCATOR.tile(park["lon"], park["lat"], 12)
    high = WEB_MERCATOR.tile(park["lon"], park["lat"], spec.maxzoom)
    at_low = decode(tc.get(f"/tiles/industrial_parks/12/{low.x}/{low.y}.pbf"))["industrial_parks"]["features"]
    at_max = decode(tc.get(f"/tiles/industrial_parks/{high.z}/{high.x}/{high.y}.pbf"))
    assert set().union(*(f["properties"] for f in at_low)) == PARK_PROPERTIES_Z12
    feature = at_max["industrial_parks"]["features"][0]
    assert {"kind", "geometry_quality", "source"} <= set(feature["properties"])  # NOT NULL columns


def test_ogc_tiles_in_both_tile_matrix_sets(tc: TestClient, bundled: Engine) -> None:
    rows = parks(bundled)
    for tms in (WEB_MERCATOR, CRS84):
        tile = tms.tile(rows[1]["lon"], rows[1]["lat"], 11)
        url = f"/collections/industrial_parks/tiles/{tms.id}/{tile.z}/{tile.y}/{tile.x}"  # row (y), then column (x)
        layer = decode(tc.get(url))["industrial_parks"]
        assert {f["properties"]["code"] for f in layer["features"]} == expected_codes(rows, tms, tile)


def test_tileset_documents(tc: TestClient) -> None:
    listed = tc.get("/collections/parcels/tiles").json()
    assert [t["tileMatrixSetURI"].rsplit("/", 1)[1] for t in listed["tilesets"]] == [
        "WebMercatorQuad",
        "WorldCRS84Quad",
    ]
    meta = tc.get("/collections/parcels/tiles/WebMercatorQuad").json()
    assert meta["dataType"] == "vector" and meta["crs"] == "http://www.opengis.net/def/crs/EPSG/0/3857"
    assert [lim["tileMatrix"] for lim in meta["tileMatrixSetLimits"]] == [str(z) for z in range(12, 21)]
    item = next(link for link in meta["links"] if link["rel"] == "item")
    assert item["templated"] and item["href"].endswith("/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}")
    tms = tc.get("/tileMatrixSets/WorldCRS84Quad").json()
    assert tms["id"] == "WorldCRS84Quad" and tms["tileMatrices"][0]["matrixWidth"] == 2


def test_tilejson_describes_the_layer(tc: TestClient) -> None:
    doc = tc.get("/tiles/admin_units.json", params={"datetime": "2025-07-01"}).json()
    assert doc["tilejson"] == "3.0.0" and doc["minzoom"] == 0 and doc["maxzoom"] == 16
    assert re.fullmatch(r"http://testserver/tiles/admin_units/v[0-9a-f]{16}/\{z\}/\{x\}/\{y\}\.pbf\?datetime=2025-07-01",
                        doc["tiles"][0]), doc["tiles"]  # fmt: skip
    west, south, east, north = doc["bounds"]
    assert 106.2 < west < east < 107.1 and 10.7 < south < north < 11.6
    assert (
        doc["vector_layers"][0]["id"] == "admin_units" and doc["vector_layers"][0]["fields"]["population"] == "Number"
    )
    same = tc.get("/collections/admin_units/tiles/WebMercatorQuad/tilejson.json").json()
    assert same["vector_layers"] == doc["vector_layers"]


def test_planning_tile_holds_every_layer_present_there(tc: TestClient, bundled: Engine) -> None:
    park = parks(bundled)[0]
    tile = WEB_MERCATOR.tile(park["lon"], park["lat"], 10)
    layers = decode(tc.get(f"/tiles/planning/10/{tile.x}/{tile.y}.pbf"))
    expected = set()
    with bundled.connect() as conn:
        for table in tc.get("/tiles/planning.json").json()["vector_layers"]:
            if table["id"].endswith(("_labels", "_footprints")):  # derived layers, not tables
                continue
            hit = conn.execute(
                text(f"SELECT EXISTS (SELECT 1 FROM {table['id']} WHERE ST_Intersects(geom_3857, {ENVELOPE}))"),
                {"z": 10, "x": tile.x, "y": tile.y},
            ).scalar()
            if hit:
                expected.add(table["id"])
    drawn = {name for name in layers if not name.endswith("_footprints")}
    assert drawn - {"admin_units_labels"} == expected and {"admin_units", "industrial_parks"} <= expected
    labels = layers["admin_units_labels"]["features"]
    assert labels and {f["geometry"]["type"] for f in labels} == {"Point"}  # one point per unit, not per tile
    only = decode(tc.get(f"/tiles/planning/10/{tile.x}/{tile.y}.pbf", params={"collections": "industrial_parks"}))
    assert set(only) == {"industrial_parks"}


def test_datetime_selects_the_units_in_force(tc: TestClient, bundled: Engine) -> None:
    tile = WEB_MERCATOR.tile(106.65, 11.0, 9)
    url = f"/tiles/admin_units/9/{tile.x}/{tile.y}.pbf"
    new = decode(tc.get(url, params={"datetime": "2025-07-01"}))["admin_units"]["features"]
    old = decode(tc.get(url, params={"datetime": "2020-01-01"}))["admin_units"]["features"]
    assert new and all(f["properties"]["valid_from"] == "2025-07-01" for f in new)
    assert old and all(f["properties"]["valid_to"] == "2025-06-30" for f in old)


def test_cql2_filter_on_tiles(tc: TestClient) -> None:
    tile = WEB_MERCATOR.tile(106.65, 11.0, 9)
    url = f"/tiles/admin_units/9/{tile.x}/{tile.y}.pbf"
    wards = decode(tc.get(url, params={"filter": "level = 'district'"}))["admin_units"]["features"]
    assert wards and {f["properties"]["level"] for f in wards} == {"district"}
    bad = tc.get(url, params={"filter": "nope = 1"})
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"


def test_etag_round_trip_and_encodings(tc: TestClient, bundled: Engine) -> None:
    park = parks(bundled)[0]
    tile = WEB_MERCATOR.tile(park["lon"], park["lat"], 13)
    url = f"/tiles/industrial_parks/13/{tile.x}/{tile.y}.pbf"
    zipped = tc.get(url, headers={"Accept-Encoding": "gzip"})
    plain = tc.get(url, headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert zipped.headers["etag"] != plain.headers["etag"] and "Accept-Encoding" in zipped.headers["vary"]
    assert decode(zipped) == decode(plain)
    assert zipped.headers["cache-control"].startswith("public, max-age=")  # short, revalidated by ETag
    again = tc.get(url, headers={"If-None-Match": zipped.headers["etag"], "Accept-Encoding": "gzip"})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == zipped.headers["etag"]


def test_a_write_changes_the_etag_and_the_tile(tc: TestClient, bundled: Engine, migrated: Settings) -> None:
    park = parks(bundled)[0]
    tile = WEB_MERCATOR.tile(park["lon"], park["lat"], 14)
    url = f"/tiles/industrial_parks/14/{tile.x}/{tile.y}.pbf"
    before = tc.get(url)
    insert = (
        "INSERT INTO industrial_parks (code, name, name_ascii, kind, status, geom, geometry_quality, source) "
        "VALUES ('TILE_TMP', 'Khu tạm', 'Khu tam', 'park', 'planned', "
        "ST_SetSRID(ST_MakePoint(:lon + 0.0001, :lat), 4326), 'test', 'test')"
    )
    try:
        with bundled.begin() as conn:
            conn.execute(text(insert), {"lon": park["lon"], "lat": park["lat"]})
        time.sleep(migrated.cache.versions_max_age_ms / 1000)  # the bound on how late tile keys see a write
        after = tc.get(url, headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
        assert "TILE_TMP" in {f["properties"]["code"] for f in decode(after)["industrial_parks"]["features"]}
    finally:
        with bundled.begin() as conn:
            conn.execute(text("DELETE FROM industrial_parks WHERE code = 'TILE_TMP'"))
    time.sleep(migrated.cache.versions_max_age_ms / 1000)
    gone = decode(tc.get(url))["industrial_parks"]["features"]
    assert "TILE_TMP" not in {f["properties"]["code"] for f in gone}


def test_empty_tiles_are_204(tc: TestClient) -> None:
    z, x, y = OCEAN_Z10
    response = tc.get(f"/tiles/industrial_parks/{z}/{x}/{y}.pbf")
    assert response.status_code == 204 and response.content == b"" and response.headers["etag"]
    assert tc.get(f"/tiles/planning/{z}/{x}/{y}.pbf").status_code == 204


@pytest.mark.parametrize(
    "url",
    [
        "/tiles/industrial_parks/19/1/1.pbf",  # beyond the layer's maxzoom (18)
        "/tiles/industrial_parks/25/1/1.pbf",  # beyond the matrix set
        "/tiles/industrial_parks/3/8/0.pbf",  # column outside the matrix
        "/tiles/industrial_parks/3/0/-1.pbf",
        "/tiles/parcels/11/1630/961.pbf",  # below parcels' minzoom (12)
        "/tiles/nope/3/1/1.pbf",
        "/collections/industrial_parks/tiles/WorldCRS84Quad/0/0/2",  # 2 x 1 tiles at zoom 0
        "/collections/industrial_parks/tiles/NZTM2000Quad/0/0/0",
    ],
)
def test_outside_the_matrix_is_404_problem(tc: TestClient, url: str) -> None:
    response = tc.get(url)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "params", [{"foo": "1"}, {"datetime": "yesterday"}, {"filter-lang": "cql2-text"}, {"limit": "10"}]
)
def test_bad_or_unknown_parameters_are_400(tc: TestClient, params: dict[str, str]) -> None:
    response = tc.get("/tiles/industrial_parks/10/815/480.pbf", params=params)
    assert response.status_code == 400 and response.json()["status"] == 400


def test_concurrent_requests_for_one_tile_run_one_query(migrated: Settings, bundled: Engine) -> None:
    park = parks(bundled)[0]
    tile = WEB_MERCATOR.tile(park["lon"], park["lat"], 15)
    url = f"/tiles/planning/15/{tile.x}/{tile.y}.pbf"

    async def scenario() -> tuple[list[int], int]:
        app = make_app(migrated)
        async with app.router.lifespan_context(app):
            install_state(app, TileCache())
            executed: list[str] = []
            event.listen(app.state.engine.sync_engine, "before_cursor_execute", lambda *a: executed.append(a[2]))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                responses = await asyncio.gather(*(client.get(url) for _ in range(20)))
        return [r.status_code for r in responses], sum("ST_AsMVT(" in sql for sql in executed)

    statuses, tile_queries = asyncio.run(scenario())
    assert statuses == [200] * 20
    assert tile_queries == 1


def test_style_and_glyphs_serve_vietnamese_labels(tc: TestClient) -> None:
    style = tc.get("/styles/planning.json").json()
    assert style["version"] == 8 and style["glyphs"] == "http://testserver/fonts/{fontstack}/{range}.pbf"
    assert style["sources"]["planning"]["url"] == "http://testserver/tiles/planning.json"
    planning = {layer["id"] for layer in tc.get("/tiles/planning.json").json()["vector_layers"]}
    assert {layer["source-layer"] for layer in style["layers"] if "source-layer" in layer} <= planning
    parks_layer = next(layer for layer in style["layers"] if layer["id"] == "industrial-parks")
    assert parks_layer["paint"]["circle-color"][:2] == ["match", ["get", "status"]]
    fonts = {font for layer in style["layers"] for font in layer.get("layout", {}).get("text-font", [])}
    for font in fonts:
        for start in (0, 256, 7680):
            response = tc.get(f"/fonts/{font},Arial Unicode MS Regular/{start}-{start + 255}.pbf")
            assert response.status_code == 200 and response.content[:1] == b"\x0a"
            ids = glyph_ids(response.content)
            assert {
                ord(c) for c in "Bình Dương Tân Uyên Khu công nghiệp Mỹ Phước" if start <= ord(c) < start + 256
            } <= ids
    assert tc.get("/fonts/DejaVu Sans Book/1-256.pbf").status_code == 404


def glyph_ids(data: bytes) -> set[int]:
    """The code points in a glyphs PBF: fontstack (field 1) -> glyph (field 3) -> id (field 1)."""
    stack = dict(_fields(data))[1]
    assert isinstance(stack, bytes)
    return {dict(_fields(glyph))[1] for number, glyph in _fields(stack) if number == 3}  # type: ignore[arg-type,misc]


def _fields(data: bytes) -> Iterator[tuple[int, Any]]:
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        if key & 7 == 0:
            value, pos = _varint(data, pos)
            yield key >> 3, value
        else:
            size, pos = _varint(data, pos)
            yield key >> 3, data[pos : pos + size]
            pos += size


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def test_gzip_is_not_applied_twice(tc: TestClient) -> None:
    """The app's GZipMiddleware passes responses that already carry a Content-Encoding."""
    tile = WEB_MERCATOR.tile(106.65, 11.0, 8)
    response = tc.get(f"/tiles/planning/8/{tile.x}/{tile.y}.pbf", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert decode(response)["admin_units"]["features"]


def test_export_writes_a_pmtiles_archive(migrated: Settings, bundled: Engine, tmp_path: Any, monkeypatch: Any) -> None:
    from pmtiles.reader import MmapSource, Reader
    from pmtiles.tile import TileType, zxy_to_tileid
    from typer.testing import CliRunner

    from gis_service.cli import app as cli

    monkeypatch.setenv("GIS_DATABASE_URL", migrated.dsn)
    target = tmp_path / "parks.pmtiles"
    result = CliRunner().invoke(
        cli, ["tiles", "export", "--layer", "industrial_parks", "--zoom", "9-11", "--pmtiles", str(target)]
    )
    assert result.exit_code == 0, result.output
    park = parks(bundled)[0]
    tile = WEB_MERCATOR.tile(park["lon"], park["lat"], 11)
    with target.open("rb") as handle:
        reader = Reader(MmapSource(handle))
        header = reader.header()
        data = reader.get(11, tile.x, tile.y)
    assert header["tile_type"] == TileType.MVT and (header["min_zoom"], header["max_zoom"]) == (9, 11)
    assert header["min_lon_e7"] < park["lon"] * 1e7 < header["max_lon_e7"]
    codes = {
        f["properties"]["code"]
        for f in mapbox_vector_tile.decode(gzip.decompress(data))["industrial_parks"]["features"]
    }
    assert park["code"] in codes and zxy_to_tileid(11, tile.x, tile.y)


def test_same_versions_in_a_rebuilt_database_change_the_etag(
    tc: TestClient, bundled: Engine, migrated: Settings
) -> None:
    """Versions restart when a database is rebuilt; the time of the last write keeps keys apart."""
    url = "/tiles/industrial_parks/10/815/480.pbf"
    before = tc.get(url).headers["etag"]
    with bundled.begin() as conn:
        conn.execute(text("UPDATE layer_versions SET changed_at = now() WHERE layer = 'industrial_parks'"))
    time.sleep(migrated.cache.versions_max_age_ms / 1000)
    assert tc.get(url).headers["etag"] != before


def test_openapi_documents_the_tile_routes(tc: TestClient) -> None:
    paths = tc.get("/api").json()["paths"]
    assert "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}" in paths
    operation = paths["/tiles/{collectionId}/{z}/{x}/{y}.pbf"]["get"]
    assert operation["operationId"] == "getXYZTile" and operation["tags"] == ["Tiles"]
    assert {p["name"] for p in operation["parameters"]} >= {"datetime", "filter", "filter-lang", "filter-crs"}
