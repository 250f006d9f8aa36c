"""A real server process per test module (rasters built, bundled layers loaded) and a raw-socket client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from gis_service.raster import build
from gis_service.settings import Settings
from tests.hostile.rawhttp import RawClient
from tests.serverproc import running_server


@pytest.fixture(scope="session")
def hostile_rasters(migrated: Settings, bundled: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("hostile-rasters")
    settings = migrated.model_copy(update={"raster": migrated.raster.model_copy(update={"directory": directory})})
    list(build.build_all(settings))
    return directory


@pytest.fixture(scope="module")
def hostile_server(migrated: Settings, bundled: Engine, hostile_rasters: Path) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GIS_RASTER__DIRECTORY", str(hostile_rasters))
        with running_server(migrated.dsn) as base:
            yield base


@pytest.fixture(scope="module")
def raw(hostile_server: str) -> Iterator[RawClient]:
    with RawClient(hostile_server) as client:
        yield client
