"""A replay, with httpx against a real server process, of exactly what QGIS 3.32+ sends when a planner edits
an OGC API Features layer: OPTIONS on the items (Allow must hold POST) and on ``unknown_id`` (an empty
layer) and on the first feature, a POST without id and bbox whose new id is everything after the last
``/items/`` of ``Location``, a GET refresh of that feature, a PATCH with ``application/merge-patch+json``
and no ``If-Match`` (QGIS never sends one), a geometry PATCH in VN-2000 with ``Content-Crs`` without angle
brackets (axis order as QGIS sends it), and a DELETE. Basic credentials on every request, OPTIONS included.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from gis_service.auth.admin import Admin
from gis_service.settings import Settings
from tests.accessdata import Account, account
from tests.conftest import scalar
from tests.editdata import TEST_SOURCE, road
from tests.fixtures_geometries import to_utm48_vn2000
from tests.serverproc import server_process

ITEMS = "/collections/transport_projects/items"
pytestmark = pytest.mark.usefixtures("edits_removed")
QGIS_HEADERS = {"User-Agent": "Mozilla/5.0 QGIS/33400/Debian GNU/Linux 12 (bookworm)"}


@pytest.fixture(scope="module")
def planner(admin: Admin) -> Account:
    return account(admin, "qgis-planner", ("transport_projects", "editor"))


@pytest.fixture(scope="module")
def qgis(migrated: Settings, bundled: Engine, planner: Account) -> Iterator[httpx.Client]:
    with server_process(migrated.dsn) as server:
        auth = httpx.BasicAuth(planner.name, planner.key)
        with httpx.Client(base_url=server.base, auth=auth, headers=QGIS_HEADERS, timeout=20) as client:
            yield client


def allow(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {m.strip() for m in response.headers["Allow"].split(",")}


def test_qgis_edit_session(qgis: httpx.Client, bundled: Engine, planner: Account) -> None:
    # 1. capabilities: POST on the items enables editing at all
    assert "POST" in allow(qgis.options(ITEMS))
    # 2. the first feature's id, or unknown_id for an empty layer: PATCH makes QGIS send PATCH
    assert {"PUT", "PATCH", "DELETE"} <= allow(qgis.options(f"{ITEMS}/unknown_id"))
    first = qgis.get(ITEMS, params={"limit": 1}).json()["features"][0]["id"]
    assert {"PUT", "PATCH", "DELETE"} <= allow(qgis.options(f"{ITEMS}/{first}"))
    # 3. create: the body without id and bbox; the id is what follows the last /items/ of Location
    feature = road()
    created = qgis.post(ITEMS, json=feature, headers={"Content-Type": "application/geo+json"})
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert "?" not in location and location.startswith(str(qgis.base_url).rstrip("/") + ITEMS + "/")
    fid = location[location.rindex("/items/") + len("/items/") :]
    # 4. the refresh after a create
    refreshed = qgis.get(f"{ITEMS}/{fid}")
    assert refreshed.status_code == 200 and refreshed.json()["id"] == fid
    assert refreshed.json()["properties"]["source"] == TEST_SOURCE
    # 5. an attribute change: only the changed properties, no If-Match
    patched = qgis.patch(
        f"{ITEMS}/{fid}",
        json={"properties": {"status": "under construction"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code in (200, 204), patched.text
    assert patched.headers["ETag"] == '"v2"'
    # 6. a geometry change in the layer's CRS: VN-2000 / UTM 48N, Content-Crs without angle brackets
    line = [list(to_utm48_vn2000(lon, lat)) for lon, lat in [[106.61, 10.99], [106.70, 11.06]]]
    moved = qgis.patch(
        f"{ITEMS}/{fid}",
        json={"geometry": {"type": "LineString", "coordinates": line}},
        headers={
            "Content-Type": "application/merge-patch+json",
            "Content-Crs": "http://www.opengis.net/def/crs/EPSG/0/3405",
        },
    )
    assert moved.status_code in (200, 204), moved.text
    start = qgis.get(f"{ITEMS}/{fid}").json()["geometry"]["coordinates"][0]
    assert start == pytest.approx([106.61, 10.99], abs=1e-6)
    history = qgis.get(f"{ITEMS}/{fid}/history").json()["versions"]
    assert [v["changeSet"]["unconditional"] for v in history] == [True, True, True]
    assert all(v["changedBy"] == planner.name and "QGIS" in v["changeSet"]["client"] for v in history)
    # 7. delete
    assert qgis.delete(f"{ITEMS}/{fid}").status_code == 204
    assert qgis.get(f"{ITEMS}/{fid}").status_code == 404
    assert scalar(bundled, "SELECT count(*) FROM transport_projects WHERE code = :c", c=fid) == 0
