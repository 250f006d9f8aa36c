"""Concurrent writes to one feature: unconditional PATCHes all land, one version each, with a history whose
ranges are contiguous, non-empty, ascending and never overlapping, so ``asOf`` finds every version; with one
ETag exactly one wins; a transaction that began before another committed still dates its version after it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gis_service.auth.admin import Admin
from gis_service.settings import Settings
from tests.accessdata import Account, account, auth
from tests.editdata import MERGE, PARKS, ROADS, TEST_SOURCE, create, feature_id, park, road

pytestmark = pytest.mark.usefixtures("edits_removed")

WRITERS = 30
COLLECTIONS = {PARKS: ("industrial_parks", park), ROADS: ("transport_projects", road)}
#: A road written straight to the table (as psql or QGIS would), with a random code.
ROAD_ROW = (
    "INSERT INTO transport_projects (code, name, name_ascii, kind, status, source, geometry_quality, geom) "
    "VALUES ('RACE-' || substr(md5(random()::text), 1, 6), 'race', 'race', 'rail', 'planned', :s, 'schematic', "
    "ST_GeomFromText('LINESTRING(106.6 10.98, 106.7 11.05)', 4326)) RETURNING id, code"
)


@pytest.fixture(scope="module")
def editor(admin: Admin) -> Account:
    return account(admin, "race-editor", ("industrial_parks", "curator"), ("transport_projects", "curator"))


def history(engine: Engine, table: str, key: str) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    f"SELECT version, op, lower(valid) AS since, upper(valid) AS until, isempty(valid) AS empty, "
                    f"row ->> 'status_note' AS note FROM {table}_history WHERE feature_key = :k ORDER BY hist_id"
                ),
                {"k": key},
            )
        )


def assert_contiguous(rows: list[Any]) -> None:
    """Versions 1..n in order; each live version non-empty and closed exactly where the next begins."""
    live = [r for r in rows if r.op != "D"]
    assert [r.version for r in rows] == list(range(1, len(rows) + 1))
    assert not any(r.empty for r in live), [(r.version, r.since, r.until) for r in live if r.empty]
    for before, after in itertools.pairwise(live):
        assert before.since < before.until == after.since, (before, after)
    assert live[-1].until is None or rows[-1].op == "D"


def instant(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def concurrently(count: int, one: Any) -> list[Any]:
    with ThreadPoolExecutor(max_workers=count) as pool:  # concurrent requests on the app's event loop
        return list(pool.map(one, range(count)))


@pytest.mark.parametrize("items", [PARKS, ROADS])
def test_concurrent_unconditional_patches_all_land_in_order(
    app: TestClient, editor: Account, engine: Engine, items: str
) -> None:
    table, body = COLLECTIONS[items]
    fid = feature_id(create(app, editor, items, body()))
    url = f"{items}/{fid}"

    def one(n: int) -> int:
        patch = {"properties": {"status_note": f"writer {n}"}}
        response = app.patch(url, json=patch, headers={**MERGE, **auth(editor)})
        assert response.status_code in (200, 204), response.text
        return response.status_code

    statuses = concurrently(WRITERS, one)
    assert len(statuses) == WRITERS
    rows = history(engine, table, fid)
    assert len(rows) == WRITERS + 1
    assert_contiguous(rows)
    assert {r.note for r in rows[1:]} == {f"writer {n}" for n in range(WRITERS)}  # none lost
    assert app.get(url).headers["ETag"] == f'"v{WRITERS + 1}"'
    for row in rows:  # asOf at the instant each version began shows exactly that version
        then = app.get(items, params={"asOf": instant(row.since), "filter": f"code = '{fid}'"})
        assert then.status_code == 200, then.text
        assert [f["properties"].get("status_note") for f in then.json()["features"]] == [row.note], row


def test_one_etag_one_winner_among_concurrent_patches(app: TestClient, editor: Account, engine: Engine) -> None:
    fid = feature_id(create(app, editor, ROADS, road()))

    def one(n: int) -> int:
        headers = {**MERGE, **auth(editor), "If-Match": '"v1"'}
        return app.patch(f"{ROADS}/{fid}", json={"properties": {"lanes": n + 1}}, headers=headers).status_code

    statuses = concurrently(WRITERS, one)
    assert sorted(statuses) == [204] + [412] * (WRITERS - 1)
    assert_contiguous(history(engine, "transport_projects", fid))


def test_patches_racing_a_delete_and_a_revert(app: TestClient, editor: Account, engine: Engine) -> None:
    """Writes before the deletion land, after it are 404, and a revert brings the feature back; the history
    stays contiguous and never overlaps whatever the interleaving."""
    fid = feature_id(create(app, editor))
    url = f"{PARKS}/{fid}"
    for n in range(2):
        app.patch(url, json={"properties": {"status_note": f"before {n}"}}, headers={**MERGE, **auth(editor)})

    def one(n: int) -> tuple[str, int]:
        if n == WRITERS // 3:
            return "delete", app.delete(url, headers=auth(editor)).status_code
        if n % 7 == 3:
            return "revert", app.post(f"{url}/revert", params={"version": 2}, headers=auth(editor)).status_code
        patch = {"properties": {"status_note": f"writer {n}"}}
        return "patch", app.patch(url, json=patch, headers={**MERGE, **auth(editor)}).status_code

    outcomes = concurrently(WRITERS, one)
    assert {s for kind, s in outcomes if kind == "patch"} <= {204, 404}, outcomes
    assert [s for kind, s in outcomes if kind == "delete"] == [204]
    # Two reverts of the deleted feature both re-create it: the one that loses is told so (409), never 422.
    assert {s for kind, s in outcomes if kind == "revert"} <= {204, 409}, outcomes
    rows = history(engine, "industrial_parks", fid)
    live = [r for r in rows if r.op != "D"]
    assert not any(r.empty for r in live)
    ordered = sorted(live, key=lambda r: r.since)
    for before, after in itertools.pairwise(ordered):
        assert before.until is not None and before.since < before.until <= after.since, (before, after)


def test_a_transaction_begun_earlier_dates_its_version_after_the_one_it_replaces(
    access_settings: Settings, engine: Engine
) -> None:
    """``now()`` is when a transaction began: one that began before another committed (and then waited for
    the row) must still start its version after that one, and never leave it an empty range."""
    url = access_settings.sync_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with engine.begin() as conn:
        key = conn.execute(text(ROAD_ROW), {"s": TEST_SOURCE}).one().code
    with psycopg.connect(url) as early, psycopg.connect(url, autocommit=True) as late:
        early.execute("SELECT now()")  # the transaction begins here
        late.execute("UPDATE transport_projects SET status_note = 'late' WHERE code = %s", (key,))
        early.execute("UPDATE transport_projects SET status_note = 'early' WHERE code = %s", (key,))
        early.commit()
    rows = history(engine, "transport_projects", key)
    assert [r.note for r in rows] == [None, "late", "early"]
    assert_contiguous(rows)


def test_a_feature_revived_by_a_transaction_begun_before_its_deletion(
    access_settings: Settings, engine: Engine
) -> None:
    """The deletion closed the last version when it ran; a re-insert of the same feature by a transaction that
    began earlier must not date its version before that (the history would overlap and be refused)."""
    url = access_settings.sync_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with engine.begin() as conn:
        fid, key = conn.execute(text(ROAD_ROW), {"s": TEST_SOURCE}).one()
    with psycopg.connect(url) as early, psycopg.connect(url, autocommit=True) as late:
        early.execute("SELECT now()")
        late.execute("DELETE FROM transport_projects WHERE id = %s", (fid,))
        early.execute(
            "INSERT INTO transport_projects (id, code, name, name_ascii, kind, status, source, geometry_quality, geom) "
            "VALUES (%s, %s, 'race', 'race', 'rail', 'planned', %s, 'schematic', "
            "ST_GeomFromText('LINESTRING(106.6 10.98, 106.7 11.05)', 4326))",
            (fid, key, TEST_SOURCE),
        )
        early.commit()
    rows = history(engine, "transport_projects", key)
    assert [r.op for r in rows] == ["I", "D", "I"]
    assert rows[0].until <= rows[2].since and not rows[2].empty
