"""Overload: 50 mixed clients against a real server with 1 and 2 workers, for a bounded time.

    .venv/bin/python bench/overload.py            # 30 s per worker count after 5 s of warm-up
    .venv/bin/python bench/overload.py --quick    # 10 s per worker count, 3 s warm-up
    .venv/bin/python bench/overload.py --before DIR   # also an older version, run the same way

``--before DIR``: DIR holds an older version's ``gis_service/``, ``layers/`` and ``migrations/`` (``git archive
COMMIT gis_service layers migrations alembic.ini | tar -x -C DIR``, plus ``gis_service/static/vendor`` copied:
it is vendored at install time, not committed); it is served by plain ``uvicorn --workers N`` from DIR.

Each client is a closed loop (the next request when the last one is answered, no think time) of one kind:
items pages (parcels in a small bbox, parks pages), single items, cached tiles (a fixed set, warmed before
the clock starts), cold tiles (parcels tiles no client asked for before, each once), analyses (locate,
nearby 2 km, and the heavy ones: nearby 20 km, area statistics of parcels per ward, corridor, site
selection) and Folium maps. The server is ``gis-service serve --workers N --no-access-log`` (the supervised
server of ``make run``) with default settings, on its own database (``--db-url``, never gis or gis_test*),
filled once: migrate, ``load --bundled``, ``synth parcels --count 200000``, ``VACUUM ANALYZE``.
Every request is bounded by a 30 s client timeout. Latencies are nearest-rank percentiles over every answer
(errors included); "503" counts the service's answers when a bound was reached; "errors" anything else
that is not 2xx/304 (connection failures and timeouts included).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PY = ROOT / ".venv" / "bin" / "python"
if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve() and PROJECT_PY.exists():
    os.execv(str(PROJECT_PY), [str(PROJECT_PY), str(Path(__file__).resolve()), *sys.argv[1:]])

sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import morecantile  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402
import uvloop  # noqa: E402
from _common import (  # noqa: E402
    GIS_SERVICE,
    Server,
    check_bench_database,
    cpu_delta,
    cpu_of,
    free_port,
    machine_busy,
    markdown_table,
    update_readme_block,
)
from psycopg import sql  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1:54320/gis_bench_overload"
BOX = (106.50, 10.92, 106.85, 11.30)  # well inside the province, where the synthetic parcels are dense
CENTRE = (106.68, 11.05)
MIX = {"items": 12, "item": 8, "cached tiles": 14, "cold tiles": 8, "analyses": 5, "maps": 3}
CLIENT_TIMEOUT_S = 30.0
#: The service's 503 bounds with default settings: pool wait (GIS_DB__POOL_TIMEOUT_S) and analysis
#: admission wait (GIS_ADMISSION__WAIT_S), both 2 s.
BOUND_S = 2.0
PREAMBLE = """`bench/overload.py`: 50 closed-loop clients of six kinds at once (items pages, single items, cached
tiles, cold tiles, analyses, maps) against `gis-service serve` with 1 and then 2 workers, default settings
(pool 10 + 10, pool wait 2 s, 1 heavy analysis per worker with 8 waiting at most for 2 s, layer versions
re-read every 500 ms), on 200,000 synthetic parcels plus the bundled layers. The client (aiohttp on uvloop,
one process) runs on the same 2-core host as the server and PostgreSQL, so its CPU is part of the load."""


# ---- the database -----------------------------------------------------------------------------------------


def prepare(db_url: str, parcels: int) -> None:
    base, _, name = db_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    env = {**os.environ, "GIS_DATABASE_URL": db_url}
    for args in (["migrate"], ["load", "--bundled"]):
        subprocess.run([str(GIS_SERVICE), *args], env=env, check=True, capture_output=True)
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM parcels WHERE synthetic").fetchone()
    if (row[0] if row else 0) != parcels:
        print(f"[setup] synth parcels --count {parcels} ...", flush=True)
        subprocess.run([str(GIS_SERVICE), "synth", "parcels", "--count", str(parcels)], env=env, check=True)
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE parcels")


def ids(db_url: str, table: str, column: str) -> list[Any]:
    """Feature ids (the layer's ``id_column``) to ask for one by one."""
    with psycopg.connect(db_url) as conn:
        query = sql.SQL("SELECT {} FROM {} ORDER BY random() LIMIT 5000")
        return [r[0] for r in conn.execute(query.format(sql.Identifier(column), sql.Identifier(table)))]


# ---- the workload -------------------------------------------------------------------------------------------

Request = tuple[str, str, Any]  # method, path, JSON body


def tile_path(layer: str, tile: morecantile.Tile) -> str:
    if layer == "planning":
        return f"/tiles/planning/{tile.z}/{tile.x}/{tile.y}.pbf"
    return f"/tiles/{layer}/{tile.z}/{tile.x}/{tile.y}.pbf"


def cached_tiles() -> list[str]:
    tms = morecantile.tms.get("WebMercatorQuad")
    centre = [tms.tile(*CENTRE, z) for z in (9, 10, 11, 12)]
    around = [
        morecantile.Tile(t.x + dx, t.y + dy, t.z)
        for t in (tms.tile(*CENTRE, 14), tms.tile(*CENTRE, 15))
        for dx in (-1, 0, 1)
        for dy in (-1, 0, 1)
    ]
    return [tile_path("planning", t) for t in centre] + [tile_path("parcels", t) for t in around]


def cold_tiles(seed: int) -> list[str]:
    """Parcels tiles at zooms 15 and 16 (about 110 and 30 parcels each) over the dense area, shuffled; each
    run takes its own slice."""
    tms = morecantile.tms.get("WebMercatorQuad")
    tiles = [tile_path("parcels", t) for t in tms.tiles(*BOX, zooms=[15, 16])]
    random.Random(seed).shuffle(tiles)
    return tiles


@dataclass
class Workload:
    parcel_ids: list[Any]
    park_codes: list[Any]
    cached: list[str]
    cold: list[str]
    cold_next: int = 0

    def items(self, rng: random.Random) -> Request:
        if rng.random() < 0.7:
            x, y = rng.uniform(BOX[0], BOX[2] - 0.01), rng.uniform(BOX[1], BOX[3] - 0.01)
            bbox = f"{x:.5f},{y:.5f},{x + 0.01:.5f},{y + 0.01:.5f}"
            return "GET", f"/collections/parcels/items?bbox={bbox}&limit=100", None
        return "GET", f"/collections/industrial_parks/items?limit=20&offset={rng.randrange(0, 30)}", None

    def item(self, rng: random.Random) -> Request:
        if rng.random() < 0.8:
            return "GET", f"/collections/parcels/items/{rng.choice(self.parcel_ids)}", None
        return "GET", f"/collections/industrial_parks/items/{rng.choice(self.park_codes)}", None

    def cached_tile(self, rng: random.Random) -> Request:
        return "GET", rng.choice(self.cached), None

    def cold_tile(self, rng: random.Random) -> Request:
        path = self.cold[self.cold_next % len(self.cold)]
        self.cold_next += 1
        return "GET", path, None

    def analysis(self, rng: random.Random) -> Request:
        x, y = rng.uniform(*BOX[::2]), rng.uniform(*BOX[1::2])
        pick = rng.random()
        if pick < 0.4:
            return "GET", f"/analysis/locate?lon={x:.5f}&lat={y:.5f}&date=2025-07-01", None
        if pick < 0.6:
            return "GET", f"/analysis/nearby?collection=parcels&distance_m=2000&lon={x:.5f}&lat={y:.5f}", None
        if pick < 0.7:
            return "GET", f"/analysis/nearby?collection=parcels&distance_m=20000&lon={x:.5f}&lat={y:.5f}", None
        if pick < 0.8:
            return "GET", "/analysis/area-stats?collection=parcels&units=2025", None
        if pick < 0.9:
            return "GET", "/analysis/corridor?project=QL13&width_m=60", None
        body = {"types": ["industrial"], "min_area_ha": 50, "max_distance_m": {"nh13": 20000}}
        return "POST", "/analysis/site-selection", body

    def maps(self, rng: random.Random) -> Request:
        return "GET", rng.choice(["/maps/planning-2040", "/maps/collections/industrial_parks"]), None

    def kinds(self) -> dict[str, Callable[[random.Random], Request]]:
        return {
            "items": self.items,
            "item": self.item,
            "cached tiles": self.cached_tile,
            "cold tiles": self.cold_tile,
            "analyses": self.analysis,
            "maps": self.maps,
        }


# ---- the load -----------------------------------------------------------------------------------------------


@dataclass
class KindResult:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    busy: int = 0  # 503 from the service
    busy_max: float = 0.0
    errors: int = 0
    first_error: str = ""

    def add(self, seconds: float, status: int, what: str) -> None:
        self.latencies.append(seconds)
        if status in (200, 204, 304):
            self.ok += 1
        elif status == 503:
            self.busy += 1
            self.busy_max = max(self.busy_max, seconds)
        else:
            self.errors += 1
            self.first_error = self.first_error or what

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))] * 1000


@dataclass
class Run:
    label: str
    workers: int
    clients: dict[str, int]
    seconds: float
    kinds: dict[str, KindResult]
    cpu: Cpu


async def drive(
    base: str, workload: Workload, mix: dict[str, int], warmup: float, seconds: float, server_pid: int, db_url: str
) -> tuple[dict[str, KindResult], Cpu]:
    """The clients for ``warmup`` (answers dropped) then ``seconds`` (answers kept); the requests in flight
    then finish (each bounded by the client timeout). Returns the results and the CPU of the timed part."""
    connector = aiohttp.TCPConnector(limit=sum(mix.values()))
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S)
    headers = {"Accept-Encoding": "gzip"}
    results = {kind: KindResult() for kind in mix}
    makers = workload.kinds()
    cpu = CpuMeter(server_pid, db_url)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout, headers=headers) as client:
        loop = asyncio.get_running_loop()
        timed = loop.time() + warmup
        end = timed + seconds

        async def one_client(kind: str, seed: int) -> None:
            rng = random.Random(seed)
            while (t0 := loop.time()) < end:
                method, path, body = makers[kind](rng)
                status, error = 0, ""
                try:
                    async with client.request(method, path, json=body) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                if t0 >= timed:
                    results[kind].add(loop.time() - t0, status, error or f"{status} {method} {path}")

        tasks = [
            asyncio.create_task(one_client(kind, 1000 * i + n))
            for i, (kind, count) in enumerate(mix.items())
            for n in range(count)
        ]
        await asyncio.sleep(warmup)
        await asyncio.to_thread(cpu.start)
        await asyncio.sleep(seconds)
        used = await asyncio.to_thread(cpu.stop)
        await asyncio.gather(*tasks)
    return results, used


class CpuMeter:
    """CPU over the timed part: this client, the server's process tree, the PostgreSQL backends serving the
    bench database (a lower bound: backends that end during the run are lost) and the whole machine."""

    def __init__(self, server_pid: int | None = None, db_url: str | None = None) -> None:
        self.server_pid, self.db_url = server_pid, db_url
        self.marks: dict[str, float] = {}
        self.backends: dict[int, float] = {}

    def _backends(self) -> dict[int, float]:
        if self.db_url is None:
            return {}
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            return cpu_of([row[0] for row in conn.execute(query)])

    def _server(self) -> float:
        if self.server_pid is None:
            return 0.0
        try:
            root = psutil.Process(self.server_pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                continue
        return total

    def start(self) -> None:
        self.backends = self._backends()
        self.marks = {"client": time.process_time(), "server": self._server(), "machine": machine_busy()}

    def stop(self) -> Cpu:
        return Cpu(
            time.process_time() - self.marks["client"],
            self._server() - self.marks["server"],
            cpu_delta(self.backends, self._backends()),
            machine_busy() - self.marks["machine"],
        )


@dataclass
class Cpu:
    """CPU seconds of the timed part."""

    client: float
    server: float
    database: float
    machine: float

    @property
    def other(self) -> float:
        return max(0.0, self.machine - self.client - self.server - self.database)


# ---- servers, runs, the report ---------------------------------------------------------------------------


def server(db_url: str, workers: int, before: Path | None, log_dir: Path, extra: dict[str, str]) -> Server:
    port = free_port()
    env = {**extra, "GIS_DATABASE_URL": db_url}
    if before is None:
        argv = [str(GIS_SERVICE), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        argv.append("--no-access-log")
        name = "now"
    else:  # an older package: plain uvicorn, as its own `serve` would run it
        env["PYTHONPATH"] = str(before)
        argv = [str(PROJECT_PY), "-m", "uvicorn", "gis_service.main:create_app", "--factory", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
        name = "before"
    log = log_dir / f"{name}-{workers}w.log"
    # `python -m` puts the working directory first on sys.path: the older package's directory, then.
    return Server(name, argv, env, port, "/collections/industrial_parks/items", before or ROOT, log)


def measure(args: argparse.Namespace, workers: int, before: Path | None, workload: Workload, log_dir: Path) -> Run:
    srv = server(args.db_url, workers, before, log_dir, dict(kv.split("=", 1) for kv in args.env))
    srv.start()
    try:
        srv.wait_ready(120)
        for path in workload.cached:  # rendered once before any clock runs
            urllib.request.urlopen(srv.base + path, timeout=60).close()
        print(
            f"[run] {srv.name}, {workers} worker(s): {args.seconds:.0f} s after {args.warmup:.0f} s warm-up", flush=True
        )
        results, cpu = uvloop.run(drive(srv.base, workload, args.mix, args.warmup, args.seconds, srv.pid, args.db_url))
    finally:
        srv.stop()
    return Run(srv.name, workers, args.mix, args.seconds, results, cpu)


def ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def slow_answers(run: Run) -> str:
    """How many answers took longer than the bound (+0.5 s), by kind: admitted heavy work may; waits may not."""
    limit = BOUND_S + 0.5
    counts = {kind: sum(t > limit for t in r.latencies) for kind, r in run.kinds.items()}
    shown = ", ".join(f"{kind} {n}" for kind, n in counts.items() if n)
    return f"{sum(counts.values())}" + (f" ({shown})" if shown else "")


def report(runs: list[Run]) -> str:
    header = ["kind", "clients", "server", "workers", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "503"]
    header += ["slowest 503 ms", "errors"]
    rows = []
    for kind in runs[0].kinds:
        for run in runs:
            r = run.kinds[kind]
            rows.append(
                [
                    kind,
                    str(run.clients[kind]),
                    run.label,
                    str(run.workers),
                    f"{len(r.latencies) / run.seconds:.1f}",
                    ms(r.pct(50)),
                    ms(r.pct(95)),
                    ms(r.pct(99)),
                    ms(max(r.latencies, default=float("nan")) * 1000),
                    str(r.busy),
                    ms(r.busy_max * 1000) if r.busy else "-",
                    str(r.errors),
                ]
            )
    lines = [markdown_table(header, rows), ""]
    for run in runs:
        total = sum(len(r.latencies) for r in run.kinds.values())
        busy = sum(r.busy for r in run.kinds.values())
        errors = [f"{k}: {r.first_error}" for k, r in run.kinds.items() if r.errors]
        cached = run.kinds["cached tiles"].pct(99) if "cached tiles" in run.kinds else float("nan")
        slowest_busy = max((r.busy_max for r in run.kinds.values()), default=0.0)
        lines.append(
            f"- {run.label}, {run.workers} worker(s): {total / run.seconds:.0f} req/s, {busy} answered 503, "
            f"{sum(r.errors for r in run.kinds.values())} errors; "
            f"CPU cores: server {run.cpu.server / run.seconds:.2f}, its PostgreSQL backends "
            f"{run.cpu.database / run.seconds:.2f}, client {run.cpu.client / run.seconds:.2f}, anything else "
            f"{run.cpu.other / run.seconds:.2f} (machine {run.cpu.machine / run.seconds:.2f} of 2). "
            f"Cached tiles p99 {cached:.0f} ms (goal < 150 ms: {'met' if cached < 150 else 'missed'}); "
            + (
                f"slowest 503 {slowest_busy * 1000:.0f} ms (goal: within the {BOUND_S:g} s bound, +0.5 s: "
                f"{'met' if slowest_busy <= BOUND_S + 0.5 else 'missed'}); "
                if busy
                else "no 503; "
            )
            + f"answers slower than {BOUND_S + 0.5:g} s: {slow_answers(run)}."
            + (f" First errors: {'; '.join(errors)}" if errors else "")
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db-url", default=DEFAULT_DB, help="database to fill and serve (never gis or gis_test*)")
    p.add_argument("--parcels", type=int, default=200_000, help="synthetic parcels to load")
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    p.add_argument("--seconds", type=float, default=30.0, help="timed seconds per run")
    p.add_argument("--warmup", type=float, default=5.0, help="untimed seconds of load before each run")
    p.add_argument("--quick", action="store_true", help="10 s per run after 3 s of warm-up")
    p.add_argument("--before", type=Path, help="a directory holding an older gis_service package to run too")
    p.add_argument("--env", action="append", default=[], help="GIS_X=value for the server (repeatable)")
    p.add_argument("--mix", default=",".join(f"{k}={v}" for k, v in MIX.items()), help="clients per kind")
    p.add_argument("--no-readme", action="store_true", help="do not write the table into bench/README.md")
    args = p.parse_args()
    args.mix = {k: int(v) for k, v in (part.split("=") for part in args.mix.split(","))}
    unknown = set(args.mix) - set(MIX)
    if unknown:
        p.error(f"--mix: unknown kinds {sorted(unknown)}; use {sorted(MIX)}")
    if args.quick:
        args.seconds, args.warmup = 10.0, 3.0
    return args


def main() -> None:
    args = parse_args()
    check_bench_database(args.db_url)
    prepare(args.db_url, args.parcels)
    counts = [int(n) for n in args.workers.split(",")]
    cold = cold_tiles(seed=7)
    slice_size = len(cold) // (2 * len(counts))
    runs = []
    with tempfile.TemporaryDirectory(prefix="overload-") as logs:
        for i, (before, workers) in enumerate(
            [(None, n) for n in counts] + ([(args.before, n) for n in counts] if args.before else [])
        ):
            workload = Workload(
                ids(args.db_url, "parcels", "id"),
                ids(args.db_url, "industrial_parks", "code"),
                cached_tiles(),
                cold[(i % (2 * len(counts))) * slice_size :][:slice_size],
            )
            runs.append(measure(args, workers, before, workload, Path(logs)))
    table = report(runs)
    print(table)
    if not args.no_readme:
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        command = "python3 bench/overload.py" + (" --quick" if args.quick else "")
        if args.before:  # "before": the previous commit's code, exported with `git archive`
            command += " --before DIR  # DIR: gis_service/, layers/, migrations/ of the commit before"
        block = f"Measured {when} on this machine (2 cores shared with PostgreSQL and the client).\n\n"
        block += f"```sh\n{command}\n```\n\n{table}\n"
        update_readme_block("Overload", "overload-bench", block, PREAMBLE)


if __name__ == "__main__":
    main()
