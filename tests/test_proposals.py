"""Proposals through the real app on the real database: an editor proposes, a curator approves (every change
in one transaction and one change set, conditional on each base version) or rejects with a reason; stale
bases, conflicts, wrong roles and bad bodies are refused with problem+json naming what was wrong.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from gis_service.auth.admin import Admin
from gis_service.settings import Settings
from tests.accessdata import Account, account, auth
from tests.conftest import scalar
from tests.editdata import GEOJSON, MERGE, PARKS, TEST_SOURCE, park

pytestmark = pytest.mark.usefixtures("edits_removed")

ZONES = "/collections/planning_zones/items"


def zone(name: str = "Khu thử nghiệm", west: float = 106.62, **properties: Any) -> dict[str, Any]:
    ring = [[west, 11.00], [west + 0.01, 11.00], [west + 0.01, 11.01], [west, 11.01], [west, 11.00]]
    props = {"name": name, "plan": "test plan", "zone_type": "green", "source": TEST_SOURCE,
             "geometry_quality": "approximate", **properties}  # fmt: skip
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": props}


@pytest.fixture(scope="module")
def editor(admin: Admin) -> Account:
    return account(admin, "p-editor", ("industrial_parks", "editor"), ("planning_zones", "editor"))


@pytest.fixture(scope="module")
def curator(admin: Admin) -> Account:
    return account(admin, "p-curator", ("industrial_parks", "curator"), ("planning_zones", "curator"))


def new_park(app: TestClient, who: Account, **properties: Any) -> tuple[str, int]:
    response = app.post(PARKS, json=park(**properties), headers={**GEOJSON, **auth(who)})
    assert response.status_code == 201, response.text
    return response.headers["Location"].rsplit("/", 1)[1], int(response.headers["ETag"].strip('"v'))


def propose(app: TestClient, who: Account, changes: list[dict[str, Any]], title: str = "Test proposal") -> Any:
    return app.post("/proposals", json={"title": title, "comment": "why", "changes": changes}, headers=auth(who))


def test_editor_proposes_and_curator_approves_in_one_change_set(
    app: TestClient, editor: Account, curator: Account, bundled: Engine
) -> None:
    code, version = new_park(app, editor, name="KCN Đề xuất")
    changed = park(name="KCN Đề xuất (mở rộng)", status="proposed")
    created = propose(app, editor, [
        {"collection": "planning_zones", "op": "create", "feature": zone("Khu đề xuất")},
        {"collection": "industrial_parks", "op": "update", "id": code, "baseVersion": version, "feature": changed},
    ])  # fmt: skip
    assert created.status_code == 201, created.text
    proposal_id = created.json()["id"]
    assert created.headers["Location"].endswith(f"/proposals/{proposal_id}")
    assert app.get(f"{PARKS}/{code}").json()["properties"]["name"] == "KCN Đề xuất"  # nothing published yet

    listed = app.get("/proposals?status=open", headers=auth(curator)).json()["proposals"]
    assert proposal_id in [p["id"] for p in listed]
    detail = app.get(f"/proposals/{proposal_id}", headers=auth(curator)).json()
    update = detail["changes"][1]
    assert update["before"]["properties"]["name"] == "KCN Đề xuất"
    assert update["after"]["properties"]["name"] == "KCN Đề xuất (mở rộng)"
    assert update["changedProperties"] == ["name", "status"]
    assert detail["counts"] == {"create": 1, "update": 1, "delete": 0}

    approved = app.post(f"/proposals/{proposal_id}/approve", headers=auth(curator))
    assert approved.status_code == 200, approved.text
    result = approved.json()
    assert [a["op"] for a in result["applied"]] == ["create", "update"]
    new_zone = result["applied"][0]["id"]
    assert app.get(f"{ZONES}/{new_zone}").json()["properties"]["name"] == "Khu đề xuất"
    assert app.get(f"{PARKS}/{code}").json()["properties"]["name"] == "KCN Đề xuất (mở rộng)"
    change_sets = {
        scalar(bundled, "SELECT change_set_id FROM planning_zones_history WHERE feature_key = :k", k=new_zone),
        scalar(
            bundled,
            "SELECT change_set_id FROM industrial_parks_history WHERE feature_key = :k AND version = :v",
            k=code,
            v=version + 1,
        ),
    }
    assert change_sets == {result["changeSet"]}
    comment = scalar(bundled, "SELECT comment FROM change_sets WHERE id = :i", i=result["changeSet"])
    assert str(comment).startswith(f"proposal {proposal_id}: Test proposal")
    again = app.post(f"/proposals/{proposal_id}/approve", headers=auth(curator))
    assert again.status_code == 409 and "approved already" in again.json()["detail"]


def test_a_base_that_changed_refuses_the_whole_proposal(app: TestClient, editor: Account, curator: Account) -> None:
    code, version = new_park(app, editor, name="KCN Xung đột")
    created = propose(app, editor, [
        {"collection": "planning_zones", "op": "create", "feature": zone("Khu không được tạo", west=106.64)},
        {"collection": "industrial_parks", "op": "delete", "id": code, "baseVersion": version},
    ])  # fmt: skip
    assert created.status_code == 201, created.text
    proposal_id = created.json()["id"]
    patched = app.patch(f"{PARKS}/{code}", json={"properties": {"developer": "someone else"}},
                        headers={**MERGE, **auth(editor)})  # fmt: skip
    assert patched.status_code == 204, patched.text

    refused = app.post(f"/proposals/{proposal_id}/approve", headers=auth(curator))
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["conflicts"] == [{"collection": "industrial_parks", "op": "delete", "id": code,
                                     "baseVersion": version, "currentVersion": version + 1,
                                     "reason": "changed since"}]  # fmt: skip
    names = [f["properties"]["name"] for f in app.get(ZONES, params={"limit": 1000}).json()["features"]]
    assert "Khu không được tạo" not in names  # the create of the same proposal was rolled back
    assert app.get(f"{PARKS}/{code}").status_code == 200
    assert app.get(f"/proposals/{proposal_id}", headers=auth(curator)).json()["status"] == "open"


def test_reject_keeps_the_reason_and_survives_a_restart(
    app: TestClient, access_settings: Settings, editor: Account, curator: Account
) -> None:
    created = propose(
        app, editor, [{"collection": "planning_zones", "op": "create", "feature": zone("Khu bị từ chối")}]
    )
    proposal_id = created.json()["id"]
    no_reason = app.post(f"/proposals/{proposal_id}/reject", json={}, headers=auth(curator))
    assert no_reason.status_code == 400 and no_reason.json()["parameter"] == "reason"
    rejected = app.post(f"/proposals/{proposal_id}/reject", json={"reason": "outside the plan"}, headers=auth(curator))
    assert rejected.status_code == 200, rejected.text
    from gis_service.main import create_app

    with TestClient(create_app(access_settings)) as restarted:
        detail = restarted.get(f"/proposals/{proposal_id}", headers=auth(curator)).json()
    assert (detail["status"], detail["reason"], detail["decidedBy"]) == ("rejected", "outside the plan", curator.name)
    late = app.post(f"/proposals/{proposal_id}/approve", headers=auth(curator))
    assert late.status_code == 409


def test_who_may_do_what(app: TestClient, editor: Account, curator: Account, admin: Admin) -> None:
    change = [{"collection": "planning_zones", "op": "create", "feature": zone("Khu quyền")}]
    assert app.post("/proposals", json={"title": "t", "changes": change}).status_code == 401
    assert app.get("/proposals").status_code == 401
    viewer = account(admin, "p-viewer", ("planning_zones", "viewer"))
    assert propose(app, viewer, change).status_code == 403
    proposal_id = propose(app, editor, change).json()["id"]
    refused = app.post(f"/proposals/{proposal_id}/approve", headers=auth(editor))
    assert refused.status_code == 403 and "curators" in refused.json()["detail"]
    assert app.get(f"/proposals/{proposal_id}", headers=auth(viewer)).status_code == 404
    assert app.post("/proposals/999999999/approve", headers=auth(curator)).status_code == 404
    assert app.post(f"/proposals/{proposal_id}/reject", json={"reason": "x"}, headers=auth(curator)).status_code == 200


@pytest.mark.parametrize(
    ("changes", "status", "parameter"),
    [
        ([], 400, "changes"),
        ([{"collection": "planning_zones", "op": "move"}], 400, "changes[0].op"),
        ([{"collection": "nowhere", "op": "create"}], 400, "changes[0].collection"),
        ([{"collection": "admin_units", "op": "create"}], 400, "changes[0].collection"),
        ([{"collection": "planning_zones", "op": "update", "id": "PZ-1", "feature": zone()}], 400,
         "changes[0].baseVersion"),
        ([{"collection": "planning_zones", "op": "create", "feature": zone(source=None)}], 422,
         "changes[0].properties.source"),
        ([{"collection": "planning_zones", "op": "delete", "id": "PZ-none", "baseVersion": 1}], 404, "changes[0].id"),
    ],
)  # fmt: skip
def test_bad_bodies_name_the_change_and_field(
    app: TestClient, editor: Account, changes: list[Any], status: int, parameter: str
) -> None:
    response = propose(app, editor, changes)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["parameter"] == parameter


def test_a_stale_base_is_refused_when_proposed(app: TestClient, editor: Account) -> None:
    code, version = new_park(app, editor, name="KCN Cũ")
    stale = propose(app, editor, [{"collection": "industrial_parks", "op": "delete", "id": code,
                                   "baseVersion": version + 5}])  # fmt: skip
    assert stale.status_code == 412 and stale.json()["parameter"] == "changes[0].baseVersion"
    bad_type = app.post("/proposals", content=b"{}", headers={**auth(editor), "Content-Type": "text/plain"})
    assert bad_type.status_code == 415
