"""A tiny pool held by slow requests (real queries waiting on a lock): other requests get 503 problem+json
with Retry-After within the pool wait bound, and cached tiles are still served at once meanwhile."""

from __future__ import annotations

import statistics

import morecantile
import pytest
from sqlalchemy import Engine

from gis_service.settings import Settings
from tests.faults.http import fetch, in_background
from tests.faults.locks import table_locked, wait_until_blocked
from tests.serverproc import server_process

pytestmark = pytest.mark.timeout(120)
POOL_WAIT_S = 1.5
TINY_POOL = {
    "GIS_DB__POOL_SIZE": "1",
    "GIS_DB__MAX_OVERFLOW": "0",
    "GIS_DB__POOL_TIMEOUT_S": str(POOL_WAIT_S),
}


def tile(zoom: int, lon: float = 106.65, lat: float = 11.0) -> str:
    t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, zoom)
    return f"/tiles/admin_units/{t.z}/{t.x}/{t.y}.pbf"


def test_full_pool_answers_503_in_time_and_cached_tiles_still_flow(migrated: Settings, bundled: Engine) -> None:
    with server_process(migrated.dsn, env=TINY_POOL) as server:
        cached = [server.base + tile(z) for z in (9, 10, 11)]
        assert all(fetch(url).status == 200 for url in cached)
        with table_locked(migrated.dsn, "admin_units"):
            slow, slow_answer = in_background(server.base + "/collections/admin_units/items?limit=3")
            wait_until_blocked(migrated.dsn)  # the only pooled connection now waits on the lock
            waiting = [in_background(server.base + "/collections/industrial_parks/items?limit=1") for _ in range(4)]
            hits = [fetch(url) for url in cached * 5]
            cold = fetch(server.base + tile(12))
            for thread, _ in waiting:
                thread.join(timeout=30)
            turned_away = [answer for _, answers in waiting for answer in answers]
        slow.join(timeout=30)
        after = fetch(server.base + "/collections/industrial_parks/items?limit=1")

    assert [a.status for a in hits] == [200] * len(hits)
    assert max(a.seconds for a in hits) < 0.5 and statistics.median(a.seconds for a in hits) < 0.1, [
        round(a.seconds, 3) for a in hits
    ]
    assert len(turned_away) == 4
    for answer in [*turned_away, cold]:
        assert answer.well_formed_503(), str(answer)
        assert answer.json()["title"] == "Service busy"
        assert POOL_WAIT_S - 0.1 <= answer.seconds < POOL_WAIT_S + 1.5, str(answer)
    assert slow_answer and slow_answer[0].status == 200, slow_answer
    assert after.status == 200
