"""Parcels LIST-partitioned by province code, one partition on a second PostgreSQL cluster (postgres_fdw):
the service answers the same items, tiles and area statistics over ``parcels_by_province`` as over
``parcels``, and a bbox reaches the remote cluster as a filter, not as a full fetch.

The second cluster is started like the topology's primary (``cluster.start_primary``) on a free port in a
temporary directory, and stopped at the end. A few thousand synthetic parcels keep it to seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import morecantile
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import Engine, Select, text
from typer.testing import CliRunner

from gis_service import cli, cluster, partitions
from gis_service.catalog import Catalog, LayerSpec
from gis_service.ingest import synth
from gis_service.main import create_app
from gis_service.queries import analysis_stats, features
from gis_service.settings import Settings, load_settings
from tests.cluster.conftest import _free_base, pg_ctl, query

pytestmark = pytest.mark.cluster

PARCELS = 3000
SHARD_DB = "gis_shard"
#: Boxes south of the split (local only), north of it (remote only) and across it (both partitions).
SOUTH_BOX = (106.60, 10.88, 106.80, 11.00)
NORTH_BOX = (106.40, 11.25, 106.80, 11.50)
ACROSS_BOX = (106.55, 11.10, 106.75, 11.30)
ALL_BOX = (106.0, 10.5, 107.5, 12.0)
EXTENT = (106.30, 10.85, 106.95, 11.55)  # of the 2025 wards the synthetic parcels fill


@pytest.fixture(scope="module")
def remote_url() -> Iterator[str]:
    """A second PostgreSQL cluster (PostGIS available), its database for the remote partition."""
    home = Path("/tmp") / f"gis-partitions-test-{os.getpid()}"  # the postgres user must reach it (root runs)
    home.mkdir()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    topo = cluster.Topology(str(home), _free_base(1))
    try:
        cluster.start_primary(topo)
        with psycopg.connect(topo.url(topo.primary_port, database="postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SHARD_DB)))
        yield topo.url(topo.primary_port, database=SHARD_DB)
    finally:
        if (home / "primary" / "postmaster.pid").exists():
            pg_ctl(home / "primary", "-m", "fast", "-w", "-t", "60", "stop")
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def split(migrated: Settings, bundled: Engine, remote_url: str) -> Iterator[partitions.DemoReport]:
    """Synthetic parcels in ``parcels``, then ``gis-service partitions demo`` over them."""
    synth.load_parcels(migrated, count=PARCELS, seed=11)
    report = partitions.demo(migrated.dsn, remote_url)
    try:
        yield report
    finally:
        with psycopg.connect(migrated.dsn, autocommit=True) as conn, conn.transaction():
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(partitions.TABLE)))
            conn.execute(sql.SQL("DROP SERVER IF EXISTS {} CASCADE").format(sql.Identifier(report.split.server)))
            conn.execute("DELETE FROM parcels WHERE synthetic")
            conn.execute("DROP EXTENSION IF EXISTS postgres_fdw")


@pytest.fixture(scope="module")
def split_settings(migrated: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    layers = partitions.layers_dir(tmp_path_factory.mktemp("partitions") / "layers", migrated.layers_dir)
    return load_settings(database_url=migrated.database_url, layers_dir=layers)


@pytest.fixture(scope="module")
def apps(
    migrated: Settings, split_settings: Settings, split: partitions.DemoReport
) -> Iterator[tuple[TestClient, TestClient]]:
    """The service over ``parcels`` and the service over ``parcels_by_province``, same database."""
    with (
        TestClient(create_app(migrated), raise_server_exceptions=False) as plain,
        TestClient(create_app(split_settings), raise_server_exceptions=False) as partitioned,
    ):
        yield plain, partitioned


def spec_of(settings: Settings) -> LayerSpec:
    return Catalog.from_dir(settings.layers_dir).get("parcels")


def remote_ids(url: str, split: partitions.DemoReport) -> set[int]:
    rows = query(url, f"SELECT id FROM {split.split.partition(split.split.remote)}")
    return {int(row[0]) for row in rows}  # type: ignore[call-overload]


def test_the_split_rule_puts_whole_units_in_one_partition(
    engine: Engine, remote_url: str, split: partitions.DemoReport
) -> None:
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM parcels")).scalar_one()
        per_unit = conn.execute(text("SELECT admin_code, count(DISTINCT province_code) FROM parcels_by_province "
                                     "GROUP BY 1 HAVING count(DISTINCT province_code) > 1")).all()  # fmt: skip
        north = conn.execute(
            text(
                "SELECT bool_and(ST_Y(ST_PointOnSurface(u.geom)) > 11.2) FROM parcels_by_province p "
                "JOIN admin_units u ON u.code = p.admin_code AND u.valid_from = '2025-07-01' WHERE province_code = '75'"
            )
        ).scalar_one()
    assert split.local_rows > 0 and split.remote_rows > 0
    assert split.local_rows + split.remote_rows == total >= PARCELS
    assert per_unit == []
    assert north is True
    assert len(remote_ids(remote_url, split)) == split.remote_rows  # the rows live on the other cluster


def test_a_province_code_reads_only_its_partition(engine: Engine, split: partitions.DemoReport) -> None:
    with engine.connect() as conn:
        plan = "\n".join(
            conn.execute(text("EXPLAIN SELECT count(*) FROM parcels_by_province WHERE province_code = '79'")).scalars()
        )
    assert "parcels_by_province_79" in plan
    assert "Foreign Scan" not in plan and "parcels_by_province_75" not in plan


def items(client: TestClient, box: tuple[float, ...], **params: Any) -> dict[str, Any]:
    answer = client.get("/collections/parcels/items", params={"bbox": ",".join(map(str, box)), **params})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.mark.parametrize("box", [SOUTH_BOX, NORTH_BOX, ACROSS_BOX, ALL_BOX], ids=["south", "north", "across", "all"])
def test_items_are_the_same(
    apps: tuple[TestClient, TestClient], remote_url: str, split: partitions.DemoReport, box: tuple[float, ...]
) -> None:
    plain, partitioned = (items(app, box, limit=10_000) for app in apps)
    assert plain["numberMatched"] == partitioned["numberMatched"] > 0
    assert plain["features"] == partitioned["features"]  # ids, properties and geometries, in the same order
    remote = remote_ids(remote_url, split)
    ids = {feature["id"] for feature in plain["features"]}
    if box in (ACROSS_BOX, ALL_BOX):
        assert ids & remote and ids - remote, "the box spans both partitions"


def test_pages_across_both_partitions_are_the_same(apps: tuple[TestClient, TestClient]) -> None:
    matched = items(apps[0], ACROSS_BOX, limit=1)["numberMatched"]
    for offset in (0, matched // 3, matched - 20):
        plain, partitioned = (items(app, ACROSS_BOX, limit=50, offset=offset) for app in apps)
        assert [f["id"] for f in plain["features"]] == [f["id"] for f in partitioned["features"]]
        assert plain["numberReturned"] == partitioned["numberReturned"] > 0


def tile_features(client: TestClient, tile: morecantile.Tile) -> tuple[int, list[tuple[Any, ...]]]:
    answer = client.get(f"/collections/parcels/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}")
    assert answer.status_code in (200, 204), answer.text
    if answer.status_code == 204:
        return 204, []
    layers = mapbox_vector_tile.decode(answer.content)
    found = [
        (f["id"], sorted(f["properties"].items()), repr(f["geometry"]))
        for layer in layers.values()
        for f in layer["features"]
    ]
    return 200, sorted(found)


def test_tiles_are_the_same(apps: tuple[TestClient, TestClient], remote_url: str, split: partitions.DemoReport) -> None:
    """Every z12 tile over the parcels and the z14 tiles along the split: the same features, decoded."""
    tms = morecantile.tms.get("WebMercatorQuad")
    tiles = [*tms.tiles(*EXTENT, zooms=[12])]
    tiles += [*tms.tiles(106.60, 11.18, 106.70, 11.22, zooms=[14])]
    remote = remote_ids(remote_url, split)
    seen: set[int] = set()
    for tile in tiles:
        plain, partitioned = (tile_features(app, tile) for app in apps)
        assert plain == partitioned, tile
        seen |= {feature[0] for feature in plain[1]}
    assert seen & remote and seen - remote, "tiles drew parcels of both partitions"


def stats_groups(conn: Any, spec: LayerSpec) -> list[dict[str, Any]]:
    stmt: Select[Any] = analysis_stats.polygons_by_unit(spec, "ward", analysis_stats.REFORM_DAY)
    return [dict(row) for row in conn.execute(stmt).mappings()]


def test_area_statistics_per_2025_ward_are_the_same(
    engine: Engine, migrated: Settings, split_settings: Settings, split: partitions.DemoReport
) -> None:
    """The statement the service runs for parcels per 2025 ward, over each table."""
    with engine.connect() as conn:
        plain, partitioned = stats_groups(conn, spec_of(migrated)), stats_groups(conn, spec_of(split_settings))
    assert plain == partitioned
    assert sum(group["count"] for group in plain) >= PARCELS
    assert len(plain) > 1


def test_area_statistics_through_the_service_are_the_same(apps: tuple[TestClient, TestClient]) -> None:
    params = {"collection": "parcels", "by": "unit", "units": "2025"}
    plain, partitioned = (app.get("/analysis/area-stats", params=params) for app in apps)
    assert plain.status_code == 200, plain.text
    assert partitioned.status_code == 200, partitioned.text
    assert plain.json() == partitioned.json()


def explain(engine: Engine, stmt: Select[Any], *, analyze: bool = False) -> str:
    compiled = stmt.compile(dialect=engine.dialect)
    options = "ANALYZE, VERBOSE, COSTS OFF, TIMING OFF" if analyze else "VERBOSE, COSTS OFF"
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN ({options}) {compiled}", compiled.params).scalars()
        return "\n".join(rows)


def remote_sql(plan: str) -> list[str]:
    return [line.split("Remote SQL:", 1)[1] for line in plan.splitlines() if "Remote SQL:" in line]


def fetched(plan: str, table: str) -> int:
    """Rows the foreign scan of ``table`` brought back from the remote cluster (EXPLAIN ANALYZE): those it
    passed on plus those a local filter then removed."""
    node = re.search(rf"Foreign Scan on public\.{table} .*?rows=(\d+).*?(?=\n\s*->|\Z)", plan, re.DOTALL)
    assert node, plan
    removed = re.search(r"Rows Removed by Filter: (\d+)", node.group(0))
    return int(node.group(1)) + (int(removed.group(1)) if removed else 0)


def test_the_bbox_runs_on_the_remote_cluster(
    engine: Engine, migrated: Settings, split_settings: Settings, split: partitions.DemoReport
) -> None:
    """EXPLAIN VERBOSE of the items statement: the bbox is in the Remote SQL, so the remote cluster uses its
    GiST index and sends only what matches. Without ``extensions 'postgis'`` it would fetch every row."""
    remote = split.split.partition(split.split.remote)
    stmt = features.items_text(spec_of(split_settings), features.ItemsQuery(bbox=ACROSS_BOX, limit=10_000))
    shipped = remote_sql(explain(engine, stmt))
    assert len(shipped) == 1 and remote in shipped[0]
    assert re.search(r"WHERE .*(st_intersects|&&)", shipped[0], re.IGNORECASE), shipped[0]
    with_postgis = fetched(explain(engine, stmt, analyze=True), remote)
    server = sql.Identifier(split.split.server)
    with psycopg.connect(migrated.dsn) as conn:
        conn.execute(sql.SQL("ALTER SERVER {} OPTIONS (DROP extensions)").format(server))
        conn.commit()
        try:
            plain_plan = explain(engine, stmt, analyze=True)
        finally:
            conn.execute(sql.SQL("ALTER SERVER {} OPTIONS (ADD extensions 'postgis')").format(server))
            conn.commit()
    without = fetched(plain_plan, remote)
    print(
        f"\nbbox items on {remote}: {with_postgis} of {split.remote_rows} remote rows fetched with "
        f"extensions 'postgis', {without} without"
    )
    assert not re.search(r"WHERE .*st_intersects", remote_sql(plain_plan)[0], re.IGNORECASE)  # the control
    assert without == split.remote_rows
    assert 0 < with_postgis < split.remote_rows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--local-code", "7"], "two-digit codes"),
        (["--remote-code", "79"], "two different"),
        (["--north-of", "95"], "latitude"),
        ([], "Connection refused"),
    ],
)
def test_the_command_refuses_what_it_cannot_build(migrated: Settings, args: list[str], message: str) -> None:
    exists = f"SELECT to_regclass('{partitions.TABLE}') IS NOT NULL"
    before = query(migrated.dsn, exists)
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"postgresql://postgres@127.0.0.1:{sock.getsockname()[1]}/{SHARD_DB}"
        command = ["partitions", "demo", "--database-url", migrated.dsn, "--remote-url", closed, *args]
        result = CliRunner().invoke(cli.app, command)
    assert result.exit_code == 1
    assert message in result.output
    assert query(migrated.dsn, exists) == before  # nothing built, nothing dropped
