"""Fresh everywhere at once: a committed write reaches every worker through LISTEN/NOTIFY (migration 0006).

The listener alone, on the real database: a write (as the loader or psql would make it) updates its
versions within a second without a query of its own, and it reads everything again after losing its
connection. Then two real server processes with polling made useless (versions re-read once a minute): an
edit through one is visible in the other's tiles (a new tile ETag) within a second; the latency is printed.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import urllib.error
import urllib.request
from typing import Any

import morecantile
import pytest
from sqlalchemy import Engine, text

from gis_service.auth.admin import Admin
from gis_service.notify import NotifiedVersions, listen_dsn, parse_payload
from gis_service.settings import Settings
from gis_service.tilecache import Versions
from tests.accessdata import Account, account, auth
from tests.editdata import TEST_SOURCE, park
from tests.serverproc import server_process

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("edits_removed")]
LON, LAT = 106.65, 11.05
VISIBLE_WITHIN_S = 3.0  # a notification arrives in milliseconds; the bound allows for a loaded host


class NeverPolled:
    """A fallback that fails the test if the listener ever needs it."""

    calls = 0

    async def current(self) -> Versions:
        self.calls += 1
        return {}

    async def close(self) -> None:
        return None


def test_payload_renders_time_as_the_polled_read_does() -> None:
    layer, (version, changed) = parse_payload(
        '{"layer": "parcels", "version": 7, "changed_at": "2026-01-02T03:04:05.5"}'
    )
    assert (layer, version, changed) == ("parcels", 7, "2026-01-02T03:04:05.500000+00:00")


def bump(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE industrial_parks SET status = status WHERE code = (SELECT min(code) FROM industrial_parks)")
        )


async def _wait_for(versions: NotifiedVersions, layer: str, above: int, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if (await versions.current())[layer][0] > above:
            return time.monotonic() - started
        await asyncio.sleep(0.005)
    raise AssertionError(f"{layer} stayed at version {above} for {timeout} s")


def test_listener_learns_of_writes_without_querying(migrated: Settings, bundled: Engine) -> None:
    async def scenario() -> None:
        fallback = NeverPolled()
        dsn = listen_dsn(migrated)
        assert dsn is not None
        versions = NotifiedVersions(dsn, fallback, retry_s=0.1)
        await versions.start()
        try:
            assert versions.live
            before = (await versions.current())["industrial_parks"]
            reads = versions.stats.full_reads
            await asyncio.to_thread(bump, bundled)
            seconds = await _wait_for(versions, "industrial_parks", before[0], VISIBLE_WITHIN_S)
            assert versions.stats.full_reads == reads, "the write was learnt by a query, not a notification"
            polled = await asyncio.to_thread(_polled_versions, bundled)
            assert (await versions.current())["industrial_parks"] == polled["industrial_parks"]
            print(f"\n[notify] write visible to the listener after {seconds * 1000:.1f} ms")
            # The connection is lost (terminated by the server): the listener reconnects and reads again.
            await asyncio.to_thread(_terminate_listener, bundled)
            started = time.monotonic()
            while versions.stats.connects < 2 or not versions.live:
                assert time.monotonic() - started < 5, "the listener did not reconnect"
                await asyncio.sleep(0.02)
            assert versions.stats.full_reads == reads + 1
            before_again = (await versions.current())["industrial_parks"][0]
            await asyncio.to_thread(bump, bundled)
            await _wait_for(versions, "industrial_parks", before_again, VISIBLE_WITHIN_S)
            assert fallback.calls == 0
        finally:
            await versions.close()

    asyncio.run(scenario())


def _polled_versions(engine: Engine) -> dict[str, tuple[int, str]]:
    from gis_service.queries import meta

    with engine.connect() as conn:
        return {r.layer: (r.version, r.changed_at.isoformat()) for r in conn.execute(meta.layer_versions())}


def _terminate_listener(engine: Engine) -> None:
    with engine.connect() as conn:
        ended = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'gis_service listen' AND datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        ).scalar()
    assert ended and ended >= 1


# ---- two server processes --------------------------------------------------------------------------


def request(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            response.read()
            return response.status, response.headers
    except urllib.error.HTTPError as exc:
        with exc:
            exc.read()
            return exc.code, exc.headers


@pytest.fixture(scope="module")
def planner(admin: Admin) -> Account:
    return account(admin, "notify-planner", ("industrial_parks", "editor"))


def test_edit_through_one_worker_is_in_the_other_workers_tiles_within_a_second(
    migrated: Settings, bundled: Engine, planner: Account
) -> None:
    slow_polling = {"GIS_CACHE__VERSIONS_MAX_AGE_MS": "60000"}  # only a notification can be this fast
    tile = morecantile.tms.get("WebMercatorQuad").tile(LON, LAT, 12)
    path = f"/collections/industrial_parks/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
    write = {**auth(planner), "Content-Type": "application/geo+json"}
    with server_process(migrated.dsn, env=slow_polling) as one, server_process(migrated.dsn, env=slow_polling) as two:
        baseline = _tile_etag(two.base + path)
        started = time.monotonic()
        status, headers = request("POST", one.base + "/collections/industrial_parks/items", park(), write)
        assert status == 201
        item = headers["Location"].replace(one.base, "")
        _changes_within(two.base + path, baseline, started)  # the other worker learnt of the new park
        latencies = []
        for n in range(8):
            before = _tile_etag(two.base + path)
            assert _tile_etag(two.base + path) == before  # warm: the cached tile keeps its ETag
            patch = {"properties": {"name": f"KCN thử {n}", "source": TEST_SOURCE}}
            started = time.monotonic()
            status, _ = request(
                "PATCH", one.base + item, patch, {**write, "Content-Type": "application/merge-patch+json"}
            )
            assert status in (200, 204)
            latencies.append(_changes_within(two.base + path, before, started))
    print(
        f"\n[notify] edit-to-visible-in-tiles with two workers: median {statistics.median(latencies) * 1000:.0f} ms,"
        f" max {max(latencies) * 1000:.0f} ms over {len(latencies)} edits"
    )
    assert max(latencies) < VISIBLE_WITHIN_S


def _changes_within(url: str, before: str, started: float) -> float:
    """Seconds from ``started`` until the tile at ``url`` has another ETag than ``before``, polled up to the bound:
    a notification reaches the other worker some milliseconds after the commit, not before its next request."""
    while _tile_etag(url) == before:
        assert time.monotonic() - started < VISIBLE_WITHIN_S, "the edit is not in the other worker's tiles"
        time.sleep(0.005)
    return time.monotonic() - started


def _tile_etag(url: str) -> str:
    status, headers = request("GET", url)
    assert status in (200, 204), status
    return str(headers["ETag"])
