"""History kept by the database: every version with who, when and why, the layer as of an instant, the
changes between two instants, a revert that writes a new version, 20 concurrent PATCHes with one ETag, and
history that the app role cannot write.
"""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gis_service.auth.admin import Admin
from gis_service.settings import Settings
from tests.accessdata import Account, account, app_dsn, auth
from tests.conftest import scalar
from tests.editdata import MERGE, PARKS, ROADS, create, feature_id, road

pytestmark = pytest.mark.usefixtures("edits_removed")


@pytest.fixture(scope="module")
def editor(admin: Admin) -> Account:
    return account(admin, "h-editor", ("industrial_parks", "editor"), ("transport_projects", "editor"))


@pytest.fixture(scope="module")
def curator(admin: Admin) -> Account:
    return account(admin, "h-curator", ("industrial_parks", "curator"), ("transport_projects", "curator"))


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def test_history_lists_every_version_with_who_when_and_why(app: TestClient, editor: Account) -> None:
    fid = feature_id(create(app, editor, **{"X-Change-Comment": "new park from the 2040 plan"}))
    url = f"{PARKS}/{fid}"
    app.patch(url, json={"properties": {"status": "operating"}}, headers={**MERGE, **auth(editor), "If-Match": '"v1"'})
    app.delete(url, headers={**auth(editor), "X-Change-Comment": "duplicate"})
    versions = app.get(f"{url}/history").json()["versions"]
    assert [v["operation"] for v in versions] == ["created", "modified", "deleted"]
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert {v["changedBy"] for v in versions} == {editor.name}
    assert versions[0]["changeSet"]["comment"] == "new park from the 2040 plan"
    assert versions[0]["changeSet"]["unconditional"] is True and versions[1]["changeSet"]["unconditional"] is False
    assert versions[2]["changeSet"]["comment"] == "duplicate"
    assert versions[1]["properties"]["status"] == "operating"
    assert versions[0]["geometry"]["type"] == "Point"
    assert versions[0]["validTo"] == versions[1]["validFrom"]
    assert app.get(f"{PARKS}/KCN-NOPE/history").status_code == 404


def test_as_of_shows_the_layer_as_it_was(app: TestClient, editor: Account) -> None:
    fid = feature_id(create(app, editor, ROADS, road()))
    time.sleep(0.05)
    before = now()
    time.sleep(0.05)
    app.patch(
        f"{ROADS}/{fid}", json={"properties": {"status": "under construction"}}, headers={**MERGE, **auth(editor)}
    )
    app.delete(f"{ROADS}/{fid}", headers=auth(editor))  # gone now, there then
    then = app.get(ROADS, params={"asOf": before, "filter": f"code = '{fid}'", "limit": 5})
    assert then.status_code == 200, then.text
    assert [f["properties"]["status"] for f in then.json()["features"]] == ["planned"]
    assert then.json()["numberMatched"] == 1
    box = app.get(ROADS, params={"asOf": before, "bbox": "106.0,10.0,106.1,10.1", "filter": f"code = '{fid}'"})
    assert box.json()["numberMatched"] == 0  # other parameters still apply
    assert app.get(ROADS, params={"filter": f"code = '{fid}'"}).json()["numberMatched"] == 0
    assert app.get(ROADS, params={"asOf": "yesterday"}).status_code == 400
    assert app.get("/collections/admin_units/items", params={"asOf": before}).status_code == 400


def test_changes_between_two_instants(app: TestClient, editor: Account) -> None:
    kept = feature_id(create(app, editor, ROADS, road()))
    removed = feature_id(create(app, editor, ROADS, road()))
    time.sleep(0.05)
    start = now()
    added = feature_id(create(app, editor, ROADS, road()))
    moved = [[106.61, 10.98], [106.72, 11.09]]
    app.patch(
        f"{ROADS}/{kept}",
        json={"geometry": {"type": "LineString", "coordinates": moved}, "properties": {"lanes": 8}},
        headers={**MERGE, **auth(editor)},
    )
    app.delete(f"{ROADS}/{removed}", headers=auth(editor))
    diff = app.get("/collections/transport_projects/changes", params={"from": start})
    assert diff.status_code == 200, diff.text
    body = diff.json()
    assert body["added"] == [added] and body["removed"] == [removed]
    assert body["modified"] == [{"id": kept, "versions": [1, 2], "changedProperties": ["lanes"], "geometryMoved": True}]
    assert app.get("/collections/transport_projects/changes", params={"from": "nope"}).status_code == 400


def test_revert_writes_a_new_version_for_curators_only(app: TestClient, editor: Account, curator: Account) -> None:
    fid = feature_id(create(app, editor))
    url = f"{PARKS}/{fid}"
    app.patch(url, json={"properties": {"status": "removed"}}, headers={**MERGE, **auth(editor)})
    assert app.post(f"{url}/revert", params={"version": 1}, headers=auth(editor)).status_code == 403
    reverted = app.post(f"{url}/revert", params={"version": 1}, headers=auth(curator))
    assert reverted.status_code == 204 and reverted.headers["ETag"] == '"v3"'
    assert app.get(url).json()["properties"]["status"] == "planned"
    versions = app.get(f"{url}/history").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3]  # history kept, one more version
    assert versions[2]["changeSet"]["comment"] == "revert to version 1"
    app.delete(url, headers=auth(editor))
    again = app.post(f"{url}/revert", params={"version": 3}, headers=auth(curator))  # a deleted feature comes back
    assert again.status_code == 204 and app.get(url).json()["properties"]["status"] == "planned"
    assert app.post(f"{url}/revert", params={"version": 4}, headers=auth(curator)).status_code == 422
    assert app.post(f"{url}/revert", params={"version": 99}, headers=auth(curator)).status_code == 404


def test_twenty_clients_with_one_etag_make_one_change(app: TestClient, editor: Account, engine: Engine) -> None:
    fid = feature_id(create(app, editor))

    def one(n: int) -> int:
        body = {"properties": {"status_note": f"client {n}"}}
        headers = {**MERGE, **auth(editor), "If-Match": '"v1"'}
        return app.patch(f"{PARKS}/{fid}", json=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:  # concurrent requests on the app's event loop
        statuses = list(pool.map(one, range(20)))
    assert sorted(statuses) == [204] + [412] * 19
    assert scalar(engine, "SELECT count(*) FROM industrial_parks_history WHERE feature_key = :k", k=fid) == 2


def test_history_is_not_writable_by_the_app(access_settings: Settings) -> None:
    with psycopg.connect(app_dsn(access_settings)) as conn:
        for statement in (
            "DELETE FROM parcels_history",
            "UPDATE transport_projects_history SET changed_by = 'someone else'",
            "INSERT INTO change_sets (txid, changed_by, db_role) VALUES (1, 'x', 'x')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()


def test_direct_database_edits_land_in_the_same_history(app: TestClient, editor: Account, engine: Engine) -> None:
    fid = feature_id(create(app, editor, ROADS, road()))
    with engine.begin() as conn:  # a PostGIS client (psql, QGIS) as the database owner
        conn.execute(text("SELECT set_config('app.comment', 'fixed in psql', true)"))
        conn.execute(text("UPDATE transport_projects SET lanes = 6 WHERE code = :c"), {"c": fid})
    latest = app.get(f"{ROADS}/{fid}/history").json()["versions"][-1]
    assert latest["version"] == 2 and latest["properties"]["lanes"] == 6
    assert latest["changeSet"]["comment"] == "fixed in psql"
    assert latest["changedBy"] == scalar(engine, "SELECT session_user")
    assert app.get(f"{ROADS}/{fid}").headers["ETag"] == '"v2"'


def test_overlapping_versions_are_refused_by_the_database(engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), engine.begin() as conn:
        cs = conn.execute(text("SELECT id FROM change_sets LIMIT 1")).scalar_one()
        for start in ("2020-01-01", "2021-01-01"):
            conn.execute(
                text(
                    "INSERT INTO parcels_history (feature_id, feature_key, version, valid, op, changed_at, changed_by, "
                    "change_set_id, row) VALUES (-1, '-1', 1, tstzrange(CAST(:s AS timestamptz), NULL), 'I', now(), "
                    "'x', :cs, '{}')"
                ),
                {"s": start, "cs": cs},
            )


@pytest.mark.parametrize("table", ["industrial_parks", "transport_projects", "parcels"])
def test_every_live_feature_has_its_current_version_in_history(bundled: Engine, table: str) -> None:
    """Loaded by the loader (bundled layers), edited through the API or not: the open version in history is
    the row's version, and there is exactly one per feature."""
    missing = scalar(
        bundled,
        f"SELECT count(*) FROM {table} t WHERE (SELECT count(*) FROM {table}_history h WHERE h.feature_id = t.id "
        "AND upper_inf(h.valid) AND NOT isempty(h.valid) AND h.version = t.version) <> 1",
    )
    assert scalar(bundled, f"SELECT count(*) FROM {table}_history") >= scalar(bundled, f"SELECT count(*) FROM {table}")  # type: ignore[operator]
    assert missing == 0
