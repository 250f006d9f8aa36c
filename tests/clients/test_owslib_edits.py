"""OWSLib 0.35 (PyPI) creates, replaces and deletes a park footprint site over HTTP against a real server
process, with an editor's key as the Basic password, reading ``Location`` and ``ETag`` from its response
headers. OWSLib keeps its request headers in one module-global dict that every instance shares and
mutates, so the test restores it afterwards (and sends If-Match through it, as a client must).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from owslib import ogcapi
from owslib.ogcapi.features import Features
from owslib.util import Authentication

from gis_service.auth.admin import Admin
from tests.accessdata import Account, account
from tests.editdata import park, road

pytestmark = [pytest.mark.clients, pytest.mark.usefixtures("edits_removed")]


@pytest.fixture
def owslib_headers() -> Iterator[None]:
    saved = dict(ogcapi.REQUEST_HEADERS)
    yield
    ogcapi.REQUEST_HEADERS.clear()
    ogcapi.REQUEST_HEADERS.update(saved)


@pytest.fixture(scope="module")
def planner(admin: Admin) -> Account:
    return account(admin, "planner", ("industrial_parks", "editor"), ("transport_projects", "editor"))


def test_owslib_creates_replaces_and_deletes(server: str, planner: Account, owslib_headers: None) -> None:
    api = Features(
        server, auth=Authentication(planner.name, planner.key), headers={"Content-Type": "application/geo+json"}
    )
    assert api.collection_item_create("industrial_parks", park(name="KCN Bàu Bàng mở rộng 2"))
    location, etag = api.response_headers["Location"], api.response_headers["ETag"]
    fid = location.rsplit("/items/", 1)[1]
    assert location == f"{server}/collections/industrial_parks/items/{fid}" and etag == '"v1"'
    assert api.collection_item("industrial_parks", fid)["properties"]["name"] == "KCN Bàu Bàng mở rộng 2"

    api.headers["If-Match"] = '"v7"'  # stale: OWSLib raises on the 412
    with pytest.raises(RuntimeError, match="Precondition failed"):
        api.collection_item_update("industrial_parks", fid, json.dumps(park(status="operating")))
    api.headers["If-Match"] = etag
    assert api.collection_item_update("industrial_parks", fid, json.dumps(park(status="operating")))
    assert api.response_headers["ETag"] == '"v2"'
    del api.headers["If-Match"]
    assert api.collection_item("industrial_parks", fid)["properties"]["status"] == "operating"

    assert api.collection_item_create("transport_projects", road())  # a Ring Road 4 alignment
    road_id = api.response_headers["Location"].rsplit("/items/", 1)[1]
    history = api._request(path=f"collections/transport_projects/items/{road_id}/history")
    assert [v["changedBy"] for v in history["versions"]] == [planner.name]

    assert api.collection_item_delete("industrial_parks", fid)
    with pytest.raises(RuntimeError):
        api.collection_item("industrial_parks", fid)
