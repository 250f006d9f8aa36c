"""A tile and the data versions it is cached under come from one snapshot (issue 14, item 2).

A lagging replica is simulated on the real database: the app's render connections import a snapshot
(``SET TRANSACTION SNAPSHOT``) exported before a write, while the layer versions (the tile keys) come from
the primary and already carry the write. The old tile must not be cached under the new versions' key: once
the render connections see the write, the next request has the new data. The shared cache's namespace is
the cluster's identity, not the address it was reached by.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import mapbox_vector_tile
import morecantile
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from gis_service.main import create_app
from gis_service.settings import Settings
from gis_service.tilecache import TileCache
from gis_service.tiles import read_identity

WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
CODE = "TILE_SNAP"
INSERT = (
    "INSERT INTO industrial_parks (code, name, name_ascii, kind, status, geom, geometry_quality, source) "
    f"VALUES ('{CODE}', 'Khu ảnh chụp', 'Khu anh chup', 'park', 'planned', "
    "ST_SetSRID(ST_MakePoint(:lon + 0.0001, :lat), 4326), 'test', 'test')"
)


@pytest.fixture
def park_point(bundled: Engine) -> Iterator[tuple[float, float]]:
    with bundled.connect() as conn:
        lon, lat = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM industrial_parks WHERE geom IS NOT NULL ORDER BY code LIMIT 1")
        ).one()
    yield lon, lat
    with bundled.begin() as conn:
        conn.execute(text(f"DELETE FROM industrial_parks WHERE code = '{CODE}'"))


def snapshot_engine(settings: Settings, snapshot: str) -> AsyncEngine:
    """Render connections that see the database as it was when ``snapshot`` was exported (a replica behind)."""
    engine = create_async_engine(settings.request_url, poolclass=NullPool, isolation_level="REPEATABLE READ")
    event.listen(
        engine.sync_engine, "begin", lambda conn: conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
    )
    return engine


def codes(response: httpx.Response) -> set[str]:
    assert response.status_code in (200, 204), response.text
    layers = mapbox_vector_tile.decode(response.content) if response.content else {}
    return {f["properties"]["code"] for f in layers.get("industrial_parks", {}).get("features", [])}


async def _until_versions_change(app: Any, before: object) -> None:
    started = time.monotonic()
    while (await app.state.layer_versions.current()).get("industrial_parks") == before:
        assert time.monotonic() - started < 10, "the write never reached the layer versions"
        await asyncio.sleep(0.02)


def test_a_tile_rendered_behind_the_versions_is_not_cached_under_them(
    migrated: Settings, bundled: Engine, park_point: tuple[float, float]
) -> None:
    lon, lat = park_point
    tile = WEB_MERCATOR.tile(lon, lat, 15)
    url = f"/tiles/industrial_parks/15/{tile.x}/{tile.y}.pbf"

    async def scenario() -> tuple[httpx.Response, httpx.Response, TileCache]:
        app = create_app(migrated)
        async with app.router.lifespan_context(app):
            cache = app.state.tile_cache = TileCache()
            primary = app.state.engine
            with bundled.connect() as holder:
                holder.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ")
                snapshot = holder.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
                before = (await app.state.layer_versions.current()).get("industrial_parks")
                with bundled.begin() as conn:
                    conn.execute(text(INSERT), {"lon": lon, "lat": lat})
                await _until_versions_change(app, before)
                app.state.engine = lagging = snapshot_engine(migrated, snapshot)
                transport = httpx.ASGITransport(app=app)
                try:
                    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                        stale = await client.get(url)
                        app.state.engine = primary  # the replica caught up
                        fresh = await client.get(url)
                finally:
                    app.state.engine = primary
                    await lagging.dispose()
                    holder.exec_driver_sql("ROLLBACK")
        return stale, fresh, cache

    stale, fresh, cache = asyncio.run(scenario())
    assert CODE not in codes(stale), "the simulated replica saw the write: the test proves nothing"
    assert CODE in codes(fresh), "the tile rendered before the write was served under the write's version"
    assert stale.headers["etag"] != fresh.headers["etag"]
    assert cache.stats.mismatches == 1 and cache.stats.loads == 2


def test_the_shared_cache_namespace_is_the_cluster_not_the_address(migrated: Settings) -> None:
    """127.0.0.1 and localhost are two addresses (two DSNs) of one cluster: one namespace."""
    other = migrated.dsn.replace("127.0.0.1", "localhost", 1)
    assert other != migrated.dsn

    async def identities() -> list[str]:
        found = []
        for url in (migrated.request_url, other.replace("postgresql://", "postgresql+asyncpg://", 1)):
            engine = create_async_engine(url, poolclass=NullPool)
            try:
                found.append(await read_identity(engine)())
            finally:
                await engine.dispose()
        return found

    ours, theirs = asyncio.run(identities())
    system_id, _, database = ours.partition("/")
    assert ours == theirs and system_id.isdigit() and database == migrated.dsn.rpartition("/")[2].partition("?")[0]


def test_tile_keys_do_not_depend_on_the_address_of_the_database(migrated: Settings) -> None:
    """Workers behind replica 1, replica 2 or PgBouncer (three DSNs) make one key for one tile."""
    from gis_service.catalog import Catalog
    from gis_service.settings import load_settings
    from gis_service.tiles import TileMatrixSets, VectorTiles, address

    spec = Catalog.from_dir(migrated.layers_dir).get("industrial_parks")
    addr = address(TileMatrixSets.default().get("WebMercatorQuad"), 12, 3261, 1924, 0, 24)
    versions = {"industrial_parks": (7, "2026-01-01T00:00:00+00:00")}
    keys = {
        VectorTiles(None, None, load_settings(database_url=url), None).key_of(  # type: ignore[arg-type]
            [spec], addr, (), versions, "7301234567890123456/gis"
        )
        for url in (
            "postgresql://u@10.0.0.1:5433/gis",
            "postgresql://u@10.0.0.2:5434/gis",
            "postgresql://u@pgb:6432/gis",
        )
    }
    assert len(keys) == 1
