"""Fixtures on a real PostGIS built by the migrations. A missing database fails the suite, never skips it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gis_service import migrate, provision
from gis_service.db import sync_engine
from gis_service.settings import PROJECT_ROOT, Settings, load_settings

TEST_ENV = PROJECT_ROOT / ".data" / "test.env"
#: Fixtures of the access tests (non-public catalogue, accounts, app-role connections), of the editing tests
#: (the app, bodies, clean-up) and of the browser tests (Chromium).
pytest_plugins = ["tests.accessdata", "tests.editdata", "tests.chromium"]


def _test_database_url() -> str:
    url = os.environ.get("GIS_DATABASE_URL")
    if not url and TEST_ENV.exists():
        url = TEST_ENV.read_text().strip().partition("=")[2]
    if not url:
        pytest.fail("no test database: run `make test` (it provisions PostGIS) or set GIS_DATABASE_URL", False)
    return url


def _reset_schema(url: str) -> None:
    try:
        conn = psycopg.connect(url.replace("+psycopg", ""), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostGIS at {url} is not reachable: {exc}", False)
    with conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The test database's settings; the app connects as the provisioned app role (row-level security
    applies to it), made here when missing, as ``gis-service db up`` does."""
    url = _test_database_url()
    provision.ensure_roles(url)
    return load_settings(database_url=url)


@pytest.fixture(scope="session")
def migrated(settings: Settings) -> Settings:
    """A fresh schema, built by the migrations only."""
    _reset_schema(settings.dsn)
    migrate.upgrade(settings)
    return settings


@pytest.fixture(scope="session")
def engine(migrated: Settings) -> Iterator[Engine]:
    eng = sync_engine(migrated)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def bundled(migrated: Settings, engine: Engine) -> Engine:
    """The bundled Binh Duong layers, loaded once for the session."""
    from gis_service.ingest import bundled as bundled_layers

    list(bundled_layers.load_all(migrated))
    return engine


@pytest.fixture(scope="session")
def client(migrated: Settings, bundled: Engine) -> Iterator[TestClient]:
    from gis_service.main import create_app

    with TestClient(create_app(migrated)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def vendored() -> Path:
    """Leaflet, its plugins and the editor's and API page's packages in static/vendor (fetched from npm,
    pinned, when missing)."""
    from gis_service.maps import vendor
    from gis_service.maps.assets import STATIC_DIR, VENDOR

    vendor.vendor()
    return STATIC_DIR / VENDOR


def scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


@pytest.fixture
def tmp_files(tmp_path: Path) -> Path:
    return tmp_path
