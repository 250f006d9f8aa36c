"""Planning analyses through the API beside the very same SQL run directly (the floor).

For each analysis (locate, nearby 5 km on parcels, area statistics of parcels per 2025 ward) the script
builds the analysis plan with ``gis_service.analysis`` — the statements the service runs — and times:

- ``api``: one HTTP request to our service (one uvicorn worker, keep-alive), sequentially;
- ``sql``: the plan's statements, compiled once, executed through asyncpg on one connection.

Both see the same inputs in the same order (random points inside the province, fixed seed), interleaved
request by request so machine noise falls on both. The ratio api/sql at p50 is the service's overhead.

    .venv/bin/python bench/analysis.py --parcels 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.dialects import postgresql

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (
    GIS_SERVICE,
    PROJECT_PY,
    ROOT,
    Server,
    check_bench_database,
    free_port,
    markdown_table,
    running,
    update_readme_block,
)

from gis_service.analysis import plans, stats
from gis_service.analysis.plan import Plan
from gis_service.catalog import Catalog

DIALECT = postgresql.asyncpg.dialect()  # type: ignore[attr-defined]
BOX = (106.45, 10.90, 106.85, 11.35)  # well inside the province: every point lands in a ward


def prepare(db_url: str, parcels: int) -> None:
    env = {"GIS_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}
    subprocess.run(
        ["psql", db_url.rsplit("/", 1)[0] + "/postgres", "-qc", f"CREATE DATABASE {db_url.rsplit('/', 1)[1]}"],
        capture_output=True,
    )
    for args in (["migrate"], ["load", "--bundled"]):
        subprocess.run([str(GIS_SERVICE), *args], env=env, check=True, capture_output=True)
    have = subprocess.run(
        ["psql", db_url, "-Atc", "SELECT count(*) FROM parcels WHERE synthetic"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if int(have or 0) != parcels:
        print(f"[setup] synth parcels --count {parcels} ...", flush=True)
        subprocess.run([str(GIS_SERVICE), "synth", "parcels", "--count", str(parcels)], env=env, check=True)
        subprocess.run(["psql", db_url, "-qc", "VACUUM ANALYZE parcels"], check=True)


def compiled(plan: Plan) -> list[tuple[str, list[Any]]]:
    """The plan's statements as asyncpg SQL and positional arguments (its bound values included)."""
    out = []
    for stmt in plan.executables.values():
        c = stmt.compile(dialect=DIALECT)
        values = c.construct_params(plan.params)
        out.append((str(c), [values[n] for n in c.positiontup or []]))
    return out


def cases(catalog: Catalog, n: int, seed: int) -> dict[str, list[tuple[str, Plan]]]:
    rng = random.Random(seed)
    points = [(round(rng.uniform(BOX[0], BOX[2]), 5), round(rng.uniform(BOX[1], BOX[3]), 5)) for _ in range(n)]
    day = dt.date(2025, 7, 1)
    return {
        "locate": [
            (f"/analysis/locate?lon={x}&lat={y}&date={day}", plans.locate(catalog, x, y, day)) for x, y in points
        ],
        "nearby 5 km (parcels, 100)": [
            (
                f"/analysis/nearby?collection=parcels&distance_m=5000&lon={x}&lat={y}&limit=100",
                plans.nearby(catalog, "parcels", plans.Reference(lon=x, lat=y), 5000, 100),
            )
            for x, y in points
        ],
        "area stats (parcels per 2025 ward)": [
            ("/analysis/area-stats?collection=parcels&units=2025", stats.area_stats(catalog, "parcels", "unit", "2025"))
        ]
        * max(3, n // 10),
    }


async def measure(port: int, db_url: str, work: list[tuple[str, Plan]]) -> tuple[list[float], list[float]]:
    db = await asyncpg.connect(db_url)
    api, sql = [], []
    try:
        for path, plan in work:
            statements = compiled(plan)
            # A new loopback connection per request: a long SQL run between requests outlives keep-alive.
            http_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            t0 = time.perf_counter()
            http_conn.request("GET", path)
            response = http_conn.getresponse()
            body = response.read()
            api.append(time.perf_counter() - t0)
            http_conn.close()
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
            t0 = time.perf_counter()
            for text, args in statements:
                await db.fetch(text, *args)
            sql.append(time.perf_counter() - t0)
    finally:
        await db.close()
    return api, sql


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db-url", default="postgresql://postgres@127.0.0.1:54320/gis_bench_analysis")
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--points", type=int, default=100, help="Requests per analysis (area stats: a tenth).")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    check_bench_database(args.db_url)
    prepare(args.db_url, args.parcels)
    port = free_port()
    server = Server(
        "ours",
        [
            str(PROJECT_PY),
            "-m",
            "uvicorn",
            "gis_service.main:create_app",
            "--factory",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        {"GIS_DATABASE_URL": args.db_url},
        port,
        "/collections/parcels/items",
        ROOT,
        Path("/tmp/bench-analysis-server.log"),
    )
    catalog = Catalog.from_dir(ROOT / "layers")
    rows = []
    with running([server]):
        for name, work in cases(catalog, args.points, args.seed).items():
            asyncio.run(measure(port, args.db_url, work[:3]))  # warm both paths
            api, sql = asyncio.run(measure(port, args.db_url, work))
            rows.append(
                [
                    name,
                    str(len(api)),
                    f"{pct(api, 50):.1f}",
                    f"{pct(api, 95):.1f}",
                    f"{pct(sql, 50):.1f}",
                    f"{pct(sql, 95):.1f}",
                    f"{pct(api, 50) / pct(sql, 50):.2f}x",
                ]
            )
            print(rows[-1], flush=True)
    table = markdown_table(
        ["analysis", "requests", "api p50 ms", "api p95 ms", "sql p50 ms", "sql p95 ms", "api/sql p50"], rows
    )
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"Measured {when} on this machine (2 cores; server, PostgreSQL and client on one host); "
        f"{args.parcels:,} synthetic parcels.\n\n```sh\n.venv/bin/python bench/analysis.py --parcels "
        f"{args.parcels} --points {args.points}\n```\n\n{table}\n"
    )
    print("\n" + table)
    if not args.no_readme:
        update_readme_block("Analysis", "analysis-bench", block, PREAMBLE)


PREAMBLE = """`bench/analysis.py`: the planning analyses through the HTTP API beside the same statements run directly
through asyncpg (the floor), request by request, on synthetic parcels. The goal: the service adds at most 30 %
over the raw SQL at p50. Requests are sequential (concurrency 1), inputs are random points in the province
(fixed seed), and each API request is followed by the same plan's SQL so both see the same machine state."""


if __name__ == "__main__":
    main()
