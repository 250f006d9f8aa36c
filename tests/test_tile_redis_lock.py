"""Workers sharing a Redis render a cold tile once (issue 14, item 2): a render lock in Redis.

Two app instances (two workers) share a real redis-server started on a free port; both are asked for the
same cold tile at once, several times each. Exactly one render happens, the other worker takes the tile
from Redis. A lock left by a worker that died holds the others back only for ``cache.lock_wait_ms``.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import morecantile
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from gis_service.main import create_app
from gis_service.settings import Settings
from gis_service.tilecache import TileCache
from tests.serverproc import free_port

WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
LON, LAT = 106.65, 11.0


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    home: Path = tmp_path_factory.mktemp("redis")
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(home)]
    server = subprocess.Popen([REDIS, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = time.monotonic()
        while not _pong(port):
            assert server.poll() is None, "redis-server did not start"
            assert time.monotonic() - started < 10, "redis-server did not answer"
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


def worker(settings: Settings, redis_url: str, **cache: object) -> FastAPI:
    return create_app(
        settings.model_copy(update={"cache": settings.cache.model_copy(update={"redis_url": redis_url, **cache})})
    )


async def _flush(app: FastAPI) -> None:
    cache: TileCache = app.state.tile_cache
    assert cache.redis is not None
    await cache.redis.flushdb()


def test_two_workers_render_a_cold_tile_once(migrated: Settings, bundled: Engine, redis_url: str) -> None:
    tile = WEB_MERCATOR.tile(LON, LAT, 12)
    url = f"/tiles/planning/12/{tile.x}/{tile.y}.pbf"

    async def scenario() -> tuple[list[httpx.Response], TileCache, TileCache]:
        one, two = worker(migrated, redis_url), worker(migrated, redis_url)
        async with one.router.lifespan_context(one), two.router.lifespan_context(two):
            await _flush(one)
            clients = [
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") for app in (one, two)
            ]
            try:
                answers = await asyncio.gather(*(clients[i % 2].get(url) for i in range(10)))
            finally:
                for client in clients:
                    await client.aclose()
            return answers, one.state.tile_cache, two.state.tile_cache

    answers, first, second = asyncio.run(scenario())
    assert [a.status_code for a in answers] == [200] * 10
    assert len({a.content for a in answers}) == 1 and len({a.headers["etag"] for a in answers}) == 1
    assert first.stats.loads + second.stats.loads == 1, (first.stats, second.stats)
    waiter = second if first.stats.loads else first
    assert waiter.stats.lock_waits == 1 and waiter.stats.remote_hits == 1 and waiter.stats.lock_timeouts == 0


def test_a_dead_workers_lock_holds_the_others_back_only_briefly(redis_url: str) -> None:
    import redis.asyncio as aioredis

    async def scenario() -> tuple[bytes, TileCache, bytes | None]:
        cache = TileCache(redis=aioredis.from_url(redis_url), lock_wait_ms=200)
        assert cache.redis is not None
        try:
            await cache.redis.flushdb()
            # A worker took the lock of this tile and died: the lock stays until its PX expires.
            await cache.redis.set(cache.prefix + "cold:lock", "dead worker", px=60_000)
            calls: list[int] = []

            async def render() -> bytes:
                calls.append(1)
                return b"tile"

            value = await cache.get_or_load("cold", render)
            assert calls == [1]
            return value, cache, await cache.redis.get(cache.prefix + "cold")
        finally:
            await cache.close()

    value, cache, shared = asyncio.run(scenario())
    assert value == b"tile" and shared == b"tile", "the tile rendered after the wait was not shared"
    assert cache.stats.lock_waits == 1 and cache.stats.lock_timeouts == 1 and cache.stats.loads == 1
