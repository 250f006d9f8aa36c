"""OIDC sign-in on ``/edit`` in headless Chromium, against ``oidc-provider-mock`` and a real server process:
the page discovers the issuer's endpoints, sends the planner to the issuer's login form with PKCE (S256),
comes back with the code, exchanges it at the token endpoint from the browser (public client, no secret),
signs in with the id token as its bearer, lists the layers its grant lets it edit and saves a park with its
site point and a drawn footprint. The policy lets the page talk to the issuer's origin and no other; no
console error on the page; nothing leaves 127.0.0.1 from it.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jwt
import mapbox_vector_tile
import pytest
from sqlalchemy import Engine

from gis_service.auth.admin import Admin
from gis_service.settings import Settings
from tests.accessdata import unique
from tests.chromium import VIEWPORT
from tests.editdata import TEST_SOURCE
from tests.serverproc import get_json, oidc_provider, server_process
from tests.test_editor_browser import tile_of

pytestmark = [pytest.mark.clients, pytest.mark.usefixtures("edits_removed")]
CLIENT_ID = "gis-editor"
PARKS = "industrial_parks"

#: oidc-provider-mock as a process, made to answer as a real issuer answers a browser (SPA) client: with a
#: CORS header (the mock sends none, and without it the browser may not read the discovery document or the
#: tokens), and taking a public client at the token endpoint (auth method ``none``; the mock's grant takes
#: only client secrets). The mock does not check PKCE; the test checks the verifier against the challenge.
MOCK = """
import sys, warnings
warnings.simplefilter("ignore")
import werkzeug.serving
import oidc_provider_mock._app as mock
class PublicClientGrant(mock.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
mock.AuthorizationCodeGrant = PublicClientGrant
provider = mock.app()
@provider.after_request
def cors(response):
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
werkzeug.serving.run_simple("127.0.0.1", int(sys.argv[1]), provider, threaded=True)
"""


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with oidc_provider(lambda port: [sys.executable, "-c", MOCK, str(port)]) as url:
        yield url


@pytest.fixture(scope="module")
def base(migrated: Settings, bundled: Engine, vendored: Any, issuer: str) -> Iterator[str]:
    env = {"GIS_AUTH__OIDC_ISSUER": issuer, "GIS_AUTH__OIDC_EDITOR_CLIENT_ID": CLIENT_ID}
    with server_process(migrated.dsn, env=env) as server:
        yield server.base


@pytest.fixture(scope="module")
def planner(admin: Admin, issuer: str) -> tuple[str, str]:
    """(account name, OIDC subject): an account bound to the subject, editor of the parks."""
    name = unique("oidc-planner")
    subject = f"sub-{name}"
    admin.add_user(name, oidc_subject=subject)
    admin.set_grant(name, PARKS, "editor")
    claims = {"preferred_username": "Chị Lan", "email": "lan@example.vn"}
    assert httpx.put(f"{issuer}/users/{subject}", json=claims, timeout=10).status_code == 204
    return name, subject


@dataclass
class Seen:
    #: (URL of the page at the time, what was seen)
    errors: list[tuple[str, str]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    bodies: dict[str, str] = field(default_factory=dict)


def watched(browser: Any) -> tuple[Any, Any, Seen]:
    context = browser.new_context(viewport=VIEWPORT)
    # The mock's login page links a CDN stylesheet; no test may reach outside this machine.
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        ("http://127.0.0.1:", "data:")) else route.abort())  # fmt: skip
    page = context.new_page()
    seen = Seen()
    page.on("console", lambda m: seen.errors.append((page.url, m.text)) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: seen.errors.append((page.url, str(e))))
    page.on("request", lambda r: seen.requests.append((page.url, r.url, r.headers)))
    page.on("request", lambda r: seen.bodies.update({r.url: r.post_data}) if r.method == "POST" else None)
    return context, page, seen


def pixel(page: Any, lon: float, lat: float) -> tuple[float, float]:
    point = page.evaluate("([lat, lon]) => GisEditor.map.latLngToContainerPoint([lat, lon])", [lat, lon])
    box = page.locator("#editor-map").bounding_box()
    return box["x"] + point["x"], box["y"] + point["y"]


def test_the_policy_allows_the_issuer_and_no_other_host(base: str, issuer: str) -> None:
    with urllib.request.urlopen(f"{base}/edit", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["connect-src"] == f"'self' {issuer}"
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"


def test_sign_in_with_oidc_and_save_a_park_with_its_footprint(
    browser: Any, base: str, issuer: str, planner: tuple[str, str]
) -> None:
    name, subject = planner
    context, page, seen = watched(browser)
    try:
        page.goto(f"{base}/edit", wait_until="networkidle")
        page.wait_for_selector("html[data-editor-ready]", state="attached", timeout=15_000)
        page.click("#signin-oidc")
        page.wait_for_url(f"{issuer}/oauth2/authorize?*", timeout=10_000)
        asked = dict(httpx.URL(page.url).params)
        assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
        assert asked["client_id"] == CLIENT_ID and asked["redirect_uri"] == f"{base}/edit"
        assert asked["scope"] == "openid profile" and asked["state"] and asked["nonce"]
        page.fill('input[name="sub"]', subject)
        page.click('button[type="submit"]:has-text("Authorize")')
        try:
            page.wait_for_selector(f'html[data-editor-signed-in="{name}"]', state="attached", timeout=15_000)
        except Exception:
            pytest.fail(f"not signed in at {page.url}: {page.inner_text('body')[:300]!r}; {seen.errors}")
        assert page.url == f"{base}/edit"  # the code is gone from the address bar
        assert page.evaluate("() => sessionStorage.getItem('gis-editor-oidc')") is None

        token_requests = [r for r in seen.requests if r[1] == f"{issuer}/oauth2/token"]
        assert len(token_requests) == 1 and "authorization" not in token_requests[0][2]  # no client secret
        exchanged = dict(parse_qsl(seen.bodies[f"{issuer}/oauth2/token"]))
        assert "client_secret" not in exchanged and exchanged["client_id"] == CLIENT_ID
        digest = hashlib.sha256(exchanged["code_verifier"].encode()).digest()
        assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == asked["code_challenge"]  # S256
        bearers = {h["authorization"] for _, url, h in seen.requests if url.startswith(base) and "authorization" in h}
        assert len(bearers) == 1
        id_token = bearers.pop().removeprefix("Bearer ")
        claims = jwt.decode(id_token, options={"verify_signature": False})
        assert (claims["sub"], claims["aud"], claims["iss"]) == (subject, [CLIENT_ID], issuer)  # the id token

        options = page.eval_on_selector_all("#layer option", "os => os.map(o => o.value).filter(Boolean)")
        assert options == [PARKS]
        page.select_option("#layer", PARKS)
        page.wait_for_function("c => (document.documentElement.dataset.editorLayer || '').startsWith(c)", arg=PARKS)
        page.evaluate("() => GisEditor.map.setView([11.1205, 106.7705], 15, {animate: false})")
        page.click('[data-shape="CircleMarker"]')
        page.mouse.click(*pixel(page, 106.7705, 11.1205))
        page.wait_for_selector("#feature-panel:not([hidden])")
        assert page.is_visible("#footprint-box")
        values = {"name": "KCN vẽ qua OIDC", "kind": "KCN", "status": "planned", "source": TEST_SOURCE,
                  "geometry_quality": "approximate"}  # fmt: skip
        for field_name, value in values.items():
            if page.locator(f"select#field-{field_name}").count():
                page.select_option(f"#field-{field_name}", value)
            else:
                page.fill(f"#field-{field_name}", value)
        page.click("#draw-footprint")
        ring = [(106.768, 11.118), (106.773, 11.118), (106.773, 11.123), (106.768, 11.123)]
        for lon, lat in [*ring, ring[0]]:
            page.mouse.click(*pixel(page, lon, lat))
        page.wait_for_function("() => !document.getElementById('remove-footprint').hidden")
        page.click("#save")
        feature_id = page.wait_for_function("() => document.documentElement.dataset.editorSaved").json_value()
    finally:
        errors = [text for url, text in seen.errors if url.startswith(base)]
        leaving = [url for at, url, _ in seen.requests if at.startswith(base) and not url.startswith((base, issuer))]
        outside = [url for _, url, _ in seen.requests if not url.startswith(("http://127.0.0.1:", "data:"))]
        context.close()
    assert not errors, errors
    assert not leaving, f"the page talked to another host: {leaving}"
    assert all(u.startswith("https://cdn.jsdelivr.net/") for u in outside), outside  # the mock's own stylesheet

    status, _, park = get_json(f"{base}/collections/{PARKS}/items/{feature_id}")
    assert status == 200 and park["geometry"]["type"] == "Point"
    footprint = park["properties"]["footprint"]
    assert footprint["type"] == "MultiPolygon" and len(footprint["coordinates"][0][0]) == 5
    lons = [x for x, _ in footprint["coordinates"][0][0]]
    assert abs(min(lons) - 106.768) < 1e-4 and abs(max(lons) - 106.773) < 1e-4
    history = get_json(f"{base}/collections/{PARKS}/items/{feature_id}/history")[2]["versions"]
    assert history[0]["changedBy"] == name and history[0]["properties"]["footprint"]["type"] == "MultiPolygon"
    x, y = tile_of(106.7705, 11.1205, 14)
    with urllib.request.urlopen(f"{base}/collections/{PARKS}/tiles/WebMercatorQuad/14/{y}/{x}", timeout=10) as r:
        tile = mapbox_vector_tile.decode(r.read())
    drawn = [f for f in tile[f"{PARKS}_footprints"]["features"] if f["properties"].get("code") == feature_id]
    assert drawn and drawn[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
