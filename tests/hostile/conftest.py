"""A real server process per test module (rasters built, bundled layers loaded), a raw-socket client, and
an editor with features of its own for the fuzzing of the editing operations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from gis_service.auth.admin import Admin
from gis_service.models.history import EDITABLE_TABLES
from gis_service.raster import build
from gis_service.settings import Settings
from tests.accessdata import Account, account
from tests.hostile.fuzzedits import EditingTargets, remove_features_made_by
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
        # fuzzers send bad credentials by the thousand from one address: slowed down, they would only time out
        env.setenv("GIS_AUTH__FAILURE_LIMIT", "1000000")
        with running_server(migrated.dsn) as base:
            yield base


@pytest.fixture(scope="module")
def raw(hostile_server: str) -> Iterator[RawClient]:
    with RawClient(hostile_server) as client:
        yield client


@pytest.fixture(scope="module")
def editor(admin: Admin, bundled: Engine) -> Iterator[Account]:
    """An account that may edit and revert every editable collection; the features it made are removed at
    the end of the module."""
    editor = account(admin, "hostile-editor", *((table, "curator") for table in EDITABLE_TABLES))
    yield editor
    remove_features_made_by(bundled, editor.name)


@pytest.fixture(scope="module")
def editing_targets(hostile_server: str, editor: Account) -> EditingTargets:
    return EditingTargets.make(hostile_server, editor.key)


@pytest.fixture(scope="module")
def open_proposal(hostile_server: str, editor: Account, editing_targets: EditingTargets) -> int:
    """An open proposal of the editor's, to update its first park: a bad decision that is not refused shows."""
    park = sorted(editing_targets.made["industrial_parks"])[0]
    change = {"collection": "industrial_parks", "op": "update", "id": park, "baseVersion": 1,
              "feature": editing_targets.made["industrial_parks"][park]}  # fmt: skip
    body = {"title": "Open for the run", "changes": [change]}
    answer = httpx.post(f"{hostile_server}/proposals", json=body, headers={"Authorization": f"Bearer {editor.key}"})
    assert answer.status_code == 201, answer.text
    proposal: int = answer.json()["id"]
    return proposal
