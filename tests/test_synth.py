"""Synthetic parcels against the real PostGIS: counts, containment, flags, determinism, replace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from shapely.geometry import box
from sqlalchemy import Engine, text

from gis_service.errors import LoadError
from gis_service.ingest.synth import INDUSTRIAL, LAND_USE, load_parcels
from gis_service.settings import Settings

#: Two test wards side by side, the second twice the size of the first; large, so that they get a good share
#: of the parcels even when the bundled wards (about 2,700 km2) are loaded too.
WARDS = {"TSW01": box(106.40, 11.10, 106.60, 11.30), "TSW02": box(106.60, 11.10, 107.00, 11.30)}


@pytest.fixture
def wards(engine: Engine) -> Iterator[None]:
    """Two 2025 wards of our own; synthetic parcels from before the test are put back after it."""
    saved = snapshot(engine, "parcels", "synthetic")
    with engine.begin() as conn:
        for code, geom in WARDS.items():
            conn.execute(
                text(
                    "INSERT INTO admin_units (code, name, name_ascii, level, geometry_quality, source, "
                    "valid_from, geom) VALUES (:code, :name, :name, 'ward', 'test', 'tests/test_synth.py', "
                    "'2025-07-01', ST_Multi(ST_GeomFromText(:wkt, 4326)))"
                ),
                {"code": code, "name": f"Phường {code}", "wkt": geom.wkt},
            )
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM parcels WHERE synthetic"))
        conn.execute(text("DELETE FROM admin_units WHERE code = ANY(:codes)"), {"codes": list(WARDS)})
    _restore(engine, saved)


def snapshot(engine: Engine, table: str, where: str) -> list[dict[str, Any]]:
    """Rows as they can be inserted again: without the generated columns (area_ha, geom_3857)."""
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) FROM information_schema.columns "
                "WHERE table_name = :t AND is_generated = 'NEVER'"
            ),
            {"t": table},
        ).scalar_one()
        return [dict(r) for r in conn.execute(text(f"SELECT {columns} FROM {table} WHERE {where}")).mappings()]


def _restore(engine: Engine, saved: list[dict[str, Any]]) -> None:
    if not saved:
        return
    columns = list(saved[0])
    statement = f"INSERT INTO parcels ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    with engine.begin() as conn:
        conn.execute(text(statement), saved)


def one(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).one()


def digest(engine: Engine) -> str:
    """Every synthetic parcel's key, land use and exact geometry, in key order."""
    return str(
        one(
            engine,
            "SELECT md5(string_agg(concat_ws('|', admin_code, sheet_no, parcel_no, land_use_code, "
            "encode(ST_AsEWKB(geom), 'hex')), ',' ORDER BY admin_code, sheet_no, parcel_no)) "
            "FROM parcels WHERE synthetic",
        )[0]
    )


def test_counts_flags_and_containment(settings: Settings, engine: Engine, wards: None) -> None:
    version = one(engine, "SELECT version FROM layer_versions WHERE layer = 'parcels'")[0]
    report = load_parcels(settings, count=3_000, seed=11)
    assert report.count == 3_000 and "3000 synthetic parcels (seed 11)" in report.summary()
    flags = one(
        engine,
        "SELECT count(*), bool_and(synthetic), array_agg(DISTINCT geometry_quality), array_agg(DISTINCT source) "
        "FROM parcels WHERE synthetic",
    )
    assert tuple(flags) == (3_000, True, ["synthetic"], ["synthetic: gis-service synth parcels --seed 11"])
    outside = one(
        engine,
        "SELECT count(*) FROM parcels p JOIN admin_units a ON a.code = p.admin_code "
        "AND a.level = 'ward' AND a.valid_from = '2025-07-01' WHERE p.synthetic AND NOT ST_CoveredBy(p.geom, a.geom)",
    )[0]
    assert outside == 0
    assert one(engine, "SELECT version FROM layer_versions WHERE layer = 'parcels'")[0] == version + 1


def test_counts_follow_ward_area_and_sizes_look_like_lots(settings: Settings, engine: Engine, wards: None) -> None:
    load_parcels(settings, count=3_000, seed=3)
    small, large = (
        one(engine, "SELECT count(*) FROM parcels WHERE synthetic AND admin_code = :c", c=code)[0] for code in WARDS
    )
    assert small > 0 and abs(large - 2 * small) <= 3
    median, biggest, codes = one(
        engine,
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY area_ha), max(area_ha), array_agg(DISTINCT land_use_code) "
        "FROM parcels WHERE synthetic",
    )
    assert 0.08 < median < 0.3 and biggest < 70
    assert set(codes) <= set(LAND_USE) | set(INDUSTRIAL)
    assert {"ONT", "CLN"} <= set(codes)


def test_same_seed_same_parcels(settings: Settings, engine: Engine, wards: None) -> None:
    load_parcels(settings, count=1_000, seed=5)
    first = digest(engine)
    report = load_parcels(settings, count=1_000, seed=5)
    assert report.deleted == 1_000
    assert digest(engine) == first
    load_parcels(settings, count=1_000, seed=6)
    assert digest(engine) != first


def test_append_continues_sheet_numbers(settings: Settings, engine: Engine, wards: None) -> None:
    load_parcels(settings, count=900, seed=1)
    top = one(engine, "SELECT max(sheet_no::int) FROM parcels WHERE synthetic AND admin_code = 'TSW02'")[0]
    report = load_parcels(settings, count=900, seed=2, replace=False)
    assert report.deleted == 0
    total, second_min = one(
        engine,
        "SELECT count(*), min(sheet_no::int) FILTER (WHERE source LIKE '%--seed 2') "
        "FROM parcels WHERE synthetic AND admin_code = 'TSW02'",
    )
    assert second_min == top + 1
    assert one(engine, "SELECT count(*) FROM parcels WHERE synthetic")[0] == 1_800
    assert total > 0


def test_replace_keeps_real_parcels(settings: Settings, engine: Engine, wards: None) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO parcels (admin_code, sheet_no, parcel_no, land_use_code, geom, geometry_quality, "
                "source) VALUES ('TSW01', '1', '1', 'ONT', "
                "ST_Multi(ST_MakeEnvelope(106.45, 11.15, 106.4503, 11.1503, 4326)), 'surveyed', 'test')"
            )
        )
    try:
        load_parcels(settings, count=600, seed=9)
        load_parcels(settings, count=600, seed=9)
        assert one(engine, "SELECT count(*) FROM parcels WHERE admin_code = 'TSW01' AND NOT synthetic")[0] == 1
        # The real parcel holds sheet 1 of TSW01, so the synthetic sheets start after it.
        assert one(engine, "SELECT min(sheet_no::int) FROM parcels WHERE synthetic AND admin_code = 'TSW01'")[0] == 2
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM parcels WHERE admin_code = 'TSW01' AND NOT synthetic"))


def test_count_must_be_positive(settings: Settings) -> None:
    with pytest.raises(LoadError, match="at least 1"):
        load_parcels(settings, count=0)
