"""Real GIS clients against a real server process on the test database.

The expected answers come from the database (``engine``), never from the clients or the service.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyogrio
import pytest
from sqlalchemy import Engine, Integer, column, func, literal, select, table
from sqlalchemy.sql.expression import TableClause

from gis_service.catalog import Catalog, LayerSpec
from gis_service.settings import Settings
from tests.serverproc import get_json, running_server

#: Every client subprocess gets this long; a hung client fails the test instead of stalling the suite.
SUBPROCESS_TIMEOUT_S = 60
#: The GDAL inside pyogrio (geopandas) runs in the test process: bound each of its HTTP requests.
GDAL_HTTP_TIMEOUT_S = 30
#: QGIS runs on Debian's interpreter (python3-qgis): the probes next to this file run in a subprocess.
SYSTEM_PYTHON = "/usr/bin/python3"
QGIS_TIMEOUT_S = 45
#: QGIS 3.22 now and then crashes at start or while building a layer; one retry, never more.
QGIS_ATTEMPTS = 2


@pytest.fixture(scope="session", autouse=True)
def _gdal_http_timeout() -> Iterator[None]:
    pyogrio.set_gdal_config_options({"GDAL_HTTP_TIMEOUT": str(GDAL_HTTP_TIMEOUT_S)})
    yield
    pyogrio.set_gdal_config_options({"GDAL_HTTP_TIMEOUT": None})


@pytest.fixture(scope="session")
def server(migrated: Settings, bundled: Engine) -> Iterator[str]:
    """Base URL of ``uvicorn gis_service.main:create_app --factory`` serving the bundled layers."""
    with running_server(migrated.dsn) as base:
        yield base


@pytest.fixture(scope="session")
def catalog(migrated: Settings) -> Catalog:
    return Catalog.from_dir(migrated.layers_dir)


@pytest.fixture(scope="session")
def collection_ids(server: str) -> list[str]:
    """The ids the running service lists at ``/collections`` (what every client should find)."""
    status, _, body = get_json(f"{server}/collections")
    assert status == 200, body
    ids = [c["id"] for c in body["collections"]]
    assert ids, "the service lists no collections"
    return ids


def layer_table(spec: LayerSpec, *names: str) -> TableClause:
    """The layer's table with its id and geometry columns (and ``names``), for statements built, not typed."""
    return table(spec.table, column(spec.id_column), column(spec.geometry_column), *map(column, names))


def db_count(engine: Engine, spec: LayerSpec) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(layer_table(spec))).scalar_one())


def db_ids(
    engine: Engine, spec: LayerSpec, bbox: tuple[float, float, float, float] | None = None, srid: int = 4326
) -> list[Any]:
    """Sorted feature ids (the layer's id column); with ``bbox`` those whose geometry, in ``srid``, intersects it."""
    t = layer_table(spec)
    query = select(t.c[spec.id_column])
    if bbox is not None:
        geom: Any = t.c[spec.geometry_column]
        if srid != 4326:
            geom = func.ST_Transform(geom, literal(srid, Integer))
        query = query.where(func.ST_Intersects(geom, func.ST_MakeEnvelope(*bbox, literal(srid, Integer))))
    with engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


def db_geometry_types(engine: Engine, spec: LayerSpec) -> set[str]:
    """PostGIS ``GeometryType`` names (``POINT``, ``MULTIPOLYGON``...) of the layer's non-null geometries."""
    geom = layer_table(spec).c[spec.geometry_column]
    with engine.connect() as conn:
        return set(conn.execute(select(func.GeometryType(geom)).where(geom.is_not(None)).distinct()).scalars())


@pytest.fixture
def db_counts(bundled: Engine, catalog: Catalog, collection_ids: list[str]) -> dict[str, int]:
    """``SELECT count(*)`` of the table behind every listed collection, read when the test runs."""
    return {cid: db_count(bundled, catalog.get(cid)) for cid in collection_ids}


def require_executable(name: str) -> str:
    """The path of a Debian client tool; missing tools fail (CI must have them), they do not skip."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: run scripts/system-packages.sh (make system) as root", pytrace=False)
    return path


def run(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = SUBPROCESS_TIMEOUT_S,
    error_marker: str | None = None,
) -> str:
    """Run a client tool; its stdout, or a test failure that shows the command and its stderr.

    ``error_marker``: text that means failure on stderr even with exit code 0 (``ogrinfo`` reports HTTP
    errors as ``ERROR 1: ...`` and still exits 0).
    """
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{command} timed out after {timeout} s; stderr:\n{exc.stderr}", pytrace=False)
    if done.returncode != 0 or (error_marker is not None and error_marker in done.stderr):
        pytest.fail(f"{command} exited with {done.returncode}; stderr:\n{done.stderr[-5000:]}", pytrace=False)
    return done.stdout


def run_qgis(probe: str, *args: str, tmp_path: Path) -> dict[str, Any]:
    """The JSON report (last line of stdout) of ``probe`` (a script next to this file) run by Debian's Python
    with ``args``, allowing QGIS one crash."""
    if not Path(SYSTEM_PYTHON).exists():
        pytest.fail(f"{SYSTEM_PYTHON} not found (QGIS needs Debian's python3-qgis)", pytrace=False)
    runtime_dir = tmp_path / "xdg-runtime"
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime_dir)}
    # Keep the venv's packages out of Debian's interpreter.
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    command = [SYSTEM_PYTHON, str(Path(__file__).with_name(probe)), *args]
    failures = []
    for _ in range(QGIS_ATTEMPTS):
        report, failure = _qgis_attempt(command, env)
        if report is not None:
            return report
        failures.append(failure)
    if any("No module named 'qgis'" in failure for failure in failures):
        pytest.fail("python3-qgis is missing: run scripts/system-packages.sh (make system) as root", pytrace=False)
    pytest.fail(f"QGIS probe failed {QGIS_ATTEMPTS} times:\n" + "\n---\n".join(failures), pytrace=False)


def _qgis_attempt(command: list[str], env: dict[str, str]) -> tuple[dict[str, Any] | None, str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=QGIS_TIMEOUT_S, env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        return None, f"timed out after {QGIS_TIMEOUT_S} s; stderr: {exc.stderr!r}"
    if done.returncode != 0:
        return None, f"exited with {done.returncode}; stderr:\n{done.stderr[-5000:]}"
    try:
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return None, f"printed no JSON: {done.stdout[-2000:]!r}; stderr:\n{done.stderr[-2000:]}"
    return report, ""
