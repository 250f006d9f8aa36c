"""Admission of heavy work: analyses and map pages wait in bounded queues of their own, so they cannot
starve cheap requests.

A heavy analysis holds a pooled connection and a core of PostgreSQL for up to seconds; a Folium map page is
~100 ms of Python in a worker thread, which takes the interpreter lock from the event loop that serves
everything else. Left alone, a burst of either takes every connection or the loop, and the items and tiles
behind them wait. Here each worker runs at most ``admission.concurrency`` analyses and
``admission.map_concurrency`` map pages at once; up to ``admission.queue`` more of each wait at most
``admission.wait_s`` for a slot, and any beyond that get 503 with ``Retry-After`` at once. The slot is
taken before the request's connection (the dependency runs at router level, ahead of the handler's own),
so a waiting request holds no connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import orjson
from fastapi import Request

from gis_service.errors import ServiceBusy
from gis_service.settings import AdmissionSettings

#: Operation ids of the routes that always count as heavy.
HEAVY_OPERATIONS = frozenset(
    {"siteSelection", "areaStats", "corridor", "reassign", "postRasterStatistics", "getRasterUnitStatistics"}
)
#: Heavy when the distance asked for exceeds ``admission.nearby_heavy_m``.
NEARBY_OPERATIONS = frozenset({"nearby", "nearbyGeometry"})
#: Map pages rendered by Folium (the index is a short list: not one of them).
MAP_OPERATIONS = frozenset({"getPlanningMap", "getCollectionMap"})


@dataclass
class GateStats:
    admitted: int = 0
    rejected_full: int = 0
    rejected_wait: int = 0


class Gate:
    """A semaphore with a bounded queue and a bounded wait; one per worker process."""

    def __init__(
        self, concurrency: int, queue: int, wait_s: float, work: tuple[str, str] = ("heavy analysis", "heavy analyses")
    ) -> None:
        self.concurrency, self.queue, self.wait_s = concurrency, queue, wait_s
        #: What waits here, singular and plural, for the 503's detail.
        self.one, self.many = work
        self.stats = GateStats()
        self._slots = asyncio.Semaphore(concurrency)
        self._waiting = 0

    @property
    def waiting(self) -> int:
        return self._waiting

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._slots.locked() and self._waiting >= self.queue:
            self.stats.rejected_full += 1
            raise ServiceBusy(
                f"{self.concurrency} {self.many} are running and {self._waiting} are waiting; try again shortly"
            )
        self._waiting += 1
        try:
            async with asyncio.timeout(self.wait_s):
                await self._slots.acquire()
        except TimeoutError:
            self.stats.rejected_wait += 1
            raise ServiceBusy(f"no slot for a {self.one} became free within {self.wait_s:g} s") from None
        finally:
            self._waiting -= 1
        self.stats.admitted += 1
        try:
            yield
        finally:
            self._slots.release()


class Admission:
    """Decides which gate, if any, a request passes: analyses, map pages, or none (cheap)."""

    def __init__(self, settings: AdmissionSettings) -> None:
        self.settings = settings
        self.gate = Gate(settings.concurrency, settings.queue, settings.wait_s)
        self.maps = Gate(settings.map_concurrency, settings.queue, settings.wait_s, ("map page", "map pages"))

    async def gate_for(self, request: Request) -> Gate | None:
        route = request.scope.get("route")
        operation = getattr(route, "operation_id", None)
        if operation in HEAVY_OPERATIONS:
            return self.gate
        if operation in MAP_OPERATIONS:
            return self.maps
        if operation in NEARBY_OPERATIONS:
            distance = await _distance_m(request)
            return self.gate if distance is not None and distance > self.settings.nearby_heavy_m else None
        return None


async def _distance_m(request: Request) -> float | None:
    """``distance_m`` of a nearby request (query or JSON body); None when absent or not a number, which the
    route's own validation then answers."""
    raw: object = request.query_params.get("distance_m")
    if request.method == "POST":
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        raw = body.get("distance_m") if isinstance(body, dict) else None
    try:
        return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


async def admit_heavy(request: Request) -> AsyncIterator[None]:
    """Router-level dependency: heavy work waits for a slot (bounded) or gets 503; cheap requests pass."""
    admission: Admission = request.app.state.admission
    gate = await admission.gate_for(request)
    if gate is None:
        yield
        return
    async with gate.slot():
        yield
