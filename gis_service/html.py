"""HTML for browsers: the two ways a value may enter a page, the page's Content-Security-Policy, and plain
views of the OGC documents.

A value from the database, the catalogue or a request reaches HTML only as :func:`esc` text (element text or
a quoted attribute) or as :func:`script_json` inside a ``<script type="application/json">`` block. It is never
part of a template's source (Jinja2 evaluates ``{{ … }}`` there) nor of executable script text.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi.responses import HTMLResponse

#: What JSON leaves alone but an HTML parser or a JavaScript parser would not: ``</script>``, ``<!--``,
#: ``]]>``, entities, and the two line separators that end a JavaScript string literal.
SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
SCRIPT_UNSAFE_RE = re.compile("[<>&\u2028\u2029]")
#: Inline scripts the browser runs (not ``src=`` ones, not JSON data blocks, which it never runs).
INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc\s*=)(?![^>]*\btype\s*=\s*[\"']?application/json)[^>]*>(.*?)</script>", re.S | re.I
)
INLINE_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style>", re.S | re.I)
PAGE_CACHE = "no-cache"


def esc(value: Any) -> str:
    """Text of any value for HTML element text or a quoted attribute ('' for None)."""
    return "" if value is None else html.escape(str(value), quote=True)


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe anywhere inside a ``<script>`` element."""
    text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return SCRIPT_UNSAFE_RE.sub(lambda m: SCRIPT_UNSAFE[m.group(0)], text)


def json_block(element_id: str, value: Any) -> str:
    """A data block a page script reads with ``JSON.parse(el.textContent)``; browsers never run it."""
    return f'<script type="application/json" id="{esc(element_id)}">{script_json(value)}</script>'


def digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def origin(url: str | None) -> str | None:
    """``https://tile.openstreetmap.org`` of a URL (a tile template, an issuer), for a policy's host list; None
    for relative or missing URLs."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def hosts(names: Iterable[str | None]) -> list[str]:
    return sorted({h for h in names if h})


def content_security_policy(
    page_html: str, *, image_hosts: Iterable[str | None] = (), connect_hosts: Iterable[str | None] = ()
) -> str:
    """The page's policy: scripts and styles from our origin, inline ones only by their SHA-256 hash (never
    ``'unsafe-inline'`` or ``'unsafe-eval'``); outside hosts only for images (an online basemap) and for
    ``fetch`` (an OIDC issuer)."""
    scripts = sorted({digest(s) for s in INLINE_SCRIPT.findall(page_html)})
    styles = sorted({digest(s) for s in INLINE_STYLE.findall(page_html)})
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *scripts],
        "style-src": ["'self'", *styles],
        "img-src": ["'self'", *hosts(image_hosts)],
        "connect-src": ["'self'", *hosts(connect_hosts)],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def response(
    body: str, status: int = 200, *, image_hosts: Iterable[str | None] = (), connect_hosts: Iterable[str | None] = ()
) -> HTMLResponse:
    """Every HTML page of the service goes out through here, with the policy computed from its body."""
    policy = content_security_policy(body, image_hosts=image_hosts, connect_hosts=connect_hosts)
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": PAGE_CACHE,
    }
    return HTMLResponse(body, status_code=status, headers=headers)


def head(title: str, *, lang: str = "vi") -> str:
    """The start of every page, up to its viewport: the page adds its own stylesheets and ``</head>``."""
    return (
        f'<!doctype html><html lang="{esc(lang)}"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
    )


def page(title: str, body: str) -> str:
    """A whole page around ``body`` (HTML made with :func:`esc`); plain concatenation, no template."""
    return (
        head(title)
        + "<style>body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:80rem}"
        + "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;"
        + "vertical-align:top}th{background:#f3f3f3}nav a{margin-right:1rem}</style></head><body>"
        + '<nav><a href="/">Home</a><a href="/collections?f=html">Collections</a><a href="/maps">Maps</a>'
        + '<a href="/api.html">API</a></nav><h1>'
        + esc(title)
        + "</h1>"
        + body
        + "</body></html>"
    )


def links_list(links: list[dict[str, str]]) -> str:
    items = "".join(
        f'<li><a href="{esc(li["href"])}">{esc(li.get("title") or li["rel"])}</a> '
        f"<small>({esc(li['rel'])}, {esc(li['type'])})</small></li>"
        for li in links
    )
    return f"<ul>{items}</ul>"


def document(doc: dict[str, Any]) -> str:
    title = str(doc.get("title") or doc.get("id") or "Document")
    body = f"<p>{esc(doc.get('description', ''))}</p>" + links_list(doc.get("links", []))
    if "collections" in doc:
        rows = "".join(
            f'<tr><td><a href="/collections/{esc(c["id"])}?f=html">{esc(c["id"])}</a></td>'
            f"<td>{esc(c['title'])}</td><td>{esc(c.get('description'))}</td></tr>"
            for c in doc["collections"]
        )
        body += f"<table><tr><th>id</th><th>title</th><th>description</th></tr>{rows}</table>"
    if "conformsTo" in doc:
        body += "<ul>" + "".join(f"<li>{esc(c)}</li>" for c in doc["conformsTo"]) + "</ul>"
    return page(title, body)


def features_table(
    title: str, features: list[dict[str, Any]], links: list[dict[str, str]], matched: int, after: str = ""
) -> str:
    names: list[str] = []
    for feature in features:
        names.extend(k for k in feature["properties"] if k not in names)
    head = "".join(f"<th>{esc(n)}</th>" for n in ["id", *names])
    rows = "".join(
        "<tr>"
        + f"<td>{esc(feat['id'])}</td>"
        + "".join(f"<td>{esc(feat['properties'].get(n))}</td>" for n in names)
        + "</tr>"
        for feat in features
    )
    body = f"<p>{matched} features match; {len(features)} shown.</p>{links_list(links)}"
    return page(title, body + f"<table><tr>{head}</tr>{rows}</table>" + after)


def timeline(versions: list[dict[str, Any]]) -> str:
    """A feature's history (``history.versions``), newest first: every value escaped, as data."""
    rows = "".join(
        f"<tr><td>{esc(v['version'])}</td><td>{esc(v['operation'])}</td><td>{esc(v['changedAt'])}</td>"
        f"<td>{esc(v['changedBy'])}</td><td>{esc(v['changeSet']['comment'])}</td>"
        f"<td>{esc(v['changeSet']['client'])}</td></tr>"
        for v in reversed(versions)
    )
    head = "<tr><th>version</th><th>change</th><th>when</th><th>who</th><th>comment</th><th>client</th></tr>"
    return f'<h2>History</h2><table class="timeline">{head}{rows}</table>'
