"""Edits benchmark: creates, replaces, updates and deletes per second through our OGC API Features Part 4,
with history on and off, beside pygeoapi's PostgreSQL provider transactions on the same database.

    python3 bench/edits.py            # creates bench/.venv-peers if missing, then runs in it
    python3 bench/edits.py --quick    # fewer operations, one round (under two minutes once set up)

Three servers, each its own process on its own loopback port (features.py's uvicorn settings):
  ours              parcels of the bench database, history triggers on (as deployed);
  ours, no history  parcels of a scratch copy of that database (CREATE DATABASE ... TEMPLATE), where the
                    owner disabled the history triggers only (``trg_parcels_history_{insert,update,delete}``);
                    the stamp trigger (version = ETag, change set), the layer-version triggers and row-level
                    security stay;
  pygeoapi          ``parcels_peer`` in the bench database: a copy of ``parcels`` (same columns, generated
                    columns, CHECK, indexes and rows) without our triggers and policies, ``editable: true``.
Every server gets the same features, in the same order: ``ops`` creates (POST), then a PUT of each,
then (ours only, pygeoapi has no PATCH) a merge-patch PATCH of each, then a DELETE of each. After each
phase the rows are counted in the database; after the deletes, our history rows too (I, 2 x U and D per
feature with history, none without). The load generator is a bounded asyncio aiohttp client.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common as common
import features
from _common import GIS_SERVICE, ROOT, Call, CallsResult, LoadResult, Server

DEFAULT_DB = "postgresql://postgres@127.0.0.1:54320/gis_bench_edits"
#: Every row the bench writes carries this admin_code (and a run tag as sheet_no); leftovers are removed.
MARK = "BENCHEDIT"
ACCOUNT = "bench-editor"
PEER_TABLE = "parcels_peer"
STORAGE = "        storage_crs: http://www.opengis.net/def/crs/EPSG/0/4326\n"
HISTORY_TRIGGERS = tuple(f"trg_parcels_history_{event}" for event in ("insert", "update", "delete"))
OURS, NO_HISTORY, PYGEOAPI = "ours", "ours, no history", "pygeoapi"
#: --servers keys -> names in the tables.
KEYS = {"ours": OURS, "nohistory": NO_HISTORY, "pygeoapi": PYGEOAPI}
PHASES = ("create", "replace", "update", "delete")
TITLES = {"create": "create (POST)", "replace": "replace (PUT)", "update": "update (PATCH)", "delete": "delete"}
SOURCES = {"create": "bench: created", "replace": "bench: replaced", "update": "bench: patched"}
#: Where the bench's features lie: a 0.05 degree square inside the province (south of Thu Dau Mot).
ORIGIN, STEP, SIDE = (106.60, 10.95), 0.0005, 0.0004
PROFILES = {
    "default": {"ops": 500, "rounds": 2, "warmup": 10, "slices": 5},
    "quick": {"ops": 200, "rounds": 1, "warmup": 5, "slices": 2},
}


# ---- command line ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db-url", default=DEFAULT_DB, help="the bench's own database (never gis or gis_test*)")
    p.add_argument("--quick", action="store_true", help="fewer operations, one round; prints, README untouched")
    p.add_argument("--parcels", type=int, default=200_000, help="synthetic parcels in the table (both tables)")
    p.add_argument("--ops", type=int, help="operations per phase, server, level and round (default 500, quick 200)")
    p.add_argument("--rounds", type=int, help="repeat everything, servers interleaved; merged (default 2, quick 1)")
    p.add_argument("--warmup", type=int, help="untimed create/put/patch/delete cycle per server and level")
    p.add_argument("--slices", type=int, help="turns the servers take within a phase (default 5, quick 2)")
    p.add_argument("--concurrency", default="1,8", help="comma-separated numbers of clients")
    p.add_argument("--max-seconds", type=float, default=120.0, help="time bound of one timed phase")
    p.add_argument("--pool", type=int, default=10, help="our database pool size (pygeoapi's is not configurable)")
    p.add_argument("--servers", default=",".join(KEYS), help="subset of ours,nohistory,pygeoapi")
    p.add_argument("--profile", action="store_true", help="after the runs: py-spy of our servers, phase by phase")
    p.add_argument("--readme", action="store_true", help="write the README block even with --quick")
    p.add_argument("--no-readme", action="store_true", help="do not write the table into bench/README.md")
    args = p.parse_args(argv)
    profile = PROFILES["quick" if args.quick else "default"]
    for name, value in profile.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.levels = [int(c) for c in args.concurrency.split(",")]
    unknown = [k for k in args.servers.split(",") if k not in KEYS]
    if unknown:
        p.error(f"--servers: unknown {unknown}; choose among {','.join(KEYS)}")
    args.names = [KEYS[k] for k in args.servers.split(",")]
    return args


def command_line() -> str:
    return "python3 bench/edits.py" + "".join(f" {a}" for a in sys.argv[1:])


# ---- databases ------------------------------------------------------------------------------------------


async def fetch(url: str, sql: str, *params: Any) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *params))
    finally:
        await conn.close()


def scratch_url(url: str) -> str:
    return f"{url.rsplit('/', 1)[0]}/{common.database_name(url)}_nohistory"


async def remove_leftovers(url: str) -> None:
    """Rows of an interrupted run (their history stays, as it would for any deleted feature)."""
    exists = await fetch(url, "SELECT to_regclass('public.parcels') IS NOT NULL AS t")
    if exists and exists[0]["t"]:
        await features._execute(url, f"DELETE FROM parcels WHERE admin_code = '{MARK}'")
    peer = await fetch(url, f"SELECT to_regclass('public.{PEER_TABLE}') IS NOT NULL AS t")
    if peer and peer[0]["t"]:
        await features._execute(url, f"DELETE FROM {PEER_TABLE} WHERE admin_code = '{MARK}'")


async def peer_table(url: str) -> None:
    """``parcels_peer``: ``parcels`` without our triggers and policies (LIKE copies neither), with a
    sequence of its own and the same rows; rebuilt when its rows differ from parcels' (count, last id)."""
    parcels = tuple((await fetch(url, "SELECT count(*), max(id) FROM parcels"))[0])
    if (await fetch(url, f"SELECT to_regclass('public.{PEER_TABLE}') IS NOT NULL AS t"))[0]["t"]:
        peer = tuple((await fetch(url, f"SELECT count(*), max(id) FROM {PEER_TABLE}"))[0])
        if peer == parcels:
            return
    print(f"[setup] copying parcels into {PEER_TABLE} ...", flush=True)
    columns = await fetch(
        url,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'parcels' "
        "AND is_generated = 'NEVER' ORDER BY ordinal_position",
    )
    names = ", ".join(c["column_name"] for c in columns)
    statements = [
        f"DROP TABLE IF EXISTS {PEER_TABLE}",
        f"CREATE TABLE {PEER_TABLE} (LIKE parcels INCLUDING ALL)",
        f"CREATE SEQUENCE {PEER_TABLE}_id_seq OWNED BY {PEER_TABLE}.id",
        f"ALTER TABLE {PEER_TABLE} ALTER COLUMN id SET DEFAULT nextval('{PEER_TABLE}_id_seq')",
        f"INSERT INTO {PEER_TABLE} ({names}) SELECT {names} FROM parcels",
        f"SELECT setval('{PEER_TABLE}_id_seq', (SELECT max(id) FROM {PEER_TABLE}))",
    ]
    await features._execute(url, "; ".join(statements))  # one implicit transaction


def cli(url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {"GIS_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    return subprocess.run([str(GIS_SERVICE), *argv], env=env, cwd=ROOT, capture_output=True, text=True)


def editor_key(url: str) -> str:
    """A fresh key of the bench's editor account (made once, with an editor grant on parcels, no area)."""
    added = cli(url, "users", "add", ACCOUNT, "--display-name", "Edits benchmark")
    if added.returncode and "exists already" not in added.stderr:
        sys.exit(f"gis-service users add failed: {added.stderr.strip()}")
    granted = cli(url, "grants", "set", ACCOUNT, "parcels", "editor")
    if granted.returncode:
        sys.exit(f"gis-service grants set failed: {granted.stderr.strip()}")
    created = cli(url, "keys", "create", ACCOUNT, "--label", "bench/edits.py", "--expires-days", "1")
    token = created.stdout.strip()
    if created.returncode or not token.startswith("gsk_"):
        sys.exit(f"gis-service keys create failed: {created.stderr.strip()}")
    return token


async def scratch_copy(url: str, scratch: str) -> None:
    """The bench database copied as it is now, then the history trigger disabled by the table's owner."""
    name, source = common.database_name(scratch), common.database_name(url)
    admin = url.rsplit("/", 1)[0] + "/postgres"
    drop, create = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}" TEMPLATE "{source}"'
    await features._execute(admin, drop)
    await features._execute(admin, create)
    disable = "; ".join(f"ALTER TABLE parcels DISABLE TRIGGER {name}" for name in HISTORY_TRIGGERS)
    await features._execute(scratch, f"SET ROLE gis_owner; {disable}")


async def triggers(url: str) -> dict[str, str]:
    rows = await fetch(
        url, "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'parcels'::regclass AND NOT tgisinternal"
    )
    return {r["tgname"]: bytes(r["tgenabled"]).decode() for r in rows}


def prepare(args: argparse.Namespace) -> None:
    """The bench database and the peer table, rows of an interrupted run removed."""
    asyncio.run(features._create_database(args.db_url))
    asyncio.run(remove_leftovers(args.db_url))
    features.prepare_database(args.db_url, args.parcels)
    asyncio.run(peer_table(args.db_url))
    for table in (PEER_TABLE, "parcels_history"):
        asyncio.run(features._execute(args.db_url, f"VACUUM ANALYZE {table}"))


def without_history(args: argparse.Namespace) -> None:
    """The scratch copy (made after the key, so the key works there too), checked: only history is off."""
    asyncio.run(scratch_copy(args.db_url, args.scratch))
    states = asyncio.run(triggers(args.scratch))
    history_off = all(states.get(name) == "D" for name in HISTORY_TRIGGERS)
    if not history_off or any(v != "O" for k, v in states.items() if k not in HISTORY_TRIGGERS):
        raise RuntimeError(f"scratch copy: unexpected trigger states {states}")


# ---- servers --------------------------------------------------------------------------------------------


@dataclass
class Target:
    """A server under test, where it writes and how it is asked."""

    server: Server
    db_url: str
    table: str
    headers: tuple[tuple[str, str], ...]
    history: bool

    @property
    def name(self) -> str:
        return self.server.name


def make_targets(args: argparse.Namespace, key: str, tmp: Path) -> list[Target]:
    auth = (("Authorization", f"Bearer {key}"),)
    targets = []
    for name in args.names:
        where = tmp / name.replace(", ", "-").replace(" ", "-")
        where.mkdir()
        if name == PYGEOAPI:
            targets.append(Target(pygeoapi_server(args.db_url, where), args.db_url, PEER_TABLE, (), False))
        else:
            url = args.db_url if name == OURS else args.scratch
            server = dataclasses.replace(features._ours(url, args.pool, where), name=name)
            targets.append(Target(server, url, "parcels", auth, name == OURS))
    return targets


def pygeoapi_server(url: str, tmp: Path) -> Server:
    """features.py's pygeoapi, on the copy table and with transactions on (``editable: true``)."""
    template = features.PYGEOAPI_CONFIG
    line = "        table: parcels\n"
    if line not in template:
        raise RuntimeError("features.PYGEOAPI_CONFIG changed: no provider table line to point at the copy")
    # The storage CRS as an EPSG code: pygeoapi 0.21 writes the SRID from it, and its default (CRS84) has
    # none, so every create would fail with "SRID=None".
    features.PYGEOAPI_CONFIG = template.replace(line, f"        table: {PEER_TABLE}\n        editable: true\n{STORAGE}")
    try:
        return features._pygeoapi(url, 0, tmp)
    finally:
        features.PYGEOAPI_CONFIG = template


# ---- the work -------------------------------------------------------------------------------------------


def ring(i: int, shift: float = 0.0) -> list[list[float]]:
    x = ORIGIN[0] + (i % 100) * STEP + shift
    y = ORIGIN[1] + (i // 100 % 100) * STEP + shift
    return [[x, y], [x + SIDE, y], [x + SIDE, y + SIDE], [x, y + SIDE], [x, y]]


def feature(tag: str, i: int, phase: str, feature_id: str | None = None) -> dict[str, Any]:
    """Feature ``i`` of a run: the created one, or (``replace``) every property again and a moved geometry."""
    shift = STEP / 5 if phase == "replace" else 0.0
    properties = {
        "admin_code": MARK,
        "sheet_no": tag,
        "parcel_no": str(i),
        "land_use_code": "ODT" if phase == "create" else "ONT",
        "geometry_quality": "approximate",
        "source": SOURCES[phase],
        "synthetic": True,
    }
    document: dict[str, Any] = {"type": "Feature"}
    if feature_id is not None:
        document["id"] = int(feature_id)  # pygeoapi takes a PUT's id from the body, not the URL
    document |= {"properties": properties, "geometry": {"type": "MultiPolygon", "coordinates": [[ring(i, shift)]]}}
    return document


def calls(target: Target, phase: str, tag: str, ids: Sequence[str | None], indices: range) -> list[Call]:
    """The requests of one phase for features ``indices``; ``ids``: the created features' ids (None: not
    created yet, or never)."""
    items = target.server.items_url
    geojson = (("Content-Type", "application/geo+json"), *target.headers)
    if phase == "create":
        return [Call("POST", items, json.dumps(feature(tag, i, "create")).encode(), geojson, (201,)) for i in indices]
    out = []
    for i in indices:
        fid = ids[i]
        if fid is None:
            continue
        url = f"{items}/{fid}"
        if phase == "replace":
            out.append(Call("PUT", url, json.dumps(feature(tag, i, "replace", fid)).encode(), geojson, (200, 204)))
        elif phase == "update":
            patch = json.dumps({"properties": {"source": SOURCES["update"]}}).encode()
            headers = (("Content-Type", "application/merge-patch+json"), *target.headers)
            out.append(Call("PATCH", url, patch, headers, (200, 204)))
        else:
            out.append(Call("DELETE", url, None, target.headers, (200, 204)))
    return out


def phases(target: Target) -> tuple[str, ...]:
    return PHASES if target.name != PYGEOAPI else tuple(p for p in PHASES if p != "update")


def new_tag() -> str:
    return "e" + secrets.token_hex(5)  # sheet_no is varchar(16)


async def slice_run(target: Target, phase: str, tag: str, ids: list[str | None], indices: range,
                    args: argparse.Namespace, concurrency: int, timed: bool) -> CallsResult:  # fmt: skip
    """One phase on features ``indices``; a create writes the new features' ids into ``ids``."""
    todo = calls(target, phase, tag, ids, indices)
    keep = "Location" if phase == "create" else None
    run = common.run_calls(todo, concurrency=concurrency, max_seconds=args.max_seconds, keep=keep)
    backends = lambda: features.db_backends(target.db_url)  # noqa: E731
    result = await (common.measured(run, target.server.pid, backends) if timed else run)
    if phase == "create":
        for i, location in zip(indices, result.kept, strict=True):
            ids[i] = location.rstrip("/").rsplit("/", 1)[-1] if location else None
    return result


async def verify(target: Target, phase: str, tag: str, expected: int, ids: list[str]) -> str:
    """The database agrees with the answers: '' when it does, else what differs."""
    rows = await fetch(
        target.db_url,
        f"SELECT count(*) AS n, count(*) FILTER (WHERE source = $2) AS changed FROM {target.table} "
        f"WHERE admin_code = '{MARK}' AND sheet_no = $1",
        tag,
        SOURCES.get(phase, ""),
    )
    total, changed = rows[0]["n"], rows[0]["changed"]
    if phase == "delete":
        problem = "" if total == 0 else f"{total} rows left after the deletes"
        if not problem and target.table == "parcels":
            problem = await verify_history(target, ids)
        return problem
    if total != expected:
        return f"{total} rows, expected {expected}"
    if changed != expected:
        return f"{changed} rows with source {SOURCES[phase]!r}, expected {expected}"
    return ""


async def verify_history(target: Target, ids: list[str]) -> str:
    rows = await fetch(
        target.db_url,
        "SELECT op, count(*) AS n FROM parcels_history WHERE feature_id = ANY($1::bigint[]) GROUP BY op",
        [int(i) for i in ids],
    )
    got = {r["op"]: int(r["n"]) for r in rows}
    n = len(ids)
    want = {"I": n, "U": 2 * n, "D": n} if target.history else {}
    return "" if got == want else f"history rows {got}, expected {want}"


Results = dict[tuple[str, int, str], LoadResult]


@dataclass
class Run:
    """One server's features at one level in one round, carried from phase to phase."""

    tag: str
    ids: list[str | None]

    @property
    def created(self) -> list[str]:
        return [i for i in self.ids if i is not None]


async def cycle_untimed(target: Target, args: argparse.Namespace, concurrency: int) -> str:
    """A warm-up: the whole cycle on ``warmup`` features, not timed; '' when every call succeeded."""
    run = Run(new_tag(), [None] * args.warmup)
    for phase in phases(target):
        result = await slice_run(target, phase, run.tag, run.ids, range(args.warmup), args, concurrency, False)
        if result.errors:
            return f"warm-up {phase}: {result.first_error}"
    return ""


def slices(n: int, parts: int) -> list[range]:
    edges = [n * k // parts for k in range(parts + 1)]
    return [range(a, b) for a, b in itertools.pairwise(edges) if b > a]


def run_all(targets: list[Target], args: argparse.Namespace) -> tuple[Results, list[str]]:
    """Phase by phase; within a phase the features are cut into slices and the servers take turns slice by
    slice (the first server rotating), so each one is measured across the same stretch of a shared host."""
    results: Results = {}
    problems: list[str] = []
    for round_no in range(1, args.rounds + 1):
        for conc in args.levels:
            for target in targets:
                if args.warmup and (error := asyncio.run(cycle_untimed(target, args, conc))):
                    problems.append(f"{target.name} c={conc}: {error}")
            runs = {t.name: Run(new_tag(), [None] * args.ops) for t in targets}
            for phase in PHASES:
                active = [t for t in targets if phase in phases(t)]
                phase_results: dict[str, LoadResult] = {}
                for j, indices in enumerate(slices(args.ops, args.slices)):
                    for target in active[j % len(active) :] + active[: j % len(active)]:
                        run = runs[target.name]
                        r = asyncio.run(slice_run(target, phase, run.tag, run.ids, indices, args, conc, True))
                        name = target.name
                        phase_results[name] = phase_results[name].merge(r) if name in phase_results else r
                for target in active:
                    result, run = phase_results[target.name], runs[target.name]
                    problem = asyncio.run(verify(target, phase, run.tag, len(run.created), run.created))
                    if result.requests != args.ops or result.errors:
                        problem = f"{result.requests}/{args.ops} done, {result.errors} errors {result.first_error}"
                    if problem:
                        problems.append(f"{target.name} {phase} c={conc} round {round_no}: {problem}")
                    key = (phase, conc, target.name)
                    results[key] = results[key].merge(result) if key in results else result
                    print(
                        f"[run {round_no}] {phase:7} c={conc} {target.name:16} {result.requests:4} ops "
                        f"{result.rps:7.1f}/s p50 {result.pct(50):6.1f} ms p95 {result.pct(95):6.1f} ms "
                        f"other load {result.other_load:.2f} {'ok' if not problem else 'MISMATCH ' + problem[:160]}",
                        flush=True,
                    )
    return results, problems


#: features.py's layers of the profile, and the parts of a write.
LAYERS = {
    "gis_service/edits": "gis_service edits (checks + transaction)",
    "gis_service/ingest": "gis_service loader checks",
    "gis_service/auth": "gis_service auth (key, principal, SET ROLE)",
    "pandas": "pandas",
    **features.LAYERS,
}


def profile(target: Target, args: argparse.Namespace) -> str:
    """py-spy (the GIL holder: on-CPU Python) on one of our servers, phase by phase, one client; the collapsed
    stacks stay in bench/results/ (git-ignored)."""
    features.RESULTS.mkdir(exist_ok=True)
    run, parts = Run(new_tag(), [None] * args.ops), []
    for phase in phases(target):
        raw = features.RESULTS / f"pyspy-edits-{target.name.replace(', ', '-').replace(' ', '-')}-{phase}.txt"
        with common.pyspy(common.PEERS_PY.parent / "py-spy", target.server.pid, raw):
            result = asyncio.run(slice_run(target, phase, run.tag, run.ids, range(args.ops), args, 1, False))
        text = raw.read_text() if raw.exists() else ""
        stacks = common.summarise_stacks(text, result.requests, result.seconds, LAYERS)
        parts.append(f"-- {target.name}, {TITLES[phase]}, py-spy:\n{stacks}")
    return "\n\n".join(parts)


# ---- report ---------------------------------------------------------------------------------------------


def summary_table(results: Results, names: list[str]) -> str:
    """ops/s per server; ours/pygeoapi (ours' PATCH against pygeoapi's PUT, its nearest); history cost as
    time per operation (from ops/s) and as server + database CPU per operation, each with over without."""
    both, history = OURS in names and PYGEOAPI in names, OURS in names and NO_HISTORY in names
    header = ["operation", "clients", *(f"{n} ops/s" for n in names)]
    header += ["ours/pygeoapi"] * both + ["history cost, time", "history cost, CPU"] * history
    rows = []
    for phase in PHASES:
        for conc in sorted({c for p, c, _ in results if p == phase}):
            got = {n: results[(phase, conc, n)] for n in names if (phase, conc, n) in results}
            peer = results.get(("replace" if phase == "update" else phase, conc, PYGEOAPI))
            cells = [f"{got[n].rps:.1f}" if n in got else "n/a" for n in names]
            if PYGEOAPI in names and phase == "update":
                cells[names.index(PYGEOAPI)] = f"{peer.rps:.1f} (PUT)" if peer else "n/a"
            row = [TITLES[phase], str(conc), *cells]
            if both:
                ratio = f"{got[OURS].rps / peer.rps:.2f}x" if OURS in got and peer and peer.rps else "n/a"
                row.append(ratio + (" (vs PUT)" if phase == "update" else ""))
            if history:
                ours, bare = got.get(OURS), got.get(NO_HISTORY)
                row.append(
                    _more(1 / ours.rps if ours and ours.rps else None, 1 / bare.rps if bare and bare.rps else None)
                )
                row.append(_more(_cpu(ours), _cpu(bare)))
            rows.append(row)
    return common.markdown_table(header, rows)


def _seconds(result: LoadResult | None) -> float | None:
    return 1 / result.rps if result and result.rps else None


def _cpu(result: LoadResult | None) -> float | None:
    return result.per_request(result.server_cpu + result.db_cpu) if result and result.requests else None


def _more(with_history: float | None, without: float | None) -> str:
    """How much more with history than without, in percent."""
    if not with_history or not without:
        return "n/a"
    return f"{(with_history / without - 1) * 100:+.0f}%"


def detail_table(results: Results) -> str:
    header = ["operation", "clients", "server", "ops", "ops/s", "p50 ms", "p95 ms", "server CPU ms/op"]
    header += ["DB CPU ms/op", "client CPU ms/op", "other load"]
    rows = []
    for phase in PHASES:
        for (p, conc, name), r in results.items():
            if p != phase:
                continue
            rows.append(
                [
                    TITLES[phase],
                    str(conc),
                    name,
                    f"{r.requests}" + (f" ({r.errors} err)" if r.errors else ""),
                    f"{r.rps:.1f}",
                    f"{r.pct(50):.1f}",
                    f"{r.pct(95):.1f}",
                    f"{r.per_request(r.server_cpu):.1f}",
                    f"{r.per_request(r.db_cpu):.1f}",
                    f"{r.per_request(r.client_cpu):.1f}",
                    f"{r.other_load:.2f} cores",
                ]
            )
    return common.markdown_table(header, rows)


def readme_block(args: argparse.Namespace, targets: list[Target], tables: list[str], notes: list[str]) -> str:
    versions = ", ".join(dict.fromkeys(f"{t.name.split(',')[0]} {t.server.version}" for t in targets))
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on this machine (2 cores shared by the servers, PostgreSQL "
        f"and the client); {args.parcels:,} synthetic parcels in each table; {versions}.",
        "",
        "```sh",
        command_line(),
        "```",
        "",
        *(t + "\n" for t in tables),
    ]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines)


EQUAL_WORK = "yes: every answer as expected, rows and history rows counted after every phase"
README_PREAMBLE = """\
`bench/edits.py`: OGC API Features Part 4 writes on `parcels` through our service, with its history on and
off, beside pygeoapi 0.21's PostgreSQL provider with transactions enabled; `--help` and the script's docstring
say how each server is set up.
"""


# ---- main -----------------------------------------------------------------------------------------------


def main() -> None:
    common.reexec_in_peers_venv()
    args = parse_args()
    common.check_bench_database(args.db_url)
    args.scratch = scratch_url(args.db_url)
    started = time.monotonic()
    prepare(args)
    key = editor_key(args.db_url)
    try:
        if NO_HISTORY in args.names:
            without_history(args)
        print(f"[setup] ready in {time.monotonic() - started:.0f} s", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-edits-") as tmp:
            targets = make_targets(args, key, Path(tmp))
            with common.running([t.server for t in targets]):
                results, problems = run_all(targets, args)
                profiles = [profile(t, args) for t in targets if args.profile and t.name != PYGEOAPI]
    finally:
        revoked = cli(args.db_url, "keys", "revoke", key.partition(".")[0])
        if revoked.returncode:
            print(f"[cleanup] could not revoke the bench key: {revoked.stderr.strip()}", flush=True)
    tables = [summary_table(results, args.names), detail_table(results)]
    notes = [
        f"{args.ops} operations per phase, server, level and round; {args.rounds} round(s); clients "
        f"{', '.join(map(str, args.levels))}; total {time.monotonic() - started:.0f} s",
        "equal work: " + (f"{len(problems)} mismatches" if problems else EQUAL_WORK),
        *problems[:20],
    ]
    print("\n" + "\n\n".join(tables) + "\n\n" + "\n".join(notes))
    for text in profiles:
        print("\n" + text)
    if args.no_readme or (args.quick and not args.readme):
        return
    common.update_readme_block("Edits", "edits-bench", readme_block(args, targets, tables, notes),
                               README_PREAMBLE)  # fmt: skip
    print(f"\n[readme] wrote the Edits table to {common.README.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
