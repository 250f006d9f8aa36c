"""QGIS 3.22 (headless) opens a non-public collection with HTTP Basic auth (account name + API key) through a
real server process, and gets nothing without them: the only scheme QGIS 3.22 on Debian can send."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from gis_service.auth.admin import Admin
from gis_service.settings import Settings
from tests.accessdata import PROTECTED, Account, account
from tests.clients.conftest import run_qgis
from tests.serverproc import server_process

pytestmark = pytest.mark.clients


@pytest.fixture(scope="module")
def protected_server(access_settings: Settings, bundled: Engine, parcel_ids: dict[str, int]) -> Iterator[str]:
    """The service with ``parcels`` not public (a test copy of the catalogue)."""
    with server_process(access_settings.dsn, env={"GIS_LAYERS_DIR": str(access_settings.layers_dir)}) as server:
        yield server.base


def qgis(base: str, tmp_path: Path, *credentials: str) -> dict[str, Any]:
    """The probe's report on the protected layer."""
    report = run_qgis("qgis_access_probe.py", *credentials, base, PROTECTED, tmp_path=tmp_path)
    layer: dict[str, Any] = report["layers"][PROTECTED]
    return layer


@pytest.fixture(scope="module")
def reader(admin: Admin) -> Account:
    return account(admin, "qgis-reader", (PROTECTED, "viewer"))


def test_qgis_opens_a_non_public_layer_with_basic_auth(
    protected_server: str, reader: Account, parcel_ids: dict[str, int], bundled: Engine, tmp_path: Path
) -> None:
    with bundled.connect() as conn:
        expected = conn.execute(text(f"SELECT count(*) FROM {PROTECTED}")).scalar_one()
    assert expected >= len(parcel_ids)
    report = qgis(protected_server, tmp_path, "--user", reader.name, "--password", reader.key)
    assert report == {**report, "isValid": True, "featureCount": expected, "fetched": expected}
    assert report["wkbType"].startswith("MultiPolygon")


def test_without_credentials_or_with_a_wrong_key_qgis_gets_nothing(
    protected_server: str, reader: Account, tmp_path: Path
) -> None:
    anonymous = qgis(protected_server, tmp_path)
    wrong = qgis(protected_server, tmp_path, "--user", reader.name, "--password", reader.prefix + "." + "Q" * 43)
    assert anonymous["isValid"] is False and wrong["isValid"] is False
