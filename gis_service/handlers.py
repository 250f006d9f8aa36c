"""The one place where errors become HTTP answers (problem+json, RFC 9457)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis_service.errors import GisServiceError, status_title
from gis_service.responses import ProblemResponse

log = logging.getLogger("gis_service")


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
    return ProblemResponse(exc.problem(request.url.path), status_code=exc.status)


async def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ())]
    parameter = loc[-1] if loc else None
    detail = f"{parameter}: {first.get('msg', 'invalid value')}" if parameter else str(first.get("msg"))
    return _problem(request, 400, "Invalid parameter", detail, parameter=parameter)


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else status_title(exc.status_code)
    return _problem(request, exc.status_code, status_title(exc.status_code), detail)


async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return _problem(request, 500, "Internal error", "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(GisServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
