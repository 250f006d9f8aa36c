"""OGC API Features Part 4 through the real app on the real database, as a checklist after the draft's
abstract test suite: OPTIONS/Allow per role, create/replace/update/delete with their statuses and headers,
ETags and If-Match (412, 428), Content-Crs (EPSG:3405 VN-2000), the loader's checks (422), read-only
collections (405), row-level security outside an edit area, and the layer's data version after a write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from gis_service.auth.admin import Admin
from gis_service.settings import Settings
from tests.accessdata import PARCELS, Account, account, auth
from tests.conftest import scalar
from tests.editdata import GEOJSON, MERGE, PARKS, ROADS, TEST_SOURCE, create, feature_id, park, road
from tests.fixtures_geometries import to_utm48_vn2000

PARCEL_ITEMS = "/collections/parcels/items"
pytestmark = pytest.mark.usefixtures("edits_removed")


@pytest.fixture(scope="module")
def app(access_client: TestClient) -> TestClient:
    """The access tests' client: the parcels inside and outside the edit area are in place before it starts."""
    return access_client


@pytest.fixture(scope="module")
def editor(admin: Admin) -> Account:
    grants = [(c, "editor") for c in ("industrial_parks", "transport_projects", "planning_zones")]
    return account(admin, "editor", *grants)


@pytest.fixture(scope="module")
def curator(admin: Admin) -> Account:
    return account(admin, "curator", ("industrial_parks", "curator"), ("transport_projects", "curator"))


@pytest.fixture(scope="module")
def viewer_only(admin: Admin) -> Account:
    return account(admin, "viewer", ("industrial_parks", "viewer"))


@pytest.fixture(scope="module")
def area_editor(admin: Admin, area_file: Path) -> Account:
    name = account(admin, "area-editor")
    admin.set_grant(name.name, "parcels", "editor", area=area_file)
    return name


# ---- OPTIONS ---------------------------------------------------------------------------------------


def test_options_lists_the_methods_of_this_caller(app: TestClient, editor: Account, viewer_only: Account) -> None:
    anonymous = app.options(PARKS)
    assert anonymous.status_code == 200
    assert "POST" not in anonymous.headers["Allow"] and "GET" in anonymous.headers["Allow"]
    assert "POST" not in app.options(PARKS, headers=auth(viewer_only)).headers["Allow"]
    mine = app.options(PARKS, headers=auth(editor))
    assert "POST" in mine.headers["Allow"] and mine.headers["Accept-Post"] == "application/geo+json"
    for path in (f"{PARKS}/unknown_id", f"{PARKS}/KCN-NOPE"):  # QGIS asks about unknown_id when empty
        item = app.options(path, headers=auth(editor))
        assert item.status_code == 200
        assert {"PUT", "PATCH", "DELETE"} <= set(item.headers["Allow"].replace(" ", "").split(","))
        assert item.headers["Accept-Patch"] == "application/merge-patch+json"


def test_read_only_collections_answer_405(app: TestClient, editor: Account) -> None:
    assert "POST" not in app.options("/collections/admin_units/items", headers=auth(editor)).headers["Allow"]
    response = app.post("/collections/admin_units/items", json=park(), headers={**GEOJSON, **auth(editor)})
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert "POST" not in response.headers["Allow"]
    assert app.delete("/collections/rivers/items/X", headers=auth(editor)).status_code == 405


def test_writes_need_credentials_and_a_grant(app: TestClient, viewer_only: Account) -> None:
    assert app.post(PARKS, json=park(), headers=GEOJSON).status_code == 401
    assert app.post(PARKS, json=park(), headers={**GEOJSON, **auth(viewer_only)}).status_code == 403


# ---- create, read, replace, update, delete ---------------------------------------------------------


def test_create_answers_201_with_location_and_etag(app: TestClient, editor: Account) -> None:
    response = create(app, editor, body={**park(code="MINE"), "id": "CLIENT-ID"})
    location = response.headers["Location"]
    assert "?" not in location and location.startswith("http://testserver/collections/industrial_parks/items/")
    fid = feature_id(response)
    assert fid.startswith("KCN-N") and fid not in ("MINE", "CLIENT-ID")  # ids are the server's
    assert response.headers["ETag"] == '"v1"'
    got = app.get(f"{PARKS}/{fid}")
    assert got.status_code == 200 and got.headers["ETag"] == '"v1"'
    assert got.json()["properties"]["name"] == "KCN Thử nghiệm"
    assert got.json()["properties"]["name_ascii"] == "KCN Thu nghiem"  # derived as the loader does
    assert app.get(f"{PARKS}/{fid}?f=html").headers["ETag"] == '"v1"'  # the same for every encoding


def test_prefer_return_representation(app: TestClient, editor: Account) -> None:
    response = create(app, editor, Prefer="return=representation")
    assert response.json()["type"] == "Feature" and response.json()["id"] == feature_id(response)
    assert response.headers["Preference-Applied"] == "return=representation"


def test_put_patch_delete_with_etags(app: TestClient, editor: Account) -> None:
    fid = feature_id(create(app, editor))
    url = f"{PARKS}/{fid}"
    put = app.put(url, json=park(status="under construction"), headers={**GEOJSON, **auth(editor), "If-Match": '"v1"'})
    assert put.status_code == 204 and put.headers["ETag"] == '"v2"'
    stale = app.patch(
        url, json={"properties": {"status": "operating"}}, headers={**MERGE, **auth(editor), "If-Match": '"v1"'}
    )
    assert stale.status_code == 412 and stale.headers["ETag"] == '"v2"'
    assert stale.headers["content-type"] == "application/problem+json"
    weak = app.patch(
        url, json={"properties": {"status": "operating"}}, headers={**MERGE, **auth(editor), "If-Match": 'W/"v2"'}
    )
    assert weak.status_code == 412  # a weak tag never matches (RFC 9110)
    patched = app.patch(
        url,
        json={"properties": {"status": "operating", "developer": None}},
        headers={**MERGE, **auth(editor), "If-Match": '"v2"', "Prefer": "return=representation"},
    )
    assert patched.status_code == 200 and patched.headers["ETag"] == '"v3"'
    assert patched.json()["properties"]["status"] == "operating"
    assert patched.json()["properties"]["name"] == "KCN Thử nghiệm"  # untouched by the merge patch
    star = app.patch(
        url, json={"properties": {"developer": "Becamex"}}, headers={**MERGE, **auth(editor), "If-Match": "*"}
    )
    assert star.status_code == 204 and star.headers["ETag"] == '"v4"'
    unset = app.patch(url, json={"properties": {"developer": None}}, headers={**MERGE, **auth(editor)})
    assert unset.status_code == 204 and app.get(url).json()["properties"]["developer"] is None  # null unsets
    assert app.delete(url, headers={**auth(editor), "If-Match": '"v1"'}).status_code == 412
    assert app.delete(url, headers={**auth(editor), "If-Match": '"v5"'}).status_code == 204
    assert app.get(url).status_code == 404
    assert app.delete(url, headers=auth(editor)).status_code == 404
    assert app.put(url, json=park(), headers={**GEOJSON, **auth(editor), "If-Match": "*"}).status_code == 412


def test_patch_cannot_change_the_id(app: TestClient, editor: Account) -> None:
    fid = feature_id(create(app, editor))
    for body in ({"id": "OTHER"}, {"properties": {"code": "OTHER"}}):
        response = app.patch(f"{PARKS}/{fid}", json=body, headers={**MERGE, **auth(editor)})
        assert response.status_code == 400, body


def test_unknown_features_are_404(app: TestClient, editor: Account) -> None:
    assert app.put(f"{PARKS}/KCN-NOPE", json=park(), headers={**GEOJSON, **auth(editor)}).status_code == 404
    assert app.patch(f"{PARKS}/KCN-NOPE", json={}, headers={**MERGE, **auth(editor)}).status_code == 404


def test_idempotency_key_returns_the_first_create(app: TestClient, editor: Account) -> None:
    first = create(app, editor, **{"Idempotency-Key": "retry-1"})
    again = app.post(PARKS, json=park(), headers={**GEOJSON, **auth(editor), "Idempotency-Key": "retry-1"})
    assert again.status_code == 200 and again.headers["Location"] == first.headers["Location"]


# ---- preconditions ------------------------------------------------------------------------------------


def test_required_precondition_answers_428(access_settings: Settings, bundled: Engine, editor: Account) -> None:
    from gis_service.main import create_app

    strict = create_app(access_settings)
    spec = strict.state.catalog.get("industrial_parks")
    strict.state.catalog._layers["industrial_parks"] = spec.model_copy(update={"precondition": "required"})
    with TestClient(strict) as client:
        fid = feature_id(create(client, editor))
        response = client.patch(
            f"{PARKS}/{fid}", json={"properties": {"status": "operating"}}, headers={**MERGE, **auth(editor)}
        )
        assert response.status_code == 428
        assert client.delete(f"{PARKS}/{fid}", headers=auth(editor)).status_code == 428
        assert client.delete(f"{PARKS}/{fid}", headers={**auth(editor), "If-Match": '"v1"'}).status_code == 204


def test_unconditional_writes_are_recorded_as_such(app: TestClient, editor: Account, engine: Engine) -> None:
    fid = feature_id(create(app, editor))
    app.patch(
        f"{PARKS}/{fid}",
        json={"properties": {"status": "operating"}},
        headers={**MERGE, **auth(editor), "X-Change-Comment": "QGIS edit"},
    )
    row = scalar(
        engine,
        "SELECT row(c.unconditional, c.comment, c.changed_by)::text FROM industrial_parks_history h "
        "JOIN change_sets c ON c.id = h.change_set_id WHERE h.feature_key = :k AND h.version = 2",
        k=fid,
    )
    assert row == f'(t,"QGIS edit",{editor.name})'


# ---- Content-Crs and the loader's checks ------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["http://www.opengis.net/def/crs/EPSG/0/3405", "<http://www.opengis.net/def/crs/EPSG/0/3405>"]
)
def test_content_crs_vn2000_with_or_without_brackets(app: TestClient, editor: Account, header: str) -> None:
    x, y = to_utm48_vn2000(106.65, 11.05)
    body = {**park(), "geometry": {"type": "Point", "coordinates": [x, y]}}
    fid = feature_id(create(app, editor, body=body, **{"Content-Crs": header}))
    lon, lat = app.get(f"{PARKS}/{fid}").json()["geometry"]["coordinates"]
    assert abs(lon - 106.65) < 1e-5 and abs(lat - 11.05) < 1e-5
    patched = app.patch(
        f"{PARKS}/{fid}",
        json={"geometry": {"type": "Point", "coordinates": [x + 1000, y]}},
        headers={**MERGE, **auth(editor), "Content-Crs": header},
    )
    assert patched.status_code == 204
    lon2, _ = app.get(f"{PARKS}/{fid}").json()["geometry"]["coordinates"]
    assert 0.008 < lon2 - lon < 0.011  # 1 km east


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        (park(status="demolished"), "properties.status"),
        (park(established_year="soon"), "properties.established_year"),
        (park(source=None), "properties.source"),
        (park(geometry_quality=None), "properties.geometry_quality"),
        (park(colour="red"), "properties.colour"),
        ({**park(), "geometry": {"type": "Point", "coordinates": [2.35, 48.85]}}, "geometry"),
        ({**park(), "geometry": {"type": "LineString", "coordinates": [[106.6, 11], [106.7, 11]]}}, "geometry"),
        ({**park(), "geometry": {"type": "Point", "coordinates": ["a"]}}, "geometry"),
        ({**park(), "geometry": None}, "geometry"),
        ({"type": "FeatureCollection", "features": []}, "type"),
    ],
)
def test_invalid_features_are_422_naming_what(app: TestClient, editor: Account, body: Any, parameter: str) -> None:
    response = app.post(PARKS, json=body, headers={**GEOJSON, **auth(editor)})
    assert response.status_code == 422, response.text
    assert response.json()["parameter"] == parameter
    assert response.headers["content-type"] == "application/problem+json"


def test_outside_the_province_names_the_coordinate(app: TestClient, editor: Account) -> None:
    body = {**park(), "geometry": {"type": "Point", "coordinates": [2.35, 48.85]}}
    assert app.post(PARKS, json=body, headers={**GEOJSON, **auth(editor)}).json()["coordinate"] == [2.35, 48.85]


def test_repaired_geometry_is_stored_with_a_warning(app: TestClient, editor: Account) -> None:
    bowtie = [[[106.60, 11.00], [106.62, 11.02], [106.62, 11.00], [106.60, 11.02], [106.60, 11.00]]]
    body = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": bowtie},
        "properties": {
            "code": "x",
            "plan": "QH 2040",
            "zone_type": "industrial",
            "source": TEST_SOURCE,
            "geometry_quality": "approximate",
        },
    }
    response = app.post("/collections/planning_zones/items", json=body, headers={**GEOJSON, **auth(editor)})
    assert response.status_code == 201, response.text
    assert "make_valid" in response.headers["X-Edit-Warnings"]


def test_media_type_and_body_limits(app: TestClient, editor: Account) -> None:
    text = app.post(PARKS, content=b"name=x", headers={"Content-Type": "text/plain", **auth(editor)})
    assert text.status_code == 415
    wrong = app.patch(f"{PARKS}/X", json={}, headers={"Content-Type": "application/geo+json", **auth(editor)})
    assert wrong.status_code == 415
    deep: Any = {}
    for _ in range(40):
        deep = {"a": deep}
    assert app.post(PARKS, json=deep, headers={**GEOJSON, **auth(editor)}).status_code == 400
    assert app.post(PARKS, content=b"{nope", headers={**GEOJSON, **auth(editor)}).status_code == 400


# ---- row-level security and freshness ------------------------------------------------------------------


def test_an_editor_cannot_edit_outside_the_area(
    app: TestClient, area_editor: Account, parcel_ids: dict[str, int]
) -> None:
    inside, outside = parcel_ids["inside"], parcel_ids["outside"]
    ok = app.patch(
        f"{PARCEL_ITEMS}/{inside}",
        json={"properties": {"land_use_code": "SKC"}},
        headers={**MERGE, **auth(area_editor)},
    )
    assert ok.status_code == 204, ok.text
    refused = app.patch(
        f"{PARCEL_ITEMS}/{outside}",
        json={"properties": {"land_use_code": "SKC"}},
        headers={**MERGE, **auth(area_editor)},
    )
    assert refused.status_code == 403
    west, south, east, north = PARCELS["outside"]
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    moved_out = app.patch(
        f"{PARCEL_ITEMS}/{inside}",
        json={"geometry": {"type": "Polygon", "coordinates": [ring]}},
        headers={**MERGE, **auth(area_editor)},
    )
    assert moved_out.status_code == 403  # WITH CHECK of the policy: the database refuses it


def test_a_write_bumps_the_layer_data_version(app: TestClient, editor: Account, engine: Engine) -> None:
    before = scalar(engine, "SELECT version FROM layer_versions WHERE layer = 'transport_projects'")
    create(app, editor, ROADS, road())
    assert scalar(engine, "SELECT version FROM layer_versions WHERE layer = 'transport_projects'") == before + 1  # type: ignore[operator]
