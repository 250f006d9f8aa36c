"""Heavy analyses and map pages queue for slots of their own: beyond the queue they get 503 at once, past
the wait bound 503 with Retry-After, and while they queue they hold no connection, so cheap requests keep
flowing."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import Engine

from gis_service.admission import Gate
from gis_service.errors import ServiceBusy
from gis_service.settings import Settings
from tests.faults.http import fetch, in_background
from tests.faults.locks import table_locked, wait_until_blocked
from tests.serverproc import server_process

pytestmark = pytest.mark.timeout(120)
WAIT_S = 3.0
ONE_SLOT = {
    "GIS_ADMISSION__CONCURRENCY": "1",
    "GIS_ADMISSION__QUEUE": "1",
    "GIS_ADMISSION__WAIT_S": str(WAIT_S),
    "GIS_ADMISSION__NEARBY_HEAVY_M": "5000",
    "GIS_DB__POOL_SIZE": "2",
    "GIS_DB__MAX_OVERFLOW": "0",
    "GIS_DB__POOL_TIMEOUT_S": "1",
}
LON, LAT = 106.7266, 10.9312
HEAVY = "/analysis/area-stats?collection=industrial_parks&by=status"


def nearby(distance_m: int) -> str:
    return f"/analysis/nearby?collection=rivers&lon={LON}&lat={LAT}&distance_m={distance_m}"


def test_heavy_analyses_wait_in_their_own_bounded_queue(migrated: Settings, bundled: Engine) -> None:
    with server_process(migrated.dsn, env=ONE_SLOT) as server:
        base = server.base
        assert fetch(base + HEAVY).status == 200
        with table_locked(migrated.dsn, "industrial_parks"):
            running, running_answer = in_background(base + HEAVY)  # admitted, then blocked on the lock
            wait_until_blocked(migrated.dsn)
            queued, queued_answer = in_background(base + "/analysis/corridor?project=QL13&width_m=60")
            time.sleep(0.3)  # the corridor analysis is now the one waiting in the queue
            full = fetch(base + HEAVY)
            far = fetch(base + nearby(20_000))
            far_posted = fetch(
                base + "/analysis/nearby",
                method="POST",
                body={
                    "collection": "rivers",
                    "distance_m": 20_000,
                    "geometry": {"type": "Point", "coordinates": [LON, LAT]},
                },
            )
            cheap = [
                fetch(base + nearby(1_000)),
                fetch(base + "/analysis/crosswalk?code=25741"),
                fetch(base + "/collections/admin_units/items?limit=2"),
            ]
            queued.join(timeout=30)
        running.join(timeout=30)
        again = fetch(base + HEAVY)

    for answer in (full, far, far_posted):
        assert answer.well_formed_503(), str(answer)
        assert answer.json()["title"] == "Service busy" and answer.seconds < 0.5, str(answer)
        assert "heavy analyses are running" in answer.json()["detail"], str(answer)
    assert [a.status for a in cheap] == [200, 200, 200], [str(a) for a in cheap]
    assert queued_answer and queued_answer[0].well_formed_503(), queued_answer
    assert "no slot for a heavy analysis" in queued_answer[0].json()["detail"], str(queued_answer[0])
    assert WAIT_S - 0.1 <= queued_answer[0].seconds < WAIT_S + 1.5, str(queued_answer[0])
    assert running_answer and running_answer[0].status == 200, running_answer
    assert again.status == 200


def test_gate_admits_in_order_and_bounds_queue_and_wait() -> None:
    async def scenario() -> tuple[list[str], int, int]:
        gate, events = Gate(concurrency=1, queue=1, wait_s=0.2), []

        async def job(name: str, hold: float) -> None:
            try:
                async with gate.slot():
                    events.append(f"{name} in")
                    await asyncio.sleep(hold)
            except ServiceBusy:
                events.append(f"{name} busy")

        first = asyncio.create_task(job("a", 0.1))
        await asyncio.sleep(0.01)
        second = asyncio.create_task(job("b", 0))  # waits for a
        await asyncio.sleep(0.01)
        await job("c", 0)  # the queue (1) is full: turned away at once
        await asyncio.gather(first, second)
        slow = asyncio.create_task(job("d", 0.5))
        await asyncio.sleep(0.01)
        await job("e", 0)  # waits 0.2 s, then gives up
        await slow
        return events, gate.stats.rejected_full, gate.stats.rejected_wait

    events, full, waited = asyncio.run(scenario())
    assert events == ["a in", "c busy", "b in", "d in", "e busy"]
    assert (full, waited) == (1, 1)


def test_map_pages_queue_apart_from_analyses(migrated: Settings, bundled: Engine) -> None:
    """One map page renders at a time per worker: a second waits (bounded), a third is turned away, and
    analyses and items are not held up by either."""
    env = {**ONE_SLOT, "GIS_ADMISSION__MAP_CONCURRENCY": "1", "GIS_DB__POOL_SIZE": "4"}
    with server_process(migrated.dsn, env=env) as server:
        base, page = server.base, "/maps/collections/industrial_parks"
        assert fetch(base + page).status == 200
        with table_locked(migrated.dsn, "industrial_parks"):
            rendering, rendered = in_background(base + page)  # holds the map slot, blocked on the lock
            wait_until_blocked(migrated.dsn)
            waiting, waited = in_background(base + "/maps/planning-2040")
            time.sleep(0.3)
            turned_away = fetch(base + page)
            others = [fetch(base + "/analysis/crosswalk?code=25741"), fetch(base + "/collections/rivers/items")]
            waiting.join(timeout=30)
        rendering.join(timeout=30)

    assert turned_away.well_formed_503() and turned_away.seconds < 0.5, str(turned_away)
    # the detail names what is queued: map pages, not analyses
    assert "1 map pages are running" in turned_away.json()["detail"], str(turned_away)
    assert "no slot for a map page" in waited[0].json()["detail"], str(waited[0])
    assert [a.status for a in others] == [200, 200], [str(a) for a in others]
    assert waited and waited[0].well_formed_503() and waited[0].seconds >= WAIT_S - 0.1, waited
    assert rendered and rendered[0].status == 200, rendered


def test_every_heavy_operation_names_a_route() -> None:
    """The admission rule names routes by operation id: a renamed route must not slip out of the queue."""
    from fastapi.routing import APIRoute

    from gis_service.admission import HEAVY_OPERATIONS, MAP_OPERATIONS, NEARBY_OPERATIONS
    from gis_service.routers import analysis, maps, raster

    routers = (analysis, raster, maps)
    operations = {r.operation_id for m in routers for r in m.router.routes if isinstance(r, APIRoute)}
    assert operations >= HEAVY_OPERATIONS | NEARBY_OPERATIONS | MAP_OPERATIONS
