"""Fixtures and bodies of the editing tests (Part 4, history, proposals, the editor, edits by real clients):
what they write carries ``TEST_SOURCE`` and is removed at the end of each module that asks for
``edits_removed``; ``app`` is the service on the access tests' catalogue.

Registered as a plugin by ``tests/conftest.py``, after ``tests.accessdata`` (principals, keys, grants).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gis_service.settings import Settings
from tests.accessdata import Account, auth

PARKS = "/collections/industrial_parks/items"
ROADS = "/collections/transport_projects/items"
GEOJSON = {"Content-Type": "application/geo+json"}
MERGE = {"Content-Type": "application/merge-patch+json"}
#: What the tests write carries this source; removed at the end of each module (other modules count features).
TEST_SOURCE = "test: edits"


def park(**properties: Any) -> dict[str, Any]:
    props = {
        "name": "KCN Thử nghiệm",
        "kind": "KCN",
        "status": "planned",
        "source": TEST_SOURCE,
        "geometry_quality": "approximate",
        **properties,
    }
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [106.65, 11.05]}, "properties": props}


def road(coordinates: list[list[float]] | None = None) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": coordinates or [[106.60, 10.98], [106.72, 11.08]]},
        "properties": {
            "name": "Vành đai 4 (đoạn thử)",
            "kind": "ring road",
            "status": "planned",
            "source": TEST_SOURCE,
            "geometry_quality": "schematic",
        },
    }


def create(app: TestClient, who: Account, items: str = PARKS, body: Any = None, **headers: str) -> Any:
    response = app.post(items, json=body or park(), headers={**GEOJSON, **auth(who), **headers})
    assert response.status_code == 201, response.text
    return response


def feature_id(response: Any) -> str:
    return str(response.headers["Location"].rsplit("/items/", 1)[1])


def remove_test_features(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("industrial_parks", "transport_projects", "planning_zones"):
            conn.execute(text(f"DELETE FROM {table} WHERE source = :s"), {"s": TEST_SOURCE})


@pytest.fixture(scope="module")
def edits_removed(bundled: Engine) -> Iterator[None]:
    """Use with ``pytestmark = pytest.mark.usefixtures("edits_removed")``: what the module wrote goes at its end."""
    yield
    remove_test_features(bundled)


@pytest.fixture(scope="module")
def app(access_settings: Settings, bundled: Engine) -> Iterator[TestClient]:
    """The service on the test catalogue, one per module."""
    from gis_service.main import create_app

    with TestClient(create_app(access_settings)) as client:
        yield client
