"""QGIS 3.22 (headless) editing PostGIS directly under a person's own database login (``gis-service grants
set … --db-login``): its edit lands in the same history as the API's, under that person's name; an edit that
would move a parcel out of the person's edit area is refused by the database and QGIS reports the commit
failed; a change to a parcel outside the area changes nothing. GDAL (``ogrinfo OAPIF:``) and QGIS (OAPIF)
then read the edited layer through the API."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from gis_service.auth import dbroles
from gis_service.settings import Settings
from tests.accessdata import PROTECTED
from tests.clients.conftest import run_qgis
from tests.serverproc import server_process

pytestmark = pytest.mark.clients
#: Lon/lat outside the edit area of ``tests.accessdata`` (106.60–106.70, 10.95–11.05).
OUTSIDE_WKT = "MULTIPOLYGON(((106.80 11.10,106.81 11.10,106.81 11.11,106.80 11.11,106.80 11.10)))"


def qgis_edit(settings: Settings, login: dbroles.Login, fid: int, value: str, tmp_path: Path, *wkt: str) -> Any:
    host_port, _, database = settings.dsn.partition("@")[2].partition("/")
    host, _, port = host_port.partition(":")
    args = [host, port or "5432", database, login.role, login.password, PROTECTED, str(fid), "sheet_no", value, *wkt]
    return run_qgis("qgis_edit_probe.py", *args, tmp_path=tmp_path)


def sheet(engine: Engine, fid: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(text("SELECT sheet_no FROM parcels WHERE id = :id"), {"id": fid}).scalar()


def test_qgis_edit_lands_in_the_history_under_the_persons_name(
    access_settings: Settings, bundled: Engine, parcel_ids: dict[str, int], qgis_login: Any, tmp_path: Path
) -> None:
    login, name = qgis_login
    report = qgis_edit(access_settings, login, parcel_ids["inside"], "Q-22", tmp_path)
    assert report == {**report, "isValid": True, "found": True, "committed": True}, report
    assert sheet(bundled, parcel_ids["inside"]) == "Q-22"
    with bundled.connect() as conn:
        last = conn.execute(
            text(
                "SELECT h.changed_by, h.op, h.row->>'sheet_no', c.db_role FROM parcels_history h JOIN change_sets c "
                "ON c.id = h.change_set_id WHERE h.feature_id = :id ORDER BY h.version DESC LIMIT 1"
            ),
            {"id": parcel_ids["inside"]},
        ).one()
    assert tuple(last) == (name, "U", "Q-22", login.role)


def test_qgis_edit_outside_the_area_is_refused(
    access_settings: Settings, bundled: Engine, parcel_ids: dict[str, int], qgis_login: Any, tmp_path: Path
) -> None:
    login, _ = qgis_login
    moved = qgis_edit(access_settings, login, parcel_ids["inside"], "Q-OUT", tmp_path, OUTSIDE_WKT)
    assert moved["committed"] is False and "row-level security" in " ".join(moved["errors"]), moved
    assert sheet(bundled, parcel_ids["inside"]) != "Q-OUT"
    # A parcel outside the area: the database filters it out of the UPDATE; nothing changes.
    qgis_edit(access_settings, login, parcel_ids["outside"], "Q-FAR", tmp_path)
    assert sheet(bundled, parcel_ids["outside"]) != "Q-FAR"


def test_gdal_and_qgis_read_the_edited_layers(
    access_settings: Settings, bundled: Engine, parcel_ids: dict[str, int], tmp_path: Path
) -> None:
    with bundled.begin() as conn:  # an edit as the loader's owner connection would make it
        conn.execute(
            text(
                "UPDATE industrial_parks SET status_note = 'edited' WHERE code = (SELECT min(code) "
                "FROM industrial_parks)"
            )
        )
        parks = conn.execute(text("SELECT count(*) FROM industrial_parks")).scalar()
    with server_process(access_settings.dsn, env={"GIS_LAYERS_DIR": str(access_settings.layers_dir)}) as server:
        env = {**os.environ, "GDAL_HTTP_TIMEOUT": "30"}
        done = subprocess.run(
            ["ogrinfo", "-ro", "-so", f"OAPIF:{server.base}", "industrial_parks"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        assert done.returncode == 0 and f"Feature Count: {parks}" in done.stdout, done.stdout + done.stderr
        report = run_qgis("qgis_probe.py", server.base, "industrial_parks", "transport_projects", tmp_path=tmp_path)
    assert report["layers"]["industrial_parks"]["fetched"] == parks
    assert report["layers"]["transport_projects"]["isValid"] is True
