"""COGs built from the bundled layers, served with rio-tiler; values checked against PostGIS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import rasterio
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gis_service.raster import build
from gis_service.raster.catalog import RasterCatalog
from gis_service.settings import Settings
from tests.test_tiles import install_state, make_app

#: Half the diagonal of a 100 m cell: how far a cell centre can be from the point asked for.
HALF_DIAGONAL_M = 71.0


@pytest.fixture(scope="module")
def raster_settings(migrated: Settings, bundled: Engine, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    directory = tmp_path_factory.mktemp("rasters")
    settings = migrated.model_copy(update={"raster": migrated.raster.model_copy(update={"directory": directory})})
    lines = list(build.build_all(settings))
    assert len(lines) == 2 and all("with data" in line for line in lines)
    return settings


@pytest.fixture(scope="module")
def rc(raster_settings: Settings) -> Iterator[TestClient]:
    app = make_app(raster_settings)
    with TestClient(app) as client:
        install_state(app)
        app.state.rasters = RasterCatalog.from_file(
            raster_settings.layers_dir / "rasters.yaml", raster_settings.raster.directory
        )
        yield client


@pytest.fixture(scope="module")
def ward(bundled: Engine) -> dict[str, object]:
    """A 2025 ward, its density computed by PostGIS, a point inside it and its polygon."""
    sql = (
        "SELECT code, population / (ST_Area(geom::geography) / 1e6) AS density, population, "
        "ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat, ST_AsGeoJSON(geom) AS shape "
        "FROM admin_units WHERE valid_from = '2025-07-01' ORDER BY code LIMIT 1"
    )
    with bundled.connect() as conn:
        return dict(conn.execute(text(sql)).mappings().one())


def test_build_writes_cloud_optimized_geotiffs(raster_settings: Settings) -> None:
    for name in ("population_density.tif", "transport_distance.tif"):
        with rasterio.open(Path(raster_settings.raster.directory) / name) as src:
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert src.crs.to_epsg() == 32648 and src.res == (100.0, 100.0)
            assert src.overviews(1) and src.nodata == -9999
            assert src.tags()["admin_units_version"].isdigit()


def test_density_at_a_point_is_the_wards_population_over_its_area(rc: TestClient, ward: dict[str, object]) -> None:
    body = rc.get("/rasters/population_density/point", params={"lon": ward["lon"], "lat": ward["lat"]}).json()
    assert body["units"] == "persons/km²"
    assert body["value"] == pytest.approx(ward["density"], rel=1e-5)


def test_distance_matches_postgis(rc: TestClient, bundled: Engine) -> None:
    sql = (
        "WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g) "
        "SELECT min(ST_Distance(ST_Transform(p.g, 32648), ST_Transform(t.geom, 32648))) "
        "FROM p, transport_projects t WHERE t.geom IS NOT NULL"
    )
    for lon, lat in ((106.65, 11.0), (106.6, 11.25), (106.8, 11.1)):
        with bundled.connect() as conn:
            expected = conn.execute(text(sql), {"lon": lon, "lat": lat}).scalar_one()
        got = rc.get("/rasters/transport_distance/point", params={"lon": lon, "lat": lat}).json()["value"]
        assert abs(got - expected) <= HALF_DIAGONAL_M, (lon, lat, got, expected)


def test_outside_the_wards_is_nodata_and_outside_the_raster_is_404(rc: TestClient) -> None:
    assert rc.get("/rasters/population_density/point", params={"lon": 106.33, "lat": 11.49}).json()["value"] is None
    far = rc.get("/rasters/population_density/point", params={"lon": 100.0, "lat": 20.0})
    assert far.status_code == 404 and far.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("fmt", "magic"), [("png", b"\x89PNG"), ("webp", b"RIFF")])
def test_coloured_tiles_and_their_etag(rc: TestClient, fmt: str, magic: bytes) -> None:
    url = f"/rasters/population_density/tiles/WebMercatorQuad/11/1630/961.{fmt}"
    first = rc.get(url, params={"colormap": "viridis", "rescale": "0,8000"})
    assert first.status_code == 200 and first.content.startswith(magic)
    assert first.headers["content-type"] == f"image/{fmt}"
    again = rc.get(
        url, params={"colormap": "viridis", "rescale": "0,8000"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    other = rc.get(url, params={"colormap": "magma", "rescale": "0,8000"})
    assert other.headers["etag"] != first.headers["etag"]


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/rasters/population_density/tiles/WebMercatorQuad/11/0/0.png", 404),  # far from the raster
        ("/rasters/population_density/tiles/WebMercatorQuad/3/9/0.png", 404),  # outside the matrix
        ("/rasters/population_density/tiles/WebMercatorQuad/11/1630/961.png?colormap=nope", 400),
        ("/rasters/population_density/tiles/WebMercatorQuad/11/1630/961.png?rescale=5,1", 400),
        ("/rasters/population_density/tiles/WebMercatorQuad/11/1630/961.png?url=/etc/passwd", 400),
        ("/rasters/population_density/tiles/WebMercatorQuad/11/1630/961.tif", 400),
        ("/rasters/..%2F..%2Fetc%2Fpasswd/point?lon=106.6&lat=11", 404),
        ("/rasters/nope/point?lon=106.6&lat=11", 404),
    ],
)
def test_bad_requests(rc: TestClient, url: str, status: int) -> None:
    response = rc.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_zonal_statistics_of_a_posted_ward(rc: TestClient, ward: dict[str, object]) -> None:
    shape = orjson.loads(str(ward["shape"]))
    body = rc.post("/rasters/population_density/statistics", json={"type": "Feature", "geometry": shape}).json()
    stats = body["statistics"]
    assert stats["median"] == pytest.approx(ward["density"], rel=1e-5)
    assert stats["sum_times_area_km2"] == pytest.approx(ward["population"], rel=0.05)  # cells are not the polygon
    by_code = rc.get("/rasters/population_density/statistics", params={"admin_code": ward["code"]}).json()
    assert by_code["statistics"]["valid_pixels"] == stats["valid_pixels"]


def test_zonal_statistics_reject_bad_zones(rc: TestClient) -> None:
    line = {"type": "LineString", "coordinates": [[106.6, 11.0], [106.7, 11.1]]}
    assert rc.post("/rasters/population_density/statistics", json=line).status_code == 400
    huge = {"type": "Polygon", "coordinates": [[[90, 0], [120, 0], [120, 30], [90, 30], [90, 0]]]}
    assert rc.post("/rasters/population_density/statistics", json=huge).status_code == 413
    assert rc.get("/rasters/population_density/statistics", params={"admin_code": "nope"}).status_code == 404


def test_tilejson_and_listing(rc: TestClient) -> None:
    doc = rc.get("/rasters/transport_distance/tilejson.json", params={"colormap": "magma", "format": "webp"}).json()
    assert doc["tiles"] == [
        "http://testserver/rasters/transport_distance/tiles/WebMercatorQuad/{z}/{x}/{y}.webp?colormap=magma"
    ]
    west, south, east, north = doc["bounds"]
    assert 106.2 < west < east < 107.1 and 10.7 < south < north < 11.6
    listed = rc.get("/rasters").json()["rasters"]
    assert [r["id"] for r in listed] == ["population_density", "transport_distance"] and "file" not in listed[0]
    info = rc.get("/rasters/population_density").json()
    assert info["crs"] == "EPSG:32648" and info["resolution_m"] == 100.0


def test_a_raster_not_built_is_404(raster_settings: Settings, tmp_path: Path) -> None:
    catalog = RasterCatalog.from_file(raster_settings.layers_dir / "rasters.yaml", tmp_path)
    with pytest.raises(Exception, match="not built"):
        catalog.path(catalog.get("population_density"))
