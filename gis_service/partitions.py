"""Parcels at national scale, proven small: ``gis-service partitions demo``.

In one database, ``parcels_by_province`` holds the columns of ``parcels`` plus ``province_code`` and is
partitioned by LIST on it: the local code's parcels in a partition of this database, the remote code's in a
foreign table on another PostgreSQL cluster (``postgres_fdw``). The foreign server is declared with
``extensions 'postgis'``: without it ``&&`` and ``ST_Intersects`` are not shipped, and every tile or bbox query
would fetch the whole remote partition.

The split rule (synthetic parcels all lie in the former Binh Duong, now Ho Chi Minh City, code 79): a parcel
takes the remote code when the point on the surface of its administrative unit (``admin_code``; the parcel's
own when the code names no unit) lies north of ``north_of`` (11.2°N: the northern wards and communes stand in
for a neighbouring province, Dong Nai, code 75), else the local code. A whole ward stays in one partition.

It is a copy for reading: no triggers, history, layer versions nor row-level security; edits go to ``parcels``.
``layers_dir`` writes a catalogue in which the ``parcels`` collection is served from the partitioned table.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer
import yaml
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from gis_service.auth import dbroles
from gis_service.settings import load_settings

TABLE = "parcels_by_province"
KEY = "province_code"
SOURCE = "parcels"
CODE = re.compile(r"^[0-9]{2}$")
#: What the request path filters on (items and analyses ``geom``, tiles ``geom_3857``): GiST on both sides.
GEOMETRY_COLUMNS = ("geom", "geom_3857")
BATCH_ROWS = 1000


class PartitionError(RuntimeError):
    """The demo cannot be built with these arguments or servers; the message says why."""


@dataclass(frozen=True)
class Split:
    """Which province code each parcel gets, and where each code's partition lives."""

    local: str = "79"
    remote: str = "75"
    north_of: float = 11.2

    def __post_init__(self) -> None:
        if not (CODE.match(self.local) and CODE.match(self.remote)) or self.local == self.remote:
            raise PartitionError("province codes are two different two-digit codes (GSO), e.g. 79 and 75")
        if not -90 < self.north_of < 90:
            raise PartitionError("north_of is a latitude in degrees")

    def partition(self, code: str) -> str:
        return f"{TABLE}_{code}"

    @property
    def server(self) -> str:
        return f"{TABLE}_shard_{self.remote}"


@dataclass
class DemoReport:
    local_rows: int
    remote_rows: int
    seconds: float
    split: Split

    def summary(self) -> str:
        return (
            f"{TABLE}: {self.local_rows} parcels in {self.split.partition(self.split.local)} (local), "
            f"{self.remote_rows} in {self.split.partition(self.split.remote)} (postgres_fdw, remote) "
            f"in {self.seconds:.1f} s"
        )


def source_columns(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """Name and type of every column of ``parcels``, in order, as the catalogue spells them: the copy follows
    the table whatever migrations add to it."""
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (SOURCE,),
    ).fetchall()
    if not rows:
        raise PartitionError(f"no table {SOURCE} in this database: run `gis-service migrate` first")
    return [(str(name), str(kind)) for name, kind in rows]


def column_list(columns: list[tuple[str, str]], *, key: bool) -> sql.Composable:
    """``name type, …`` (types from the database's own catalogue), with the partition key last."""
    parts = [sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in columns]
    if key:
        parts.append(sql.SQL("{} text NOT NULL").format(sql.Identifier(KEY)))
    return sql.SQL(", ").join(parts)


def _indexes(conn: psycopg.Connection[Any], table: str) -> None:
    """What the request path filters and sorts on: the id and both geometries (GiST)."""
    conn.execute(sql.SQL("CREATE INDEX ON {} (id)").format(sql.Identifier(table)))
    for column in GEOMETRY_COLUMNS:
        conn.execute(
            sql.SQL("CREATE INDEX ON {} USING gist ({})").format(sql.Identifier(table), sql.Identifier(column))
        )


def prepare_remote(remote_url: str, columns: list[tuple[str, str]], split: Split) -> None:
    """The remote partition's table on the other cluster (PostGIS there too), empty, with its indexes."""
    table = split.partition(split.remote)
    with psycopg.connect(remote_url, autocommit=True, connect_timeout=10) as conn, conn.transaction():
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        check = sql.SQL("CHECK ({} = {})").format(sql.Identifier(KEY), sql.Literal(split.remote))
        conn.execute(
            sql.SQL("CREATE TABLE {} ({}, {})").format(sql.Identifier(table), column_list(columns, key=True), check)
        )
        _indexes(conn, table)


def server_options(remote_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """The foreign server's options and the user mapping's, from a libpq URL of the remote database."""
    info = conninfo_to_dict(remote_url)
    server = {"host": str(info.get("host") or "127.0.0.1"), "port": str(info.get("port") or 5432)}
    server |= {"dbname": str(info.get("dbname") or "postgres")}
    server |= {"extensions": "postgis", "async_capable": "true", "batch_size": str(BATCH_ROWS)}
    mapping = {"user": str(info.get("user") or "postgres")}
    if info.get("password"):
        mapping["password"] = str(info["password"])
    else:  # a trusted loopback demo: the remote server asks for no password (only a superuser may say so)
        mapping["password_required"] = "false"
    return server, mapping


def _options(values: dict[str, str]) -> sql.Composable:
    pairs = [sql.SQL("{} {}").format(sql.Identifier(k), sql.Literal(v)) for k, v in values.items()]
    return sql.SQL("OPTIONS ({})").format(sql.SQL(", ").join(pairs))


def create_server(conn: psycopg.Connection[Any], remote_url: str, s: Split) -> None:
    """The foreign server (PostGIS operators and functions shippable) and its user mapping, anew."""
    server, mapping = server_options(remote_url)
    conn.execute("CREATE EXTENSION IF NOT EXISTS postgres_fdw")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(TABLE)))
    conn.execute(sql.SQL("DROP SERVER IF EXISTS {} CASCADE").format(sql.Identifier(s.server)))
    conn.execute(
        sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER postgres_fdw {}").format(
            sql.Identifier(s.server), _options(server)
        )
    )
    conn.execute(
        sql.SQL("CREATE USER MAPPING FOR PUBLIC SERVER {} {}").format(sql.Identifier(s.server), _options(mapping))
    )


def create_partitioned(conn: psycopg.Connection[Any], columns: list[tuple[str, str]], s: Split) -> None:
    """The partitioned table, its local partition (indexed) and its foreign one; readable by the app roles."""
    conn.execute(
        sql.SQL("CREATE TABLE {} ({}) PARTITION BY LIST ({})").format(
            sql.Identifier(TABLE), column_list(columns, key=True), sql.Identifier(KEY)
        )
    )
    local, remote = s.partition(s.local), s.partition(s.remote)
    conn.execute(
        sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES IN ({})").format(
            sql.Identifier(local), sql.Identifier(TABLE), sql.Literal(s.local)
        )
    )
    _indexes(conn, local)
    conn.execute(
        sql.SQL("CREATE FOREIGN TABLE {} PARTITION OF {} FOR VALUES IN ({}) SERVER {} {}").format(
            sql.Identifier(remote),
            sql.Identifier(TABLE),
            sql.Literal(s.remote),
            sql.Identifier(s.server),
            _options({"schema_name": "public", "table_name": remote}),
        )
    )
    readers = [role for role in (dbroles.APP, dbroles.READER, dbroles.EDITOR) if dbroles.role_exists(conn, role)]
    if readers:
        grantees = sql.SQL(", ").join(map(sql.Identifier, readers))
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(TABLE), grantees))


def fill(conn: psycopg.Connection[Any], columns: list[tuple[str, str]], s: Split) -> dict[str, int]:
    """Every parcel into the partitioned table, its code by the split rule (module docstring); rows of the
    remote code travel to the other cluster through postgres_fdw (in batches). Rows per code."""
    names = sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)
    source = sql.SQL(", ").join(sql.Identifier("p", name) for name, _ in columns)
    statement = sql.SQL(
        "INSERT INTO {table} ({names}, {key}) "
        "SELECT {source}, CASE WHEN ST_Y(ST_PointOnSurface(coalesce(u.geom, p.geom))) > {north} "
        "THEN {remote} ELSE {local} END "
        "FROM {parcels} p LEFT JOIN LATERAL ("
        "SELECT a.geom FROM admin_units a WHERE a.code = p.admin_code AND a.geom IS NOT NULL "
        "ORDER BY a.valid_from DESC NULLS LAST LIMIT 1) u ON true"
    ).format(
        table=sql.Identifier(TABLE),
        names=names,
        key=sql.Identifier(KEY),
        source=source,
        north=sql.Literal(s.north_of),
        remote=sql.Literal(s.remote),
        local=sql.Literal(s.local),
        parcels=sql.Identifier(SOURCE),
    )
    conn.execute(statement)
    counts = conn.execute(
        sql.SQL("SELECT {key}, count(*) FROM {table} GROUP BY 1").format(
            key=sql.Identifier(KEY), table=sql.Identifier(TABLE)
        )
    ).fetchall()
    return {str(code): int(n) for code, n in counts}


def demo(database_url: str, remote_url: str, split: Split | None = None) -> DemoReport:
    """Build and fill the partitioned table: the remote table first (its own transaction on the other
    cluster), then everything here in one transaction, the rows sent to the remote partition included
    (postgres_fdw commits the remote side when this one commits; no two-phase commit). A failure after the
    first step leaves an earlier demo's remote partition empty: run it again."""
    split = split or Split()
    started = time.perf_counter()
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
            columns = source_columns(conn)
            prepare_remote(remote_url, columns, split)
            with conn.transaction():
                create_server(conn, remote_url, split)
                create_partitioned(conn, columns, split)
                counts = fill(conn, columns, split)
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(TABLE)))
        with psycopg.connect(remote_url, autocommit=True, connect_timeout=10) as remote:
            remote.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(split.partition(split.remote))))
    except psycopg.Error as exc:
        raise PartitionError(f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}") from exc
    seconds = time.perf_counter() - started
    return DemoReport(counts.get(split.local, 0), counts.get(split.remote, 0), seconds, split)


def layers_dir(target: Path, source: Path) -> Path:
    """A copy of the catalogue ``source`` (data files left out) in ``target`` in which the ``parcels``
    collection is read from the partitioned table: the same id, so the same URLs and analyses; read-only."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("data"), dirs_exist_ok=True)
    path = target / f"{SOURCE}.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec.update(table=TABLE, editable=False)
    spec["description"] = f"{spec.get('description', '')} Read from {TABLE} (LIST partitions by province code)."
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


# ---- the command ----------------------------------------------------------------------------------

partitions_app = typer.Typer(help="Parcels LIST-partitioned by province code, one partition on another cluster.")


@partitions_app.command("demo")
def demo_command(
    remote_url: Annotated[str, typer.Option(help="postgresql:// URL of the remote partition's database.")],
    database_url: Annotated[str | None, typer.Option(help="Database with parcels (default: GIS_DATABASE_URL).")] = None,
    local_code: Annotated[str, typer.Option(help="Province code kept in this database.")] = "79",
    remote_code: Annotated[str, typer.Option(help="Province code served from the remote cluster.")] = "75",
    north_of: Annotated[float, typer.Option(help="Units north of this latitude take the remote code.")] = 11.2,
    layers: Annotated[Path | None, typer.Option(help="Write here a catalogue serving parcels from it.")] = None,
) -> None:
    """Build parcels_by_province from parcels (rebuilt if present); serve it with GIS_LAYERS_DIR=<--layers>."""
    settings = load_settings()
    url = database_url or settings.dsn
    try:
        report = demo(url, remote_url, Split(local_code, remote_code, north_of))
    except PartitionError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    typer.echo(report.summary())
    if layers is not None:
        layers_dir(layers, settings.layers_dir)
        typer.echo(f"catalogue: GIS_LAYERS_DIR={layers} gis-service serve")


def register(app: typer.Typer) -> None:
    app.add_typer(partitions_app, name="partitions")
