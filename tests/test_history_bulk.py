"""History recorded per statement (migration 0009): multi-row INSERT, UPDATE and DELETE statements of a
plain SQL writer, as psql or a bulk loader sends them, record exactly the versions that the row-level
trigger of migration 0005 recorded, and the layer as of each instant between them is what it was.

Each case runs one scenario twice on the same ids, each in a transaction rolled back at its end: once with
0005's row trigger put back in place of the statement triggers, once as migrated. Instants are compared by
the statement that was running when they were taken (the row trigger reads the clock per row, the statement
triggers once per statement).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select, text

from gis_service.catalog import Catalog
from gis_service.queries import history as hq
from gis_service.settings import PROJECT_ROOT

EVENTS = ("insert", "update", "delete")
SOURCE = "test: history bulk"


@dataclasses.dataclass(frozen=True)
class Layer:
    table: str
    key: str  # the column the API shows as the feature id (0005's EDITABLE)
    columns: str  # the columns an INSERT sets besides the id and the geometry
    values: str  # their values for number ``n`` of the array ``ids``


POINT = "ST_SetSRID(ST_MakePoint(106.65 + n * 0.001, 11.05), 4326)"
PARKS = Layer(
    "industrial_parks",
    "code",
    "code, kind, status, name, name_ascii, geometry_quality, source, footprint",
    ":prefix || ids[n], 'KCN', 'planned', 'KCN ' || n, 'KCN ' || n, 'approximate', :source, "
    f"CASE WHEN n % 2 = 1 THEN ST_Multi(ST_Expand({POINT}, 0.001)) END",
)
PARCELS = Layer(
    "parcels",
    "id",
    "admin_code, sheet_no, parcel_no, land_use_code, geometry_quality, source",
    "'74', 'S', :prefix || ids[n], 'ODT', 'approximate', :source",
)
SQUARE = f"ST_Multi(ST_Expand({POINT}, 0.0005))"
GEOMETRY = {"industrial_parks": f"CASE WHEN n % 4 = 0 THEN NULL ELSE {POINT} END", "parcels": SQUARE}


def insert(layer: Layer, ids: list[int], conn: Connection, prefix: str) -> None:
    """One multi-row INSERT; row ``i`` of ``ids`` gets the values of number ``i``."""
    conn.execute(
        text(
            f"INSERT INTO {layer.table} (id, geom, {layer.columns}) "
            f"SELECT ids[n], {GEOMETRY[layer.table]}, {layer.values} "
            "FROM (SELECT CAST(:ids AS bigint[]) AS ids) i, generate_subscripts(i.ids, 1) AS n"
        ),
        {"ids": ids, "prefix": prefix, "source": SOURCE},
    )


def scenario(layer: Layer, ids: list[int]) -> list[Callable[[Connection, str], object]]:
    """Six statements, each on several rows: created, changed (one moved), two deleted, one of them created
    again under its id with a new feature, the re-created one changed with others, then deleted again."""
    a, b, c, d, e = ids
    table = layer.table
    column = "status" if table == "industrial_parks" else "land_use_code"
    return [
        lambda conn, p: insert(layer, [a, b, c, d], conn, p),
        lambda conn, p: conn.execute(
            text(
                f"UPDATE {table} SET {column} = CASE WHEN id = :a THEN 'X1' ELSE 'X2' END, "
                "geom = CASE WHEN id = :a THEN ST_Translate(geom, 0.01, 0) ELSE geom END WHERE id IN (:a, :b, :c)"
            ),
            {"a": a, "b": b, "c": c},
        ),
        lambda conn, p: conn.execute(text(f"DELETE FROM {table} WHERE id IN (:b, :c)"), {"b": b, "c": c}),
        lambda conn, p: insert(layer, [b, e], conn, p),
        lambda conn, p: conn.execute(
            text(f"UPDATE {table} SET {column} = 'X3' WHERE id IN (:a, :b, :e)"), {"a": a, "b": b, "e": e}
        ),
        lambda conn, p: conn.execute(text(f"DELETE FROM {table} WHERE id IN (:b, :d)"), {"b": b, "d": d}),
    ]


@dataclasses.dataclass
class Run:
    marks: list[dt.datetime]  # the clock before each statement and after the last
    states: list[list[tuple[Any, ...]]]  # the test's rows after each statement: (id, version, row, geometry)
    history: list[tuple[Any, ...]]  # the history rows of the test's features, instants as statement numbers
    change_sets: set[int]
    clocks: set[dt.datetime]  # every changed_at


def clock(conn: Connection) -> dt.datetime:
    return conn.execute(text("SELECT clock_timestamp()")).scalar_one()  # type: ignore[no-any-return]


def phase(marks: list[dt.datetime], at: dt.datetime | None) -> int | None:
    """The statement during which ``at`` was taken (0-based); None for no instant (an open or empty range)."""
    if at is None:
        return None
    inside = [k for k in range(len(marks) - 1) if marks[k] <= at < marks[k + 1]]
    assert len(inside) == 1, (at, marks)
    return inside[0]


ROW = "to_jsonb(t) - ARRAY['geom', 'geom_3857', 'updated_at']"


def state(conn: Connection, layer: Layer, ids: list[int]) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in conn.execute(
            text(f"SELECT id, version, {ROW}, ST_AsEWKT(geom) FROM {layer.table} t WHERE id = ANY(:ids) ORDER BY id"),
            {"ids": ids},
        )
    ]


def history(
    conn: Connection, layer: Layer, ids: list[int], marks: list[dt.datetime]
) -> tuple[list[Any], set[int], set[dt.datetime]]:
    rows = conn.execute(
        text(
            "SELECT feature_id, feature_key, version, op, isempty(valid), lower(valid), upper(valid), changed_at, "
            f"changed_by, change_set_id, row - 'updated_at', ST_AsEWKT(geom) FROM {layer.table}_history "
            "WHERE feature_id = ANY(:ids) ORDER BY feature_id, changed_at"
        ),
        {"ids": ids},
    ).all()
    normal = [
        (r[0], r[1], r[2], r[3], r[4], phase(marks, r[5]), phase(marks, r[6]), phase(marks, r[7]), r[8], r[10], r[11])
        for r in rows
    ]
    return normal, {r[9] for r in rows}, {r[7] for r in rows}


def run(engine: Engine, layer: Layer, ids: list[int], prefix: str, *, row_trigger: bool) -> Run:
    """The scenario in one transaction, rolled back; with ``row_trigger`` under 0005's row-level trigger."""
    with engine.connect() as conn, conn.begin() as tx:
        if row_trigger:
            for event in EVENTS:
                conn.execute(text(f"ALTER TABLE {layer.table} DISABLE TRIGGER trg_{layer.table}_history_{event}"))
            conn.execute(
                text(
                    f"CREATE TRIGGER trg_{layer.table}_history_row AFTER INSERT OR UPDATE OR DELETE ON {layer.table} "
                    f"FOR EACH ROW EXECUTE FUNCTION gis_record_history('{layer.key}')"
                )
            )
        marks, states = [clock(conn)], []
        for statement in scenario(layer, ids):
            statement(conn, prefix)
            marks.append(clock(conn))
            states.append(state(conn, layer, ids))
        rows, change_sets, clocks = history(conn, layer, ids, marks)
        if not row_trigger:
            check_as_of(conn, layer, ids, prefix, marks, states)
        tx.rollback()
    return Run(marks, states, rows, change_sets, clocks)


def check_as_of(
    conn: Connection,
    layer: Layer,
    ids: list[int],
    prefix: str,
    marks: list[dt.datetime],
    states: list[list[tuple[Any, ...]]],
) -> None:
    """The layer as of the instant after each statement (the statement the API's asOf runs) is the table then."""
    spec = Catalog.from_dir(PROJECT_ROOT / "layers").get(layer.table)
    keys = ids if layer.key == "id" else [f"{prefix}{i}" for i in ids]
    for k, expected in enumerate(states):
        then = hq.as_of(spec, marks[k + 1])
        key = then.c[spec.id_column]
        got = conn.execute(
            select(key, then.c.version, func.ST_AsEWKT(then.c[spec.geometry_column])).where(key.in_(keys))
        ).all()
        want = {(r[2][layer.key], r[1], r[3]) for r in expected}
        assert {tuple(g) for g in got} == want, f"as of the end of statement {k + 1}"
        assert len(got) == len(want)


def reserve(engine: Engine, table: str) -> list[int]:
    """Five ids taken from the layer's sequence, so both runs write the same features."""
    with engine.begin() as conn:
        return list(
            conn.execute(
                text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, 5)")
            ).scalars()
        )


@pytest.mark.parametrize("layer", [PARKS, PARCELS], ids=lambda layer: layer.table)
def test_statements_record_what_the_row_trigger_recorded(bundled: Engine, layer: Layer) -> None:
    ids, prefix = reserve(bundled, layer.table), f"H{uuid.uuid4().hex[:6]}-"
    before = run(bundled, layer, ids, prefix, row_trigger=True)
    after = run(bundled, layer, ids, prefix, row_trigger=False)
    assert after.states == before.states
    assert after.history == before.history
    assert len(after.change_sets) == 1 and len(before.change_sets) == 1
    assert len(after.clocks) == 6 < len(before.clocks)  # a clock per statement, not per row: the other trigger
    a, b, c, d, e = ids
    # The versions themselves, spelled out: (feature, version, op, empty, from, to, changed at).
    expected = [
        (a, 1, "I", False, 0, 1, 0), (a, 2, "U", False, 1, 4, 1), (a, 3, "U", False, 4, None, 4),
        (b, 1, "I", False, 0, 1, 0), (b, 2, "U", False, 1, 2, 1), (b, 3, "D", True, None, None, 2),
        (b, 1, "I", False, 3, 4, 3), (b, 2, "U", False, 4, 5, 4), (b, 3, "D", True, None, None, 5),
        (c, 1, "I", False, 0, 1, 0), (c, 2, "U", False, 1, 2, 1), (c, 3, "D", True, None, None, 2),
        (d, 1, "I", False, 0, 5, 0), (d, 2, "D", True, None, None, 5),
        (e, 1, "I", False, 3, 4, 3), (e, 2, "U", False, 4, None, 4),
    ]  # fmt: skip
    assert [h[:1] + h[2:8] for h in after.history] == expected
    assert {h[8] for h in after.history} == {bundled.url.username}  # the login role: no API principal
    moved = next(h for h in after.history if h[0] == a and h[2] == 2)
    assert moved[10] != next(h for h in after.history if h[0] == a and h[2] == 1)[10]


def test_a_statement_that_touches_no_row_records_nothing(bundled: Engine) -> None:
    with bundled.connect() as conn, conn.begin() as tx:
        before = conn.execute(text("SELECT count(*) FROM parcels_history")).scalar_one()
        conn.execute(text("UPDATE parcels SET land_use_code = land_use_code WHERE false"))
        conn.execute(text("DELETE FROM parcels WHERE false"))
        conn.execute(
            text(
                f"INSERT INTO parcels (geom, {PARCELS.columns}) SELECT geom, {PARCELS.columns} FROM parcels WHERE false"
            )
        )
        assert conn.execute(text("SELECT count(*) FROM parcels_history")).scalar_one() == before
        assert conn.execute(text("SELECT count(*) FROM change_sets WHERE txid = txid_current()")).scalar_one() == 0
        tx.rollback()


def test_versions_begin_after_the_last_one_when_the_clock_is_behind(bundled: Engine) -> None:
    """As when a transaction that began earlier waited for rows another one wrote: the history says later
    than the clock. A feature created again starts where its last version ended, a closed version lasts a
    microsecond at the least and the next one begins where it ends; the others of the statement keep the clock."""
    x, y, z, *_ = reserve(bundled, "parcels")
    later = "clock_timestamp() + interval '1 hour'"
    last = "SELECT max(upper(valid)) FROM parcels_history WHERE feature_id = :id"
    valid = "SELECT lower(valid), upper(valid) FROM parcels_history WHERE feature_id = :id AND version = :v"
    with bundled.connect() as conn, conn.begin() as tx:
        insert(PARCELS, [x, y, z], conn, f"H{uuid.uuid4().hex[:6]}-")
        conn.execute(text("DELETE FROM parcels WHERE id = :x"), {"x": x})
        conn.execute(text(f"UPDATE parcels_history SET valid = tstzrange(lower(valid), {later}) "
                          "WHERE feature_id = :x AND version = 1"), {"x": x})  # fmt: skip
        conn.execute(
            text(f"UPDATE parcels_history SET valid = tstzrange({later}, NULL) WHERE feature_id = :y"), {"y": y}
        )
        ended = conn.execute(text(last), {"id": x}).scalar_one()
        began = conn.execute(text(valid), {"id": y, "v": 1}).one()[0]
        insert(PARCELS, [x], conn, "again-")
        conn.execute(text("UPDATE parcels SET land_use_code = 'X' WHERE id IN (:y, :z)"), {"y": y, "z": z})
        now = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        assert conn.execute(text(valid + " AND op = 'I' ORDER BY hist_id DESC"), {"id": x, "v": 1}).first() == (
            ended,
            None,
        )
        step = dt.timedelta(microseconds=1)
        assert conn.execute(text(valid), {"id": y, "v": 1}).one() == (began, began + step)
        assert conn.execute(text(valid), {"id": y, "v": 2}).one() == (began + step, None)
        z_closed = conn.execute(text(valid), {"id": z, "v": 1}).one()[1]
        assert z_closed < now < began  # the clock, not the other feature's instant
        assert conn.execute(text(valid), {"id": z, "v": 2}).one() == (z_closed, None)
        tx.rollback()
