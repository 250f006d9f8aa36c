"""``/api.html`` in a real browser (headless Chromium via playwright) against a real server process.

Swagger UI comes from our /static (vendored from npm, pinned), its init script from a file: under the page's
Content-Security-Policy (no 'unsafe-inline' for scripts) it must render every operation, with no console
error and no request leaving 127.0.0.1, and "Try it out" must reach the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from gis_service.settings import PROJECT_ROOT, Settings
from tests.chromium import VIEWPORT, Watched, assert_local, watch
from tests.serverproc import running_server

pytestmark = pytest.mark.clients
ARTIFACTS = PROJECT_ROOT / "artifacts"
#: Operations in the document Swagger UI loaded (every method of every path).
COUNT_OPERATIONS = """() => Object.values(window.ui.specSelectors.specJson().toJS().paths).reduce(
  (n, item) => n + Object.keys(item).filter(m => ["get", "put", "post", "delete", "options", "head", "patch"]
    .includes(m)).length, 0)"""


@pytest.fixture(scope="module")
def server(migrated: Settings, bundled: Engine, vendored: Path) -> Iterator[str]:
    with running_server(migrated.dsn) as base:
        yield base


def open_docs(browser: Any, base: str) -> tuple[Any, Any, Watched]:
    page = browser.new_page(viewport=VIEWPORT)
    seen = watch(page)
    response = page.goto(f"{base}/api.html", wait_until="networkidle")
    page.wait_for_selector("html[data-api-docs-ready]", state="attached", timeout=15_000)
    return page, response, seen


def test_the_api_page_renders_every_operation_offline(browser: Any, server: str) -> None:
    page, response, seen = open_docs(browser, server)
    policy = response.headers["content-security-policy"]
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, policy
    operations = len(page.locator(".opblock").all())
    documented = page.evaluate(COUNT_OPERATIONS)
    assert operations == documented > 30
    assert page.locator(".btn.authorize").is_visible()  # the security schemes are offered
    assert any("/static/vendor/swagger-ui-dist@" in u for u in seen.requests)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
    assert_local(seen, server)
    page.close()


def test_try_it_out_reaches_the_api_from_the_page(browser: Any, server: str) -> None:
    page, _, seen = open_docs(browser, server)
    operation = page.locator("#operations-Capabilities-getConformance")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status").first
    status.wait_for(timeout=10_000)
    assert status.inner_text().strip() == "200"
    assert f"{server}/conformance" in seen.requests
    assert_local(seen, server)
    page.close()
