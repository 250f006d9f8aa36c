"""The one place where errors become HTTP answers (problem+json, RFC 9457)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis_service.errors import GisServiceError, status_title
from gis_service.responses import ProblemResponse, allowed_methods

log = logging.getLogger("gis_service")
BODY_PARSE_ERROR = "There was an error parsing the body"
GENERIC_DETAILS = {
    404: "no resource at {path!r}; the landing page (/) links to everything the service offers",
    405: "{method} is not allowed on {path!r} (the Allow header lists what is)",
}


def _problem(request: Request, status: int, title: str, detail: str, **extra: object) -> ProblemResponse:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return ProblemResponse(body, status_code=status)


async def _service_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, GisServiceError)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
    headers.update(exc.headers)  # e.g. the current ETag of a 412, the Allow of a 405
    return ProblemResponse(exc.problem(request.url.path), status_code=exc.status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    # ("query", "lat"), ("body", "types", 3), ("body", 12) for a JSON syntax error: the parameter or body
    # member, never a key inside it (("body", "max_distance_m", "moon", "[key]") is max_distance_m).
    loc = tuple(first.get("loc", ()))
    names = [str(p) for p in loc if isinstance(p, str)]
    parameter = names[1] if len(names) > 1 else names[0] if names else None
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    inside = "/".join(str(p) for p in loc[loc.index(parameter) + 1 :]) if parameter in loc[1:] else ""
    detail = f"{parameter}{f' ({inside})' if inside else ''}: {message}" if parameter else message
    return _problem(request, 400, "Invalid parameter", detail, parameter=parameter)


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else status_title(exc.status_code)
    extra = {}
    if detail == BODY_PARSE_ERROR:  # FastAPI's answer when reading the JSON body fails (e.g. nested too deep)
        detail, extra = "body: the JSON cannot be read (malformed, or nested too deeply)", {"parameter": "body"}
    elif detail == status_title(exc.status_code):  # Starlette's bare "Not Found", "Method Not Allowed"
        detail = GENERIC_DETAILS.get(exc.status_code, detail).format(method=request.method, path=request.url.path)
    response = _problem(request, exc.status_code, status_title(exc.status_code), detail, **extra)
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:  # Allow lists every method of the path (RFC 9110)
        response.headers["Allow"] = allowed_methods(request, response.headers.get("Allow", ""))
    return response


async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return _problem(request, 500, "Internal error", "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(GisServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
