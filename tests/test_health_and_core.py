"""Landing page, conformance, OpenAPI and health through the real app on the real database."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gis_service import migrate
from gis_service.models import VERSIONED_TABLES
from gis_service.responses import OPENAPI
from gis_service.settings import Settings


def test_health_counts_every_layer(client: TestClient, migrated: Settings) -> None:
    body = client.get("/health").json()
    assert body["database"] == "reachable"
    assert body["postgis"].startswith("3.")
    assert body["migration"] == migrate.script_head(migrated)
    assert body["schema_up_to_date"] is True and body["status"] == "ok"
    assert body["layers"]["admin_units"] == 137
    assert body["layers"]["industrial_parks"] == 36
    assert body["layers"]["transport_projects"] == 11
    assert set(body["layers"]) == set(VERSIONED_TABLES)


def test_landing_page_has_the_links_qgis_needs(client: TestClient) -> None:
    links = {link["rel"]: link for link in client.get("/").json()["links"]}
    assert links["service-desc"]["type"] == OPENAPI
    assert links["data"]["href"].endswith("/collections")
    assert {"self", "service-doc", "conformance"} <= set(links)


def test_openapi_is_served_with_its_media_type(client: TestClient) -> None:
    response = client.get("/api")
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    assert "/collections/{collectionId}/items" in response.json()["paths"]


def test_conformance_declares_core_geojson_and_filter(client: TestClient) -> None:
    classes = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in classes


def test_html_for_browsers(client: TestClient) -> None:
    response = client.get("/collections", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.headers["content-type"].startswith("text/html")
    assert "industrial_parks" in response.text


def test_unknown_route_is_problem_json(client: TestClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
