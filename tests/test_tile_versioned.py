"""Versioned tile URLs (issue 14, item 3): TileJSON advertises ``…/v{version}/{z}/{x}/{y}.pbf``; the current
version is served immutable, a stale one redirects to the current one, never to old data. Unversioned URLs
keep ETag revalidation with a short max-age and stale-while-revalidate. Tiles of a non-public layer stay
private in both.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gis_service.main import create_app
from gis_service.settings import Settings
from tests.accessdata import PROTECTED, Account

WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
LON, LAT = 106.7266, 10.9312  # a park (VSIP I): its tiles hold features at every zoom
IMMUTABLE = "public, max-age=31536000, immutable"
VERSIONED = re.compile(r"http://testserver(/tiles/[a-z_]+/v([0-9a-f]{16})/)\{z\}/\{x\}/\{y\}\.pbf(\?.*)?")


@pytest.fixture(scope="module")
def vc(migrated: Settings, bundled: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(migrated), follow_redirects=False) as test_client:
        yield test_client


def advertised(client: TestClient, document: str, **params: str) -> str:
    """The tile URL template a TileJSON document advertises, checked to be versioned."""
    answer = client.get(document, params=params)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-cache"
    (url,) = answer.json()["tiles"]
    assert VERSIONED.fullmatch(url), url
    return str(url)


def at(template: str, z: int) -> str:
    tile = WEB_MERCATOR.tile(LON, LAT, z)
    return template.replace("http://testserver", "").format(z=z, x=tile.x, y=tile.y)


def bump(engine: Engine, table: str = "industrial_parks") -> None:
    with engine.begin() as conn:
        conn.execute(
            text(f"UPDATE layer_versions SET version = version + 1, changed_at = now() WHERE layer = '{table}'")
        )


def test_tilejson_advertises_versioned_tiles_served_immutable(vc: TestClient) -> None:
    for document in (
        "/tiles/industrial_parks.json",
        "/collections/industrial_parks/tiles/WebMercatorQuad/tilejson.json",
    ):
        url = at(advertised(vc, document), 12)
        answer = vc.get(url)
        assert answer.status_code == 200 and answer.headers["cache-control"] == IMMUTABLE
        plain = vc.get(re.sub(r"/v[0-9a-f]{16}/", "/", url))
        assert plain.content == answer.content and plain.headers["etag"] == answer.headers["etag"]
        again = vc.get(url, headers={"If-None-Match": answer.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == IMMUTABLE
    planning = at(advertised(vc, "/tiles/planning.json", collections="industrial_parks,admin_units"), 10)
    answer = vc.get(planning)
    assert answer.status_code == 200 and answer.headers["cache-control"] == IMMUTABLE
    assert set(mapbox_vector_tile.decode(answer.content)) >= {"industrial_parks", "admin_units"}


def test_a_stale_version_redirects_to_the_current_one(vc: TestClient, bundled: Engine, migrated: Settings) -> None:
    old_template = advertised(vc, "/tiles/industrial_parks.json")
    old_planning = advertised(vc, "/tiles/planning.json", datetime="2025-07-01")
    bump(bundled)
    time.sleep(migrated.cache.versions_max_age_ms / 1000)  # the bound on how late tile keys see a write
    new_template = advertised(vc, "/tiles/industrial_parks.json")
    assert new_template != old_template
    stale = vc.get(at(old_template, 12))
    assert stale.status_code == 307 and stale.headers["cache-control"] == "no-store" and not stale.content
    assert stale.headers["location"] == at(new_template, 12)
    assert vc.get(stale.headers["location"]).headers["cache-control"] == IMMUTABLE
    # the planning tileset holds the layer too; the query string is kept
    moved = vc.get(at(old_planning, 10))
    assert moved.status_code == 307
    assert moved.headers["location"] == at(advertised(vc, "/tiles/planning.json", datetime="2025-07-01"), 10)
    assert moved.headers["location"].endswith("?datetime=2025-07-01")
    # another layer's write leaves this layer's version (and its cached URLs) alone
    bump(bundled, "rivers")
    time.sleep(migrated.cache.versions_max_age_ms / 1000)
    assert advertised(vc, "/tiles/industrial_parks.json") == new_template
    assert vc.get(f"/tiles/industrial_parks/v{'0' * 16}/12/1630/961.pbf").status_code == 307
    malformed = vc.get("/tiles/industrial_parks/vnot-a-version/12/1630/961.pbf")
    assert (malformed.status_code, malformed.json()["parameter"]) == (400, "version")


def test_unversioned_tiles_revalidate_after_a_short_max_age(migrated: Settings, bundled: Engine) -> None:
    url = at("/tiles/industrial_parks/{z}/{x}/{y}.pbf", 12)
    tiles = migrated.tiles.model_copy(update={"max_age_s": 7, "stale_while_revalidate_s": 40})
    with TestClient(create_app(migrated.model_copy(update={"tiles": tiles}))) as client:
        answer = client.get(url)
        assert answer.headers["cache-control"] == "public, max-age=7, stale-while-revalidate=40"
        assert client.get(url, headers={"If-None-Match": answer.headers["etag"]}).status_code == 304
    tiles = migrated.tiles.model_copy(update={"max_age_s": 0})
    with TestClient(create_app(migrated.model_copy(update={"tiles": tiles}))) as client:
        assert client.get(url).headers["cache-control"] == "public, max-age=0, must-revalidate"


def test_tiles_of_a_non_public_layer_stay_private_versioned_or_not(access_client: TestClient, viewer: Account) -> None:
    headers = {"Authorization": f"Bearer {viewer.key}"}
    document = access_client.get(f"/tiles/{PROTECTED}.json", headers=headers)
    assert document.status_code == 200 and document.headers["cache-control"].startswith("private")
    template = document.json()["tiles"][0]
    assert VERSIONED.fullmatch(template)
    tile = WEB_MERCATOR.tile(106.625, 10.975, 14)
    versioned = template.replace("http://testserver", "").format(z=14, x=tile.x, y=tile.y)
    for url in (versioned, re.sub(r"/v[0-9a-f]{16}/", "/", versioned)):
        answer = access_client.get(url, headers=headers)
        assert answer.status_code in (200, 204), answer.text
        assert (
            answer.headers["cache-control"].startswith("private") and "immutable" not in answer.headers["cache-control"]
        )
        assert access_client.get(url).status_code == 401
