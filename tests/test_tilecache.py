"""The tile cache on its own: byte bound, LRU order, single flight, failures, and a real Redis shared by two
caches (two workers). Redis is Debian's ``redis-server``, started here on a free loopback port."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, text

from gis_service import tilecache
from gis_service.catalog import Catalog
from gis_service.models import VERSIONED_TABLES
from gis_service.settings import CacheSettings, Settings
from gis_service.tilecache import ENTRY_OVERHEAD, PolledVersions, TileCache, Versions
from gis_service.tiles import layer_versions, render_batch
from tests.test_tiles import make_app


class CountingLoader:
    """A slow loader that counts its runs (the stand-in for one ``ST_AsMVT`` query)."""

    def __init__(self, value: bytes = b"tile", delay: float = 0.05, fail: bool = False) -> None:
        self.value, self.delay, self.fail, self.calls = value, delay, fail, 0

    async def __call__(self) -> bytes:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("database went away")
        return self.value


def test_single_flight_runs_one_load_for_simultaneous_requests() -> None:
    async def scenario() -> tuple[list[bytes], int, TileCache]:
        cache, loader = TileCache(), CountingLoader()
        values = await asyncio.gather(*(cache.get_or_load("k", loader) for _ in range(20)))
        return values, loader.calls, cache

    values, calls, cache = asyncio.run(scenario())
    assert values == [b"tile"] * 20 and calls == 1
    assert cache.stats.loads == 1 and cache.stats.joined == 19


def test_a_failed_load_reaches_every_waiter_and_is_not_cached() -> None:
    async def scenario() -> tuple[list[object], int]:
        cache, failing = TileCache(), CountingLoader(fail=True)
        results = await asyncio.gather(*(cache.get_or_load("k", failing) for _ in range(5)), return_exceptions=True)
        retry = CountingLoader(b"ok", delay=0)
        assert await cache.get_or_load("k", retry) == b"ok"
        return list(results), failing.calls + retry.calls

    results, calls = asyncio.run(scenario())
    assert all(isinstance(r, RuntimeError) for r in results) and calls == 2


def test_a_cancelled_waiter_does_not_cancel_the_load() -> None:
    async def scenario() -> tuple[bytes, int]:
        cache, loader = TileCache(), CountingLoader(delay=0.1)
        first = asyncio.ensure_future(cache.get_or_load("k", loader))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(cache.get_or_load("k", loader))
        first.cancel()
        return await second, loader.calls

    assert asyncio.run(scenario()) == (b"tile", 1)


def test_memory_bound_evicts_least_recently_used() -> None:
    async def scenario() -> TileCache:
        entry = 1000
        cache = TileCache(max_bytes=4 * (entry + 1 + ENTRY_OVERHEAD))
        for key in "abcd":
            await cache.get_or_load(key, CountingLoader(b"x" * entry, delay=0))
        await cache.get_or_load("a", CountingLoader(delay=0))  # a becomes the most recent
        await cache.get_or_load("e", CountingLoader(b"x" * entry, delay=0))  # evicts b
        return cache

    cache = asyncio.run(scenario())
    assert cache.size_bytes <= cache.max_bytes and len(cache) == 4 and cache.stats.evictions == 1
    assert "b" not in cache._entries and "a" in cache._entries


def test_an_entry_larger_than_a_quarter_of_the_cache_is_served_but_not_kept() -> None:
    cache = TileCache(max_bytes=10_000)
    assert asyncio.run(cache.get_or_load("big", CountingLoader(b"x" * 5_000, delay=0))) == b"x" * 5_000
    assert len(cache) == 0


def test_disabled_cache_loads_every_time() -> None:
    async def scenario() -> int:
        cache, loader = TileCache(enabled=False), CountingLoader(delay=0)
        for _ in range(3):
            await cache.get_or_load("k", loader)
        return loader.calls

    assert asyncio.run(scenario()) == 3


# ---- Redis --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server not found: install the Debian package redis-server", pytrace=False)
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen([*command, "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_two_workers_share_tiles_through_redis(redis_url: str) -> None:
    async def scenario() -> tuple[int, int, bytes, int]:
        settings = CacheSettings(redis_url=redis_url, redis_ttl_s=60)
        worker_a, worker_b = tilecache.from_settings(settings), tilecache.from_settings(settings)
        loader = CountingLoader(b"\x1a\x02mvt", delay=0)
        try:
            await worker_a.get_or_load("shared-key", loader)
            value = await worker_b.get_or_load("shared-key", loader)
            assert worker_a.redis is not None
            ttl = int(await worker_a.redis.ttl(worker_a.prefix + "shared-key"))
            return loader.calls, worker_b.stats.remote_hits, value, ttl
        finally:
            await worker_a.redis.flushdb() if worker_a.redis is not None else None
            await worker_a.close()
            await worker_b.close()

    calls, remote_hits, value, ttl = asyncio.run(scenario())
    assert (calls, remote_hits, value) == (1, 1, b"\x1a\x02mvt") and 0 < ttl <= 60


def test_seeded_tiles_are_found_by_a_worker(redis_url: str) -> None:
    async def scenario() -> tuple[bytes, int]:
        settings = CacheSettings(redis_url=redis_url)
        seeder, worker = tilecache.from_settings(settings), tilecache.from_settings(settings)
        loader = CountingLoader(delay=0)
        try:
            await seeder.put("seeded", b"pre-rendered")
            return await worker.get_or_load("seeded", loader), loader.calls
        finally:
            await seeder.close()
            await worker.close()

    assert asyncio.run(scenario()) == (b"pre-rendered", 0)


def test_an_unreachable_redis_degrades_to_the_local_cache() -> None:
    async def scenario() -> tuple[bytes, bytes, int, int]:
        cache = tilecache.from_settings(CacheSettings(redis_url=f"redis://127.0.0.1:{_free_port()}/0"))
        loader = CountingLoader(delay=0)
        try:
            first = await cache.get_or_load("k", loader)
            second = await cache.get_or_load("k", loader)
            return first, second, loader.calls, cache.stats.remote_errors
        finally:
            await cache.close()

    first, second, calls, errors = asyncio.run(scenario())
    assert first == second == b"tile" and calls == 1 and errors >= 1


def test_seeded_tiles_are_served_by_the_api_without_a_query(
    redis_url: str, migrated: Settings, bundled: Engine
) -> None:
    """``tiles seed`` and the API make the same keys: a seeded shared cache answers without rendering."""
    from tests.test_tiles import install_state, make_app

    settings = migrated.model_copy(update={"cache": CacheSettings(redis_url=redis_url)})
    spec = Catalog.from_dir(settings.layers_dir).get("industrial_parks")
    seeded: list[tuple[int, int, int]] = []

    async def sink(tile: Any, data: bytes) -> None:
        if data:
            seeded.append((tile.z, tile.x, tile.y))

    asyncio.run(render_batch(settings, [spec], [10], sink, planning=False))
    assert seeded
    z, x, y = seeded[0]

    async def request() -> tuple[int, int, int]:
        app = make_app(settings)
        async with app.router.lifespan_context(app):
            cache = tilecache.from_settings(settings.cache)
            install_state(app, cache)
            executed: list[str] = []
            event.listen(app.state.engine.sync_engine, "before_cursor_execute", lambda *a: executed.append(a[2]))
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
                response = await client.get(f"/tiles/industrial_parks/{z}/{x}/{y}.pbf")
            await cache.close()
        return response.status_code, cache.stats.remote_hits, sum("ST_AsMVT(" in sql for sql in executed)

    assert asyncio.run(request()) == (200, 1, 0)


# ---- layer versions: a cache hit needs no pooled connection ---------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingVersions:
    """Stands in for the one versions query, to count reads and time them on a fake clock."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.calls, self.delay, self.fail, self.version = 0, delay, fail, 1

    async def __call__(self) -> dict[str, tuple[int, str]]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("database went away")
        return {"parcels": (self.version, "2025-07-01T00:00:00+00:00")}


def test_versions_are_read_at_most_once_per_interval_and_refreshed_ahead() -> None:
    async def scenario() -> list[tuple[int, int, int]]:
        clock, fetch = Clock(), CountingVersions()
        source = PolledVersions(fetch, 0.5, clock=clock)
        seen = []

        async def observe() -> None:
            version = (await source.current())["parcels"][0]
            seen.append((fetch.calls, source.stats.waits, version))

        for _ in range(50):  # one read for many requests inside the interval
            await source.current()
        await observe()
        fetch.version = 2
        clock.now += 0.3  # past half the interval: served at once, refreshed in the background
        await observe()
        await asyncio.sleep(0.01)
        await observe()
        fetch.version = 3
        clock.now += 0.6  # past the whole interval: the request waits for a read and sees the write
        await observe()
        return seen

    assert asyncio.run(scenario()) == [(1, 1, 1), (1, 1, 1), (2, 1, 2), (3, 2, 3)]


def test_a_read_started_too_long_ago_is_not_joined() -> None:
    """A background read still running past the bound may predate a write: a waiting request starts its own."""

    async def scenario() -> tuple[int, int]:
        clock, fetch = Clock(), CountingVersions()
        source = PolledVersions(fetch, 0.5, clock=clock)
        await source.current()
        fetch.delay = 0.05
        clock.now += 0.3
        await source.current()  # starts a slow background read at t = 0.3
        await asyncio.sleep(0)
        fetch.version = 2
        clock.now += 0.6  # the read in flight started 0.6 s ago, before the write
        version = (await source.current())["parcels"][0]
        return version, fetch.calls

    assert asyncio.run(scenario()) == (2, 3)


def test_simultaneous_requests_share_one_versions_read() -> None:
    async def scenario() -> tuple[int, int]:
        fetch = CountingVersions(delay=0.05)
        source = PolledVersions(fetch, 0.5)
        answers = await asyncio.gather(*(source.current() for _ in range(20)))
        assert all(a == answers[0] for a in answers)
        return fetch.calls, source.stats.reads

    assert asyncio.run(scenario()) == (1, 1)


def test_a_failed_versions_read_fails_the_waiting_request_and_is_retried() -> None:
    async def scenario() -> tuple[bool, int, int]:
        fetch = CountingVersions(fail=True)
        source = PolledVersions(fetch, 0.5)
        with pytest.raises(RuntimeError):
            await source.current()
        fetch.fail = False
        ok = (await source.current())["parcels"] == (1, "2025-07-01T00:00:00+00:00")
        return ok, fetch.calls, source.stats.failures

    assert asyncio.run(scenario()) == (True, 2, 1)


def test_zero_max_age_reads_on_every_request() -> None:
    async def scenario() -> int:
        fetch = CountingVersions()
        source = PolledVersions(fetch, 0)
        for _ in range(3):
            await source.current()
        return fetch.calls

    assert asyncio.run(scenario()) == 3


def test_the_versions_query_reads_every_layer(migrated: Settings, bundled: Engine) -> None:
    async def scenario() -> Versions:
        source = layer_versions(migrated)
        try:
            return await source.current()
        finally:
            await source.close()

    versions = asyncio.run(scenario())
    assert set(versions) == set(VERSIONED_TABLES)
    with bundled.connect() as conn:
        row = conn.execute(text("SELECT version, changed_at FROM layer_versions WHERE layer = 'admin_units'")).one()
    assert versions["admin_units"] == (row.version, row.changed_at.isoformat())


def test_tile_routes_take_no_connection_before_the_cache() -> None:
    """No tile route has the connection dependency: a connection is taken only to render a miss."""
    from fastapi.routing import APIRoute

    from gis_service.dependencies import get_connection
    from gis_service.routers import tiles as tile_routes_module

    def calls(dependant: Any) -> set[Any]:
        return {dependant.call} | {c for d in dependant.dependencies for c in calls(d)}

    routes = [r for r in tile_routes_module.router.routes if isinstance(r, APIRoute)]
    tile_routes = [r for r in routes if r.operation_id in {"getCollectionTile", "getXYZTile", "getPlanningTile"}]
    assert len(tile_routes) == 3
    assert all(get_connection not in calls(r.dependant) for r in tile_routes)
    assert any(get_connection in calls(r.dependant) for r in routes)  # the check does find it where it is


def test_a_cache_hit_is_served_while_the_pool_is_exhausted(migrated: Settings, bundled: Engine) -> None:
    """Every pooled connection held by others: a cached tile still answers at once; a tile that must be
    rendered waits the pool bound, then gets 503 with Retry-After."""
    db = migrated.db.model_copy(update={"pool_size": 1, "max_overflow": 0, "pool_timeout_s": 0.5})
    settings = migrated.model_copy(update={"db": db})
    park = bundled_park(bundled)
    warm = "/tiles/industrial_parks/{z}/{x}/{y}.pbf".format(**park_tile(park, 14))
    cold = "/tiles/industrial_parks/{z}/{x}/{y}.pbf".format(**park_tile(park, 15))

    async def scenario() -> tuple[int, float, int, float, dict[str, Any], str | None]:
        app = make_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get(warm)).status_code == 200
            async with app.state.engine.connect():  # the only pooled connection, held
                started = time.perf_counter()
                hit = await c.get(warm)
                hit_s = time.perf_counter() - started
                started = time.perf_counter()
                miss = await c.get(cold)
                miss_s = time.perf_counter() - started
        return hit.status_code, hit_s, miss.status_code, miss_s, miss.json(), miss.headers.get("retry-after")

    hit, hit_s, miss, miss_s, problem, retry_after = asyncio.run(scenario())
    assert hit == 200 and hit_s < 0.3
    assert miss == 503 and 0.45 <= miss_s < 2.0 and problem["title"] == "Service busy"
    assert retry_after is not None and int(retry_after) >= 1


def bundled_park(engine: Engine) -> tuple[float, float]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM industrial_parks WHERE geom IS NOT NULL")).first()
    assert row is not None
    return float(row[0]), float(row[1])


def park_tile(point: tuple[float, float], zoom: int) -> dict[str, int]:
    import morecantile

    tile = morecantile.tms.get("WebMercatorQuad").tile(point[0], point[1], zoom)
    return {"z": tile.z, "x": tile.x, "y": tile.y}
