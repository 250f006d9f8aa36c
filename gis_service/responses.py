"""Media types and the response classes that carry them."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
MVT = "application/vnd.mapbox-vector-tile"
CSV = "text/csv"
GEOJSONSEQ = "application/geo+json-seq"
GPKG = "application/geopackage+sqlite3"
PROBLEM = "application/problem+json"


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


class FastJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content)


class GeoJSONResponse(FastJSON):
    media_type = GEOJSON


class ProblemResponse(FastJSON):
    media_type = PROBLEM


def allowed_methods(request: Request, fallback: str) -> str:
    """The ``Allow`` value of the request's path: every method the API document gives the path (a 405 from
    the router names only the methods of the first route that matched it); ``fallback`` for other paths."""
    methods: set[str] = set()
    for template, item in request.app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {method.upper() for method in item}
    if "GET" in methods:
        methods.add("HEAD")  # answered as GET without a body (middleware.HeadAsGet)
    return ", ".join(sorted(methods)) or fallback


def etag_for(*parts: object) -> str:
    digest = hashlib.sha1("|".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()
    return f'"{digest[:32]}"'


def not_modified(request: Request, etag: str) -> bool:
    match = request.headers.get("if-none-match") or ""
    return bool(match) and (match.strip() == "*" or etag in [m.strip() for m in match.split(",")])


def with_etag(request: Request, etag: str, response_factory: Any, cache_control: str) -> Response:
    """Answer 304 when the client holds ``etag``, else build the response and tag it."""
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    response: Response = response_factory()
    response.headers.update(headers)
    return response
