"""Plain HTML views of the OGC documents for browsers; every value is escaped."""

from __future__ import annotations

from html import escape
from typing import Any

PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;margin:1.5rem;max-width:80rem}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}}th{{background:#f3f3f3}}
nav a{{margin-right:1rem}}</style></head><body>
<nav><a href="/">Home</a><a href="/collections?f=html">Collections</a><a href="/maps">Maps</a>
<a href="/api.html">API</a></nav><h1>{title}</h1>{body}</body></html>"""


def page(title: str, body: str) -> str:
    return PAGE.format(title=escape(title), body=body)


def links_list(links: list[dict[str, str]]) -> str:
    items = "".join(
        f'<li><a href="{escape(li["href"])}">{escape(li.get("title") or li["rel"])}</a> '
        f"<small>({escape(li['rel'])}, {escape(li['type'])})</small></li>"
        for li in links
    )
    return f"<ul>{items}</ul>"


def document(doc: dict[str, Any]) -> str:
    title = str(doc.get("title") or doc.get("id") or "Document")
    body = f"<p>{escape(str(doc.get('description', '')))}</p>" + links_list(doc.get("links", []))
    if "collections" in doc:
        rows = "".join(
            f'<tr><td><a href="/collections/{escape(c["id"])}?f=html">{escape(c["id"])}</a></td>'
            f"<td>{escape(c['title'])}</td><td>{escape(c.get('description') or '')}</td></tr>"
            for c in doc["collections"]
        )
        body += f"<table><tr><th>id</th><th>title</th><th>description</th></tr>{rows}</table>"
    if "conformsTo" in doc:
        body += "<ul>" + "".join(f"<li>{escape(c)}</li>" for c in doc["conformsTo"]) + "</ul>"
    return page(title, body)


def features_table(title: str, features: list[dict[str, Any]], links: list[dict[str, str]], matched: int) -> str:
    names: list[str] = []
    for feature in features:
        names.extend(k for k in feature["properties"] if k not in names)
    head = "".join(f"<th>{escape(n)}</th>" for n in ["id", *names])
    rows = "".join(
        "<tr>"
        + f"<td>{escape(str(feat['id']))}</td>"
        + "".join(
            f"<td>{escape('' if feat['properties'].get(n) is None else str(feat['properties'][n]))}</td>" for n in names
        )
        + "</tr>"
        for feat in features
    )
    body = f"<p>{matched} features match; {len(features)} shown.</p>{links_list(links)}"
    return page(title, body + f"<table><tr>{head}</tr>{rows}</table>")
