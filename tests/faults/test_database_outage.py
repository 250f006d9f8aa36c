"""PostgreSQL stopped, started (and held in start-up) and crashed under load, on a cluster of the test's
own, behind a real server process: the API answers 503 problem+json with Retry-After while the database is
away, never 500, is healthy again within 2 s of PostgreSQL accepting connections, and never restarts."""

from __future__ import annotations

import time

import morecantile
import pytest

from gis_service.settings import Settings
from tests.faults.cluster import ThrowawayCluster, refuses_as_starting_up
from tests.faults.http import Answer, clients, fetch, wait_for
from tests.serverproc import server_process

pytestmark = pytest.mark.timeout(240)
LON, LAT = 106.7266, 10.9312
#: Back in service within this many seconds of PostgreSQL accepting connections again.
RECOVERY_S = 2.0
DB_PATHS = (
    "/health",
    "/collections/industrial_parks/items?limit=5",
    "/collections/admin_units/items/1",
    f"/analysis/locate?lon={LON}&lat={LAT}",
    "/analysis/area-stats?collection=industrial_parks&by=status",
)


def tile_paths(zoom: int) -> list[str]:
    """Distinct tiles over the province: most are rendered (a query) the first time a client asks."""
    tms = morecantile.tms.get("WebMercatorQuad")
    tiles = tms.tiles(106.45, 10.9, 106.95, 11.45, zooms=[zoom])
    return [f"/tiles/admin_units/{t.z}/{t.x}/{t.y}.pbf" for t in tiles]


def back_in_service(base: str) -> bool:
    return all(fetch(base + path, timeout=5).status == 200 for path in DB_PATHS)


def test_stopped_starting_up_and_crashed_database_under_load(own_cluster: tuple[ThrowawayCluster, Settings]) -> None:
    cluster, settings = own_cluster
    with server_process(settings.dsn) as server:
        assert back_in_service(server.base), server.log()
        tiles = tile_paths(13)  # one request in three needs the database even when every tile is cached
        paths = [p for i, tile in enumerate(tiles) for p in (tile, tile, DB_PATHS[i % len(DB_PATHS)])]
        urls = [server.base + p for p in paths]
        with clients(urls, threads=6) as load:
            time.sleep(1.0)
            cluster.stop("fast")  # in-flight queries end with 57P01; then connections are refused
            down = time.monotonic()
            time.sleep(2.0)
            cluster.start(standby=True)  # accepting TCP, answering 57P03 like a server starting up
            wait_for(lambda: refuses_as_starting_up(cluster), 30)
            starting = time.monotonic()
            time.sleep(2.0)
            promoted = time.monotonic()
            cluster.promote()
            ready = cluster.wait_ready()
            healthy = wait_for(lambda: back_in_service(server.base), 15)
            time.sleep(1.0)
            crash = time.monotonic()
            cluster.crash_a_backend("gis")  # every session ends (57P02), then crash recovery (57P03)
            ready_again = cluster.wait_ready()
            healthy_again = wait_for(lambda: back_in_service(server.base), 15)
            time.sleep(1.0)
        alive = server.process.poll() is None
        log = server.log()
    answers = load.answers

    print(  # the figures the closing report quotes; the assertions below bound them
        f"\n[outage] answers={len(load.answers)} 503s={sum(a.status == 503 for a in load.answers)}"
        f" healthy {healthy - ready:.2f} s after restart, {healthy_again - ready_again:.2f} s after crash recovery"
    )
    assert alive, "the API process exited"
    assert "unexpected error" not in log, log[-3000:]
    assert not [a for a in answers if a.status == 0], "requests the API did not answer"
    bad = [a for a in answers if a.status >= 500 and not a.well_formed_503()]
    assert not bad, "\n".join(map(str, bad[:10]))
    assert max(a.seconds for a in answers) < 5.0, "a request hung"

    def database_only(window: list[Answer]) -> list[Answer]:
        return [a for a in window if "/tiles/" not in a.url]

    stopped, held = database_only(load.between(down, starting)), database_only(load.between(starting, promoted))
    assert len(stopped) > 5 and len(held) > 5, (len(stopped), len(held))
    assert all(a.status == 503 for a in stopped + held), [str(a) for a in stopped + held if a.status != 503][:5]
    titles = {a.json()["title"] for a in stopped + held}
    assert titles == {"Database unavailable"}
    assert [a for a in load.between(crash, ready_again) if a.status == 503], "the crash went unnoticed"
    assert healthy - ready <= RECOVERY_S, f"healthy {healthy - ready:.2f} s after PostgreSQL was ready"
    assert healthy_again - ready_again <= RECOVERY_S, f"healthy {healthy_again - ready_again:.2f} s after recovery"
    assert [a for a in load.between(healthy_again, time.monotonic()) if a.status == 200]
