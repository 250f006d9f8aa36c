"""OGC API Features benchmark: our service against tipg and pygeoapi on the same parcels table.

    python3 bench/features.py                 # creates bench/.venv-peers if missing, then runs in it
    python3 bench/features.py --profile       # the same, then SQL-alone timings and py-spy of each server

Each server is its own process on its own loopback port (1 worker, uvloop + httptools, no access log, debug
off, the same database and pool size where configurable, the same 8 properties, limit=1000). Before any
timing, every request is sent once to every server and the answers are compared: numberMatched,
numberReturned and the feature ids in order. The load generator is a bounded asyncio aiohttp client
(a fixed number of requests per level and a time bound). CPU of the server process and of the PostgreSQL
backends serving it is read from /proc around each run, so every row says where the time went.
Parcels are synthetic (``gis-service synth parcels``) and flagged as such.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import _common as common
from _common import GIS_SERVICE, PEERS_PY, PROJECT_PY, ROOT, LoadResult, Server

DEFAULT_DB = "postgresql://postgres@127.0.0.1:54320/gis_bench"
#: The properties every server publishes (the catalogue's list in layers/parcels.yaml).
PROPERTIES = [
    "admin_code",
    "sheet_no",
    "parcel_no",
    "land_use_code",
    "area_ha",
    "geometry_quality",
    "source",
    "synthetic",
]
LIMIT = 1000
#: Land-use codes for the CQL2 scenario: each matches thousands of parcels, so limit=1000 is a full page.
CQL_CODES = ("ODT", "ONT", "CLN", "BHK", "LUC", "TMD")
UVICORN = ["--host", "127.0.0.1", "--workers", "1", "--loop", "uvloop", "--http", "httptools"]
UVICORN += ["--no-access-log", "--log-level", "warning"]
SERVERS = ("ours", "tipg", "pygeoapi")
RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    requests: list[dict[str, str]]


# ---- command line ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db-url", default=DEFAULT_DB, help="the bench's own database (never gis or gis_test*)")
    p.add_argument("--parcels", type=int, default=200_000, help="synthetic parcels in the database")
    p.add_argument("--requests", type=int, default=200, help="timed requests per server, scenario and level")
    p.add_argument("--concurrency", default="1,8", help="comma-separated concurrency levels")
    p.add_argument("--max-seconds", type=float, default=60.0, help="time bound of one timed run")
    p.add_argument("--rounds", type=int, default=1, help="repeat all runs, servers interleaved; results merged")
    p.add_argument("--warmup", type=int, default=16, help="untimed requests before each timed run")
    p.add_argument("--bboxes", type=int, default=6, help="different bboxes in the bbox scenario")
    p.add_argument("--pool", type=int, default=10, help="database pool size (ours, tipg)")
    p.add_argument("--servers", default=",".join(SERVERS), help="subset of ours,tipg,pygeoapi")
    p.add_argument("--scenarios", default="bbox,cql", help="subset of bbox,cql")
    p.add_argument("--accept-encoding", default="identity", help="Accept-Encoding the client sends (identity or gzip)")
    p.add_argument("--profile", action="store_true", help="after the runs: SQL-alone timings and py-spy of each server")
    p.add_argument("--no-readme", action="store_true", help="do not write the table into bench/README.md")
    return p.parse_args(argv)


def command_line() -> str:
    return "python3 bench/features.py" + "".join(f" {a}" for a in sys.argv[1:])


# ---- database -------------------------------------------------------------------------------------------


def prepare_database(url: str, parcels: int) -> None:
    """Create the bench database if needed, migrate, load the bundled layers once, make the parcels."""
    asyncio.run(_create_database(url))
    env = {"GIS_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    subprocess.run([str(GIS_SERVICE), "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    wards, synthetic = asyncio.run(_counts(url))
    if not wards:
        subprocess.run([str(GIS_SERVICE), "load", "--bundled"], env=env, cwd=ROOT, check=True)
    if synthetic != parcels:
        print(f"[setup] generating {parcels:,} synthetic parcels ...", flush=True)
        cmd = [str(GIS_SERVICE), "synth", "parcels", "--count", str(parcels), "--seed", "7"]
        subprocess.run(cmd, env=env, cwd=ROOT, check=True)
    asyncio.run(_execute(url, "VACUUM ANALYZE parcels"))


async def _create_database(url: str) -> None:
    import asyncpg

    name = common.database_name(url)
    conn = await asyncpg.connect(url.rsplit("/", 1)[0] + "/postgres")
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
            print(f"[setup] created database {name}", flush=True)
    finally:
        await conn.close()


async def _counts(url: str) -> tuple[int, int]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        wards = await conn.fetchval("SELECT count(*) FROM admin_units WHERE level = 'ward'")
        synthetic = await conn.fetchval("SELECT count(*) FROM parcels WHERE synthetic")
        return int(wards), int(synthetic)
    finally:
        await conn.close()


async def _execute(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def pick_bboxes(url: str, n: int, target: int = LIMIT) -> list[str]:
    """``n`` squares around points inside wards spread over the province, each holding 90-100% of a page."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT ST_X(p) AS x, ST_Y(p) AS y FROM (SELECT code, ST_PointOnSurface(geom) AS p FROM admin_units "
            "WHERE level = 'ward' AND valid_from = '2025-07-01' ORDER BY code) w"
        )
        picked = [rows[i * len(rows) // n] for i in range(min(n, len(rows)))]
        return [await _square(conn, r["x"], r["y"], target) for r in picked]
    finally:
        await conn.close()


async def _square(conn: Any, x: float, y: float, target: int) -> str:
    count_sql = "SELECT count(*) FROM parcels WHERE ST_Intersects(geom, ST_MakeEnvelope($1, $2, $3, $4, 4326))"
    low, high = 0.001, 0.2
    box = ""
    for _ in range(30):  # bisection on the half size, bounded
        half = (low + high) / 2
        corners = [round(v, 5) for v in (x - half, y - half, x + half, y + half)]
        box = ",".join(f"{v:.5f}" for v in corners)
        found = await conn.fetchval(count_sql, *corners)
        if 0.9 * target <= found <= target:
            return box
        low, high = (half, high) if found < 0.9 * target else (low, half)
    return box


def scenarios(bboxes: list[str], wanted: list[str]) -> list[Scenario]:
    every = [
        Scenario("bbox", f"bbox, limit={LIMIT}", [{"bbox": b, "limit": str(LIMIT)} for b in bboxes]),
        Scenario(
            "cql",
            f"CQL2 filter, limit={LIMIT}",
            [
                {"filter": f"land_use_code='{code}' AND area_ha > 0.1", "filter-lang": "cql2-text", "limit": str(LIMIT)}
                for code in CQL_CODES
            ],
        ),
    ]
    return [s for s in every if s.name in wanted]


# ---- servers --------------------------------------------------------------------------------------------


def make_servers(names: list[str], url: str, pool: int, tmp: Path) -> list[Server]:
    makers = {"ours": _ours, "tipg": _tipg, "pygeoapi": _pygeoapi}
    return [makers[name](url, pool, tmp) for name in names]


def _ours(url: str, pool: int, tmp: Path) -> Server:
    port = common.free_port()
    argv = [str(PROJECT_PY), "-m", "uvicorn", "gis_service.main:create_app", "--factory", "--port", str(port)]
    env = {"GIS_DATABASE_URL": url, "GIS_DB__POOL_SIZE": str(pool), "GIS_DB__MAX_OVERFLOW": "0"}
    version = _version(PROJECT_PY, "gis-service")
    return Server("ours", argv + UVICORN, env, port, "/collections/parcels/items", ROOT, tmp / "ours.log", version)


def _tipg(url: str, pool: int, tmp: Path) -> Server:
    port = common.free_port()
    table = "TIPG_TABLE_CONFIG__public_parcels__"
    env = {
        "DATABASE_URL": url,
        "DB_MIN_CONN_SIZE": "1",
        "DB_MAX_CONN_SIZE": str(pool),
        "TIPG_DEBUG": "false",
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.parcels"]',
        "TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS": '["public"]',
        "TIPG_MAX_FEATURES_PER_QUERY": "10000",
        table + "PK": "id",
        table + "GEOMCOL": "geom",
        table + "PROPERTIES": json.dumps(PROPERTIES),
    }
    argv = [str(PEERS_PY), "-m", "uvicorn", "tipg.main:app", "--port", str(port), *UVICORN]
    items = "/collections/public.parcels/items"
    return Server("tipg", argv, env, port, items, tmp, tmp / "tipg.log", _version(PEERS_PY, "tipg"))


PYGEOAPI_CONFIG = """\
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  gzip: false
  languages: [en-US]
  pretty_print: false
  limits: {{default_items: 10, max_items: 10000}}
  map: {{url: 'https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png', attribution: OpenStreetMap}}
logging:
  level: ERROR
metadata:
  identification:
    title: bench
    description: OGC API Features benchmark peer
    keywords: [bench]
    keywords_type: theme
    terms_of_service: https://creativecommons.org/licenses/by/4.0/
    url: http://127.0.0.1:{port}
  license: {{name: CC-BY 4.0, url: 'https://creativecommons.org/licenses/by/4.0/'}}
  provider: {{name: bench, url: 'http://127.0.0.1:{port}'}}
  contact: {{name: bench, email: bench@example.org, role: pointOfContact}}
resources:
  parcels:
    type: collection
    title: Parcels (synthetic)
    description: Synthetic parcels of the gis_service bench database
    keywords: [parcels]
    links: []
    extents:
      spatial: {{bbox: [106.3, 10.8, 107.0, 11.6], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'}}
    providers:
      - type: feature
        name: PostgreSQL
        data: {{host: {host}, port: {db_port}, dbname: {dbname}, user: {user}, password: '', search_path: [public]}}
        id_field: id
        table: parcels
        geom_field: geom
        properties: {properties}
"""


def _pygeoapi(url: str, pool: int, tmp: Path) -> Server:
    """pygeoapi's Starlette app under uvicorn; config and OpenAPI document generated in ``tmp``."""
    port = common.free_port()
    user, _, hostport = url.removeprefix("postgresql://").rpartition("/")[0].rpartition("@")
    host, _, db_port = hostport.partition(":")
    config = tmp / "pygeoapi-config.yml"
    config.write_text(
        PYGEOAPI_CONFIG.format(
            port=port,
            host=host,
            db_port=db_port or "5432",
            dbname=common.database_name(url),
            user=user or "postgres",
            properties=json.dumps(PROPERTIES),
        )
    )
    openapi = tmp / "pygeoapi-openapi.yml"
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    cli = PEERS_PY.parent / "pygeoapi"
    subprocess.run(
        [str(cli), "openapi", "generate", str(config), "--output-file", str(openapi)],
        env={**env, "PATH": "/usr/bin:/bin"},
        cwd=tmp,
        check=True,
        capture_output=True,
    )
    argv = [str(PEERS_PY), "-m", "uvicorn", "pygeoapi.starlette_app:APP", "--port", str(port), *UVICORN]
    version = _version(PEERS_PY, "pygeoapi")
    return Server("pygeoapi", argv, env, port, "/collections/parcels/items", tmp, tmp / "pygeoapi.log", version)


def _version(python: Path, dist: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def request_url(server: Server, params: dict[str, str]) -> str:
    """The same request for every server; pygeoapi 0.21 answers ``filter-lang=cql2-text`` with 400 (it only
    knows the names cql-text and cql-json) and parses ``filter`` as CQL text anyway, so it gets no filter-lang."""
    if server.name == "pygeoapi" and params.get("filter-lang") == "cql2-text":
        params = {k: v for k, v in params.items() if k != "filter-lang"}
    return server.items_url + "?" + urlencode(params, quote_via=quote)


# ---- equal output ---------------------------------------------------------------------------------------


@dataclass
class Answer:
    matched: int | None
    returned: int
    ids: list[str]
    properties: list[str]
    size: int
    error: str = ""


async def fetch_answers(servers: list[Server], scenario: Scenario, headers: dict[str, str]) -> dict[str, list[Answer]]:
    import aiohttp

    answers: dict[str, list[Answer]] = defaultdict(list)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        for params in scenario.requests:
            for server in servers:
                async with session.get(request_url(server, params), headers=headers) as response:
                    body = await response.read()
                    answers[server.name].append(_answer(response.status, body))
    return answers


def _answer(status: int, body: bytes) -> Answer:
    if status != 200:
        return Answer(None, 0, [], [], len(body), f"HTTP {status}: {body[:160].decode(errors='replace')}")
    doc = json.loads(body)
    features = doc.get("features", [])
    props = sorted(features[0].get("properties", {})) if features else []
    return Answer(doc.get("numberMatched"), len(features), [str(f.get("id")) for f in features], props, len(body))


def compare(answers: dict[str, list[Answer]], scenario: Scenario, reference: str = "ours") -> list[str]:
    """Differences against ``reference``, one line each; an empty list means equal output."""
    problems: list[str] = []
    for name, got in answers.items():
        for params, mine, theirs in zip(scenario.requests, answers[reference], got, strict=True):
            where = f"{scenario.name} {name} {urlencode(params)}"
            if theirs.error:
                problems.append(f"{where}: {theirs.error}")
            elif name == reference:
                continue
            elif (theirs.matched, theirs.returned) != (mine.matched, mine.returned):
                problems.append(
                    f"{where}: matched/returned {theirs.matched}/{theirs.returned}"
                    f" vs ours {mine.matched}/{mine.returned}"
                )
            elif theirs.ids != mine.ids:
                same = len(set(theirs.ids) & set(mine.ids))
                problems.append(f"{where}: ids differ ({same}/{mine.returned} in common, order or content)")
            elif theirs.properties != mine.properties:
                problems.append(f"{where}: properties {theirs.properties} vs ours {mine.properties}")
    return problems


# ---- timed runs -----------------------------------------------------------------------------------------


async def db_backends(url: str) -> list[int]:
    """PostgreSQL backends connected to the bench database (the servers' pools), this probe excluded."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        return [int(r["pid"]) for r in rows]
    finally:
        await conn.close()


async def timed_run(server: Server, urls: list[str], args: argparse.Namespace, concurrency: int) -> LoadResult:
    headers = {"Accept": "application/geo+json", "Accept-Encoding": args.accept_encoding}
    if args.warmup:
        await common.run_load(
            urls, concurrency=concurrency, requests=args.warmup, max_seconds=args.max_seconds, headers=headers
        )
    db_before = common.cpu_of(await db_backends(args.db_url))
    server_before = common.cpu_of([server.pid])
    client_before, machine_before = time.process_time(), common.machine_busy()
    result = await common.run_load(
        urls, concurrency=concurrency, requests=args.requests, max_seconds=args.max_seconds, headers=headers
    )
    result.machine_cpu = common.machine_busy() - machine_before
    result.client_cpu = time.process_time() - client_before
    result.server_cpu = common.cpu_delta(server_before, common.cpu_of([server.pid]))
    db_pids = set(db_before) | set(await db_backends(args.db_url))
    result.db_cpu = common.cpu_delta(db_before, common.cpu_of(sorted(db_pids)))
    return result


# ---- report ---------------------------------------------------------------------------------------------

Results = dict[tuple[str, int, str], LoadResult]


def detail_table(results: Results, titles: dict[str, str]) -> str:
    header = ["scenario", "conc.", "server", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms"]
    header += ["server CPU ms/req", "DB CPU ms/req", "client CPU ms/req", "KiB/resp", "KiB on wire", "other load"]
    rows = []
    for (scenario, conc, name), r in results.items():
        rows.append(
            [
                titles[scenario],
                str(conc),
                name,
                f"{r.requests}" + (f" ({r.errors} err)" if r.errors else ""),
                f"{r.rps:.1f}",
                f"{r.pct(50):.1f}",
                f"{r.pct(95):.1f}",
                f"{r.pct(99):.1f}",
                f"{r.per_request(r.server_cpu):.1f}",
                f"{r.per_request(r.db_cpu):.1f}",
                f"{r.per_request(r.client_cpu):.1f}",
                f"{r.bytes / 1024 / r.requests:.0f}" if r.requests else "-",
                f"{r.wire_bytes / 1024 / r.requests:.0f}" if r.requests else "-",
                f"{r.other_load:.2f} cores",
            ]
        )
    return common.markdown_table(header, rows)


def summary_table(results: Results, titles: dict[str, str], names: list[str], na: dict[tuple[str, str], str]) -> str:
    keys = sorted({(s, c) for s, c, _ in results}, key=lambda k: (list(titles).index(k[0]), k[1]))
    peers = [n for n in names if n != "ours"]
    header = ["scenario", "conc.", *(f"{n} req/s" for n in names), *(f"ours/{p}" for p in peers)]
    rows = []
    for scenario, conc in keys:
        rps = {n: results[(scenario, conc, n)].rps if (scenario, conc, n) in results else None for n in names}
        cells = [f"{rps[n]:.1f}" if rps[n] else f"n/a ({na.get((scenario, n), 'not run')})" for n in names]
        ratios = [
            f"{rps['ours'] / rps[p]:.2f}x" if rps.get("ours") and rps[p] else "n/a" for p in peers if "ours" in rps
        ]
        rows.append([titles[scenario], str(conc), *cells, *ratios])
    return common.markdown_table(header, rows)


def readme_block(args: argparse.Namespace, servers: list[Server], tables: list[str], notes: list[str]) -> str:
    versions = ", ".join(f"{s.name} {s.version}" for s in servers)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on this machine ({_cpu_count()} cores, PostgreSQL and the "
        f"client on the same host); {args.parcels:,} synthetic parcels; {versions}; "
        f"Accept-Encoding: {args.accept_encoding}.",
        "",
        "```sh",
        command_line(),
        "```",
        "",
        *(t + "\n" for t in tables),
    ]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines)


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 0


README_PREAMBLE = """\
`bench/features.py`: OGC API Features `items` on `parcels` (synthetic, `gis-service synth parcels`), our
service against [tipg](https://github.com/developmentseed/tipg) and
[pygeoapi](https://github.com/geopython/pygeoapi), each a single uvicorn worker (uvloop, httptools, no access
log, debug off) on its own loopback port, on the same database, with the same 8 properties and limit=1000.
The script checks that every server answers every request with the same numberMatched, numberReturned and
feature ids (in order) before timing anything.
"""


# ---- profiling (ours) ----------------------------------------------------------------------------------


def profile_server(server: Server, urls: list[str], args: argparse.Namespace, out: Path) -> str:
    """py-spy (the GIL holder only, so on-CPU Python time) on a server process during a concurrency-1 run."""
    raw = out.with_suffix(".txt")
    headers = {"Accept": "application/geo+json", "Accept-Encoding": args.accept_encoding}
    with common.pyspy(PEERS_PY.parent / "py-spy", server.pid, raw):
        run = common.run_load(
            urls, concurrency=1, requests=args.requests, max_seconds=args.max_seconds, headers=headers
        )
        result = asyncio.run(run)
    if not raw.exists():
        return "py-spy wrote nothing"
    return common.summarise_stacks(raw.read_text(), result.requests, result.seconds, LAYERS)


#: Layers for the inclusive view of the profiles: package prefix -> label.
LAYERS = {
    "gis_service/routers": "gis_service routers (handler)",
    "gis_service/dependencies": "gis_service dependencies (parsing)",
    "gis_service/repository": "gis_service repository (SQL execution)",
    "gis_service/queries": "gis_service query builders",
    "sqlalchemy": "sqlalchemy (compile + execute)",
    "anyio": "anyio (thread-pool hops: sync dependencies)",
    "asyncpg": "asyncpg (driver)",
    "fastapi": "fastapi",
    "starlette": "starlette (incl. middleware)",
    "uvicorn": "uvicorn",
    "pydantic": "pydantic",
    "orjson": "orjson",
    "tipg": "tipg",
    "geojson_pydantic": "geojson_pydantic",
    "pygeoapi": "pygeoapi",
    "shapely": "shapely",
    "geoalchemy2": "geoalchemy2",
    "psycopg2": "psycopg2 (driver)",
    "stdlib:json": "stdlib json",
}


async def sql_alone(url: str, scenario: Scenario, repeats: int = 10) -> dict[str, float]:
    """Median ms of our service's two statements (count, then the page as one GeoJSON text) and of tipg's
    (count, then rows with a GeoJSON geometry each), on one asyncpg connection with no HTTP around them."""
    import asyncpg

    statements = ours_sql(scenario)
    conn = await asyncpg.connect(url)
    timings: dict[str, list[float]] = defaultdict(list)
    try:
        for _ in range(repeats):
            for params, ours in zip(scenario.requests, statements, strict=True):
                for server, sqls in (("ours", ours), ("tipg", tipg_sql(params))):
                    for part, sql in zip(("count", "page"), sqls, strict=True):
                        t0 = time.perf_counter()
                        await conn.fetch(sql)
                        timings[f"{server} {part}"].append(time.perf_counter() - t0)
    finally:
        await conn.close()
    return {label: sorted(v)[len(v) // 2] * 1000 for label, v in timings.items()}


def ours_sql(scenario: Scenario) -> list[tuple[str, str]]:
    """The exact SQL our query builders make for each request (rendered by the project's venv)."""
    code = """
import json, sys
from sqlalchemy.dialects import postgresql
from gis_service.catalog import Catalog
from gis_service.queries import cql, features as fq
from gis_service.settings import load_settings
settings = load_settings()
spec = Catalog.from_dir(settings.layers_dir).get("parcels")
out = []
for p in json.load(sys.stdin):
    where = None
    if "filter" in p:
        where = cql.to_sql(spec, cql.parse(p["filter"], p.get("filter-lang"), max_chars=20000, max_depth=64), 4326)
    bbox = tuple(float(v) for v in p["bbox"].split(",")) if "bbox" in p else None
    q = fq.ItemsQuery(bbox=bbox, where=where, limit=int(p["limit"]))
    render = lambda s: str(s.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    out.append([render(fq.count(spec, q)), render(fq.items_text(spec, q))])
print(json.dumps(out))
"""
    done = subprocess.run(
        [str(PROJECT_PY), "-c", code], input=json.dumps(scenario.requests), capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode:
        raise RuntimeError(f"could not render our SQL: {done.stderr[-500:]}")
    return [tuple(pair) for pair in json.loads(done.stdout)]  # type: ignore[misc]


def tipg_sql(params: dict[str, str]) -> tuple[str, str]:
    """tipg 1.6's statements for these requests (tipg/collections.py: _features_count_query, _features_query)."""
    if "bbox" in params:
        x1, y1, x2, y2 = params["bbox"].split(",")
        where = f"ST_Intersects(geom, ST_MakeEnvelope({x1}, {y1}, {x2}, {y2}, 4326))"
    else:
        where = params["filter"].replace(" AND ", ") AND (")
        where = f"(({where}))"
    columns = ", ".join(f'"{p}"' for p in sorted(PROPERTIES))
    page = (
        f'SELECT {columns}, "id" AS tipg_id, CAST(ST_AsGeoJSON(CAST("geom" AS geometry)) AS json) AS tipg_geom '
        f'FROM "public"."parcels" WHERE {where} ORDER BY "id" LIMIT {params["limit"]} OFFSET 0'
    )
    return f'SELECT COUNT(*) FROM "public"."parcels" WHERE {where}', page


# ---- main -----------------------------------------------------------------------------------------------


def run_all(args: argparse.Namespace, servers: list[Server], chosen: list[Scenario]) -> tuple[Results, list[str]]:
    headers = {"Accept": "application/geo+json", "Accept-Encoding": args.accept_encoding}
    problems: list[str] = []
    for scenario in chosen:
        answers = asyncio.run(fetch_answers(servers, scenario, headers))
        problems += compare(answers, scenario)
        for name, got in answers.items():
            returned = [a.returned for a in got]
            print(f"[check] {scenario.name:5} {name:9} returned {returned}", flush=True)
    results: Results = {}
    levels = [int(c) for c in args.concurrency.split(",")]
    for round_no in range(1, args.rounds + 1):
        for scenario in chosen:
            for conc in levels:
                for server in servers:
                    urls = [request_url(server, p) for p in scenario.requests]
                    r = asyncio.run(timed_run(server, urls, args, conc))
                    key = (scenario.name, conc, server.name)
                    results[key] = results[key].merge(r) if key in results else r
                    print(
                        f"[run {round_no}] {scenario.name:5} c={conc} {server.name:9} {r.requests:4} req "
                        f"{r.rps:7.1f} req/s p50 {r.pct(50):6.1f} ms p95 {r.pct(95):6.1f} ms "
                        f"other load {r.other_load:.2f} errors {r.errors} {r.first_error[:120]}",
                        flush=True,
                    )
    return results, problems


def main() -> None:
    common.reexec_in_peers_venv()
    args = parse_args()
    common.check_bench_database(args.db_url)
    names = [n for n in args.servers.split(",") if n]
    unknown = set(names) - set(SERVERS)
    if unknown:
        sys.exit(f"unknown servers {sorted(unknown)}")
    prepare_database(args.db_url, args.parcels)
    bboxes = asyncio.run(pick_bboxes(args.db_url, args.bboxes))
    chosen = scenarios(bboxes, args.scenarios.split(","))
    titles = {s.name: s.title for s in chosen}
    print(f"[setup] bboxes: {' '.join(bboxes)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
        servers = make_servers(names, args.db_url, args.pool, Path(tmp))
        with common.running(servers):
            results, problems = run_all(args, servers, chosen)
            profile = _profile(args, servers, chosen) if args.profile else ""
    na = {(s, n): "errors" for (s, _, n), r in results.items() if not r.requests}
    tables = [summary_table(results, titles, names, na), detail_table(results, titles)]
    notes = [f"equal output: {'yes, every request' if not problems else f'{len(problems)} mismatches'}"]
    notes += problems[:20]
    print("\n" + "\n\n".join(tables) + "\n\n" + "\n".join(notes))
    if profile:
        print("\n" + profile)
    if not args.no_readme:
        block = readme_block(args, servers, tables, notes)
        marker = "features-bench" if args.accept_encoding == "identity" else f"features-bench-{args.accept_encoding}"
        common.update_readme_block("Features", marker, block, README_PREAMBLE)
        print(f"\n[readme] wrote the Features table to {common.README.relative_to(ROOT)}")


def _profile(args: argparse.Namespace, servers: list[Server], chosen: list[Scenario]) -> str:
    """SQL alone, then py-spy per server; the collapsed stacks stay in bench/results/ (git-ignored)."""
    RESULTS.mkdir(exist_ok=True)
    parts = []
    for scenario in chosen:
        sql = asyncio.run(sql_alone(args.db_url, scenario))
        timing = ", ".join(f"{k} {v:.1f} ms" for k, v in sql.items())
        parts.append(f"== {scenario.title}: SQL alone, median per request: {timing}")
        for server in servers:
            urls = [request_url(server, p) for p in scenario.requests]
            stacks = profile_server(server, urls, args, RESULTS / f"pyspy-{server.name}-{scenario.name}")
            parts.append(f"-- {server.name}, {scenario.title}, py-spy:\n{stacks}")
    return "\n\n".join(parts)


if __name__ == "__main__":
    main()
