"""Headless Chromium (Debian's headless shell, driven by playwright) for the browser tests: one launch per
module, and what a page did (console errors, uncaught exceptions, requests, dialogs).

Registered as a plugin by ``tests/conftest.py``: any test may ask for ``browser``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/lib/chromium/chromium-headless-shell"
#: Software WebGL (MapLibre, Leaflet's canvas) without a GPU; no requests of the browser's own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-gl=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
]
VIEWPORT = {"width": 1400, "height": 900}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-packages.sh (make system) as root", False)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@dataclass
class Watched:
    """What a page did: console errors and warnings, uncaught exceptions, requests, dialogs (alert())."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def watch(page: Any) -> Watched:
    """Record what ``page`` does from now on; dialogs are dismissed."""
    seen = Watched()

    def dismiss(dialog: Any) -> None:
        seen.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("console", lambda m: seen.errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("request", lambda r: seen.requests.append(r.url))
    page.on("dialog", dismiss)
    return seen


def assert_local(seen: Watched, base: str) -> None:
    """Nothing asked of a host but ``base``, no console error, no dialog."""
    outside = [u for u in seen.requests if not u.startswith((base + "/", "data:"))]
    assert not outside, f"requests left 127.0.0.1: {outside}"
    assert not seen.errors, seen.errors
    assert not seen.dialogs, seen.dialogs
