"""Planning analyses through the API beside the very same SQL run directly (the floor).

For each analysis (locate, nearby 5 km on parcels, area statistics of parcels per 2025 ward) the script
builds the analysis plan with ``gis_service.analysis`` — the statements the service runs — and times:

- ``api``: one HTTP request to our service (one uvicorn worker, keep-alive), sequentially;
- ``sql``: the plan's statements, compiled once, executed through asyncpg on one connection.

Both see the same inputs in the same order (random points inside the province, fixed seed), interleaved
request by request so machine noise falls on both. The ratio api/sql at p50 is the service's overhead. The
floor's connection has the session settings of the service's request connections (no JIT, no parallel
workers by default).

Before any timing, every answer is checked against its definition: ``nearby`` (ids, order, distances) against
the plain scan (every parcel within the radius on the ellipsoid, sorted), area statistics against the spatial
query that asks the units' geometries for each parcel.

    .venv/bin/python bench/analysis.py --parcels 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import json
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
from gis_service.db import role_settings
from gis_service.queries import analysis as aq
from gis_service.queries import analysis_stats as sq
from gis_service.settings import load_settings

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
        synth = ["synth", "parcels", "--count", str(parcels), "--seed", "7"]
        subprocess.run([str(GIS_SERVICE), *synth], env=env, check=True)
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


def floor_settings(db_url: str) -> dict[str, str]:
    """The session settings the service's request connections have (``gis_service.db.role_settings``)."""
    return role_settings(load_settings(database_url=db_url))


def fetch_json(port: int, path: str) -> Any:
    http_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        http_conn.request("GET", path)
        response = http_conn.getresponse()
        body = response.read()
    finally:
        http_conn.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
    return json.loads(body)


async def definition_rows(db: asyncpg.Connection, plan: Plan, stmt: Any) -> list[dict[str, Any]]:
    c = stmt.compile(dialect=DIALECT)
    values = c.construct_params(plan.params)
    return [dict(r) for r in await db.fetch(str(c), *[values[n] for n in c.positiontup or []])]


async def check_equal(port: int, db_url: str, catalog: Catalog, work: dict[str, list[tuple[str, Plan]]]) -> str:
    """Every ``nearby`` answer against the plain scan, the area statistics against the spatial query."""
    db = await asyncpg.connect(db_url, server_settings=floor_settings(db_url))
    spec = catalog.get("parcels")
    try:
        nearby = work["nearby 5 km (parcels, 100)"]
        for path, plan in nearby:
            got = [(f["id"], f["properties"]["distance_m"]) for f in fetch_json(port, path)["features"]]
            rows = await definition_rows(db, plan, aq.within_scan(spec, aq.point(), with_geometry=False))
            if got != [(r["id"], round(r["distance_m"], 2)) for r in rows]:
                raise RuntimeError(f"nearby differs from the plain scan: {path}")
        path, plan = work["area stats (parcels per 2025 ward)"][0]
        groups = {g["unit_code"]: g for g in fetch_json(port, path)["groups"]}
        spatial = await definition_rows(db, plan, sq.polygons_by_unit(spec, "ward", sq.REFORM_DAY))
        for row in spatial:
            g = groups[row["unit_code"]]
            if (g["count"], g["unit_name"]) != (row["count"], row["unit_name"]) or abs(
                g["hectares"] - row["hectares"]
            ) > 1e-4:
                raise RuntimeError(f"area statistics differ from the spatial query in {row['unit_code']}")
    finally:
        await db.close()
    return f"{len(nearby)} nearby answers equal to the plain scan; area statistics of {len(spatial)} wards equal"


async def measure(port: int, db_url: str, work: list[tuple[str, Plan]]) -> tuple[list[float], list[float]]:
    db = await asyncpg.connect(db_url, server_settings=floor_settings(db_url))
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
    work_by_name = cases(catalog, args.points, args.seed)
    with running([server]):
        checked = asyncio.run(check_equal(port, args.db_url, catalog, work_by_name))
        print(f"[equal] {checked}", flush=True)
        for name, work in work_by_name.items():
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
        f"{args.parcels} --points {args.points} --db-url {args.db_url}\n```\n\n{table}\n\n- equal answers, checked "
        f"before timing: {checked}\n"
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
