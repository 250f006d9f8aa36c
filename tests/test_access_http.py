"""Access through the real app: every key scheme accepted and refused, a non-public layer (``parcels`` in a
test copy of the catalogue) closed to anonymous callers in items, tiles, maps and downloads, and no cached
tile of it ever reaching someone with less access.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gis_service.auth.admin import Admin
from gis_service.settings import Settings
from tests.accessdata import ADMIN_CODE, PARCELS, PROTECTED, Account, account, basic, unique

TILE = morecantile.tms.get("WebMercatorQuad").tile(106.625, 10.975, 14)
XYZ = f"/tiles/{PROTECTED}/{TILE.z}/{TILE.x}/{TILE.y}.pbf"
OGC_TILE = f"/collections/{PROTECTED}/tiles/WebMercatorQuad/{TILE.z}/{TILE.y}/{TILE.x}"
PLANNING_TILE = f"/tiles/planning/{TILE.z}/{TILE.x}/{TILE.y}.pbf"
ITEMS = f"/collections/{PROTECTED}/items"
PROTECTED_PATHS = [
    ITEMS,
    f"{ITEMS}?f=csv",
    f"{ITEMS}?f=gpkg",
    f"{ITEMS}?f=html",
    f"/collections/{PROTECTED}",
    f"/collections/{PROTECTED}/queryables",
    f"/collections/{PROTECTED}/tiles/WebMercatorQuad/tilejson.json",
    XYZ,
    OGC_TILE,
    f"/maps/collections/{PROTECTED}",
    "/tiles/planning.json?collections=parcels",
]


def schemes(who: Account) -> dict[str, dict[str, str]]:
    return {
        "bearer": {"Authorization": f"Bearer {who.key}"},
        "x-api-key": {"X-API-Key": who.key},
        "basic with the user": basic(who.name, who.key),
        "basic without a user": basic("", who.key),
    }


def ours(response: Any) -> set[str]:
    """Feature ids of our test parcels in an items answer."""
    return {str(f["id"]) for f in response.json()["features"] if f["properties"]["admin_code"] == ADMIN_CODE}


def assert_challenge(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    challenges = response.headers.get_list("www-authenticate")
    assert any(c.startswith("Bearer ") for c in challenges) and any(c.startswith("Basic ") for c in challenges)


@pytest.mark.parametrize("path", PROTECTED_PATHS)
def test_anonymous_callers_get_401_with_the_schemes_on_a_non_public_layer(access_client: TestClient, path: str) -> None:
    assert_challenge(access_client.get(path))


@pytest.mark.parametrize("scheme", ["bearer", "x-api-key", "basic with the user", "basic without a user"])
def test_a_viewer_reads_items_tiles_and_maps_with_every_scheme(
    access_client: TestClient, viewer: Account, parcel_ids: dict[str, int], scheme: str
) -> None:
    headers = schemes(viewer)[scheme]
    items = access_client.get(f"{ITEMS}?admin_code={ADMIN_CODE}", headers=headers)
    assert items.status_code == 200, items.text
    assert ours(items) == {str(i) for i in parcel_ids.values()}
    # private: no shared cache keeps it; no-cache: a client's own cache (QGIS keeps one on disk) asks again.
    assert items.headers["cache-control"].startswith("private, no-cache")
    tile = access_client.get(XYZ, headers=headers)
    assert tile.status_code == 200 and tile.headers["cache-control"].startswith("private, no-cache")
    assert "Authorization" in tile.headers["vary"]
    features = mapbox_vector_tile.decode(tile.content)[PROTECTED]["features"]
    assert parcel_ids["inside"] in {f["id"] for f in features}
    assert access_client.get(f"/maps/collections/{PROTECTED}", headers=headers).status_code == 200


def test_downloads_of_a_non_public_layer_need_the_grant_too(access_client: TestClient, viewer: Account) -> None:
    headers = schemes(viewer)["bearer"]
    csv = access_client.get(f"{ITEMS}?f=csv&admin_code={ADMIN_CODE}", headers=headers)
    assert csv.status_code == 200 and csv.text.count(ADMIN_CODE) == len(PARCELS)
    assert csv.headers["cache-control"].startswith("private")


def test_public_layers_stay_open_and_publicly_cacheable(access_client: TestClient) -> None:
    assert access_client.get("/collections/industrial_parks/items?limit=1").status_code == 200
    park = morecantile.tms.get("WebMercatorQuad").tile(106.7266, 10.9312, 12)
    tile = access_client.get(f"/tiles/industrial_parks/12/{park.x}/{park.y}.pbf")
    assert tile.status_code in (200, 204) and tile.headers["cache-control"].startswith("public")


def test_the_collection_list_shows_a_non_public_layer_only_to_its_readers(
    access_client: TestClient, viewer: Account
) -> None:
    anonymous = {c["id"] for c in access_client.get("/collections").json()["collections"]}
    reader = {
        c["id"] for c in access_client.get("/collections", headers=schemes(viewer)["bearer"]).json()["collections"]
    }
    assert PROTECTED not in anonymous and reader - anonymous == {PROTECTED}


def test_a_cached_tile_never_reaches_anyone_with_less_access(access_client: TestClient, viewer: Account) -> None:
    headers = schemes(viewer)["bearer"]
    filled = access_client.get(XYZ, headers=headers)
    assert filled.status_code == 200
    # The same tile, now in the cache, even with the reader's ETag: still a 401 for anonymous callers.
    assert_challenge(access_client.get(XYZ))
    assert_challenge(access_client.get(XYZ, headers={"If-None-Match": filled.headers["etag"]}))
    # The planning tileset mixes layers: anonymous callers get their own entry, without the parcels.
    mine = access_client.get(PLANNING_TILE, headers=headers)
    theirs = access_client.get(PLANNING_TILE)
    assert mine.status_code == 200 and theirs.status_code in (200, 204)
    assert mine.headers["etag"] != theirs.headers["etag"]
    assert PROTECTED in mapbox_vector_tile.decode(mine.content)
    assert theirs.status_code == 204 or PROTECTED not in mapbox_vector_tile.decode(theirs.content)
    assert mine.headers["cache-control"].startswith("private") and theirs.headers["cache-control"].startswith("public")
    stale = access_client.get(PLANNING_TILE, headers={"If-None-Match": mine.headers["etag"]})
    assert stale.status_code != 304


def test_the_planning_tilejson_and_map_leave_the_layer_out_for_anonymous_callers(
    access_client: TestClient, viewer: Account
) -> None:
    layers = {v["id"] for v in access_client.get("/tiles/planning.json").json()["vector_layers"]}
    theirs = {
        v["id"]
        for v in access_client.get("/tiles/planning.json", headers=schemes(viewer)["bearer"]).json()["vector_layers"]
    }
    assert PROTECTED not in layers and PROTECTED in theirs
    anonymous_map = access_client.get("/maps/planning-2040")
    reader_map = access_client.get("/maps/planning-2040", headers=schemes(viewer)["bearer"])
    assert anonymous_map.status_code == reader_map.status_code == 200
    assert anonymous_map.headers["etag"] != reader_map.headers["etag"]
    assert reader_map.headers["cache-control"].startswith("private")
    assert f"/tiles/{PROTECTED}/" not in anonymous_map.text and f"/tiles/{PROTECTED}/" in reader_map.text


def expire(engine: Engine, who: Account) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE api_keys SET expires_at = :t WHERE prefix = :p"),
            {"t": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1), "p": who.prefix},
        )


def refusals(admin: Admin, engine: Engine) -> dict[str, tuple[dict[str, str], str]]:
    """Credentials that must not hold, each with the reason the answer gives."""
    revoked = account(admin, "revoked", (PROTECTED, "viewer"))
    admin.revoke_key(revoked.prefix)
    expired = account(admin, "expired", (PROTECTED, "viewer"))
    expire(engine, expired)
    disabled = account(admin, "disabled", (PROTECTED, "viewer"))
    admin.disable_user(disabled.name)
    good = account(admin, "good", (PROTECTED, "viewer"))
    wrong_secret = good.prefix + "." + ("A" * 43)
    return {
        "revoked": ({"Authorization": f"Bearer {revoked.key}"}, "revoked"),
        "expired": ({"X-API-Key": expired.key}, "expired"),
        "disabled": (basic(disabled.name, disabled.key), "disabled"),
        "basic with a wrong password": (basic(good.name, wrong_secret), "wrong secret"),
        "basic with another user": (basic(revoked.name, good.key), "user name"),
        "unknown prefix": ({"Authorization": "Bearer gsk_0000000000." + "B" * 43}, "unknown API key"),
        "garbage": ({"Authorization": "Bearer gsk_nonsense"}, "not an API key"),
    }


def test_credentials_that_do_not_hold_are_401_with_a_reason(
    access_client: TestClient, admin: Admin, bundled: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    cases = refusals(admin, bundled)
    caplog.set_level(logging.DEBUG)
    for name, (headers, reason) in cases.items():
        for path in (ITEMS, "/collections/industrial_parks/items?limit=1"):  # bad credentials fail on public data too
            answer = access_client.get(path, headers=headers)
            assert_challenge(answer)
            assert reason in answer.json()["detail"], (name, answer.json())
            secret = next(iter(headers.values())).rpartition(".")[2]
            assert len(secret) < 40 or (secret not in answer.text and secret not in caplog.text), name


def test_valid_credentials_without_the_grant_are_403(access_client: TestClient, admin: Admin) -> None:
    nobody = account(admin, "nogrant")
    other_collection = account(admin, "scoped", (PROTECTED, "viewer"), scopes=["industrial_parks"])
    for who in (nobody, other_collection):
        answer = access_client.get(ITEMS, headers={"Authorization": f"Bearer {who.key}"})
        assert answer.status_code == 403 and answer.json()["parameter"] == "collectionId", answer.text
        assert "www-authenticate" not in answer.headers
    # The scoped key still reads public layers, and its principal's key without scopes reads the parcels.
    assert access_client.get("/collections/industrial_parks/items?limit=1", headers={"X-API-Key": other_collection.key})
    unscoped = admin.create_key(other_collection.name).token
    assert access_client.get(ITEMS, headers={"X-API-Key": unscoped}).status_code == 200


def test_group_grants_and_admins_read_too(access_client: TestClient, admin: Admin) -> None:
    group = unique("planners")
    member = unique("member")
    admin.add_user(member, groups=[group])
    admin.set_grant(f"group:{group}", PROTECTED, "viewer")
    root = unique("root")
    admin.add_user(root, admin=True)
    for name in (member, root):
        key = admin.create_key(name).token
        assert access_client.get(ITEMS, headers={"X-API-Key": key}).status_code == 200, name


def test_failures_are_audited_without_secrets_and_use_is_stamped(
    access_client: TestClient, admin: Admin, viewer: Account, bundled: Engine
) -> None:
    wrong = viewer.prefix + "." + "C" * 43
    access_client.get(ITEMS, headers={"X-API-Key": wrong})
    access_client.get(ITEMS, headers={"X-API-Key": viewer.key})
    with bundled.connect() as conn:
        row = conn.execute(
            text("SELECT subject, address, detail::text FROM audit_log WHERE event = 'auth_failure' ORDER BY id DESC")
        ).first()
        used = conn.execute(text("SELECT last_used_at FROM api_keys WHERE prefix = :p"), {"p": viewer.prefix}).scalar()
    assert row is not None and row.subject == viewer.prefix and row.address == "testclient"
    assert "wrong secret" in row.detail and "C" * 43 not in row.detail
    assert used is not None


def test_repeated_failures_from_one_address_are_slowed_down(
    access_settings: Settings, bundled: Engine, viewer: Account
) -> None:
    from gis_service.main import create_app

    auth = access_settings.auth.model_copy(update={"failure_limit": 2, "failure_delay_s": 0.2})
    with TestClient(create_app(access_settings.model_copy(update={"auth": auth}))) as client:
        wrong = {"X-API-Key": viewer.prefix + "." + "D" * 43}
        waits = []
        for _ in range(4):
            assert client.get(ITEMS, headers=wrong).status_code == 401
            waits.append(client.app.state.auth.throttle.delay("address:testclient"))  # type: ignore[attr-defined]
        assert waits == [0.0, 0.2, 0.4, 0.8]
        started = dt.datetime.now()
        assert client.get(ITEMS, headers={"X-API-Key": viewer.key}).status_code == 200  # slowed, not locked out
        assert (dt.datetime.now() - started).total_seconds() >= 0.8


def test_the_openapi_document_declares_the_schemes(access_client: TestClient) -> None:
    document: dict[str, Any] = access_client.get("/api").json()
    schemes_ = document["components"]["securitySchemes"]
    assert schemes_["apiKeyHeader"] == {
        **schemes_["apiKeyHeader"],
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    assert schemes_["basic"]["scheme"] == "basic" and schemes_["bearer"]["scheme"] == "bearer"
    assert "oidc" not in schemes_  # no issuer configured here
    items = document["paths"]["/collections/{collectionId}/items"]["get"]
    assert {} in items["security"] and {"basic": []} in items["security"]
    assert {"401", "403"} <= set(items["responses"]) and "security" not in document["paths"]["/conformance"]["get"]


def test_without_anonymous_reads_every_collection_needs_an_account(
    access_settings: Settings, bundled: Engine, admin: Admin
) -> None:
    from gis_service.main import create_app

    auth = access_settings.auth.model_copy(update={"anonymous_reads": False})
    someone = account(admin, "someone")  # no grant at all
    with TestClient(create_app(access_settings.model_copy(update={"auth": auth}))) as client:
        assert_challenge(client.get("/collections/industrial_parks/items?limit=1"))
        assert (
            client.get("/collections/industrial_parks/items?limit=1", headers={"X-API-Key": someone.key}).status_code
            == 200
        )
        assert client.get(ITEMS, headers={"X-API-Key": someone.key}).status_code == 403
        assert client.get("/conformance").status_code == 200  # the service's description stays open
