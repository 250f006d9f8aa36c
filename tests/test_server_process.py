"""End to end: the real server process (``uvicorn --factory``) answers /health and an items page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from gis_service.settings import Settings
from tests.conftest import scalar
from tests.serverproc import get_json, running_server


@pytest.fixture(scope="module")
def base_url(migrated: Settings, bundled: Engine) -> Iterator[str]:
    with running_server(migrated.dsn) as base:
        yield base


def test_health_reports_the_database_counts(base_url: str, bundled: Engine) -> None:
    status, media_type, body = get_json(f"{base_url}/health")
    assert status == 200
    assert media_type.startswith("application/json")
    assert body["status"] == "ok" and body["database"] == "reachable"
    assert body["layers"]["industrial_parks"] == scalar(bundled, "SELECT count(*) FROM industrial_parks")
    assert body["layers"]["admin_units"] == scalar(bundled, "SELECT count(*) FROM admin_units")


def test_items_page(base_url: str, bundled: Engine) -> None:
    status, media_type, page = get_json(f"{base_url}/collections/industrial_parks/items?limit=5")
    assert status == 200, page
    assert media_type.startswith("application/geo+json")
    assert page["type"] == "FeatureCollection"
    assert page["numberReturned"] == len(page["features"]) == 5
    assert page["numberMatched"] == scalar(bundled, "SELECT count(*) FROM industrial_parks")
    next_links = [link["href"] for link in page["links"] if link["rel"] == "next"]
    assert len(next_links) == 1 and next_links[0].startswith(base_url)
    status, _, second = get_json(next_links[0])
    assert status == 200
    first_ids = {f["id"] for f in page["features"]}
    assert first_ids.isdisjoint(f["id"] for f in second["features"])


def test_unknown_collection_is_problem_json(base_url: str) -> None:
    status, media_type, body = get_json(f"{base_url}/collections/nowhere/items")
    assert status == 404
    assert media_type == "application/problem+json"
    assert body["status"] == 404
