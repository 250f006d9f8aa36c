"""A park's footprint through the Part 4 API: a GeoJSON (Multi)Polygon member ``footprint`` of the properties,
checked as the loader checks a polygon (repaired with a warning, or refused with a 422 naming it), in
``Content-Crs``, read back in the item, kept in the history, restored by a revert and drawn in the tiles.
"""

from __future__ import annotations

from typing import Any

import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient

from gis_service.auth.admin import Admin
from tests.accessdata import Account, account, auth
from tests.editdata import GEOJSON, MERGE, PARKS, feature_id, park
from tests.fixtures_geometries import to_utm48_vn2000

pytestmark = pytest.mark.usefixtures("edits_removed")

SQUARE = [[106.650, 11.050], [106.660, 11.050], [106.660, 11.060], [106.650, 11.060], [106.650, 11.050]]
#: Two triangles meeting at a point: self-intersecting, which make_valid repairs into a MultiPolygon.
BOWTIE = [[106.650, 11.050], [106.660, 11.060], [106.660, 11.050], [106.650, 11.060], [106.650, 11.050]]
#: A ring folded back on its own line: self-intersecting with no area, which no repair makes a polygon.
FOLDED = [[106.650, 11.050], [106.650, 11.070], [106.650, 11.060], [106.650, 11.050]]


def polygon(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(scope="module")
def app(access_client: TestClient) -> TestClient:
    return access_client


@pytest.fixture(scope="module")
def editor(admin: Admin) -> Account:
    return account(admin, "fp-editor", ("industrial_parks", "editor"))


@pytest.fixture(scope="module")
def curator(admin: Admin) -> Account:
    return account(admin, "fp-curator", ("industrial_parks", "curator"))


def post(app: TestClient, who: Account, body: dict[str, Any], **headers: str) -> Any:
    return app.post(PARKS, json=body, headers={**GEOJSON, **auth(who), **headers})


def footprint_of(app: TestClient, fid: str) -> Any:
    item = app.get(f"{PARKS}/{fid}")
    assert item.status_code == 200, item.text
    return item.json()["properties"]["footprint"]


def test_a_footprint_is_written_read_patched_and_removed(app: TestClient, editor: Account) -> None:
    created = post(app, editor, park(footprint=polygon(SQUARE)))
    assert created.status_code == 201, created.text
    fid = feature_id(created)
    item = app.get(f"{PARKS}/{fid}").json()
    assert item["geometry"]["type"] == "Point"  # the site point stays the feature's geometry
    assert item["properties"]["footprint"]["type"] == "MultiPolygon"
    assert item["properties"]["footprint"]["coordinates"] == [[SQUARE]]
    etag = app.get(f"{PARKS}/{fid}").headers["ETag"]
    moved = [[round(x + 0.01, 3), y] for x, y in SQUARE]
    patched = app.patch(f"{PARKS}/{fid}", json={"properties": {"footprint": polygon(moved)}},
                        headers={**MERGE, **auth(editor), "If-Match": etag})  # fmt: skip
    assert patched.status_code == 204, patched.text
    assert footprint_of(app, fid)["coordinates"] == [[moved]]
    renamed = app.patch(f"{PARKS}/{fid}", json={"properties": {"name": "KCN Khác"}}, headers={**MERGE, **auth(editor)})
    assert renamed.status_code == 204
    assert footprint_of(app, fid)["coordinates"] == [[moved]]  # a patch that does not name it keeps it
    cleared = app.patch(f"{PARKS}/{fid}", json={"properties": {"footprint": None}}, headers={**MERGE, **auth(editor)})
    assert cleared.status_code == 204
    assert footprint_of(app, fid) is None


def test_a_repairable_ring_is_repaired_with_a_warning(app: TestClient, editor: Account) -> None:
    created = post(app, editor, park(footprint=polygon(BOWTIE)))
    assert created.status_code == 201, created.text
    assert "properties.footprint: invalid geometry repaired" in created.headers["X-Edit-Warnings"]
    assert len(footprint_of(app, feature_id(created))["coordinates"]) == 2  # the two triangles


@pytest.mark.parametrize(
    ("footprint", "words"),
    [
        (polygon(FOLDED), "cannot be repaired"),
        (polygon([[2.35, 48.85], [2.36, 48.85], [2.36, 48.86], [2.35, 48.85]]), "outside Binh Duong"),
        ({"type": "LineString", "coordinates": SQUARE}, "Polygon or MultiPolygon"),
        ({"type": "Polygon", "coordinates": [[[106.65, 11.05], [106.66]]]}, "not a GeoJSON geometry"),
        (42, "Polygon or MultiPolygon"),
    ],
)
def test_a_bad_footprint_is_a_422_naming_it(app: TestClient, editor: Account, footprint: Any, words: str) -> None:
    answer = post(app, editor, park(footprint=footprint))
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["parameter"] == "properties.footprint" and words in problem["detail"], problem


def test_a_footprint_in_content_crs(app: TestClient, editor: Account) -> None:
    ring = [list(to_utm48_vn2000(x, y)) for x, y in SQUARE]
    header = "http://www.opengis.net/def/crs/EPSG/0/3405"
    x, y = to_utm48_vn2000(106.655, 11.055)
    body = {**park(footprint=polygon(ring)), "geometry": {"type": "Point", "coordinates": [x, y]}}
    fid = feature_id(post(app, editor, body, **{"Content-Crs": header}))
    lon, lat = footprint_of(app, fid)["coordinates"][0][0][0]
    assert abs(lon - 106.65) < 1e-5 and abs(lat - 11.05) < 1e-5
    shifted = [[a + 1000, b] for a, b in ring]
    patched = app.patch(f"{PARKS}/{fid}", json={"properties": {"footprint": polygon(shifted)}},
                        headers={**MERGE, **auth(editor), "Content-Crs": header})  # fmt: skip
    assert patched.status_code == 204, patched.text
    lon2, _ = footprint_of(app, fid)["coordinates"][0][0][0]
    assert 0.008 < lon2 - lon < 0.011  # 1 km east
    in_utm = app.get(f"{PARKS}/{fid}", params={"crs": header}).json()["properties"]["footprint"]
    assert abs(in_utm["coordinates"][0][0][0][0] - shifted[0][0]) < 0.01


def test_history_keeps_the_footprint_and_a_revert_restores_it(
    app: TestClient, editor: Account, curator: Account
) -> None:
    fid = feature_id(post(app, editor, park(footprint=polygon(SQUARE))))
    moved = [[x, round(y + 0.01, 3)] for x, y in SQUARE]
    app.patch(f"{PARKS}/{fid}", json={"properties": {"footprint": polygon(moved)}}, headers={**MERGE, **auth(editor)})
    versions = app.get(f"{PARKS}/{fid}/history").json()["versions"]
    assert [v["properties"]["footprint"]["coordinates"] for v in versions] == [[[SQUARE]], [[moved]]]
    assert "crs" not in versions[0]["properties"]["footprint"]
    reverted = app.post(f"{PARKS}/{fid}/revert", params={"version": 1}, headers=auth(curator))
    assert reverted.status_code == 204, reverted.text
    assert footprint_of(app, fid)["coordinates"] == [[SQUARE]]


def test_the_tiles_draw_the_footprint(app: TestClient, editor: Account) -> None:
    fid = feature_id(post(app, editor, park(name="KCN Có ranh giới", footprint=polygon(SQUARE))))
    tile = morecantile.tms.get("WebMercatorQuad").tile(106.655, 11.055, 14)
    answer = app.get(f"/collections/industrial_parks/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}")
    assert answer.status_code == 200, answer.text
    layers = mapbox_vector_tile.decode(answer.content)
    footprints = layers["industrial_parks_footprints"]["features"]
    mine = [f for f in footprints if f["properties"].get("code") == fid]
    assert mine and mine[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    points = [f for f in layers["industrial_parks"]["features"] if f["properties"].get("code") == fid]
    assert points and points[0]["geometry"]["type"] == "Point"  # the site point stays in its own layer


def test_the_schema_names_the_footprint(app: TestClient) -> None:
    props = app.get("/collections/industrial_parks/schema").json()["properties"]
    assert props["footprint"]["format"] == "geometry-multipolygon" and "readOnly" not in props["footprint"]
    assert "x-ogc-role" not in props["footprint"]  # the site point stays the primary geometry


def test_the_tilejson_lists_the_footprint_layer(app: TestClient) -> None:
    document = app.get("/collections/industrial_parks/tiles/WebMercatorQuad/tilejson.json").json()
    assert [v["id"] for v in document["vector_layers"]] == ["industrial_parks", "industrial_parks_footprints"]


def test_an_approved_proposal_writes_the_footprint(app: TestClient, editor: Account, curator: Account) -> None:
    change = {"collection": "industrial_parks", "op": "create", "feature": park(footprint=polygon(SQUARE))}
    proposed = app.post("/proposals", json={"title": "KCN có ranh giới", "changes": [change]}, headers=auth(editor))
    assert proposed.status_code == 201, proposed.text
    approved = app.post(f"/proposals/{proposed.json()['id']}/approve", headers=auth(curator))
    assert approved.status_code == 200, approved.text
    fid = approved.json()["applied"][0]["id"]
    assert footprint_of(app, fid)["coordinates"] == [[SQUARE]]
