"""A checklist after the abstract test suite of OGC API Features Part 4 (create-replace-delete, update,
optimistic locking, features, return representation): one test per abstract test that applies, named
after it (``test_<class>_<abstract test>``), each asserting what that abstract test asserts, in our words.
Tests of the same behaviour in more depth live in ``test_edits*.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from gis_service.auth.admin import Admin
from tests.accessdata import Account, account, auth
from tests.editdata import GEOJSON, MERGE, PARKS, feature_id, park
from tests.fixtures_geometries import to_utm48_vn2000

pytestmark = pytest.mark.usefixtures("edits_removed")

CONF = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/"
COMMON5 = "http://www.opengis.net/spec/ogcapi-common-5/1.0/conf/"


@pytest.fixture(scope="module")
def editor(admin: Admin) -> Account:
    return account(admin, "ats-editor", ("industrial_parks", "editor"))


@pytest.fixture
def made(app: TestClient, editor: Account) -> str:
    """A new feature's URL path."""
    response = app.post(PARKS, json=park(), headers={**GEOJSON, **auth(editor)})
    assert response.status_code == 201, response.text
    return f"{PARKS}/{feature_id(response)}"


def send(app: TestClient, who: Account, method: str, url: str, body: Any = None, **headers: str) -> Any:
    kind = MERGE if method == "PATCH" else GEOJSON
    return app.request(method, url, json=body, headers={**kind, **auth(who), **headers})


# ---- conformance ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        CONF + "create-replace-delete",
        CONF + "update",
        CONF + "optimistic-locking-etags",
        CONF + "features",
        COMMON5 + "create-replace-delete",
        COMMON5 + "update",
    ],
)
def test_core_conformance_declares_the_class(app: TestClient, uri: str) -> None:
    assert uri in app.get("/conformance").json()["conformsTo"]


# ---- create-replace-delete -----------------------------------------------------------------------------


def test_create_replace_delete_options(app: TestClient, editor: Account, made: str) -> None:
    """OPTIONS on the items and an item answer the methods the server supports there."""
    items = app.options(PARKS, headers=auth(editor))
    item = app.options(made, headers=auth(editor))
    assert items.status_code == item.status_code == 200
    assert "POST" in items.headers["Allow"] and {"PUT", "DELETE"} <= set(item.headers["Allow"].split(", "))


def test_create_replace_delete_post_op(app: TestClient, editor: Account) -> None:
    """POST to the items adds a resource: 201 and a Location that resolves to it."""
    response = send(app, editor, "POST", PARKS, park())
    assert response.status_code == 201
    assert app.get(response.headers["Location"].replace("http://testserver", "")).status_code == 200


def test_create_replace_delete_post_content_type(app: TestClient, editor: Account) -> None:
    """A body in a media type the resource does not accept is refused with 415."""
    response = app.post(PARKS, content=b"name=x", headers={"Content-Type": "text/plain", **auth(editor)})
    assert response.status_code == 415


def test_create_replace_delete_post_body(app: TestClient, editor: Account) -> None:
    """The body is the resource's representation: what is read back is what was sent."""
    fid = feature_id(send(app, editor, "POST", PARKS, park(name="KCN Bàu Bàng 3")))
    got = app.get(f"{PARKS}/{fid}").json()
    assert got["properties"]["name"] == "KCN Bàu Bàng 3" and got["geometry"]["coordinates"] == [106.65, 11.05]


def test_create_replace_delete_post_response(app: TestClient, editor: Account) -> None:
    """The 201 carries Location (no query) and, with optimistic locking, the new ETag."""
    response = send(app, editor, "POST", PARKS, park())
    assert "?" not in response.headers["Location"] and response.headers["ETag"] == '"v1"'


def test_create_replace_delete_put_op(app: TestClient, editor: Account, made: str) -> None:
    """PUT replaces the resource: properties left out are gone afterwards."""
    send(app, editor, "PATCH", made, {"properties": {"developer": "Becamex"}})
    assert send(app, editor, "PUT", made, park(status="operating")).status_code in (200, 204)
    got = app.get(made).json()["properties"]
    assert got["status"] == "operating" and got["developer"] is None


def test_create_replace_delete_put_content_type(app: TestClient, editor: Account, made: str) -> None:
    response = app.put(made, content=b"<x/>", headers={"Content-Type": "application/xml", **auth(editor)})
    assert response.status_code == 415


def test_create_replace_delete_put_response(app: TestClient, editor: Account, made: str) -> None:
    """200 with the representation when asked for, else 204."""
    assert send(app, editor, "PUT", made, park()).status_code == 204
    full = send(app, editor, "PUT", made, park(), Prefer="return=representation")
    assert full.status_code == 200 and full.json()["type"] == "Feature"


def test_create_replace_delete_put_rid_exception(app: TestClient, editor: Account) -> None:
    """PUT on an id that does not exist is 404 (ids are the server's: no create by PUT)."""
    response = send(app, editor, "PUT", f"{PARKS}/KCN-NONE", park())
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"


def test_create_replace_delete_delete_op(app: TestClient, editor: Account, made: str) -> None:
    assert send(app, editor, "DELETE", made).status_code in (200, 204)
    assert app.get(made).status_code == 404


def test_create_replace_delete_delete_response(app: TestClient, editor: Account, made: str) -> None:
    response = send(app, editor, "DELETE", made)
    assert response.status_code == 204 and not response.content


def test_create_replace_delete_delete_rid_exception(app: TestClient, editor: Account) -> None:
    assert send(app, editor, "DELETE", f"{PARKS}/KCN-NONE").status_code == 404


# ---- update ------------------------------------------------------------------------------------------


def test_update_patch_op(app: TestClient, editor: Account, made: str) -> None:
    """PATCH changes only what the patch names."""
    assert send(app, editor, "PATCH", made, {"properties": {"status": "operating"}}).status_code in (200, 204)
    got = app.get(made).json()["properties"]
    assert got["status"] == "operating" and got["name"] == "KCN Thử nghiệm"


def test_update_patch_content_type(app: TestClient, editor: Account, made: str) -> None:
    """A PATCH that is not a merge patch is refused with 415; OPTIONS says what is accepted."""
    response = app.patch(made, json={"properties": {}}, headers={**GEOJSON, **auth(editor)})
    assert response.status_code == 415
    assert app.options(made, headers=auth(editor)).headers["Accept-Patch"] == "application/merge-patch+json"


def test_update_patch_response(app: TestClient, editor: Account, made: str) -> None:
    full = send(app, editor, "PATCH", made, {"properties": {"status": "operating"}}, Prefer="return=representation")
    assert full.status_code == 200 and full.json()["properties"]["status"] == "operating"


def test_update_patch_rid_exception(app: TestClient, editor: Account) -> None:
    assert send(app, editor, "PATCH", f"{PARKS}/KCN-NONE", {"properties": {}}).status_code == 404


# ---- optimistic locking -------------------------------------------------------------------------------


def test_optimistic_locking_etag_on_get(app: TestClient, made: str) -> None:
    """A strong ETag on the resource, the same for every representation."""
    etag = app.get(made).headers["ETag"]
    assert not etag.startswith("W/") and app.get(made + "?f=html").headers["ETag"] == etag


def test_optimistic_locking_if_match_success(app: TestClient, editor: Account, made: str) -> None:
    etag = app.get(made).headers["ETag"]
    response = send(app, editor, "PATCH", made, {"properties": {"status": "operating"}}, **{"If-Match": etag})
    assert response.status_code == 204 and response.headers["ETag"] != etag


def test_optimistic_locking_if_match_failure(app: TestClient, editor: Account, made: str) -> None:
    """A stale tag is 412 and nothing changes."""
    send(app, editor, "PATCH", made, {"properties": {"status": "operating"}})
    for method, body in (("PUT", park()), ("PATCH", {"properties": {"status": "planned"}}), ("DELETE", None)):
        assert send(app, editor, method, made, body, **{"If-Match": '"v1"'}).status_code == 412, method
    assert app.get(made).json()["properties"]["status"] == "operating"


# ---- features (GeoJSON, CRS) ---------------------------------------------------------------------------


def test_features_collection_items_end_point(app: TestClient, editor: Account) -> None:
    """Features are created at the collection's items; a collection that is not editable answers 405."""
    assert send(app, editor, "POST", "/collections/rivers/items", park()).status_code == 405


def test_features_resource_end_point(app: TestClient, editor: Account, made: str) -> None:
    """Items are replaced, updated and deleted at their own URL, the one GET reads."""
    assert app.get(made).json()["id"] == made.rsplit("/", 1)[1]


def test_features_geojson(app: TestClient, editor: Account) -> None:
    """A GeoJSON feature is accepted; something that is not a feature is a 4xx naming what is wrong."""
    response = send(app, editor, "POST", PARKS, {"type": "FeatureCollection", "features": []})
    assert response.status_code in (400, 422) and response.json()["detail"]


def test_features_crs_content_crs(app: TestClient, editor: Account) -> None:
    """A body in another CRS the collection lists (Content-Crs) is stored at the same place."""
    x, y = to_utm48_vn2000(106.65, 11.05)
    body = {**park(), "geometry": {"type": "Point", "coordinates": [x, y]}}
    headers = {"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/3405>"}
    fid = feature_id(send(app, editor, "POST", PARKS, body, **headers))
    assert app.get(f"{PARKS}/{fid}").json()["geometry"]["coordinates"] == pytest.approx([106.65, 11.05], abs=1e-6)


def test_features_storage_crs_unknown_crs(app: TestClient, editor: Account) -> None:
    """A Content-Crs the collection does not list is refused, naming the header."""
    response = send(app, editor, "POST", PARKS, park(), **{"Content-Crs": "http://www.opengis.net/def/crs/EPSG/0/2154"})
    assert response.status_code == 400 and "Content-Crs" in response.text


def test_features_schema_receivables(app: TestClient, editor: Account) -> None:
    """What the schema says is required is required by a create."""
    required = app.get("/collections/industrial_parks/schema").json()["required"]
    body = park()
    del body["properties"][required[0]]
    response = send(app, editor, "POST", PARKS, body)
    assert response.status_code == 422 and required[0] in response.json()["detail"]
