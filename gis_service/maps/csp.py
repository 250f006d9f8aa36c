"""The Content-Security-Policy of a map page, computed from the page itself.

Folium writes its code as inline scripts, so instead of ``'unsafe-inline'`` each inline ``<script>`` and
``<style>`` of the rendered page is allowed by its SHA-256 hash. Everything else comes from our origin;
the only outside host is the online basemap's tile server, for images only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.S | re.I)
INLINE_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style>", re.S | re.I)


def digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def origin(url: str | None) -> str | None:
    """``https://tile.openstreetmap.org`` of a tile URL template; None for relative or missing URLs."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def policy(html: str, *, image_hosts: Iterable[str | None] = ()) -> str:
    scripts = sorted({digest(s) for s in INLINE_SCRIPT.findall(html)})
    styles = sorted({digest(s) for s in INLINE_STYLE.findall(html)})
    hosts = sorted({h for h in image_hosts if h})
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *scripts],
        "style-src": ["'self'", *styles],
        "img-src": ["'self'", *hosts],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())
