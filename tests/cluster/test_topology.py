"""The scale-out topology working as one: replication, reads on replicas, read-your-writes, both API
processes, PgBouncer in transaction mode, and reads that survive a killed and a paused replica."""

from __future__ import annotations

import asyncio
import re
import signal
import statistics
import threading
import time
from collections import Counter
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import text

from gis_service import cluster, db
from gis_service.auth import dbroles
from gis_service.settings import load_settings
from tests.accessdata import Account, auth
from tests.cluster.conftest import pg_ctl, query, signal_server

pytestmark = pytest.mark.cluster

PARKS = "/collections/industrial_parks/items"
LSN = re.compile(r"[0-9A-F]{1,8}/[0-9A-F]{1,8}")
#: A parcel-free bbox inside the province: a different one per request, so no cache answers it.
WEST, SOUTH = 106.40, 10.90


def bbox(i: int) -> str:
    dx = (i % 97) / 1000
    return f"{WEST + dx},{SOUTH},{WEST + dx + 0.5},{SOUTH + 0.4}"


def park(name: str) -> dict[str, Any]:
    props = {"name": name, "kind": "KCN", "status": "planned", "source": "test: cluster"}
    props["geometry_quality"] = "approximate"
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [106.65, 11.05]}, "properties": props}


def park_scans(url: str) -> int:
    rows = query(url, "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
                      "WHERE relname = 'industrial_parks'")  # fmt: skip
    return int(rows[0][0])  # type: ignore[call-overload]


def test_writes_on_the_primary_show_on_the_replicas(topology: cluster.Topology) -> None:
    states = query(topology.primary_url, "SELECT application_name, state FROM pg_stat_replication ORDER BY 1")
    assert states == [("replica1", "streaming"), ("replica2", "streaming")]
    lags = []
    with (
        psycopg.connect(topology.primary_url, autocommit=True) as primary,
        psycopg.connect(topology.replica_urls[0], autocommit=True) as replica,
    ):
        primary.execute("CREATE TABLE IF NOT EXISTS lag_probe (id int PRIMARY KEY, geom geometry(Point, 4326))")
        for i in range(200):
            primary.execute("INSERT INTO lag_probe VALUES (%s, ST_Point(106.6, 11.0, 4326))", (i,))
            lsn = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]  # type: ignore[index]
            started = time.perf_counter()
            while not replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]:  # type: ignore[index]
                assert time.perf_counter() - started < 5, "replica did not replay within 5 s"
                time.sleep(0.0005)
            lags.append(time.perf_counter() - started)
            assert replica.execute("SELECT count(*) FROM lag_probe WHERE id = %s", (i,)).fetchone()[0] == 1  # type: ignore[index]
        primary.execute("DROP TABLE lag_probe")
    p99 = statistics.quantiles(lags, n=100)[98]
    print(f"replication lag over 200 commits: p50 {statistics.median(lags) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms")
    assert p99 < 0.1


def test_reads_are_served_by_the_replicas(topology: cluster.Topology) -> None:
    """Counted where it happens: scans of the parks table on each server while 200 reads run."""
    servers = [topology.primary_url, *topology.replica_urls]
    before = [park_scans(url) for url in servers]
    with httpx.Client(timeout=10) as client:
        for i in range(200):
            base = topology.api_urls[i % 2]
            answer = client.get(f"{base}{PARKS}", params={"bbox": bbox(i), "limit": 5})
            assert answer.status_code == 200, answer.text
    primary, *replicas = [park_scans(url) - b for url, b in zip(servers, before, strict=True)]
    share = sum(replicas) / (sum(replicas) + primary)
    print(f"parks scans: primary {primary}, replicas {replicas} ({share:.1%} on replicas)")
    assert share >= 0.95
    assert all(count > 0 for count in replicas), "round-robin reaches both replicas"


def test_the_author_reads_every_edit_at_once(topology: cluster.Topology, editor: Account) -> None:
    """Create then 40 × (edit on one API process, read at once on the other): the write's WAL position (a
    cookie) makes the read wait for a replica that has it, or go to the primary."""
    apis = topology.api_urls
    with httpx.Client(timeout=10, headers=auth(editor)) as client:
        created = client.post(f"{apis[0]}{PARKS}", json=park("KCN cụm thử 0"),
                              headers={"Content-Type": "application/geo+json"})  # fmt: skip
        assert created.status_code == 201, created.text
        assert LSN.fullmatch(created.headers["X-WAL-LSN"])
        assert client.cookies.get("gis_wal_lsn") == created.headers["X-WAL-LSN"].replace("/", "-")
        item = created.headers["Location"].rsplit("/items/", 1)[1]
        seen = 0
        for i in range(1, 41):
            etag = client.get(f"{apis[i % 2]}{PARKS}/{item}").headers["ETag"]
            patch = {"properties": {"name": f"KCN cụm thử {i}"}}
            headers = {"Content-Type": "application/merge-patch+json", "If-Match": etag}
            assert client.patch(f"{apis[i % 2]}{PARKS}/{item}", json=patch, headers=headers).status_code in (200, 204)
            answer = client.get(f"{apis[(i + 1) % 2]}{PARKS}/{item}")
            seen += answer.json()["properties"]["name"] == f"KCN cụm thử {i}"
        assert seen == 40
        assert client.delete(f"{apis[0]}{PARKS}/{item}").status_code == 204


def test_a_malformed_wal_position_is_a_400(topology: cluster.Topology) -> None:
    answer = httpx.get(f"{topology.api_urls[0]}{PARKS}", headers={"X-WAL-LSN": "1/2; drop"}, timeout=10)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "X-WAL-LSN" in answer.text


def test_both_api_processes_serve_behind_nginx(topology: cluster.Topology) -> None:
    upstreams: Counter[str] = Counter()
    with httpx.Client(timeout=10) as client:
        for i in range(40):
            answer = client.get(f"{topology.nginx_url}{PARKS}", params={"bbox": bbox(i), "limit": 1, "n": i})
            assert answer.status_code in (200, 400), answer.text
            upstreams[answer.headers["X-Upstream"]] += 1
    assert set(upstreams) == {f"127.0.0.1:{port}" for port in topology.api_ports}, upstreams


def test_pgbouncer_transaction_mode_with_the_caches_off(topology: cluster.Topology, secrets: dict[str, str]) -> None:
    """30 tasks × 20 queries of 8 kinds through PgBouncer 1.18 as the app role: none fails, and the role's
    statement timeout is what the server applies (PgBouncer passes no startup settings)."""
    settings = load_settings(
        database_url=topology.url(topology.pgbouncer_port),
        db={"pooler": "pgbouncer", "app_role": dbroles.APP, "app_password": secrets["GIS_DB__APP_PASSWORD"]},
    )
    statements = [text(f"SELECT count(*) + {k} FROM industrial_parks WHERE id > :n") for k in range(8)]

    async def run() -> tuple[int, str]:
        engine = db.async_engine(settings, pool_size=5, max_overflow=5)
        failures = 0

        async def task(t: int) -> None:
            nonlocal failures
            for q in range(20):
                try:
                    async with engine.connect() as conn:
                        await conn.execute(statements[(t + q) % 8], {"n": q})
                except Exception:
                    failures += 1

        await asyncio.gather(*(task(t) for t in range(30)))
        async with engine.connect() as conn:
            timeout = str((await conn.execute(text("SHOW statement_timeout"))).scalar())
        await engine.dispose()
        return failures, timeout

    failures, timeout = asyncio.run(run())
    assert failures == 0
    assert timeout == "15s"


def test_600_mixed_requests_all_succeed(topology: cluster.Topology, editor: Account) -> None:
    """Reads (items, tiles, an analysis) and edits (each client its own feature) from 12 clients at once over
    both API processes, 600 requests: the edits go through PgBouncer, and so do reads after them when no
    replica has caught up yet."""
    apis = topology.api_urls
    failures: list[str] = []

    def client_run(c: int) -> None:
        with httpx.Client(timeout=20, headers=auth(editor)) as client:
            created = client.post(
                f"{apis[c % 2]}{PARKS}", json=park(f"KCN hỗn hợp {c}"), headers={"Content-Type": "application/geo+json"}
            )
            if created.status_code != 201:
                failures.append(f"POST: {created.status_code} {created.text[:200]}")
                return
            item = created.headers["Location"].rsplit("/items/", 1)[1]
            for i in range(49):  # with the create: 50 a client
                base = apis[(c + i) % 2]
                kind = i % 5
                if kind == 0:
                    answer = client.patch(f"{base}{PARKS}/{item}", json={"properties": {"status": "planned"}},
                                          headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
                elif kind == 1:
                    answer = client.get(
                        f"{base}/collections/industrial_parks/tiles/WebMercatorQuad/10/814/{483 + i % 3}"
                    )
                elif kind == 2:
                    answer = client.get(f"{base}/analysis/locate", params={"lon": 106.7266, "lat": 10.9312})
                else:
                    answer = client.get(f"{base}{PARKS}", params={"bbox": bbox(c * 50 + i), "limit": 3})
                if answer.status_code >= 400:
                    failures.append(
                        f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text[:200]}"
                    )

    threads = [threading.Thread(target=client_run, args=(c,)) for c in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [], failures[:5]


class ReadLoad:
    """Reads from 4 threads over both API processes until stopped; every failure is kept."""

    def __init__(self, topology: cluster.Topology) -> None:
        self.topology, self.stop, self.failures, self.count = topology, threading.Event(), [], 0
        self.latencies: list[float] = []
        self.threads = [threading.Thread(target=self._run, args=(t,)) for t in range(4)]

    def __enter__(self) -> ReadLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def _run(self, t: int) -> None:
        with httpx.Client(timeout=30) as client:
            i = 0
            while not self.stop.is_set():
                i += 1
                started = time.perf_counter()
                try:
                    answer = client.get(f"{self.topology.api_urls[(t + i) % 2]}{PARKS}",
                                        params={"bbox": bbox(t * 1000 + i), "limit": 3})  # fmt: skip
                    if answer.status_code != 200:
                        self.failures.append(f"{answer.status_code} {answer.text[:200]}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.latencies.append(time.perf_counter() - started)
                self.count += 1


def test_no_read_fails_while_a_replica_is_killed(topology: cluster.Topology) -> None:
    data = topology.path / cluster.REPLICAS[0]
    with ReadLoad(topology) as load:
        time.sleep(1.0)
        pg_ctl(data, "-m", "immediate", "stop")
        time.sleep(2.0)
        during = load.count
    assert load.failures == [], load.failures[:5]
    assert during > 50
    options = f"-p {topology.replica_ports[0]} -k {topology.path}"
    pg_ctl(data, "-o", options, "-l", f"{data}.log", "-w", "start")


def test_no_read_fails_while_a_replica_is_paused(topology: cluster.Topology) -> None:
    data = topology.path / cluster.REPLICAS[1]
    with ReadLoad(topology) as load:
        time.sleep(1.0)
        signal_server(data, signal.SIGSTOP)
        try:
            time.sleep(3.0)
        finally:
            signal_server(data, signal.SIGCONT)
        time.sleep(0.5)
    assert load.failures == [], load.failures[:5]
    slowest = max(load.latencies)
    print(f"{load.count} reads while replica2 was paused 3 s; slowest {slowest:.2f} s")
    assert load.count > 50
