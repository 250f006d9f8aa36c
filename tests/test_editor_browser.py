"""The planner's editor (``/edit``) in headless Chromium against a real server process, through the page only:
sign in with a key, draw a zone and save it (then it is in the items and the tiles), a conflict between two
browser contexts resolved by re-applying on top, 422s shown at the field, a proposal approved by a curator
in another context and another rejected, the timeline of every step. Hostile text in the properties and the
comments never runs; nothing is asked of any host but 127.0.0.1; no console error. The screenshot of a
proposal under review is written to the test's temporary directory, or to the path in
``GIS_EDITOR_SCREENSHOT`` (the README's docs/editor.png is made that way).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import morecantile
import pytest
from sqlalchemy import Engine

from gis_service.auth.admin import Admin
from gis_service.settings import Settings
from tests.accessdata import Account, account, auth
from tests.chromium import VIEWPORT, watch
from tests.editdata import TEST_SOURCE
from tests.serverproc import get_json, server_process

pytestmark = [pytest.mark.clients, pytest.mark.usefixtures("edits_removed")]
ZONES = "planning_zones"
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.fixture(scope="module")
def base(migrated: Settings, bundled: Engine, vendored: Any) -> Iterator[str]:
    with server_process(migrated.dsn) as server:
        yield server.base


@pytest.fixture(scope="module")
def editor(admin: Admin) -> Account:
    return account(admin, "web-editor", (ZONES, "editor"), ("industrial_parks", "editor"))


@pytest.fixture(scope="module")
def other_editor(admin: Admin) -> Account:
    return account(admin, "web-editor-2", (ZONES, "editor"))


@pytest.fixture(scope="module")
def curator(admin: Admin) -> Account:
    return account(admin, "web-curator", (ZONES, "curator"))


class Editor:
    """One browser context on /edit, watched: console errors, page errors, requests, dialogs."""

    def __init__(self, browser: Any, base: str) -> None:
        self.base = base
        #: Statuses the test provokes on purpose: the browser logs each such answer as a console error.
        self.expected: set[int] = set()
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.seen = watch(self.page)
        self.page.goto(f"{base}/edit", wait_until="networkidle")
        self.page.wait_for_selector("html[data-editor-ready]", state="attached", timeout=15_000)

    def sign_in(self, who: Account) -> None:
        self.page.fill("#key", who.key)
        self.page.click("#signin-key")
        self.page.wait_for_selector(f'html[data-editor-signed-in="{who.name}"]', state="attached", timeout=10_000)

    def pick(self, collection: str) -> None:
        self.page.select_option("#layer", collection)
        self.loaded(collection)

    def reload(self) -> None:
        self.page.evaluate("() => { delete document.documentElement.dataset.editorLayer; }")
        self.page.click("#reload-layer")
        self.loaded(self.page.input_value("#layer"))

    def loaded(self, collection: str) -> None:
        self.page.wait_for_function(
            "c => (document.documentElement.dataset.editorLayer || '').startsWith(c + ':')", arg=collection
        )

    def pixel(self, lon: float, lat: float) -> tuple[float, float]:
        point = self.page.evaluate("([lat, lon]) => GisEditor.map.latLngToContainerPoint([lat, lon])", [lat, lon])
        box = self.page.locator("#editor-map").bounding_box()
        return box["x"] + point["x"], box["y"] + point["y"]

    def view(self, lon: float, lat: float, zoom: int = 14) -> None:
        self.page.evaluate(
            "([lat, lon, z]) => GisEditor.map.setView([lat, lon], z, {animate: false})", [lat, lon, zoom]
        )

    def draw_polygon(self, ring: list[tuple[float, float]]) -> None:
        self.page.click('[data-shape="Polygon"]')
        for lon, lat in [*ring, ring[0]]:
            self.page.mouse.click(*self.pixel(lon, lat))
        self.page.wait_for_selector("#feature-panel:not([hidden])")

    def open_feature(self, lon: float, lat: float) -> None:
        self.page.mouse.click(*self.pixel(lon, lat))
        self.page.wait_for_selector("#feature-panel:not([hidden])")
        self.page.wait_for_function("() => !document.getElementById('feature-title').textContent.includes('mới')")

    def fill(self, **values: str) -> None:
        for name, value in values.items():
            if self.page.locator(f"select#field-{name}").count():
                self.page.select_option(f"#field-{name}", value)
            else:
                self.page.fill(f"#field-{name}", value)

    def saved(self) -> str:
        self.page.click("#save")
        handle = self.page.wait_for_function("() => document.documentElement.dataset.editorSaved", timeout=10_000)
        feature_id = str(handle.json_value())
        self.page.evaluate("() => { delete document.documentElement.dataset.editorSaved; }")
        return feature_id

    def assert_clean(self) -> None:
        assert self.page.evaluate("() => window.__xss") is None, "hostile script ran"
        assert not self.seen.dialogs, self.seen.dialogs
        provoked = tuple(f"the server responded with a status of {status} " for status in self.expected)
        errors = [e for e in self.seen.errors if not (e.startswith("Failed to load resource") and
                                                      any(p in e for p in provoked))]  # fmt: skip
        assert not errors, errors  # CSP violations are console errors too
        outside = [u for u in self.seen.requests if not u.startswith((self.base + "/", "data:"))]
        assert not outside, f"requests left 127.0.0.1: {outside}"
        assert not [u for u in self.seen.requests if u.rstrip("/").endswith("/x")], "an injected <img src=x> loaded"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def opened(browser: Any, base: str) -> Iterator[Any]:
    editors: list[Editor] = []

    def open_one() -> Editor:
        editors.append(Editor(browser, base))
        return editors[-1]

    yield open_one
    for one in editors:
        one.assert_clean()
        one.close()


def square(west: float, south: float, size: float = 0.004) -> list[tuple[float, float]]:
    return [(west, south), (west + size, south), (west + size, south + size), (west, south + size)]


ZONE_VALUES = {"plan": "QH 2040", "zone_type": "green", "source": TEST_SOURCE, "geometry_quality": "approximate"}


def api(base: str, path: str, who: Account | None = None, method: str = "GET", body: Any = None) -> Any:
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if who:
        headers["Authorization"] = "Bearer " + who.key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, zoom)
    return tile.x, tile.y


def test_the_page_is_linked_and_runs_only_our_scripts(base: str) -> None:
    with urllib.request.urlopen(f"{base}/edit", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
        page = response.read().decode()
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src "))
    assert script_src == "script-src 'self'" and "unsafe-inline" not in policy
    assert "leaflet-geoman-free@2.20.2/leaflet-geoman.min.js" in page and "https://" not in page
    landing = get_json(f"{base}/")[2]
    assert f"{base}/edit" in [link["href"] for link in landing["links"]]
    with urllib.request.urlopen(f"{base}/maps", timeout=10) as response:
        assert 'href="/edit"' in response.read().decode()


def test_draw_a_zone_save_it_and_find_it_in_items_and_tiles(opened: Any, base: str, editor: Account) -> None:
    page = opened()
    page.sign_in(editor)
    options = page.page.eval_on_selector_all("#layer option", "os => os.map(o => o.value).filter(Boolean)")
    assert options == ["industrial_parks", ZONES]  # only what OPTIONS lets this key edit
    page.pick(ZONES)
    page.view(106.702, 11.102)
    page.draw_polygon(square(106.700, 11.100))
    page.fill(name="Công viên " + XSS, **ZONE_VALUES)
    page.page.fill("#comment", "vẽ mới " + XSS)
    feature_id = page.saved()

    status, _, feature = get_json(f"{base}/collections/{ZONES}/items/{feature_id}")
    assert status == 200 and feature["properties"]["name"] == "Công viên " + XSS
    assert feature["geometry"]["type"] == "MultiPolygon"
    x, y = tile_of(106.702, 11.102, 12)
    with urllib.request.urlopen(f"{base}/collections/{ZONES}/tiles/WebMercatorQuad/12/{y}/{x}", timeout=10) as r:
        tile = mapbox_vector_tile.decode(r.read())
    assert feature_id in [f["properties"].get("code") for f in tile[ZONES]["features"]]
    history = get_json(f"{base}/collections/{ZONES}/items/{feature_id}/history")[2]["versions"]
    assert history[0]["changeSet"]["comment"] == "vẽ mới " + XSS  # the header travelled as UTF-8


def test_a_conflict_shows_theirs_and_reapplying_keeps_both(
    opened: Any, base: str, editor: Account, other_editor: Account
) -> None:
    first, second = opened(), opened()
    for page, who in ((first, editor), (second, other_editor)):
        page.sign_in(who)
        page.pick(ZONES)
        page.view(106.712, 11.102)
    first.draw_polygon(square(106.710, 11.100))
    first.fill(name="Khu A", **ZONE_VALUES)
    feature_id = first.saved()
    second.reload()  # now with the new zone
    first.open_feature(106.712, 11.102)  # its ETag is v1 from here on
    second.open_feature(106.712, 11.102)
    second.fill(name="Khu A (đổi tên) " + XSS)
    second.saved()

    first.fill(plan="QH 2030")
    first.expected.add(412)
    first.page.click("#save")
    first.page.wait_for_selector("#conflict-panel:not([hidden])")
    row = first.page.locator('#conflict-table tr[data-property="name"] td')
    assert row.nth(1).text_content() == "Khu A"
    assert row.nth(2).text_content() == "Khu A (đổi tên) " + XSS  # their value, as text
    assert first.page.locator('#conflict-table tr[data-property="plan"]').count() == 1
    first.page.click("#reapply")
    first.page.wait_for_function("() => document.documentElement.dataset.editorSaved")
    properties = get_json(f"{base}/collections/{ZONES}/items/{feature_id}")[2]["properties"]
    assert (properties["name"], properties["plan"]) == ("Khu A (đổi tên) " + XSS, "QH 2030")

    first.open_feature(106.712, 11.102)
    first.page.click("#show-history")
    first.page.wait_for_selector("#history-panel:not([hidden])")
    steps = first.page.locator("#timeline li").all_text_contents()
    assert len(steps) == 3 and [s.split(" · ")[1] for s in steps] == ["modified", "modified", "created"]
    assert other_editor.name in steps[1] and editor.name in steps[0]


def test_422_appears_at_the_field_or_the_geometry(opened: Any, editor: Account) -> None:
    page = opened()
    page.sign_in(editor)
    page.pick(ZONES)
    page.view(106.722, 11.102)
    page.draw_polygon(square(106.720, 11.100))
    page.fill(name="Thiếu nguồn", **{**ZONE_VALUES, "source": ""})
    page.expected.add(422)
    page.page.click("#save")
    error = page.page.locator('[data-error-for="source"]')
    error.wait_for()
    page.page.wait_for_function("() => document.querySelector('[data-error-for=source]').textContent")
    assert "source is required" in (error.text_content() or "")
    assert "invalid" in (page.page.get_attribute("#field-source", "class") or "")

    page.page.click("#cancel")
    collapsed = [(106.730, 11.100), (106.734, 11.100), (106.738, 11.100)]  # a ring folded onto one line
    page.draw_polygon(collapsed)
    page.fill(name="Vòng tự cắt", **ZONE_VALUES)
    page.page.click("#save")
    page.page.wait_for_function("() => document.getElementById('geometry-error').textContent")
    assert "cannot be repaired" in (page.page.text_content("#geometry-error") or "")


def test_proposals_approved_and_rejected_from_the_page(
    opened: Any, base: str, editor: Account, curator: Account, tmp_path: Path
) -> None:
    author = opened()
    author.sign_in(editor)
    author.pick(ZONES)
    author.view(106.742, 11.102)
    author.draw_polygon(square(106.740, 11.100))
    author.fill(name="Đề xuất " + XSS, **ZONE_VALUES)
    author.page.check("#as-proposal")
    author.page.click("#save")
    author.page.wait_for_selector("#proposal-panel:not([hidden])")
    author.page.fill("#proposal-title", "Công viên mới " + XSS)
    author.page.fill("#proposal-comment", "xin duyệt " + XSS)
    author.page.click("#submit-proposal")
    approved_id = author.page.wait_for_function("() => document.documentElement.dataset.editorProposal").json_value()
    assert not [f for f in api(base, f"/collections/{ZONES}/items?limit=2000")["features"]
                if f["properties"]["name"] == "Đề xuất " + XSS]  # fmt: skip

    review = opened()
    review.sign_in(curator)
    review.page.click(f'[data-proposal="{approved_id}"]')
    review.page.wait_for_selector("#approve")
    cells = review.page.locator('table.diff tr[data-property="name"] td').all_text_contents()
    assert cells == ["name", "(trống)", "Đề xuất " + XSS]
    screenshot = Path(os.environ.get("GIS_EDITOR_SCREENSHOT") or tmp_path / "editor.png")
    review.page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 0
    review.page.click("#approve")
    review.page.wait_for_function("id => document.documentElement.dataset.editorDecided === id + ':approve'",
                                  arg=approved_id)  # fmt: skip
    names = [f["properties"]["name"] for f in api(base, f"/collections/{ZONES}/items?limit=2000")["features"]]
    assert "Đề xuất " + XSS in names
    assert api(base, f"/proposals/{approved_id}", curator)["status"] == "approved"

    author.page.check("#as-proposal")
    author.draw_polygon(square(106.750, 11.100))
    author.fill(name="Bị từ chối", **ZONE_VALUES)
    author.page.click("#save")
    author.page.fill("#proposal-title", "Sẽ bị từ chối")
    author.page.click("#submit-proposal")
    author.page.wait_for_function("id => document.documentElement.dataset.editorProposal !== id", arg=approved_id)
    rejected_id = author.page.evaluate("() => document.documentElement.dataset.editorProposal")
    review.page.click("#refresh-proposals")
    review.page.click(f'[data-proposal="{rejected_id}"]')
    review.page.fill("#reason", "ngoài quy hoạch " + XSS)
    review.page.click("#reject")
    review.page.wait_for_function("id => document.documentElement.dataset.editorDecided === id + ':reject'",
                                  arg=rejected_id)  # fmt: skip
    decided = api(base, f"/proposals/{rejected_id}", curator)
    assert (decided["status"], decided["reason"]) == ("rejected", "ngoài quy hoạch " + XSS)


def test_basic_credentials_work_as_well(base: str, editor: Account) -> None:
    """The page sends its key as a bearer token; the session endpoint answers it as any API client would."""
    request = urllib.request.Request(f"{base}/edit/session", headers=auth(editor))
    with urllib.request.urlopen(request, timeout=10) as response:
        session = json.loads(response.read())
    assert session["roles"] == {"industrial_parks": "editor", ZONES: "editor"}


def test_a_park_footprint_drawn_on_an_existing_park(opened: Any, base: str, editor: Account) -> None:
    """The site point stays the park's geometry; the footprint is drawn beside it, refused at its own slot
    when no repair makes it a polygon, and saved (PUT with If-Match) into the item and the park tiles."""
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [106.7605, 11.1305]},
            "properties": {"name": "KCN chưa có ranh giới", "kind": "KCN", "status": "planned",
                           "source": TEST_SOURCE, "geometry_quality": "approximate"}}  # fmt: skip
    request = urllib.request.Request(f"{base}/collections/industrial_parks/items", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/geo+json",
                                                             "Authorization": "Bearer " + editor.key})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        park_id = response.headers["Location"].rsplit("/", 1)[1]
    page = opened()
    page.sign_in(editor)
    page.pick("industrial_parks")
    page.view(106.7605, 11.1305, 15)
    page.open_feature(106.7605, 11.1305)
    assert page.page.text_content("#footprint-state") == "(chưa có ranh giới)"

    page.page.click("#draw-footprint")
    folded = [(106.758, 11.128), (106.758, 11.133), (106.758, 11.1305)]  # a ring folded onto one line
    for lon, lat in [*folded, folded[0]]:
        page.page.mouse.click(*page.pixel(lon, lat))
    page.page.wait_for_function("() => !document.getElementById('remove-footprint').hidden")
    page.expected.add(422)
    page.page.click("#save")
    page.page.wait_for_function("() => document.querySelector('[data-error-for=footprint]').textContent")
    assert "cannot be repaired" in (page.page.text_content('[data-error-for="footprint"]') or "")

    page.page.click("#remove-footprint")
    page.page.click("#draw-footprint")
    ring = square(106.758, 11.128, 0.005)
    for lon, lat in [*ring, ring[0]]:
        page.page.mouse.click(*page.pixel(lon, lat))
    page.page.wait_for_function("() => !document.getElementById('remove-footprint').hidden")
    assert page.saved() == park_id
    park = get_json(f"{base}/collections/industrial_parks/items/{park_id}")[2]
    assert park["geometry"]["coordinates"] == [106.7605, 11.1305]  # the site point did not move
    footprint = park["properties"]["footprint"]
    assert footprint["type"] == "MultiPolygon" and len(footprint["coordinates"]) == 1
    x, y = tile_of(106.7605, 11.1305, 14)
    tile_url = f"{base}/collections/industrial_parks/tiles/WebMercatorQuad/14/{y}/{x}"
    with urllib.request.urlopen(tile_url, timeout=10) as r:
        tile = mapbox_vector_tile.decode(r.read())
    assert park_id in [f["properties"].get("code") for f in tile["industrial_parks_footprints"]["features"]]

    page.open_feature(106.7605, 11.1305)  # opened again, the saved footprint is drawn and kept on save
    page.page.wait_for_function("() => !document.getElementById('remove-footprint').hidden")
    page.fill(status="under construction")
    page.saved()
    again = get_json(f"{base}/collections/industrial_parks/items/{park_id}")[2]["properties"]
    assert again["status"] == "under construction" and again["footprint"] == footprint
