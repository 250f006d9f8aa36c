"""``gis-service users|keys|grants|audit`` on the real database, and what the keys they make then open."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from gis_service.cli import app
from gis_service.settings import Settings
from tests.accessdata import PROTECTED, basic, unique

ITEMS = f"/collections/{PROTECTED}/items?limit=1"


@pytest.fixture(scope="module")
def cli(migrated: Settings) -> CliRunner:
    return CliRunner(env={"GIS_DATABASE_URL": migrated.dsn, "COLUMNS": "300"})  # rich tables, unwrapped


def run(cli: CliRunner, *args: str, code: int = 0) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result.stdout + result.stderr


def test_a_key_is_shown_once_works_as_basic_password_and_stops_when_revoked(
    cli: CliRunner, access_client: TestClient, bundled: Engine
) -> None:
    name = unique("cli")
    assert "added" in run(cli, "users", "add", name, "--display-name", "Nguyễn Văn An")
    run(cli, "grants", "set", name, PROTECTED, "viewer")
    key = run(cli, "keys", "create", name, "--label", "QGIS on laptop 12", "--expires-days", "30").splitlines()[0]
    prefix, _, secret = key.partition(".")
    assert access_client.get(ITEMS, headers=basic(name, key)).status_code == 200
    listed = run(cli, "keys", "list", name)
    assert prefix in listed and secret not in listed
    with bundled.connect() as conn:
        stored = conn.execute(text("SELECT secret_hash FROM api_keys WHERE prefix = :p"), {"p": prefix}).scalar_one()
    assert secret.encode() not in bytes(stored) and len(stored) == 32
    run(cli, "keys", "revoke", prefix)
    assert access_client.get(ITEMS, headers=basic(name, key)).status_code == 401
    assert "no active key" in run(cli, "keys", "revoke", prefix, code=1)


def test_users_are_listed_and_disabling_one_closes_its_keys(cli: CliRunner, access_client: TestClient) -> None:
    name = unique("leaving")
    run(cli, "users", "add", name, "--service", "--group", "field-team")
    run(cli, "grants", "set", name, PROTECTED, "viewer")
    key = run(cli, "keys", "create", name).splitlines()[0]
    listed = run(cli, "users", "list")
    assert name in listed and "field-team" in listed
    assert "exists already" in run(cli, "users", "add", name, code=1)
    assert "letters, digits" in run(cli, "users", "add", "bad name!", code=1)
    run(cli, "users", "disable", name)
    assert access_client.get(ITEMS, headers={"X-API-Key": key}).status_code == 401


def test_grants_with_an_area_file_in_vn2000_are_reprojected_listed_and_revoked(
    cli: CliRunner, area_file: Path, bundled: Engine
) -> None:
    name = unique("surveyor")
    run(cli, "users", "add", name)
    out = run(cli, "grants", "set", name, PROTECTED, "editor", "--area", str(area_file))
    assert "inside its edit area" in out
    with bundled.connect() as conn:
        bounds = conn.execute(
            text(
                "SELECT ST_XMin(a.geom), ST_YMin(a.geom), ST_XMax(a.geom), ST_YMax(a.geom), ST_SRID(a.geom) "
                "FROM edit_areas a JOIN principals p ON p.id = a.principal_id WHERE p.name = :n"
            ),
            {"n": name},
        ).one()
    assert [round(v, 4) for v in bounds[:4]] == [106.6, 10.95, 106.7, 11.05] and bounds[4] == 4326
    listed = run(cli, "grants", "list", name)
    assert PROTECTED in listed and "editor" in listed and "12" in listed  # about 12,000 ha
    # "set" is exact: without --area the same grant holds everywhere again.
    assert "everywhere" in run(cli, "grants", "set", name, PROTECTED, "editor")
    assert "no longer editor" in run(cli, "grants", "revoke", name, PROTECTED)
    assert "has no grant" in run(cli, "grants", "revoke", name, PROTECTED, code=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody-here", PROTECTED, "viewer"], "no account named"),
        (["{user}", "no_such_layer", "viewer"], "does not exist"),
        (["{user}", PROTECTED, "owner"], "role must be one of"),
        (["{user}", PROTECTED, "viewer", "--area", "{area}"], "editing role"),
        (["group:planners", PROTECTED, "editor", "--db-login"], "not a group"),
    ],
)
def test_bad_grants_are_refused_with_a_reason(cli: CliRunner, area_file: Path, args: list[str], message: str) -> None:
    user = unique("someone")
    run(cli, "users", "add", user)
    filled = [a.format(user=user, area=area_file) for a in args]
    assert message in run(cli, "grants", "set", *filled, code=1)


def test_a_database_login_is_printed_once_and_every_change_is_audited(cli: CliRunner, bundled: Engine) -> None:
    name = unique("qgisuser")
    run(cli, "users", "add", name)
    out = run(cli, "grants", "set", name, PROTECTED, "editor", "--db-login")
    assert "database login" in out and "password" in out
    audit = run(cli, "audit", "--limit", "5")
    assert "grant_set" in audit and "cli:" in audit
    with bundled.connect() as conn:
        events = conn.execute(
            text("SELECT event, actor, address FROM audit_log WHERE subject = :n ORDER BY id"), {"n": name}
        ).all()
        role = conn.execute(text("SELECT db_role FROM principals WHERE name = :n"), {"n": name}).scalar_one()
    assert [e.event for e in events] == ["user_add", "grant_set"]
    assert all(e.actor.startswith("cli:") and e.address == "local" for e in events)
    assert role is not None and role.endswith(name.replace("-", "_"))
    with bundled.begin() as conn:
        conn.execute(text(f'DROP ROLE "{role}"'))  # cluster-wide: the tests remove the roles they make
