"""Provisioning of the roles and secrets: `gis-service db up` and the test session both go through it."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest

from gis_service import provision
from gis_service.auth import dbroles
from gis_service.settings import SECRETS_ENV, Settings
from tests.accessdata import app_dsn


def test_secrets_are_private_made_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    first = provision.ensure_secrets(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert provision.ensure_secrets(path) == first  # the pepper never rotates by itself: keys stay valid
    assert set(first) == {"GIS_DB__APP_ROLE", "GIS_DB__APP_PASSWORD", "GIS_AUTH__PEPPER"}
    assert len(first["GIS_AUTH__PEPPER"]) >= 43


def test_the_roles_exist_and_the_app_logs_in_with_its_password(migrated: Settings) -> None:
    """What ``gis-service db up`` leaves (the session's own secrets: the roles are cluster-wide, their
    passwords are not changed here)."""
    assert provision.ensure_roles(migrated.dsn)
    password = provision.read_env(SECRETS_ENV)["GIS_DB__APP_PASSWORD"]
    assert stat.S_IMODE(SECRETS_ENV.stat().st_mode) == 0o600
    with psycopg.connect(migrated.dsn) as conn:
        rows = conn.execute(
            "SELECT rolname, rolcanlogin, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = ANY(%s) ORDER BY 1",
            (list(dbroles.ROLES),),
        ).fetchall()
    assert [r[0] for r in rows] == sorted(dbroles.ROLES)
    assert {r[0] for r in rows if r[1]} == {dbroles.APP} and not any(r[2] or r[3] for r in rows)
    host = migrated.dsn.partition("@")[2]
    with psycopg.connect(f"postgresql://{dbroles.APP}:{password}@{host}") as conn:
        assert conn.execute("SELECT session_user").fetchone() == (dbroles.APP,)
    assert migrated.request_url == f"postgresql+asyncpg://{dbroles.APP}:{password}@{host}"


def test_a_login_that_may_not_create_roles_gets_the_dba_sentence(
    access_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing DATABASE_URL whose user may not create roles: one sentence of what to ask a DBA for, and
    no app role in the secrets (requests then run as that user)."""
    monkeypatch.setattr(dbroles, "ROLES", (*dbroles.ROLES, "gis_role_nobody_made"))
    path = tmp_path / "secrets.env"
    assert not provision.ensure_roles(app_dsn(access_settings), path)  # the app role may not create roles
    printed = capsys.readouterr().out
    assert "gis_role_nobody_made" in printed and "CREATE ROLE gis_app LOGIN PASSWORD" in printed
    assert set(provision.read_env(path)) == {"GIS_AUTH__PEPPER"}
