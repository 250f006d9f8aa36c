"""The Part 5 schema of a collection (roles, enums, required, read-only), the feature's timeline on its HTML
page (escaped: a comment is data, never markup), and the loader's ``--comment`` in the change set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from gis_service.auth.admin import Admin
from gis_service.settings import Settings
from tests.accessdata import Account, account, auth
from tests.conftest import scalar
from tests.editdata import GEOJSON, PARKS, TEST_SOURCE, feature_id, park

pytestmark = pytest.mark.usefixtures("edits_removed")


@pytest.fixture(scope="module")
def editor(admin: Admin) -> Account:
    return account(admin, "s-editor", ("industrial_parks", "editor"))


def test_schema_describes_what_a_feature_holds_and_needs(app: TestClient) -> None:
    response = app.get("/collections/industrial_parks/schema")
    assert response.status_code == 200 and response.headers["content-type"] == "application/schema+json"
    schema = response.json()
    props = schema["properties"]
    assert props["code"]["x-ogc-role"] == "id" and props["code"]["readOnly"] is True
    assert props["geom"]["x-ogc-role"] == "primary-geometry" and props["geom"]["format"] == "geometry-point"
    assert "operating" in props["status"]["enum"]
    assert {"name", "kind", "status", "source", "geometry_quality"} <= set(schema["required"])
    assert "readOnly" not in props["name"]
    conformance = app.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/schemas" in conformance
    links = app.get("/collections/industrial_parks").json()["links"]
    assert any(link["rel"].endswith("/schema") for link in links)


def test_read_only_collections_have_a_schema_without_required(app: TestClient) -> None:
    schema = app.get("/collections/admin_units/schema").json()
    assert "required" not in schema and all(p.get("readOnly") for n, p in schema["properties"].items() if n != "geom")
    assert app.get("/collections/nope/schema").status_code == 404


def test_item_page_shows_the_timeline_escaped(app: TestClient, editor: Account) -> None:
    hostile = '<script>alert("x")</script>'
    created = app.post(PARKS, json=park(), headers={**GEOJSON, **auth(editor), "X-Change-Comment": hostile})
    assert created.status_code == 201, created.text
    page = app.get(f"{PARKS}/{feature_id(created)}?f=html")
    assert page.status_code == 200
    assert "<h2>History</h2>" in page.text and editor.name in page.text
    assert hostile not in page.text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.text


def test_loader_comment_is_recorded_in_the_change_set(migrated: Settings, bundled: Engine, tmp_path: Path) -> None:
    feature = park(name="KCN nạp từ tệp", source=TEST_SOURCE)
    feature["properties"]["code"] = "KCN-LOADCOMMENT"
    path = tmp_path / "parks.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")
    cli = str(Path(sys.executable).with_name("gis-service"))
    command = [cli, "load", str(path), "--layer", "industrial_parks", "--comment", "approved by decision 12/QĐ"]
    env = {"GIS_DATABASE_URL": migrated.dsn, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    comment = scalar(
        bundled,
        "SELECT c.comment || ' | ' || c.client FROM industrial_parks_history h JOIN change_sets c "
        "ON c.id = h.change_set_id WHERE h.feature_key = 'KCN-LOADCOMMENT' ORDER BY h.version DESC LIMIT 1",
    )
    assert comment == "approved by decision 12/QĐ | gis-service load parks.geojson"


def test_history_of_a_read_only_collection_is_404(app: TestClient) -> None:
    for path in (
        "/collections/rivers/items/DONGNAI/history",
        "/collections/admin_units/changes?from=2026-01-01T00:00:00Z",
    ):
        response = app.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
