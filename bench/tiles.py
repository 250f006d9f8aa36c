"""Vector tile benchmark: our service (cache off, then warm) against tipg and raw ST_AsMVT SQL.

    python3 bench/tiles.py                  # creates bench/.venv-peers if missing, then runs in it
    python3 bench/tiles.py --skip-load      # reuse the parcels already in the database

Same parcels table (synthetic, ``gis-service synth parcels``, flagged), the same fixed list of distinct
WebMercatorQuad tiles z10-z16 over the parcels, the same per-tile cap (10,000 features), the same single
property (``land_use_code``), extent 4096, buffer 64, ``Accept-Encoding: gzip``. Each server is one uvicorn
worker (uvloop, httptools, no access log) on its own loopback port, started and stopped here. Before any
timing every tile is fetched from ours and tipg and the features per tile are counted and compared.
The floor is the same ST_AsMVT statement sent straight through an asyncpg pool, no HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import _common as common
from _common import GIS_SERVICE, PEERS_PY, PROJECT_PY, ROOT, LoadResult, Server

DEFAULT_DB = "postgresql://postgres@127.0.0.1:54320/gis_test_tiles"
ZOOMS = range(10, 17)
CAP = 10_000
UVICORN = ["--host", "127.0.0.1", "--workers", "1", "--loop", "uvloop", "--http", "httptools"]
UVICORN += ["--no-access-log", "--log-level", "warning"]
HEADERS = {"Accept-Encoding": "gzip"}
#: The floor: our statement's shape, written by hand (one layer, one property, the same cap and buffer).
RAW_SQL = (
    "SELECT ST_AsMVT(q, 'parcels', 4096, 'geom', 'id') FROM ("
    "SELECT ST_AsMVTGeom(geom_3857, ST_TileEnvelope($1, $2, $3), 4096, 64, true) AS geom, id, land_use_code "
    "FROM parcels WHERE geom_3857 && ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096) LIMIT 10000"
    ") q WHERE q.geom IS NOT NULL"
)


def ours_app() -> Any:
    """``uvicorn --app-dir bench tiles:ours_app --factory``: the service with its tile routes (added here
    until ``main.create_app`` includes them)."""
    from gis_service import tilecache
    from gis_service.main import create_app
    from gis_service.routers import tiles as tiles_router
    from gis_service.settings import load_settings
    from gis_service.tiles import TileMatrixSets

    settings = load_settings()
    app = create_app(settings)
    if not any(getattr(route, "path", "") == "/tiles/planning.json" for route in app.routes):
        app.include_router(tiles_router.router)
        app.state.tms = TileMatrixSets.default()
        app.state.tile_cache = tilecache.from_settings(settings.cache)
    return app


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db-url", default=DEFAULT_DB, help="the database to fill and read (never gis or gis_test)")
    p.add_argument("--parcels", type=int, default=1_000_000, help="synthetic parcels to load")
    p.add_argument("--skip-load", action="store_true", help="keep the parcels already there")
    p.add_argument("--tiles-per-zoom", type=int, default=8, help="distinct tiles per zoom (fewer where fewer exist)")
    p.add_argument("--concurrency", default="1,16,64", help="comma-separated concurrency levels")
    p.add_argument("--requests", type=int, default=300, help="timed requests per server and level")
    p.add_argument("--max-seconds", type=float, default=25.0, help="time bound of one timed run")
    p.add_argument("--no-readme", action="store_true", help="do not write the table into bench/README.md")
    return p.parse_args()


# ---- database and tiles ---------------------------------------------------------------------------------


def prepare(url: str, parcels: int) -> float:
    """Migrate, load the bundled layers and ``parcels`` synthetic parcels; seconds the parcels took."""
    env = {**os.environ, "GIS_DATABASE_URL": url}
    for argv in (["migrate"], ["load", "--bundled"]):
        subprocess.run([str(GIS_SERVICE), *argv], env=env, check=True, stdout=subprocess.DEVNULL)
    started = time.perf_counter()
    subprocess.run([str(GIS_SERVICE), "synth", "parcels", "--count", str(parcels), "--seed", "7"], env=env, check=True)
    seconds = time.perf_counter() - started
    subprocess.run(["psql", "-X", "-q", url, "-c", "VACUUM ANALYZE parcels"], check=True)
    return seconds


async def pick_tiles(url: str, per_zoom: int) -> list[tuple[int, int, int]]:
    """Distinct tiles at each zoom, under parcels sampled with a fixed seed (the same list every run)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT ST_X(p) AS x, ST_Y(p) AS y FROM (SELECT ST_PointOnSurface(geom_3857) AS p "
            "FROM parcels TABLESAMPLE SYSTEM (1) REPEATABLE (7) LIMIT 2000) s"
        )
    finally:
        await conn.close()
    half = 20037508.342789244
    tiles: list[tuple[int, int, int]] = []
    for z in ZOOMS:
        size, seen = 2 * half / 2**z, []
        for row in rows:
            tile = (z, int((row["x"] + half) // size), int((half - row["y"]) // size))
            if tile not in seen:
                seen.append(tile)
            if len(seen) == per_zoom:
                break
        tiles += seen
    return tiles


def count_features(tile: bytes) -> int:
    """Features of all layers of an MVT (Tile.layers = 3, Layer.features = 2), without a protobuf library."""
    total = 0
    for number, layer in _fields(tile):
        if number == 3:
            total += sum(1 for n, _ in _fields(layer) if n == 2)
    return total


def _fields(data: bytes) -> Any:
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
            yield key >> 3, None
        elif wire == 2:
            size, pos = _varint(data, pos)
            yield key >> 3, data[pos : pos + size]
            pos += size
        else:
            pos += 8 if wire == 1 else 4
            yield key >> 3, None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=120) as response:
        body = response.read()
        return gzip.decompress(body) if response.headers.get("Content-Encoding") == "gzip" else body


# ---- servers --------------------------------------------------------------------------------------------


def layers_dir(tmp: Path) -> Path:
    """A copy of layers/ where parcels start at zoom 10 (the catalogue says 12), so z10-z11 compare too."""
    target = tmp / "layers"
    shutil.copytree(ROOT / "layers", target, ignore=shutil.ignore_patterns("data"))
    spec = target / "parcels.yaml"
    spec.write_text(spec.read_text().replace("minzoom: 12", "minzoom: 10"))
    return target


def ours(name: str, url: str, tmp: Path, *, cache: bool, buffer: int = 64) -> Server:
    port = common.free_port()
    env = {
        "GIS_DATABASE_URL": url,
        "GIS_DB__POOL_SIZE": "10",
        "GIS_DB__MAX_OVERFLOW": "0",
        "GIS_LAYERS_DIR": str(layers_dir(tmp / name)),
        "GIS_TILES__MAX_FEATURES": str(CAP),
        "GIS_TILES__BUFFER": str(buffer),
        "GIS_CACHE__ENABLED": "true" if cache else "false",
        "GIS_CACHE__MAX_BYTES": str(512 * 2**20),
    }
    argv = [str(PROJECT_PY), "-m", "uvicorn", "--app-dir", "bench", "tiles:ours_app", "--factory"]
    argv += ["--port", str(port), *UVICORN]
    return Server(name, argv, env, port, "/collections/parcels/items", ROOT, tmp / f"{name}.log", "0.1.0")


def tipg(url: str, tmp: Path) -> Server:
    port = common.free_port()
    env = {
        "DATABASE_URL": url,
        "DB_MIN_CONN_SIZE": "1",
        "DB_MAX_CONN_SIZE": "10",
        "TIPG_DEBUG": "false",
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.parcels"]',
        "TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS": '["public"]',
        "TIPG_TABLE_CONFIG__public_parcels__PK": "id",
        "TIPG_TABLE_CONFIG__public_parcels__GEOMCOL": "geom",
        "TIPG_MAX_FEATURES_PER_TILE": str(CAP),
        "TIPG_TILE_BUFFER": "64",
        "TIPG_SET_MVT_LAYERNAME": "true",
    }
    argv = [str(PEERS_PY), "-m", "uvicorn", "tipg.main:app", "--port", str(port), *UVICORN]
    version = subprocess.run(
        [str(PEERS_PY), "-c", "import importlib.metadata as m; print(m.version('tipg'))"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Server("tipg", argv, env, port, "/collections/public.parcels/items", tmp, tmp / "tipg.log", version)


def tile_urls(server: Server, tiles: list[tuple[int, int, int]]) -> list[str]:
    if server.name == "tipg":
        query = "?geom-column=geom&properties=land_use_code"
        return [
            f"{server.base}/collections/public.parcels/tiles/WebMercatorQuad/{z}/{x}/{y}{query}" for z, x, y in tiles
        ]
    return [f"{server.base}/tiles/parcels/{z}/{x}/{y}.pbf" for z, x, y in tiles]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---- runs -----------------------------------------------------------------------------------------------


def lonlat_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's bounds in lon/lat (Web Mercator maps a tile to a lon/lat box exactly)."""
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return (x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y))


def compare_counts(url: str, tiles: list[tuple[int, int, int]], tmp: Path) -> tuple[list[str], dict[str, int]]:
    """Features per tile from ours and from tipg, selected alike: tipg keeps the features that intersect
    the tile, ours also those in the tile's buffer, so ours is asked for the same set with its CQL2
    ``filter`` (``S_INTERSECTS(geom, BBOX(tile))``). Lines for the tiles that differ."""
    a, b = ours("ours-verify", url, tmp, cache=False), tipg(url, tmp)
    with common.running([a, b]):
        mine = []
        for (z, x, y), base in zip(tiles, tile_urls(a, tiles), strict=True):
            box = ",".join(f"{v:.12f}" for v in lonlat_bounds(z, x, y))
            mine.append(count_features(fetch(base + "?filter=" + quote(f"S_INTERSECTS(geom,BBOX({box}))"))))
        theirs = [count_features(fetch(u)) for u in tile_urls(b, tiles)]
    full = CAP * 0.98  # at capped tiles each keeps its own 10,000 rows, then drops the ones clipped to nothing
    diffs = [
        f"{z}/{x}/{y}: ours {m}, tipg {t}"
        for (z, x, y), m, t in zip(tiles, mine, theirs, strict=True)
        if m != t and not (m >= full and t >= full)
    ]
    capped = sum(t >= full for t in theirs)
    return diffs, {"tiles": len(tiles), "capped": capped, "features": sum(theirs)}


async def raw_sql(
    url: str, tiles: list[tuple[int, int, int]], concurrency: int, requests: int, limit: float
) -> LoadResult:
    import asyncpg

    result = LoadResult(0, 0, 0.0)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=10)
    assert pool is not None
    try:
        started, index = time.perf_counter(), 0

        async def worker() -> None:
            nonlocal index
            while index < requests and time.perf_counter() < started + limit:
                z, x, y = tiles[index % len(tiles)]
                index += 1
                t0 = time.perf_counter()
                async with pool.acquire() as conn:
                    body = await conn.fetchval(RAW_SQL, z, x, y)
                gzip.compress(body or b"", compresslevel=3)  # what a server does before sending it (ours: level 3)
                result.latencies.append(time.perf_counter() - t0)
                result.requests += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    finally:
        await pool.close()
    return result


def timed(
    server: Server, tiles: list[tuple[int, int, int]], levels: list[int], args: argparse.Namespace
) -> list[list[str]]:
    urls = tile_urls(server, tiles)
    asyncio.run(common.run_load(urls, concurrency=4, requests=len(urls), max_seconds=120, headers=HEADERS))  # warm-up
    rows = []
    for level in levels:
        result = asyncio.run(
            common.run_load(
                urls, concurrency=level, requests=args.requests, max_seconds=args.max_seconds, headers=HEADERS
            )
        )
        rows.append(row(server.name, level, result))
    rows[-1].append(f"{rss_mb(server.pid):.0f}")
    return rows


def row(name: str, level: int, result: LoadResult) -> list[str]:
    return [
        name,
        str(level),
        f"{result.rps:.1f}",
        f"{result.pct(50):.1f}",
        f"{result.pct(95):.1f}",
        f"{result.pct(99):.1f}",
        f"{result.requests}/{result.errors}",
    ]


def main() -> None:
    common.reexec_in_peers_venv()
    args = parse_args()
    name = common.database_name(args.db_url)
    if name in ("gis", "gis_test"):
        sys.exit(f"refusing to use database {name!r}")
    levels = [int(v) for v in args.concurrency.split(",")]
    load_s = None if args.skip_load else prepare(args.db_url, args.parcels)
    tiles = asyncio.run(pick_tiles(args.db_url, args.tiles_per_zoom))
    tmp = Path(tempfile.mkdtemp(prefix="bench-tiles-"))
    diffs, counts = compare_counts(args.db_url, tiles, tmp)
    rows: list[list[str]] = []
    peer = tipg(args.db_url, tmp)
    busy, started = common.machine_busy(), time.perf_counter()
    for server in (
        ours("ours cold", args.db_url, tmp, cache=False),
        ours("ours warm", args.db_url, tmp, cache=True),
        peer,
    ):
        with common.running([server]):
            rows += timed(server, tiles, levels, args)
    for level in levels:
        rows.append(
            row(
                "raw SQL (asyncpg)",
                level,
                asyncio.run(raw_sql(args.db_url, tiles, level, args.requests, args.max_seconds)),
            )
        )
    cores_busy = (common.machine_busy() - busy) / (time.perf_counter() - started)
    for r in rows:
        r += [""] * (8 - len(r))
    header = ["server", "concurrency", "req/s", "p50 ms", "p95 ms", "p99 ms", "ok/errors", "RSS MB (worker)"]
    table = common.markdown_table(header, rows)
    per_zoom = ", ".join(f"z{z}: {sum(t[0] == z for t in tiles)}" for z in ZOOMS)
    notes = [
        "Command: `" + " ".join(["python3 bench/tiles.py", *sys.argv[1:]]) + "`",
        f"{args.parcels:,} synthetic parcels" + (f", loaded in {load_s:.0f} s" if load_s else " (already loaded)"),
        f"{len(tiles)} distinct tiles ({per_zoom}); {counts['capped']} of them reach the {CAP:,}-feature cap "
        f"(both servers); {counts['features']:,} features in all.",
        "Feature counts per tile, ours vs tipg: "
        + ("equal on every tile." if not diffs else f"{len(diffs)} differ: " + "; ".join(diffs[:8])),
        f"tipg {peer.version}; PostgreSQL and the client share the machine's {os.cpu_count()} cores with the servers; "
        f"{cores_busy:.2f} cores were busy on average during the timed runs (anything near {os.cpu_count()} at "
        "concurrency 1 means other work shared the machine).",
    ]
    block = table + "\n\n" + "\n".join(f"- {n}" for n in notes if n)
    print(block)
    if not args.no_readme:
        common.update_readme_block("Tiles", "tiles", block, PREAMBLE)


PREAMBLE = """`bench/tiles.py`: Mapbox Vector Tiles of `parcels`, our service (a) with its tile cache off, every request
rendered, and (b) warm (every tile already in the in-process cache; each request still reads the layer's data
version, so a write is never hidden), against (c) [tipg](https://github.com/developmentseed/tipg) on the same
database and (d) the floor: the same `ST_AsMVT` statement through an asyncpg pool, no HTTP (plus the gzip a
server does).

```sh
python3 bench/tiles.py                # migrate, load 1,000,000 synthetic parcels, run (about 8 minutes on 2 cores)
python3 bench/tiles.py --skip-load    # reuse the parcels already loaded
```

Same conditions: one uvicorn worker each (uvloop, httptools, no access log), pool 10, the same fixed list of
distinct tiles z10-z16 under sampled parcels, at most 10,000 features per tile, one property (`land_use_code`),
extent 4096, buffer 64, `Accept-Encoding: gzip`, a bounded aiohttp client on the same 2 cores. Parcels publish
from z12 in the catalogue; the bench lowers that to z10 in a temporary copy of `layers/` so z10-z11 compare too.
Ours reads the stored, indexed `geom_3857`; tipg transforms `geom` per row. Before timing, the features per tile
of ours and tipg are counted and compared (ours is asked for tipg's selection, the features intersecting the tile,
with its CQL2 `filter`, since it also sends those in the tile's buffer); at capped tiles each keeps its own 10,000."""


if __name__ == "__main__":
    main()
