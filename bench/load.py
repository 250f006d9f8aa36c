"""Loading synthetic parcels: ``gis-service synth parcels`` against naive peers, side by side.

The contenders load the very same parcels (same seed, keys and geometries), each in one transaction:

- ours: ``gis_service.ingest.synth.load_parcels`` into ``parcels`` (generation included in its time);
- geopandas ``GeoDataFrame.to_postgis`` (pandas ``to_sql`` through COPY) into ``parcels``, from memory;
- ogr2ogr (GDAL, when installed) from a GeoPackage into ``parcels`` (``-append``);
- ogr2ogr into a new table of its own (COPY and a GiST index only: less work than the others);
- the floor: ours again with the history triggers of ``parcels`` disabled (what recording history costs).

Into ``parcels`` everyone pays the same CHECK (``gis_geom_ok``), generated ``area_ha`` and ``geom_3857``,
GiST and unique indexes and version triggers. The peers' file and frame are built before their clock
starts. Between runs the synthetic parcels are deleted and the table vacuumed (untimed); the database
ends with our parcels loaded.

    .venv/bin/python bench/load.py --database-url postgresql://postgres@127.0.0.1:54320/gis_bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg
import pyogrio
import shapely
from psycopg.conninfo import conninfo_to_dict

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import markdown_table, update_readme_block

from gis_service.db import sync_engine
from gis_service.ingest import synth
from gis_service.settings import Settings, load_settings

OGR2OGR = "/usr/bin/ogr2ogr"
PEER_SOURCE = "synthetic: bench/load.py peer"
NEW_TABLE = "bench_load_ogr2ogr"
#: ogr2ogr -append inserts row by row, and each row's trigger updates one layer_versions row again in the
#: same transaction (a chain of versions to walk): a million would take hours, so it gets a sample.
APPEND_ROWS = 20_000
HISTORY_EVENTS = ("insert", "update", "delete")
PREAMBLE = """`bench/load.py`: synthetic parcels (one million by default) loaded by `gis-service synth parcels`
(generation included) against geopandas `to_postgis` and ogr2ogr, the same parcels and keys for all, one
transaction each. Into `parcels` every loader pays the same CHECK `gis_geom_ok`, generated `area_ha` and
`geom_3857`, GiST and unique indexes and version triggers; "ogr2ogr -> new table" is ogr2ogr's everyday use
(its own plain table: COPY and a GiST index only). Synthetic parcels are deleted and the table vacuumed
between runs (untimed).

```sh
.venv/bin/python bench/load.py --database-url postgresql://postgres@127.0.0.1:54320/gis_bench
.venv/bin/python bench/load.py --help   # --count, --seed, --peers, --no-readme
```

The database needs the 2025 wards (`gis-service load --bundled`); the script deletes every synthetic parcel
in it. GDAL 3.6 writes one INSERT per feature into `parcels` (it skips COPY when the target has a column
with a default that the source does not set, here the generated columns), and every INSERT fires the
layer-version trigger: that peer is slow by construction, shown as such."""


@dataclass
class Result:
    name: str
    seconds: float
    rows: int
    note: str = ""
    error: str = ""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="parcels to load (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--database-url", default=None, help="PostGIS URL (default: GIS_DATABASE_URL / settings)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated, of: {', '.join(PEERS)}")
    parser.add_argument("--no-floor", action="store_true", help="skip the load without history (the floor)")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the Loading table in README")
    return parser.parse_args(argv)


def clear(settings: Settings) -> None:
    """Delete the synthetic parcels and vacuum, so every contender starts from the same table."""
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM parcels WHERE synthetic")
        conn.execute("VACUUM (ANALYZE) parcels")


def synthetic_rows(settings: Settings) -> int:
    with psycopg.connect(settings.dsn) as conn:
        row = conn.execute("SELECT count(*) FROM parcels WHERE synthetic").fetchone()
    return int(row[0]) if row else 0


def peer_frame(settings: Settings, count: int, seed: int) -> gpd.GeoDataFrame:
    """The parcels ``load_parcels`` makes for this seed, as a GeoDataFrame with the same keys."""
    with psycopg.connect(settings.dsn) as conn, conn.cursor() as cur:
        wards = synth.read_wards(cur)
        offsets = synth.sheet_offsets(cur, [w.code for w in wards])
    parts = []
    for ward, n, rng in synth.plan(wards, count, seed):
        batch = synth.generate(ward, n, rng)
        sheets, numbers = synth.lot_numbers(n, offsets.get(ward.code, 0))
        polygons = shapely.polygons(batch.rings)
        parts.append(
            gpd.GeoDataFrame(
                {"admin_code": ward.code, "sheet_no": sheets, "parcel_no": numbers, "land_use_code": batch.land_use},
                geometry=gpd.GeoSeries(shapely.multipolygons(polygons, indices=np.arange(n)), crs=4326),
            )
        )
    frame = gpd.GeoDataFrame(gpd.pd.concat(parts, ignore_index=True), crs=4326)
    frame["geometry_quality"], frame["source"], frame["synthetic"] = "synthetic", PEER_SOURCE, True
    return frame.rename_geometry("geom")


def ogr2ogr(settings: Settings, source: Path, *options: str) -> tuple[float, str]:
    """Run ogr2ogr into the database; (wall seconds, last error line or "")."""
    pg = " ".join(f"{k}={v}" for k, v in conninfo_to_dict(settings.dsn).items() if v)
    argv = [OGR2OGR, "-f", "PostgreSQL", f"PG:{pg}", str(source), *options, "--config", "PG_USE_COPY", "YES"]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    return seconds, done.stderr.strip().splitlines()[-1] if done.returncode else ""


def gpkg(frame: gpd.GeoDataFrame, tmp: Path) -> Path:
    """The peers' file: a GeoPackage whose geometry column is named geom, as in the table."""
    path = tmp / "parcels.gpkg"
    if not path.exists():
        pyogrio.write_dataframe(frame, path, driver="GPKG", layer="parcels")
    return path


def run_ogr2ogr_append(settings: Settings, frame: gpd.GeoDataFrame, tmp: Path) -> Result:
    """Into ``parcels`` itself. GDAL 3.6 writes one INSERT per feature (COPY is skipped when the target
    has a column with a default the source does not set: the generated area_ha and geom_3857)."""
    part = frame.head(APPEND_ROWS)
    path = tmp / "parcels-head.gpkg"
    pyogrio.write_dataframe(part, path, driver="GPKG", layer="parcels")
    seconds, error = ogr2ogr(settings, path, "-nln", "parcels", "-append", "-unsetFid", "-gt", "unlimited")
    note = f"first {len(part):,} rows only: one INSERT (and one trigger) per row, slower as it grows"
    return Result("ogr2ogr GeoPackage -> parcels", seconds, len(part), note, error)


def run_ogr2ogr_new_table(settings: Settings, frame: gpd.GeoDataFrame, tmp: Path) -> Result:
    """Its everyday use: a new table of its own (COPY, GiST index; no CHECK, no generated columns)."""
    options = ("-nln", NEW_TABLE, "-overwrite", "-lco", "GEOMETRY_NAME=geom", "-gt", "unlimited")
    seconds, error = ogr2ogr(settings, gpkg(frame, tmp), *options)
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {NEW_TABLE}").fetchone() if not error else (len(frame),)
        conn.execute(f"DROP TABLE IF EXISTS {NEW_TABLE}")
    if not error and row and int(row[0]) != len(frame):
        error = f"{row[0]:,} rows in {NEW_TABLE}, not {len(frame):,}"
    note = "new plain table: COPY + GiST only (less work than the others)"
    return Result("ogr2ogr GeoPackage -> new table", seconds, len(frame), note, error)


def run_geopandas(settings: Settings, frame: gpd.GeoDataFrame, tmp: Path) -> Result:
    engine = sync_engine(settings)
    try:
        started = time.perf_counter()
        frame.to_postgis("parcels", engine, if_exists="append", index=False)
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return Result("geopandas to_postgis -> parcels", seconds, len(frame), "pandas to_sql via COPY")


PEERS: dict[str, Callable[[Settings, gpd.GeoDataFrame, Path], Result]] = {
    "ogr2ogr-new-table": run_ogr2ogr_new_table,
    "geopandas": run_geopandas,
    "ogr2ogr-append": run_ogr2ogr_append,
}


def run_peers(settings: Settings, args: argparse.Namespace) -> list[Result]:
    names = [p.strip() for p in args.peers.split(",") if p.strip()]
    if not Path(OGR2OGR).exists():
        print(f"[load] {OGR2OGR} not found: ogr2ogr skipped", flush=True)
        names = [n for n in names if not n.startswith("ogr2ogr")]
    if not names:
        return []
    print(f"[load] building the peers' {args.count:,} parcels ...", flush=True)
    frame = peer_frame(settings, args.count, args.seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            clear(settings)
            print(f"[load] {name} ...", flush=True)
            result = PEERS[name](settings, frame, Path(tmp))
            loaded = synthetic_rows(settings) if name != "ogr2ogr-new-table" else result.rows
            if not result.error and loaded != result.rows:
                result.error = f"{loaded:,} rows in the table, not {result.rows:,}"
            print(f"[load] {name}: {result.seconds:.1f} s {result.error}", flush=True)
            results.append(result)
    return results


def run_ours(settings: Settings, args: argparse.Namespace) -> Result:
    clear(settings)
    print("[load] gis-service synth parcels ...", flush=True)
    report = synth.load_parcels(settings, count=args.count, seed=args.seed)
    print(f"[load] {report.summary()}", flush=True)
    loaded = synthetic_rows(settings)
    error = "" if loaded == args.count else f"{loaded:,} rows in the table, not {args.count:,}"
    note = f"generation included ({report.generate_seconds:.1f} s of it)"
    return Result("gis-service synth parcels", report.seconds, args.count, note, error)


def history_triggers(settings: Settings, enabled: bool) -> None:
    """Enable or disable the statement triggers that record the history of ``parcels`` (migration 0009)."""
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        for event in HISTORY_EVENTS:
            action = "ENABLE" if enabled else "DISABLE"
            conn.execute(f"ALTER TABLE parcels {action} TRIGGER trg_parcels_history_{event}")


def run_floor(settings: Settings, args: argparse.Namespace) -> Result:
    """Ours without history: the same load with the history triggers off (on again whatever happens)."""
    clear(settings)
    print("[load] gis-service synth parcels, history off ...", flush=True)
    history_triggers(settings, enabled=False)
    try:
        report = synth.load_parcels(settings, count=args.count, seed=args.seed)
    finally:
        history_triggers(settings, enabled=True)
    loaded = synthetic_rows(settings)
    error = "" if loaded == args.count else f"{loaded:,} rows in the table, not {args.count:,}"
    note = "the floor: history triggers disabled, all else the same"
    return Result("gis-service synth parcels, no history", report.seconds, args.count, note, error)


def table(results: list[Result]) -> str:
    """Seconds and rows/s as measured; the ratio is time per row, so a sampled peer compares fairly."""
    ours = results[0].rows / results[0].seconds
    rows = [
        [
            r.name,
            f"{r.rows:,}",
            f"{r.seconds:.1f}" if not r.error else "failed",
            f"{r.rows / r.seconds:,.0f}" if not r.error else "-",
            f"{ours / (r.rows / r.seconds):.2f}x" if not r.error else "-",
            r.error or r.note,
        ]
        for r in results
    ]
    return markdown_table(["loader", "rows", "seconds", "rows/s", "time per row vs ours", "note"], rows)


def environment(settings: Settings) -> str:
    with psycopg.connect(settings.dsn) as conn:
        row = conn.execute("SELECT current_setting('server_version'), postgis_lib_version()").fetchone()
    pg, postgis = row if row else ("?", "?")
    gdal = subprocess.run([OGR2OGR, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return (
        f"{dt.date.today().isoformat()}, {os.cpu_count()} cores ({platform.machine()}), PostgreSQL {pg}, "
        f"PostGIS {postgis}, {gdal or 'no ogr2ogr'}, geopandas {gpd.__version__}, shapely {shapely.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings(database_url=args.database_url) if args.database_url else load_settings()
    print(f"[load] {args.count:,} parcels into {settings.dsn.rsplit('/', 1)[-1]}", flush=True)
    peers = run_peers(settings, args)
    floor = [] if args.no_floor else [run_floor(settings, args)]
    results = [run_ours(settings, args), *floor, *peers]  # ours last: the database keeps our parcels
    text = table(results)
    print(text)
    if not args.no_readme:
        given = " ".join(argv if argv is not None else sys.argv[1:])
        command = "`.venv/bin/python bench/load.py " + re.sub(r"://([^:@/]+):[^@/]+@", r"://\1:***@", given) + "`"
        block = f"{text}\n\n{args.count:,} parcels, seed {args.seed}; {environment(settings)}. Command: {command}"
        update_readme_block("Loading", "load-bench", block, PREAMBLE)
    return 0 if not any(r.error for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
