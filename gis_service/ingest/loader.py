"""Load one layer file into PostGIS: read, check, then COPY and merge in ONE transaction.

All or nothing: the rows are COPYed into a temporary table and merged by natural key (upsert) or
swapped in (replace) in the same transaction, so a failure half-way leaves the layer exactly as it
was. Rows that do not change are not rewritten, and the layer's data version moves at most once per
load, so tile caches stay warm on an idempotent reload.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import shapely
from psycopg import sql
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from gis_service.db import session_options
from gis_service.errors import DatabaseUnavailable, GisServiceError, LoadError
from gis_service.ingest.reader import SourceCrs, read_file, source_crs
from gis_service.ingest.validate import Checked, Reject, TableSpec, check, table_spec
from gis_service.settings import Settings

MODES = ("upsert", "replace")
STAGE = sql.Identifier("_gis_load_stage")
#: Below this a load takes seconds and a progress bar is noise.
PROGRESS_MIN_FEATURES = 50_000
PROGRESS_STEP = 10_000


@dataclass
class LoadReport:
    layer: str
    path: Path
    inserted: int = 0
    updated: int = 0
    #: Rows already in the layer exactly as in the file (not rewritten).
    unchanged: int = 0
    #: Rows deleted first by ``mode="replace"``.
    deleted: int = 0
    rejected: int = 0
    warnings: list[str] = field(default_factory=list)
    rejects_path: Path | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the CLI and the logs."""
        line = (
            f"{self.path.name} -> {self.layer}: {self.inserted} inserted, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
        )
        if self.deleted:
            line += f", {self.deleted} replaced rows deleted"
        if self.rejects_path:
            line += f" (reasons in {self.rejects_path})"
        if self.warnings:
            line += f", {len(self.warnings)} warning(s)"
        return line + f" in {self.seconds:.1f} s"


def load_file(
    settings: Settings,
    path: Path | str,
    layer: str,
    *,
    crs: str | None = None,
    mode: str = "upsert",
    rejects_path: Path | str | None = None,
    comment: str | None = None,
) -> LoadReport:
    """Load ``path`` into ``layer``; bad input raises LoadError and writes nothing. ``comment`` says why, in
    the change set the history records for this load."""
    started = time.perf_counter()
    if mode not in MODES:
        raise LoadError(f"unknown mode {mode!r}; use upsert or replace")
    spec = table_spec(layer)
    path = Path(path)
    raw = read_file(path, prefer_layer=layer)
    source = source_crs(raw, crs)
    defaults = {"source": f"file {path.name}", "geometry_quality": "unknown", "synthetic": False}
    checked = check(raw, spec, source, defaults)
    report = LoadReport(layer, path, rejected=len(checked.rejects), warnings=checked.warnings)
    if checked.rejects:
        target = Path(rejects_path) if rejects_path else default_rejects_path(path)
        report.rejects_path = write_rejects(checked.rejects, spec, target, source)
    if len(checked) == 0:
        report.warnings.append(f"no feature of {path.name} passed the checks; {layer} is unchanged")
    else:
        change = ChangeSet(comment, f"gis-service load {path.name}")
        report.inserted, report.updated, report.unchanged, report.deleted = write(settings, spec, checked, mode, change)
    report.seconds = time.perf_counter() - started
    return report


def default_rejects_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejects.csv")


def connect(settings: Settings) -> psycopg.Connection[Any]:
    """A loader's connection: if the process is killed, the server ends its session (and releases its locks)
    within ``db.client_check_interval_ms`` rather than when the statement in progress finishes."""
    return psycopg.connect(settings.dsn, options=session_options(settings))


@dataclass(frozen=True)
class ChangeSet:
    """What the history's change set of a load says (read by the triggers of migration 0005)."""

    comment: str | None = None
    client: str | None = None


def write(
    settings: Settings, spec: TableSpec, checked: Checked, mode: str, change: ChangeSet | None = None
) -> tuple[int, int, int, int]:
    """COPY and merge in one transaction; returns (inserted, updated, unchanged, deleted)."""
    change = change or ChangeSet()
    try:
        with connect(settings) as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "SELECT set_config('app.comment', %s, true), set_config('app.client', %s, true)",
                (change.comment or "", change.client or ""),
            )
            before = lock_version(cur, spec.table)
            stage(cur, spec, checked)
            refuse_repeated_keys(cur, spec)
            counts = merge(cur, spec, checked.columns, mode)
            bump_once(cur, spec.table, before)
    except psycopg.Error as exc:
        raise database_error(exc, spec) from exc
    return counts


def lock_version(cur: psycopg.Cursor[Any], table: str) -> int:
    """The layer's version before the load, locked so concurrent loads of a layer queue up."""
    cur.execute("SELECT version FROM layer_versions WHERE layer = %s FOR UPDATE", (table,))
    row = cur.fetchone()
    return int(row[0]) if row else 0


def bump_once(cur: psycopg.Cursor[Any], table: str, before: int) -> None:
    """The statement triggers bump once per statement (DELETE + INSERT, INSERT + UPDATE); one load
    is one change for the caches, so the version ends at most one above where it started."""
    cur.execute(
        "UPDATE layer_versions SET version = %s + 1 WHERE layer = %s AND version > %s + 1",
        (before, table, before),
    )


def stage(cur: psycopg.Cursor[Any], spec: TableSpec, checked: Checked) -> None:
    """A temporary table shaped like the layer's columns (no constraints), filled by COPY."""
    columns = sql.SQL(", ").join(map(sql.Identifier, checked.columns))
    cur.execute(
        sql.SQL("CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA").format(
            stage=STAGE, cols=columns, table=sql.Identifier(spec.table)
        )
    )
    geometries = shapely.to_wkb(shapely.set_srid(checked.geometries, 4326), hex=True, include_srid=True)
    rows = zip(*(checked.values[c] for c in checked.columns[:-1]), geometries, strict=True)
    with (
        progress(len(checked), f"copying into {spec.table}") as advance,
        cur.copy(sql.SQL("COPY {stage} ({cols}) FROM STDIN").format(stage=STAGE, cols=columns)) as copy,
    ):
        for n, row in enumerate(rows, 1):
            copy.write_row(row)
            if n % PROGRESS_STEP == 0:
                advance(PROGRESS_STEP)


def refuse_repeated_keys(cur: psycopg.Cursor[Any], spec: TableSpec) -> None:
    """Two features with one natural key make the load ambiguous (and an upsert that skips
    unchanged rows would not notice), so the whole file is refused, naming the key."""
    key = sql.SQL(", ").join(map(sql.Identifier, spec.natural_key))
    cur.execute(
        sql.SQL("SELECT {key} FROM {stage} GROUP BY {key} HAVING count(*) > 1 LIMIT 1").format(key=key, stage=STAGE)
    )
    row = cur.fetchone()
    if row:
        names, values = ", ".join(spec.natural_key), ", ".join(map(str, row))
        raise LoadError(f"the file repeats the natural key ({names}) = ({values}); nothing was written")


def merge(cur: psycopg.Cursor[Any], spec: TableSpec, columns: Sequence[str], mode: str) -> tuple[int, int, int, int]:
    """Move the staged rows into the layer; returns (inserted, updated, unchanged, deleted)."""
    staged = _count(cur, sql.SQL("SELECT count(*) FROM {}").format(STAGE))
    deleted = 0
    if mode == "replace":
        cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(spec.table)))
        deleted = cur.rowcount
    cur.execute(merge_statement(spec, columns, mode))
    row = cur.fetchone()
    inserted, updated = (int(row[0]), int(row[1])) if row else (0, 0)
    return inserted, updated, staged - inserted - updated, deleted


def merge_statement(spec: TableSpec, columns: Sequence[str], mode: str) -> sql.Composed:
    """INSERT from the stage; for upsert ON CONFLICT (natural key) updates only rows that differ."""
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    insert = sql.SQL("INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM {stage}").format(
        table=sql.Identifier(spec.table), cols=cols, stage=STAGE
    )
    if mode == "upsert":
        changing = [sql.Identifier(c) for c in columns if c not in spec.natural_key]
        insert += sql.SQL(" ON CONFLICT ({key}) DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})").format(
            key=sql.SQL(", ").join(map(sql.Identifier, spec.natural_key)),
            sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=c) for c in changing),
            old=sql.SQL(", ").join(sql.SQL("t.{}").format(c) for c in changing),
            new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(c) for c in changing),
        )
    return sql.SQL(
        "WITH merged AS ({insert} RETURNING (t.xmax = 0) AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"
    ).format(insert=insert)


def _count(cur: psycopg.Cursor[Any], statement: sql.Composed) -> int:
    cur.execute(statement)
    row = cur.fetchone()
    return int(row[0]) if row else 0


def database_error(exc: psycopg.Error, spec: TableSpec) -> GisServiceError:
    """One clear line; the transaction has been rolled back, so nothing was written."""
    state = exc.sqlstate or ""
    if not state or state.startswith("08"):
        return DatabaseUnavailable(f"the database cannot be reached: {_first_line(exc)}")
    detail = exc.diag.message_detail or ""
    if isinstance(exc, psycopg.errors.UniqueViolation | psycopg.errors.CardinalityViolation):
        key = ", ".join(spec.natural_key)
        return LoadError(f"a row conflicts with a unique key of {spec.table} ({key}); nothing was written {detail}")
    message = exc.diag.message_primary or _first_line(exc)
    return LoadError(f"{spec.table} refused the load, nothing was written: {message} {detail}".strip())


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A rich bar on an interactive stderr for long loads; a no-op otherwise (tests, pipes)."""
    console = Console(stderr=True)
    if total < PROGRESS_MIN_FEATURES or not console.is_terminal:
        yield lambda _n: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def write_rejects(rejects: list[Reject], spec: TableSpec, path: Path, source: SourceCrs) -> Path:
    """The rejected features with their reasons: CSV (WKT in the file's CRS), or GeoJSON by suffix."""
    try:
        if path.suffix.lower() in (".geojson", ".json"):
            _write_rejects_geojson(rejects, path, source)
        else:
            _write_rejects_csv(rejects, spec, path)
    except OSError as exc:
        raise LoadError(f"cannot write the reject report {path}: {exc.strerror}") from exc
    return path


def _write_rejects_csv(rejects: list[Reject], spec: TableSpec, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["feature", *spec.natural_key, "reason", "wkt"])
        for r in rejects:
            wkt = shapely.to_wkt(r.geometry) if r.geometry is not None else ""
            writer.writerow([r.index + 1, *(_text(r.key.get(k)) for k in spec.natural_key), r.reason, wkt])


def _write_rejects_geojson(rejects: list[Reject], path: Path, source: SourceCrs) -> None:
    features = [
        {
            "type": "Feature",
            "properties": {"feature": r.index + 1, **{k: _text(v) for k, v in r.key.items()}, "reason": r.reason},
            "geometry": _geojson_geometry(r.geometry),
        }
        for r in rejects
    ]
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if source.srid not in (None, 4326):
        doc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{source.srid}"}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def _geojson_geometry(geometry: Any) -> Any:
    if geometry is None or geometry.is_empty:
        return None
    coords = shapely.get_coordinates(geometry)
    return (
        json.loads(shapely.to_geojson(geometry))
        if bool((coords == coords).all()) and bool((abs(coords) < float("inf")).all())
        else None
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)
