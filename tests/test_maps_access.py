"""Map pages list only the raster overlays whose source collections the viewer may read.

A raster is computed from collections (``DERIVED_FROM``): with ``transport_projects`` not public, the
distance-to-transport raster shows its data, so an anonymous page must not offer it, while a viewer granted
that collection gets it (and the page becomes private).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from gis_service.auth.admin import Admin
from gis_service.raster import build
from gis_service.routers.raster import DERIVED_FROM
from gis_service.settings import PROJECT_ROOT, Settings
from tests.accessdata import Account, account

HIDDEN = "transport_projects"
PAGES = ("/maps/planning-2040", "/maps/collections/industrial_parks")


def raster_url(raster_id: str) -> str:
    return f"/rasters/{raster_id}/tiles/WebMercatorQuad/"


@pytest.fixture(scope="module")
def hidden_source(migrated: Settings, bundled: Engine, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The catalogue with ``transport_projects`` not public, and the rasters built."""
    layers = tmp_path_factory.mktemp("maps-layers")
    for path in (PROJECT_ROOT / "layers").iterdir():
        if path.is_dir():
            (layers / path.name).symlink_to(path)
        else:
            shutil.copy(path, layers / path.name)
    spec = layers / f"{HIDDEN}.yaml"
    spec.write_text(spec.read_text(encoding="utf-8") + "public: false\n", encoding="utf-8")
    raster = migrated.raster.model_copy(update={"directory": tmp_path_factory.mktemp("maps-rasters")})
    settings = migrated.model_copy(update={"layers_dir": layers, "raster": raster})
    list(build.build_all(settings))
    return settings


@pytest.fixture(scope="module")
def maps_client(hidden_source: Settings, vendored: Path) -> Iterator[TestClient]:
    from gis_service.main import create_app

    with TestClient(create_app(hidden_source)) as client:
        yield client


@pytest.fixture(scope="module")
def transport_viewer(hidden_source: Settings) -> Iterator[Account]:
    admin = Admin(hidden_source)
    try:
        yield account(admin, "transport-viewer", (HIDDEN, "viewer"))
    finally:
        admin.close()


def test_the_derivation_table_names_a_hidden_and_a_public_raster() -> None:
    """The premise of the tests below: one raster comes from the hidden collection, one does not."""
    assert HIDDEN in DERIVED_FROM["transport_distance"]
    assert HIDDEN not in DERIVED_FROM["population_density"]


@pytest.mark.parametrize("page", PAGES)
def test_an_anonymous_page_omits_the_raster_of_a_collection_it_may_not_read(maps_client: TestClient, page: str) -> None:
    answer = maps_client.get(page)
    assert answer.status_code == 200, answer.text
    assert raster_url("population_density") in answer.text
    assert raster_url("transport_distance") not in answer.text
    assert "private" not in answer.headers.get("cache-control", "")


@pytest.mark.parametrize("page", PAGES)
def test_a_viewer_of_the_source_collections_gets_the_raster_on_a_private_page(
    maps_client: TestClient, transport_viewer: Account, page: str
) -> None:
    answer = maps_client.get(page, headers={"Authorization": f"Bearer {transport_viewer.key}"})
    assert answer.status_code == 200, answer.text
    assert raster_url("population_density") in answer.text
    assert raster_url("transport_distance") in answer.text
    assert answer.headers["cache-control"].startswith("private")
