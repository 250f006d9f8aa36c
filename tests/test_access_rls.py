"""Database roles and row-level security, tested where they live: in PostgreSQL, as the roles themselves.

The app check is bypassed on purpose (SQL straight to the database as the app role with ``app.user_id`` set,
or as a person's own login role): the policies alone must keep an editor inside the edit area.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import Engine, text

from gis_service import migrate
from gis_service.auth import dbroles
from gis_service.auth.admin import Admin
from gis_service.auth.dependency import writing_as
from gis_service.auth.principal import Principal
from gis_service.db import async_engine
from gis_service.settings import Settings, load_settings
from tests.accessdata import AREA, PARCELS, PROTECTED, box_wkt, drop_login, unique
from tests.conftest import _reset_schema

UPDATE = "UPDATE parcels SET land_use_code = 'CLN' WHERE id = %s"


def principal_id(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT id FROM principals WHERE name = :n"), {"n": name}).scalar_one())


@pytest.fixture(scope="module")
def editors(admin: Admin, bundled: Engine, area_file: Path) -> dict[str, int]:
    """Principal ids: an editor inside the area, one without an area, a viewer, a disabled editor."""
    names = {role: unique(role) for role in ("area", "everywhere", "viewer", "disabled")}
    for name in names.values():
        admin.add_user(name)
    admin.set_grant(names["area"], PROTECTED, "editor", area=area_file)
    admin.set_grant(names["everywhere"], PROTECTED, "editor")
    admin.set_grant(names["viewer"], PROTECTED, "viewer")
    admin.set_grant(names["disabled"], PROTECTED, "editor")
    admin.disable_user(names["disabled"])
    return {role: principal_id(bundled, name) for role, name in names.items()}


def acting(conn: psycopg.Connection, who: int | None) -> None:
    if who is not None:
        conn.execute("SELECT set_config('app.user_id', %s, true)", (str(who),))


def changed(conn: psycopg.Connection, statement: str, *params: object) -> int:
    return conn.execute(statement, params).rowcount


def test_the_app_role_cannot_read_the_key_hashes(as_app: psycopg.Connection, viewer: object) -> None:
    assert as_app.execute("SELECT count(*) FROM api_keys WHERE id > 0").fetchone()[0] > 0  # type: ignore[index]
    for column in ("secret_hash", "prefix", "*"):
        with pytest.raises(errors.InsufficientPrivilege):
            as_app.execute(f"SELECT {column} FROM api_keys")
        as_app.rollback()
    with pytest.raises(errors.InsufficientPrivilege):
        as_app.execute("SELECT * FROM audit_log")
    as_app.rollback()
    with pytest.raises(errors.InsufficientPrivilege):
        as_app.execute("UPDATE grants SET role = 'curator'")


def test_the_app_role_owns_nothing_and_is_no_superuser(as_app: psycopg.Connection) -> None:
    row = as_app.execute(
        "SELECT rolsuper, rolbypassrls, (SELECT count(*) FROM pg_class WHERE relowner = r.oid) "
        "FROM pg_roles r WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False, 0)


def test_an_editor_changes_only_features_touching_the_area_and_keeps_them_inside(
    as_app: psycopg.Connection, editors: dict[str, int], parcel_ids: dict[str, int]
) -> None:
    acting(as_app, editors["area"])
    assert changed(as_app, UPDATE, parcel_ids["inside"]) == 1
    assert changed(as_app, UPDATE, parcel_ids["outside"]) == 0  # not even visible to the UPDATE
    assert changed(as_app, "DELETE FROM parcels WHERE id = %s", parcel_ids["outside"]) == 0
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        as_app.execute(
            "UPDATE parcels SET geom = ST_GeomFromText(%s, 4326) WHERE id = %s",
            (box_wkt(*PARCELS["outside"]), parcel_ids["inside"]),
        )


def test_a_feature_across_the_edge_can_be_changed_only_by_bringing_it_inside(
    as_app: psycopg.Connection, editors: dict[str, int], parcel_ids: dict[str, int]
) -> None:
    acting(as_app, editors["area"])
    with pytest.raises(errors.InsufficientPrivilege):
        as_app.execute(UPDATE, (parcel_ids["across"],))  # touches the area (USING) but is not inside it (CHECK)
    as_app.rollback()
    acting(as_app, editors["area"])
    inside = box_wkt(AREA[2] - 0.01, 10.99, AREA[2] - 0.005, 11.00)
    moved = "UPDATE parcels SET geom = ST_GeomFromText(%s, 4326) WHERE id = %s"
    assert changed(as_app, moved, inside, parcel_ids["across"]) == 1


def test_inserts_must_land_inside_the_area(as_app: psycopg.Connection, editors: dict[str, int]) -> None:
    insert = (
        "INSERT INTO parcels (admin_code, sheet_no, parcel_no, land_use_code, geom, geometry_quality, source) "
        "VALUES ('TACC', '2', %s, 'ODT', ST_GeomFromText(%s, 4326), 'approximate', 'test: access')"
    )
    acting(as_app, editors["area"])
    assert changed(as_app, insert, "in", box_wkt(106.64, 10.96, 106.645, 10.965)) == 1
    with pytest.raises(errors.InsufficientPrivilege):
        as_app.execute(insert, ("out", box_wkt(*PARCELS["outside"])))


@pytest.mark.parametrize(("who", "outside"), [("everywhere", 1), ("viewer", 0), ("disabled", 0), (None, 0)])
def test_who_may_write_at_all(
    as_app: psycopg.Connection, editors: dict[str, int], parcel_ids: dict[str, int], who: str | None, outside: int
) -> None:
    """No area: the whole collection; a viewer, a disabled account or nobody named: nothing."""
    acting(as_app, editors[who] if who else None)
    assert changed(as_app, UPDATE, parcel_ids["outside"]) == outside
    assert changed(as_app, UPDATE, parcel_ids["inside"]) == outside


def test_reads_are_not_restricted(as_app: psycopg.Connection, parcel_ids: dict[str, int]) -> None:
    ids = tuple(parcel_ids.values())
    assert as_app.execute("SELECT count(*) FROM parcels WHERE id = ANY(%s)", (list(ids),)).fetchone() == (3,)


def test_a_write_as_the_app_bumps_the_layer_version_through_the_owners_trigger(
    as_app: psycopg.Connection, editors: dict[str, int], parcel_ids: dict[str, int]
) -> None:
    version = "SELECT version FROM layer_versions WHERE layer = 'parcels'"
    before = as_app.execute(version).fetchone()[0]  # type: ignore[index]
    acting(as_app, editors["area"])
    assert changed(as_app, UPDATE, parcel_ids["inside"]) == 1
    assert as_app.execute(version).fetchone()[0] == before + 1  # type: ignore[index]
    with pytest.raises(errors.InsufficientPrivilege):
        as_app.execute("UPDATE layer_versions SET version = 0")


def test_the_apps_write_transaction_names_the_principal(
    access_settings: Settings, editors: dict[str, int], parcel_ids: dict[str, int]
) -> None:
    async def attempt(feature: int) -> int:
        engine = async_engine(access_settings)
        try:
            async with writing_as(engine, Principal(editors["area"], "editor")) as conn:
                result = await conn.execute(
                    text("UPDATE parcels SET land_use_code = land_use_code WHERE id = :id"), {"id": feature}
                )
                count = result.rowcount
                await conn.rollback()
                return count
        finally:
            await engine.dispose()

    assert asyncio.run(attempt(parcel_ids["inside"])) == 1
    assert asyncio.run(attempt(parcel_ids["outside"])) == 0


def test_a_direct_postgis_editor_is_held_by_the_same_policies(
    access_settings: Settings,
    qgis_login: tuple[dbroles.Login, str],
    editors: dict[str, int],
    parcel_ids: dict[str, int],
) -> None:
    login, _ = qgis_login
    host = access_settings.dsn.partition("@")[2]
    with psycopg.connect(f"postgresql://{login.role}:{login.password}@{host}") as conn:
        assert conn.execute(
            "SELECT count(*) FROM parcels WHERE id = ANY(%s)", (list(parcel_ids.values()),)
        ).fetchone() == (3,)
        assert changed(conn, UPDATE, parcel_ids["inside"]) == 1
        assert changed(conn, UPDATE, parcel_ids["outside"]) == 0
        # Naming another account, as the app does, changes nothing for a login that is not the app.
        acting(conn, editors["everywhere"])
        assert changed(conn, UPDATE, parcel_ids["outside"]) == 0
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT secret_hash FROM api_keys")
        conn.rollback()


def test_disabling_the_account_closes_its_database_login(
    access_settings: Settings, admin: Admin, area_file: Path
) -> None:
    name = unique("leaver")
    admin.add_user(name)
    login = admin.set_grant(name, PROTECTED, "editor", area=area_file, db_login=True).login
    assert login is not None
    host = access_settings.dsn.partition("@")[2]
    with psycopg.connect(f"postgresql://{login.role}:{login.password}@{host}"):
        pass
    admin.disable_user(name)
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        psycopg.connect(f"postgresql://{login.role}:{login.password}@{host}")
    drop_login(admin, login.role)


def test_the_owner_loads_freely_under_forced_row_security(
    bundled: Engine, parcel_ids: dict[str, int], access_settings: Settings
) -> None:
    with bundled.connect() as conn:
        forced = conn.execute(
            text("SELECT relname FROM pg_class WHERE relforcerowsecurity AND relrowsecurity ORDER BY relname")
        ).scalars()
        assert set(forced) == set(dbroles.EDITABLE_TABLES)
    with psycopg.connect(access_settings.dsn) as conn:
        conn.execute(f"SET ROLE {dbroles.OWNER}")
        assert changed(conn, UPDATE, parcel_ids["outside"]) == 1  # the loader's role: no area, no grant needed
        assert changed(conn, "DELETE FROM parcels WHERE id = %s", parcel_ids["outside"]) == 1
        conn.rollback()


def test_downgrading_one_database_leaves_the_roles_and_the_other_databases(
    access_settings: Settings, as_app: psycopg.Connection
) -> None:
    base, _, name = access_settings.dsn.rpartition("/")
    other_url = f"{base}/{name}_access"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}_access"')
        conn.execute(f'CREATE DATABASE "{name}_access"')
    other = load_settings(database_url=other_url)
    _reset_schema(other_url)
    migrate.upgrade(other)
    migrate.downgrade(other, "0003")
    with psycopg.connect(other_url) as conn:
        owners = conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'spatial_ref_sys'"
        ).fetchall()
        policies = conn.execute("SELECT count(*) FROM pg_policy").fetchone()
        roles = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", (list(dbroles.ROLES),)).fetchone()
        migrator = conn.execute("SELECT current_user").fetchone()
    assert owners == [migrator] and policies == (0,) and roles == (len(dbroles.ROLES),)
    # This database is untouched: the app still reads, the policies still hold.
    assert as_app.execute("SELECT count(*) FROM pg_policy WHERE polname = 'gis_update'").fetchone() == (5,)
    assert as_app.execute("SELECT count(*) FROM industrial_parks").fetchone()[0] > 0  # type: ignore[index]
    migrate.upgrade(other)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}_access"')
