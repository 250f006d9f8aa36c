"""The planner notebooks run top to bottom against the test database, and are stored without outputs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import Engine, text

from gis_service.settings import PROJECT_ROOT, Settings

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = [
    "01_parks_overview.ipynb",
    "02_ring_roads_corridor.ipynb",
    "03_site_selection_50ha.ipynb",
    "04_reform_crosswalk.ipynb",
    "05_timeline_2040.ipynb",
]
CELL_TIMEOUT_S = 300


def test_the_five_notebooks_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"
            assert "SELECT " not in cell.source.upper(), f"{path.name}: no SQL in cells, call gis_service"


@pytest.fixture
def no_synthetic_zones_left(bundled: Engine) -> Iterator[None]:
    """Notebook 03 removes its synthetic zones itself; if it fails half-way, remove them here."""
    yield
    with bundled.begin() as conn:
        conn.execute(text("DELETE FROM planning_zones WHERE synthetic AND code LIKE 'SYNTH-NB03-%'"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(
    path: Path, migrated: Settings, bundled: Engine, vendored: Path, no_synthetic_zones_left: None
) -> None:
    from nbclient import NotebookClient

    book = nbformat.read(path, as_version=4)
    client = NotebookClient(
        book,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    env = {**os.environ, "GIS_DATABASE_URL": migrated.dsn, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    client.execute(env=env)
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    if path.name.startswith("03"):
        with bundled.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM planning_zones WHERE synthetic")).scalar_one()
        assert left == 0, "notebook 03 must remove its synthetic zones"


@pytest.fixture(scope="module")
def vendored() -> Path:
    from gis_service.maps import vendor

    vendor.vendor()
    return vendor.STATIC_DIR / vendor.VENDOR
