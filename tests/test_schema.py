"""The schema comes from the migrations only: up, down, no drift, constraints that bite."""

from __future__ import annotations

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from gis_service import migrate
from gis_service.migrate import include_object
from gis_service.models import VERSIONED_TABLES, Base
from gis_service.settings import Settings, load_settings
from tests.conftest import _reset_schema, scalar


def test_models_and_migrations_do_not_drift(engine: Engine) -> None:
    with engine.connect() as conn, warnings.catch_warnings():
        # Expression indexes (search keys, validity ranges) live in the migration only.
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        warnings.filterwarnings("ignore", message=".*Skipped unsupported reflection.*")
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_expression_indexes_exist(engine: Engine) -> None:
    with engine.connect() as conn:
        names = set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")).scalars())
    expected = {
        f"ix_{t}_search"
        for t in (
            "admin_units",
            "industrial_parks",
            "industrial_clusters",
            "transport_projects",
            "rivers",
            "name_aliases",
        )
    }
    assert expected | {"ix_admin_units_validity"} <= names


def test_every_migration_downgrades_and_upgrades_again(settings: Settings) -> None:
    url = settings.dsn.rsplit("/", 1)[0] + "/" + settings.dsn.rsplit("/", 1)[1] + "_updown"
    import psycopg

    admin = settings.dsn.rsplit("/", 1)[0] + "/postgres"
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    other = load_settings(database_url=url)
    _reset_schema(url)
    migrate.upgrade(other)
    assert migrate.current_head(other) == migrate.script_head(other)
    migrate.downgrade(other, "base")
    assert migrate.current_head(other) is None
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('spatial_ref_sys', 'alembic_version')"
        ).fetchone()
        srid = conn.execute("SELECT auth_name FROM spatial_ref_sys WHERE srid = 3405").fetchone()
    assert tables == (0,)
    assert srid == ("EPSG",)
    migrate.upgrade(other)
    assert migrate.current_head(other) == migrate.script_head(other)


BAD_GEOMETRIES = [
    "POINT(NaN NaN)",
    "POINT(1e999 10)",
    "POLYGON((106 11, 107 11, 106 12, 107 12, 106 11))",  # bow-tie: invalid
    "POLYGON EMPTY",
    "POINT(200 10)",
]


@pytest.mark.parametrize("wkt", BAD_GEOMETRIES)
def test_check_constraints_reject_bad_geometry(engine: Engine, wkt: str) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO rivers (code, name, name_ascii, kind, geom, geometry_quality, source) "
                "VALUES ('BAD', 'x', 'x', 'river', ST_GeomFromText(:wkt, 4326), 'test', 'test')"
            ),
            {"wkt": wkt},
        )


def test_validity_periods_of_one_code_cannot_overlap(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        for start, end in (("2020-01-01", "2025-06-30"), ("2025-01-01", None)):
            conn.execute(
                text(
                    "INSERT INTO admin_units (code, name, name_ascii, level, valid_from, valid_to, "
                    "geometry_quality, source) VALUES ('X1', 'x', 'x', 'ward', :s, :e, 'test', 'test')"
                ),
                {"s": start, "e": end},
            )


def test_a_write_bumps_the_layer_version_in_its_transaction(engine: Engine) -> None:
    before = scalar(engine, "SELECT version FROM layer_versions WHERE layer = 'rivers'")
    with engine.begin() as conn:
        conn.execute(text("UPDATE rivers SET name = name || '' WHERE code = 'NOPE'"))  # no row: no bump
    assert scalar(engine, "SELECT version FROM layer_versions WHERE layer = 'rivers'") == before
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO rivers (code, name, name_ascii, kind, geom, geometry_quality, source) "
                "VALUES ('TMP', 'x', 'x', 'river', 'SRID=4326;LINESTRING(106.5 11, 106.6 11.1)', "
                "'test', 'test')"
            )
        )
        inside = conn.execute(text("SELECT version FROM layer_versions WHERE layer = 'rivers'")).scalar()
        conn.execute(text("DELETE FROM rivers WHERE code = 'TMP'"))
    assert inside == before + 1  # type: ignore[operator]
    assert scalar(engine, "SELECT version FROM layer_versions WHERE layer = 'rivers'") == before + 2  # type: ignore[operator]


def test_every_versioned_table_has_a_version_row(engine: Engine) -> None:
    with engine.connect() as conn:
        layers = set(conn.execute(text("SELECT layer FROM layer_versions")).scalars())
    assert set(VERSIONED_TABLES) <= layers


def test_search_key_folds_vietnamese(engine: Engine) -> None:
    assert scalar(engine, "SELECT gis_search_key('Khu công nghiệp Đồng An – Bình Dương')") == (
        "khu cong nghiep dong an - binh duong"
    )


def test_truncate_bumps_the_version_too(engine: Engine) -> None:
    before = scalar(engine, "SELECT version FROM layer_versions WHERE layer = 'planning_zones'")
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE planning_zones"))
    assert scalar(engine, "SELECT version FROM layer_versions WHERE layer = 'planning_zones'") == before + 1  # type: ignore[operator]


def test_migration_0003_chains_on_0002() -> None:
    from alembic.script import ScriptDirectory

    from gis_service.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config(load_settings())).get_revision("0003")
    assert script is not None and script.down_revision == "0002"
    assert script.path.endswith("0003_located_pass3.py")


def _rejected(engine: Engine, sql: str, **params: object) -> bool:
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    except IntegrityError:
        return True
    return False


TRANSPORT_ROW = (
    "INSERT INTO transport_projects (code, name, name_ascii, kind, status, geometry_quality, accuracy_m, source) "
    "VALUES ('CHK', 'x', 'x', 'ring road', 'planned', :q, :a, 'test')"
)


def test_geometry_quality_of_transport_is_one_of_the_vocabulary(engine: Engine) -> None:
    from gis_service.models import GEOMETRY_QUALITIES

    assert "schematic" in GEOMETRY_QUALITIES
    for quality in GEOMETRY_QUALITIES:  # each accepted (and rolled back)
        with engine.connect() as conn:
            conn.execute(text(TRANSPORT_ROW), {"q": quality, "a": None})
            conn.rollback()
    assert _rejected(engine, TRANSPORT_ROW, q="roughly", a=None)
    assert _rejected(engine, TRANSPORT_ROW, q="schematic", a=0.0)  # an accuracy radius is > 0


def test_location_confidence_is_fair_or_weak(engine: Engine) -> None:
    from gis_service.models import LOCATION_CONFIDENCES

    for table in ("industrial_parks", "industrial_clusters"):
        sql = (
            f"INSERT INTO {table} (code, name, name_ascii, kind, status, geometry_quality, source, "
            "location_confidence) VALUES ('CHK', 'x', 'x', 'KCN', 'planned', 'none', 'test', :c)"
        )
        for value in LOCATION_CONFIDENCES:
            with engine.connect() as conn:
                conn.execute(text(sql), {"c": value})
                conn.rollback()
        assert _rejected(engine, sql, c="strong"), table


def test_0003_goes_down_and_up_again_with_the_bundled_data(settings: Settings) -> None:
    """Down to 0002 keeps every row and geometry (only the new columns go); up again and a reload restore them."""
    import psycopg

    from gis_service.ingest import bundled as bundled_layers

    name = settings.dsn.rsplit("/", 1)[1] + "_0003"
    with psycopg.connect(settings.dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    other = load_settings(database_url=settings.dsn.rsplit("/", 1)[0] + "/" + name)
    _reset_schema(other.dsn)
    migrate.upgrade(other)
    list(bundled_layers.load_all(other))
    columns = "SELECT count(*) FROM information_schema.columns WHERE column_name IN ('accuracy_m', 'location_kind')"
    rr3 = "SELECT ST_NumGeometries(geom) FROM transport_projects WHERE code = 'RR3'"
    with psycopg.connect(other.dsn) as conn:
        assert conn.execute(columns).fetchone() == (3,)  # transport + the two estate tables
    migrate.downgrade(other, "0002")
    with psycopg.connect(other.dsn) as conn:
        assert conn.execute(columns).fetchone() == (0,)
        assert conn.execute(rr3).fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM industrial_parks WHERE geom IS NOT NULL").fetchone() == (10,)
    migrate.upgrade(other)
    before = scalar_of(other.dsn, "SELECT version FROM layer_versions WHERE layer = 'transport_projects'")
    list(bundled_layers.load_all(other))
    after = scalar_of(other.dsn, "SELECT version FROM layer_versions WHERE layer = 'transport_projects'")
    assert after == before + 1  # the restored columns were written, in one statement
    assert scalar_of(other.dsn, "SELECT accuracy_m FROM transport_projects WHERE code = 'RR3'") == 1205.8
    list(bundled_layers.load_all(other))
    assert scalar_of(other.dsn, "SELECT version FROM layer_versions WHERE layer = 'transport_projects'") == after
    with psycopg.connect(settings.dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}"')


def scalar_of(dsn: str, sql: str) -> object:
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
    return row[0] if row else None
