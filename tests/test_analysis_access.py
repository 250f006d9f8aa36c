"""The analyses read only what the caller may read: anonymous callers and viewers of a non-public ``parcels``
(the access tests' catalogue), and of a catalogue where units, parks and transport are closed too.

A layer the caller may not read is left out of multi-layer answers with a warning, and refused (401 with the
challenge, 403 for an account without the grant) where the caller names it. Answers that depend on access
are ``Cache-Control: private``; the Python ``Planner`` keeps full access.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import morecantile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gis_service.analysis.api import Planner
from gis_service.auth.admin import Admin
from gis_service.settings import PROJECT_ROOT, Settings
from tests.accessdata import PROTECTED, Account, account
from tests.geometries import NEAR_QL13, square

CODE = "TACR"
LON, LAT = NEAR_QL13
NOTE = f"{PROTECTED} not included: needs a viewer grant"
#: Closed besides the parcels in the second catalogue: every other kind of layer an analysis reads.
ALSO_CLOSED = ("admin_units", "industrial_parks", "transport_projects")
_TILE = morecantile.tms.get("WebMercatorQuad").tile(LON, LAT, 12)
RASTER_TILE = f"/rasters/transport_distance/tiles/WebMercatorQuad/12/{_TILE.x}/{_TILE.y}.png"


@pytest.fixture(scope="module")
def parcel(bundled: Engine) -> Iterator[int]:
    """A 36 ha industrial parcel on the QL13 line: what locate, nearby, the corridor and site selection find."""
    with bundled.begin() as conn:
        parcel_id = conn.execute(
            text(
                "INSERT INTO parcels (admin_code, sheet_no, parcel_no, land_use_code, geom, geometry_quality, "
                "source) VALUES (:code, '1', '1', 'SKK', ST_Multi(ST_GeomFromText(:wkt, 4326)), 'approximate', "
                "'test: analysis access') RETURNING id"
            ),
            {"code": CODE, "wkt": square(LON, LAT, 600).wkt},
        ).scalar_one()
    yield int(parcel_id)
    with bundled.begin() as conn:
        conn.execute(text("DELETE FROM parcels WHERE admin_code = :code"), {"code": CODE})


@pytest.fixture(scope="module")
def api(access_client: TestClient, parcel: int) -> TestClient:
    return access_client


@pytest.fixture(scope="module")
def viewer_headers(viewer: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {viewer.key}"}


def private(response: Any) -> bool:
    return str(response.headers.get("cache-control", "")).startswith("private")


def refused(response: Any, status: int, parameter: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json().get("parameter") == parameter, response.json()
    if status == 401:
        assert any(c.startswith("Bearer ") for c in response.headers.get_list("www-authenticate"))
    assert str(CODE) not in response.text


# ---- parcels closed: left out of combined answers, refused by name ------------------------------------


def test_locate_leaves_the_parcel_out_for_anonymous_callers(
    api: TestClient, viewer_headers: dict[str, str], parcel: int
) -> None:
    url = f"/analysis/locate?lon={LON}&lat={LAT}"
    theirs, mine = api.get(url), api.get(url, headers=viewer_headers)
    assert theirs.status_code == mine.status_code == 200
    assert theirs.json()["parcel"] is None and NOTE in theirs.json()["warnings"]
    assert theirs.json()["units"], "the public layers are still answered"
    assert [p["id"] for p in mine.json()["parcel"]] == [parcel] and NOTE not in mine.json()["warnings"]
    assert private(theirs) and private(mine)
    assert "Authorization" in mine.headers["vary"]


def test_nearby_refuses_the_parcels_by_name_and_as_the_reference(
    api: TestClient, viewer_headers: dict[str, str], admin: Admin, parcel: int
) -> None:
    by_name = f"/analysis/nearby?collection={PROTECTED}&distance_m=100&lon={LON}&lat={LAT}"
    as_reference = f"/analysis/nearby?collection=industrial_parks&distance_m=20000&feature={PROTECTED}/{parcel}"
    refused(api.get(by_name), 401, "collection")
    refused(api.get(as_reference), 401, "feature")
    stranger = account(admin, "stranger")  # valid key, no grant: 403 without a challenge
    answer = api.get(by_name, headers={"X-API-Key": stranger.key})
    refused(answer, 403, "collection")
    assert "www-authenticate" not in answer.headers
    point = {"type": "Point", "coordinates": [LON, LAT]}
    posted = {"collection": PROTECTED, "distance_m": 100, "geometry": point}
    refused(api.post("/analysis/nearby", json=posted), 401, "collection")

    found = api.get(by_name, headers=viewer_headers)
    assert found.status_code == 200 and parcel in [f["id"] for f in found.json()["features"]] and private(found)
    measured = api.get(as_reference, headers=viewer_headers)
    assert measured.status_code == 200 and measured.json()["reference"]["id"] == str(parcel) and private(measured)
    assert api.post("/analysis/nearby", json=posted, headers=viewer_headers).status_code == 200


def test_nearby_over_public_layers_stays_public(api: TestClient) -> None:
    answer = api.get(f"/analysis/nearby?collection=industrial_parks&distance_m=5000&lon={LON}&lat={LAT}")
    assert answer.status_code == 200 and not private(answer)


def test_the_corridor_takes_parcels_only_for_their_readers(
    api: TestClient, viewer_headers: dict[str, str], parcel: int
) -> None:
    url = "/analysis/corridor?project=QL13&width_m=60"
    theirs, mine = api.get(url), api.get(url, headers=viewer_headers)
    assert theirs.status_code == mine.status_code == 200, theirs.text
    assert PROTECTED not in theirs.json() and PROTECTED not in theirs.json()["totals_ha"]
    assert NOTE in theirs.json()["warnings"] and theirs.json()["wards"], "the readable layers stay"
    assert parcel in [p["id"] for p in mine.json()[PROTECTED]] and mine.json()["totals_ha"][PROTECTED] > 0
    assert NOTE not in mine.json()["warnings"]
    assert private(theirs) and private(mine)


def test_area_statistics_and_reassignment_of_parcels_need_the_grant(
    api: TestClient, viewer_headers: dict[str, str], parcel: int
) -> None:
    stats = f"/analysis/area-stats?collection={PROTECTED}&by=land_use_code"
    reassign = f"/analysis/reassign?collection={PROTECTED}"
    refused(api.get(stats), 401, "collection")
    refused(api.get(reassign), 401, "collection")
    counted = api.get(stats, headers=viewer_headers)
    groups = {g["land_use_code"]: g["count"] for g in counted.json()["groups"]}
    assert counted.status_code == 200 and groups.get("SKK", 0) >= 1 and private(counted)
    assigned = api.get(reassign, headers=viewer_headers)
    assert parcel in [a["id"] for a in assigned.json()["assignments"]] and private(assigned)
    public = api.get("/analysis/area-stats?collection=industrial_parks")
    assert public.status_code == 200 and not private(public)


def test_site_selection_of_or_against_parcels_needs_the_grant(
    api: TestClient, viewer_headers: dict[str, str], parcel: int
) -> None:
    sites = {"collection": PROTECTED, "types": ["SKK"], "min_area_ha": 30}
    refused(api.post("/analysis/site-selection", json=sites), 401, "collection")
    refused(api.post("/analysis/site-selection?f=csv", json=sites), 401, "collection")
    against = {"collection": "planning_zones", "exclude": [PROTECTED]}
    refused(api.post("/analysis/site-selection", json=against), 401, "exclude")
    mine = api.post("/analysis/site-selection", json=sites, headers=viewer_headers)
    assert mine.status_code == 200 and private(mine)
    assert any(parcel in f["properties"]["members"] for f in mine.json()["features"])
    assert api.post("/analysis/site-selection", json=against, headers=viewer_headers).status_code == 200
    public = api.post("/analysis/site-selection", json={"collection": "planning_zones"})
    assert public.status_code == 200 and not private(public)


def test_analyses_that_read_no_closed_layer_stay_public(api: TestClient) -> None:
    for url in ("/analysis/timeline?year=2040", "/analysis/crosswalk?code=25741"):
        answer = api.get(url)
        assert answer.status_code == 200 and not private(answer), url
        assert NOTE not in answer.text


def test_the_planner_keeps_full_access(access_settings: Settings, parcel: int) -> None:
    """Python runs on the machine with the owner's rights: the same plans, every layer."""
    with Planner(access_settings) as planner:
        assert not planner.catalog.get(PROTECTED).public
        assert [p["id"] for p in planner.locate(LON, LAT)["parcel"]] == [parcel]
        assert parcel in [f["id"] for f in planner.nearby(PROTECTED, 100, lon=LON, lat=LAT)["features"]]


# ---- units, parks and transport closed too ------------------------------------------------------------


@pytest.fixture(scope="module")
def closed_layers(protected_layers: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("closed-layers")
    for path in protected_layers.iterdir():
        if path.is_dir() or path.is_symlink():
            (directory / path.name).symlink_to(path.resolve())
        else:
            shutil.copy(path, directory / path.name)
    for name in ALSO_CLOSED:
        spec = directory / f"{name}.yaml"
        spec.write_text(spec.read_text(encoding="utf-8") + "public: false\n", encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def closed(
    access_settings: Settings, closed_layers: Path, parcel: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    from gis_service.main import create_app
    from gis_service.raster import build

    rasters = access_settings.raster.model_copy(update={"directory": tmp_path_factory.mktemp("closed-rasters")})
    settings = access_settings.model_copy(update={"layers_dir": closed_layers, "raster": rasters})
    assert all("with data" in line for line in build.build_all(settings))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def reader(admin: Admin) -> dict[str, str]:
    who = account(admin, "reader", *((name, "viewer") for name in (PROTECTED, *ALSO_CLOSED)))
    return {"X-API-Key": who.key}


def notes(*names: str) -> set[str]:
    return {f"{name} not included: needs a viewer grant" for name in names}


def test_the_timeline_and_locate_leave_out_every_closed_layer(closed: TestClient, reader: dict[str, str]) -> None:
    theirs = closed.get("/analysis/timeline?year=2040")
    assert theirs.status_code == 200 and private(theirs)
    body = theirs.json()
    assert set(ALSO_CLOSED).isdisjoint(body) and "industrial_clusters" in body
    assert set(body["warnings"]) == notes(*ALSO_CLOSED)
    mine = closed.get("/analysis/timeline?year=2040", headers=reader).json()
    assert set(ALSO_CLOSED) <= set(mine) and mine["warnings"] == []

    located = closed.get(f"/analysis/locate?lon={LON}&lat={LAT}").json()
    assert located["units"] == {} and located["nearest_transport"] == [] and located["industrial_park"] is None
    assert notes(PROTECTED, *ALSO_CLOSED) <= set(located["warnings"])
    full = closed.get(f"/analysis/locate?lon={LON}&lat={LAT}", headers=reader).json()
    assert full["units"] and full["nearest_transport"] and not notes(*ALSO_CLOSED) & set(full["warnings"])


def test_questions_about_closed_units_and_transport_are_refused(closed: TestClient, reader: dict[str, str]) -> None:
    refused(closed.get("/analysis/corridor?project=QL13&width_m=60"), 401, "project")
    refused(closed.get("/analysis/crosswalk?code=25741"), 401, "code")
    refused(closed.get("/analysis/area-stats?collection=planning_zones&by=unit"), 401, "by")
    refused(closed.get("/analysis/reassign?collection=planning_zones"), 401, "collection")
    near_lines = {"collection": "planning_zones", "max_distance_m": {"nh13": 5000}}
    refused(closed.post("/analysis/site-selection", json=near_lines), 401, "max_distance_m")
    without_lines = closed.post("/analysis/site-selection", json={"collection": "planning_zones"})
    assert without_lines.status_code == 200 and not private(without_lines)  # transport is not read at all
    for url in (
        "/analysis/corridor?project=QL13&width_m=60",
        "/analysis/crosswalk?code=25741",
        "/analysis/area-stats?collection=planning_zones&by=unit",
    ):
        answer = closed.get(url, headers=reader)
        assert answer.status_code == 200 and private(answer), (url, answer.text)
    corridor = closed.get("/analysis/corridor?project=QL13&width_m=60", headers=reader).json()
    assert {"parcels", "wards", "industrial_parks"} <= set(corridor) and corridor["warnings"] is not None


def test_rasters_of_closed_layers_need_their_grants(closed: TestClient, reader: dict[str, str]) -> None:
    listed = closed.get("/rasters")
    assert listed.status_code == 200 and listed.json()["rasters"] == [] and private(listed)
    unit = "/rasters/population_density/statistics?admin_code=25741"
    zone = {"type": "Polygon", "coordinates": [[[LON, LAT], [LON + 0.01, LAT], [LON, LAT + 0.01], [LON, LAT]]]}
    for answer in (
        closed.get(unit),
        closed.post("/rasters/population_density/statistics", json=zone),
        closed.get(f"/rasters/transport_distance/point?lon={LON}&lat={LAT}"),
        closed.get(RASTER_TILE),
    ):
        refused(answer, 401, "rasterId")
    assert len(closed.get("/rasters", headers=reader).json()["rasters"]) == 2
    stats = closed.get(unit, headers=reader)
    assert stats.status_code == 200 and stats.json()["statistics"]["count"] > 0 and private(stats)
    tile = closed.get(RASTER_TILE, headers=reader)
    assert tile.status_code == 200 and private(tile)


def test_without_anonymous_reads_the_analyses_need_an_account(
    access_settings: Settings, bundled: Engine, viewer: Account
) -> None:
    from gis_service.main import create_app

    auth = access_settings.auth.model_copy(update={"anonymous_reads": False})
    with TestClient(create_app(access_settings.model_copy(update={"auth": auth}))) as closed_app:
        refused(closed_app.get("/analysis/timeline?year=2040"), 401, None)
        answer = closed_app.get("/analysis/timeline?year=2040", headers={"X-API-Key": viewer.key})
        assert answer.status_code == 200 and answer.json()["industrial_parks"]["features"]


def test_a_map_without_the_parks_draws_no_hectares_of_them() -> None:
    """The planning map runs the area statistics of the parks for its choropleth: only when it shows them."""
    from gis_service.catalog import Catalog
    from gis_service.maps.data import MapRequest, map_plan

    catalog = Catalog.from_dir(PROJECT_ROOT / "layers")
    with_parks = map_plan(catalog, MapRequest(collections=("admin_units", "industrial_parks")))
    without = map_plan(catalog, MapRequest(collections=("admin_units", "transport_projects")))
    assert any(name.startswith("area/") for name in with_parks.statements)
    assert not any(name.startswith("area/") for name in without.statements)
