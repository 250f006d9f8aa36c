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
from sqlalchemy import Engine, event

from gis_service import tilecache
from gis_service.catalog import Catalog
from gis_service.settings import CacheSettings, Settings
from gis_service.tilecache import ENTRY_OVERHEAD, TileCache
from gis_service.tiles import render_batch


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
