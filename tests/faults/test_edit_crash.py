"""Edits while PostgreSQL crashes: ten ``pg_ctl stop -m immediate`` (no shutdown checkpoint, every session
cut, crash recovery on start) during a bounded edit load against a real server process, on a cluster of the
test's own. Clients do what a careful client does: a create carries an ``Idempotency-Key`` and is retried
with it; a PATCH carries ``If-Match`` and is retried with it, a 412 after a lost answer meaning the earlier
attempt committed. Afterwards every acknowledged create is in the table once and has one creation in the
history, every acknowledged PATCH is in the history exactly once; the API answered 503 problem+json while
the database was down (never another 5xx) and served edits again without being restarted.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from gis_service.auth.admin import Admin
from gis_service.settings import Settings
from tests.accessdata import basic
from tests.faults.cluster import ThrowawayCluster
from tests.faults.http import Answer, exchange, wait_for
from tests.serverproc import server_process

pytestmark = pytest.mark.timeout(240)
CRASHES = 10
CLIENTS = 4
PARKS = "/collections/industrial_parks/items"
#: Creates per client at most: the load is bounded, and ends when the crashes are over.
CREATES = 500
PATCHES_PER_CREATE = 2


@dataclass
class Edits:
    """What the clients were told succeeded, and everything the API answered."""

    created: dict[str, str] = field(default_factory=dict)  # source tag -> feature id
    attempted_creates: set[str] = field(default_factory=set)
    patched: list[tuple[str, str]] = field(default_factory=list)  # (feature id, name) acknowledged
    answers: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client:
    def __init__(self, base: str, auth: str, edits: Edits, stop: threading.Event) -> None:
        self.base, self.auth, self.edits, self.stop = base, auth, edits, stop

    def call(self, path: str, method: str, body: Any, **headers: str) -> tuple[Answer, dict[str, str]] | None:
        """Until an answer that is not 'try again' (no answer, 503); None when the load is over."""
        while not self.stop.is_set():
            answer, got = exchange(self.base + path, method, body, {"Authorization": self.auth, **headers})
            with self.edits.lock:
                self.edits.answers.append(answer)
            if answer.status not in (0, 503):
                return answer, got
            self.stop.wait(0.05)
        return None

    def run(self) -> None:
        for _ in range(CREATES):
            tag = f"crash test {uuid.uuid4()}"
            with self.edits.lock:
                self.edits.attempted_creates.add(tag)
            body = _park(tag)
            done = self.call(PARKS, "POST", body, **{"Content-Type": "application/geo+json", "Idempotency-Key": tag})
            if done is None:
                return
            answer, headers = done
            assert answer.status in (200, 201), str(answer)
            fid = headers["location"].rsplit("/items/", 1)[1]
            with self.edits.lock:
                self.edits.created[tag] = fid
            etag = headers["etag"]
            for n in range(PATCHES_PER_CREATE):
                etag = self.patch(fid, f"{tag} #{n}", etag) or ""
                if not etag:
                    return

    def patch(self, fid: str, name: str, etag: str) -> str | None:
        headers = {"Content-Type": "application/merge-patch+json", "If-Match": etag}
        done = self.call(f"{PARKS}/{fid}", "PATCH", {"properties": {"name": name}}, **headers)
        if done is None:
            return None
        answer, got = done
        if answer.status == 412:  # an earlier attempt committed and its answer was lost
            current = self.call(f"{PARKS}/{fid}", "GET", None)
            if current is None:
                return None
            assert current[0].json()["properties"]["name"] == name, str(current[0])
            got = current[1]
        else:
            assert answer.status in (200, 204), str(answer)
        with self.edits.lock:
            self.edits.patched.append((fid, name))
        return got["etag"]


def _park(tag: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [106.65, 11.05]},
        "properties": {
            "name": tag,
            "kind": "KCN",
            "status": "planned",
            "source": tag,
            "geometry_quality": "approximate",
        },
    }


@pytest.fixture
def editor_auth(own_cluster: tuple[ThrowawayCluster, Settings]) -> Iterator[str]:
    admin = Admin(own_cluster[1])
    try:
        name = f"crash-editor-{uuid.uuid4().hex[:6]}"
        admin.add_user(name)
        admin.set_grant(name, "industrial_parks", "editor")
        key = admin.create_key(name).token
    finally:
        admin.close()
    yield basic(name, key)["Authorization"]


def test_acknowledged_edits_survive_ten_immediate_stops(
    own_cluster: tuple[ThrowawayCluster, Settings], editor_auth: str
) -> None:
    cluster, settings = own_cluster
    edits, stop = Edits(), threading.Event()
    downs: list[tuple[float, float]] = []
    with server_process(settings.dsn) as server:
        workers = [
            threading.Thread(target=Client(server.base, editor_auth, edits, stop).run, daemon=True)
            for _ in range(CLIENTS)
        ]
        for worker in workers:
            worker.start()
        for _ in range(CRASHES):
            time.sleep(0.8)
            down = time.monotonic()
            cluster.stop("immediate")
            time.sleep(0.4)
            cluster.start(wait=False)
            downs.append((down, cluster.wait_ready()))
        wait_for(lambda: _recent_success(edits), 15)
        time.sleep(0.5)
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        alive, log = server.process.poll() is None, server.log()
    with psycopg.connect(settings.dsn) as conn:
        rows = conn.execute("SELECT source, code FROM industrial_parks WHERE source LIKE 'crash test %'").fetchall()
        created = conn.execute(
            "SELECT row->>'source', count(*) FROM industrial_parks_history WHERE op = 'I' "
            "AND row->>'source' LIKE 'crash test %' GROUP BY 1"
        ).fetchall()
        names = conn.execute(
            "SELECT feature_key, row->>'name', count(*) FROM industrial_parks_history "
            "WHERE row->>'source' LIKE 'crash test %' GROUP BY 1, 2"
        ).fetchall()
    in_table: dict[str, list[str]] = {}
    for source, code in rows:
        in_table.setdefault(source, []).append(code)
    creations = dict(created)
    versions = {(key, name): n for key, name, n in names}
    refused = [any(d <= a.started < r and a.status == 503 for a in edits.answers) for d, r in downs]
    after_last = [a for a in edits.answers if a.started > downs[-1][1] and a.status in (200, 201, 204)]

    print(
        f"\n[edit crash] {len(edits.created)} creates and {len(edits.patched)} PATCHes acknowledged across "
        f"{CRASHES} immediate stops; {sum(a.status == 503 for a in edits.answers)} answers were 503"
    )
    assert alive, "the API process exited"
    assert "unexpected error" not in log, log[-3000:]
    assert len(edits.created) > CRASHES, "too few edits to say anything"
    for tag, fid in edits.created.items():
        assert in_table.get(tag) == [fid], (tag, in_table.get(tag))
        assert creations.get(tag) == 1, (tag, creations.get(tag))
    assert set(in_table) <= edits.attempted_creates
    assert all(len(codes) == 1 for codes in in_table.values()), "a create was applied twice"
    for fid, name in edits.patched:
        assert versions.get((fid, name)) == 1, (fid, name, versions.get((fid, name)))
    failed = [a for a in edits.answers if a.status >= 500 and not a.well_formed_503()]
    assert not failed, "\n".join(map(str, failed[:10]))
    assert sum(refused) >= CRASHES - 2, f"503 in only {sum(refused)} of {CRASHES} outages"
    assert after_last, "no edit served after the last restart: the API did not recover by itself"


def _recent_success(edits: Edits) -> bool:
    """The API served an edit after the last restart: it recovered without being restarted itself."""
    with edits.lock:
        latest = edits.answers[-20:]
    return any(a.status in (200, 201, 204) for a in latest)
