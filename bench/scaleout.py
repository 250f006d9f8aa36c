"""Throughput of mixed reads with 1 and 2 API workers, with and without the streaming replicas.

The topology comes from ``gis_service.cluster`` (the machinery of ``gis-service cluster up``): a PostgreSQL
primary and two streaming replicas (``pg_basebackup -R -C -S``) on their own ports in a directory of their
own, migrated and loaded with the bundled layers, then ``--parcels`` synthetic parcels written on the primary
(the replicas replay them). The API is ``gis-service serve --workers N`` on the primary, with
``GIS_DB__REPLICA_URLS`` naming both replicas or not; a fresh server per configuration, so every tile it is
asked for is rendered (cold: each tile is asked for once per configuration).

Each configuration gets the same requests in the same order from ``--concurrency`` clients: parcels items
in random boxes, cold parcel tiles (z14-z16 under random points), ``locate`` and ``nearby`` (5 km, 100
parcels) at random points. Which server did the reading is counted from ``pg_stat_database`` (transactions
committed on the primary and on each replica). Two cores share everything here (the servers, three
PostgreSQL instances and the client): the table reports, it asserts no speed-up.

    .venv/bin/python bench/scaleout.py               # about 6 minutes
    .venv/bin/python bench/scaleout.py --help
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import morecantile
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import GIS_SERVICE, ROOT, Server, free_port, markdown_table, running, update_readme_block

from gis_service import cluster, provision

BOX = (106.45, 10.90, 106.85, 11.35)  # inside the province: parcels everywhere
KINDS = {"items": 4, "tiles (cold)": 4, "locate": 1, "nearby": 1}  # shares of the mix


@dataclass
class Result:
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: int = 0
    first_error: str = ""

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))] * 1000 if ordered else 0


def requests_mix(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (kind, path) in a fixed random order; no tile twice."""
    rng = random.Random(seed)
    tms = morecantile.tms.get("WebMercatorQuad")
    kinds = [k for k, share in KINDS.items() for _ in range(share)]
    seen: set[tuple[int, int, int]] = set()
    out: list[tuple[str, str]] = []
    while len(out) < n:
        kind = rng.choice(kinds)
        lon, lat = round(rng.uniform(BOX[0], BOX[2]), 5), round(rng.uniform(BOX[1], BOX[3]), 5)
        if kind == "items":
            d = 0.004
            path = f"/collections/parcels/items?bbox={lon},{lat},{lon + d:.5f},{lat + d:.5f}&limit=100"
        elif kind == "tiles (cold)":
            tile = tms.tile(lon, lat, rng.choice((14, 15, 16)))
            if (tile.z, tile.x, tile.y) in seen:
                continue
            seen.add((tile.z, tile.x, tile.y))
            path = f"/collections/parcels/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
        elif kind == "locate":
            path = f"/analysis/locate?lon={lon}&lat={lat}&date=2025-07-01"
        else:
            path = f"/analysis/nearby?collection=parcels&distance_m=5000&lon={lon}&lat={lat}&limit=100"
        out.append((kind, path))
    return out


async def load(base: str, work: list[tuple[str, str]], concurrency: int) -> Result:
    import aiohttp

    result = Result()
    queue = iter(work)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency), timeout=timeout) as session:

        async def client() -> None:
            for kind, path in queue:
                t0 = time.perf_counter()
                try:
                    async with session.get(base + path) as response:
                        body = await response.read()
                        ok = response.status in (200, 204)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    ok, body = False, repr(exc).encode()
                if ok:
                    result.latencies[kind].append(time.perf_counter() - t0)
                else:
                    result.errors += 1
                    result.first_error = result.first_error or f"{path}: {body[:200]!r}"

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    return result


def commits(urls: list[str]) -> list[int]:
    """Transactions committed in the database on each server (a standby counts its own read transactions)."""
    out = []
    for url in urls:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
            out.append(int(row.fetchone()[0]))  # type: ignore[index]
    return out


def start_topology(base: int, parcels: int) -> tuple[cluster.Topology, dict[str, str]]:
    """Primary (migrated, bundled layers, synthetic parcels) and two replicas, with ``gis_service.cluster``."""
    home = cluster.default_home(base)
    if not cluster.ports_free(base):
        sys.exit(f"ports {base}..{base + cluster.PORTS - 1} are busy; choose --base-port")
    home.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        import shutil

        shutil.chown(home, "postgres", "postgres")
    topo = cluster.Topology(str(home), base)
    topo.save()
    secrets = provision.ensure_secrets(home / "secrets.env")
    steps = [
        ("primary", lambda: cluster.start_primary(topo)),
        ("database", lambda: cluster.prepare_database(topo, secrets, load=True)),
        ("parcels", lambda: synth_parcels(topo, parcels)),
        *[(name, lambda i=i: cluster.start_replica(topo, i)) for i, name in enumerate(cluster.REPLICAS)],
    ]
    for name, step in steps:
        started = time.monotonic()
        step()
        print(f"[setup] {name} ({time.monotonic() - started:.1f} s)", flush=True)
    return topo, secrets


def synth_parcels(topo: cluster.Topology, count: int) -> None:
    env = {"GIS_DATABASE_URL": topo.primary_url, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    subprocess.run([str(GIS_SERVICE), "synth", "parcels", "--count", str(count), "--seed", "7"], env=env, check=True)
    with psycopg.connect(topo.primary_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE parcels")


def api_server(topo: cluster.Topology, secrets: dict[str, str], workers: int, replicas: bool) -> Server:
    env = cluster.worker_env(topo, secrets)
    for name in ("GIS_DB__POOLER", "GIS_CACHE__REDIS_URL"):
        env.pop(name, None)
    env["GIS_DATABASE_URL"] = topo.primary_url
    env["GIS_API__WORKERS"] = str(workers)
    if not replicas:
        env.pop("GIS_DB__REPLICA_URLS", None)
    port = free_port()
    argv = [str(GIS_SERVICE), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return Server(
        f"{workers} worker(s), {'replicas' if replicas else 'primary only'}",
        [*argv, "--no-access-log"],
        env,
        port,
        "/collections/parcels/items",
        ROOT,
        Path(f"/tmp/bench-scaleout-{workers}-{int(replicas)}.log"),
    )


def measure(topo: cluster.Topology, secrets: dict[str, str], args: argparse.Namespace) -> list[list[str]]:
    """Every configuration once per round, in turn, so the host's other load falls on all of them alike."""
    servers = [topo.primary_url, *topo.replica_urls]
    work = requests_mix(args.requests, args.seed)
    configurations = [(workers, replicas) for workers in (1, 2) for replicas in (False, True)]
    results = {c: Result() for c in configurations}
    done = {c: [0] * len(servers) for c in configurations}
    for round_ in range(args.rounds):
        for workers, replicas in configurations[round_ % 2 :] + configurations[: round_ % 2]:
            server = api_server(topo, secrets, workers, replicas)
            with running([server]):
                asyncio.run(load(server.base, requests_mix(40, args.seed + 1), args.concurrency))  # warm up
                before = commits(servers)
                result = asyncio.run(load(server.base, work, args.concurrency))
                after = commits(servers)
            merged = results[(workers, replicas)]
            merged.seconds += result.seconds
            merged.errors += result.errors
            merged.first_error = merged.first_error or result.first_error
            for kind, values in result.latencies.items():
                merged.latencies[kind] += values
            done[(workers, replicas)] = [
                d + b - a for d, a, b in zip(done[(workers, replicas)], before, after, strict=True)
            ]
            print(f"[round {round_ + 1}] {server.name}: {result.requests / result.seconds:.1f} req/s", flush=True)
    rows = []
    for config, result in results.items():
        commits_ = done[config]
        share = sum(commits_[1:]) / sum(commits_) if sum(commits_) else 0.0
        every = [x for v in result.latencies.values() for x in v]
        name = f"{config[0]} worker(s), {'replicas' if config[1] else 'primary only'}"
        row = [name, f"{result.requests / result.seconds:.1f}", f"{pct(every, 50):.0f}", f"{pct(every, 95):.0f}"]
        row += [f"{pct(result.latencies[k], 50):.0f}" for k in KINDS]
        row += [f"{share:.1%}", str(result.errors)]
        rows.append(row)
        print(row, result.first_error, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-port", type=int, default=56400, help="Ports base..base+7 (cluster layout).")
    parser.add_argument("--parcels", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=3_000, help="Requests per configuration and round.")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    cluster.check_tools()
    topo, secrets = start_topology(args.base_port, args.parcels)
    try:
        rows = measure(topo, secrets, args)
    finally:
        cluster.down(topo.path)
    header = ["configuration", "req/s", "p50 ms", "p95 ms", *(f"{k} p50 ms" for k in KINDS)]
    table = markdown_table([*header, "reads on replicas", "errors"], rows)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"Measured {when} on this machine (2 cores shared by the API, the primary, both replicas and the client); "
        f"{args.parcels:,} synthetic parcels; {args.requests} requests per configuration and round, "
        f"{args.rounds} rounds (configurations in turn), from "
        f"{args.concurrency} clients (items {KINDS['items']} : cold tiles {KINDS['tiles (cold)']} : locate "
        f"{KINDS['locate']} : nearby {KINDS['nearby']}).\n\n```sh\n.venv/bin/python bench/scaleout.py --parcels "
        f"{args.parcels} --requests {args.requests} --rounds {args.rounds} --concurrency {args.concurrency}\n"
        f"```\n\n{table}\n"
    )
    print("\n" + table)
    if not args.no_readme:
        update_readme_block("Scale-out: throughput", "scaleout-bench", block, PREAMBLE)


PREAMBLE = """`bench/scaleout.py`: mixed reads (parcels items, cold parcel tiles, `locate`, `nearby`) at a fixed
concurrency against `gis-service serve` with 1 and 2 workers, on the primary alone and with both streaming
replicas in `GIS_DB__REPLICA_URLS`; the topology (primary and two replicas) is started with the functions of
`gis_service.cluster` in a directory of its own and stopped at the end. "reads on replicas": the share of
the transactions committed during the run that the replicas committed (`pg_stat_database.xact_commit`)."""


if __name__ == "__main__":
    main()
