"""One error vocabulary, mapped to HTTP once and answered as problem+json (RFC 9457).

Each error declares its answer where it is defined: ``class Conflict(GisServiceError, status=409,
title="Conflict")``; a subclass keeps what it does not name (``UnknownParameter`` is a 400 too).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, ClassVar

PROBLEM_JSON = "application/problem+json"


class GisServiceError(Exception):
    """Base of every error the service answers; ``status`` is the HTTP status it maps to."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    #: Seconds a client should wait before trying again (a ``Retry-After`` header); None: no header.
    retry_after: ClassVar[int | None] = None

    def __init_subclass__(
        cls, *, status: int | None = None, title: str | None = None, retry_after: int | None = None, **kw: Any
    ) -> None:
        super().__init_subclass__(**kw)
        if status is not None:
            cls.status = status
        if title is not None:
            cls.title = title
        if retry_after is not None:
            cls.retry_after = retry_after

    def __init__(
        self, detail: str, *, parameter: str | None = None, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.parameter = parameter
        #: Response headers the answer must carry (the current ETag of a 412, the Allow of a 405).
        self.headers = headers or {}
        self.extra = extra

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"about:blank#{type(self).__name__}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.parameter:
            body["parameter"] = self.parameter
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def status_title(status: int) -> str:
    return HTTPStatus(status).phrase


class InvalidParameter(GisServiceError, status=400, title="Invalid parameter"): ...


class UnknownParameter(InvalidParameter, title="Unknown query parameter"): ...


class InvalidFilter(InvalidParameter, title="Invalid filter"): ...


class InvalidValue(InvalidParameter, title="Invalid value"):
    """A value the parsers let through that PostgreSQL/PostGIS refused (a data exception, an unsupported
    feature, a geometry PostGIS cannot read or transform): still the client's error, so a 400."""


class NotFound(GisServiceError, status=404, title="Not found"): ...


class UnknownCollection(NotFound, title="Unknown collection"):
    def __init__(self, collection_id: str) -> None:
        super().__init__(f"collection {collection_id!r} does not exist", parameter="collectionId")


class FeatureNotFound(NotFound, title="Feature not found"): ...


class NotAuthenticated(GisServiceError, status=401, title="Authentication required"):
    """No credentials where they are needed, or credentials that do not hold (answered with WWW-Authenticate)."""


class Forbidden(GisServiceError, status=403, title="Forbidden"):
    """Valid credentials without the grant this needs."""


class MethodNotAllowed(GisServiceError, status=405, title="Method not allowed"):
    """A write to a read-only collection (answered with the ``Allow`` of the resource)."""


class NotAcceptable(GisServiceError, status=406, title="Not acceptable"): ...


class Conflict(GisServiceError, status=409, title="Conflict"): ...


class PreconditionFailed(GisServiceError, status=412, title="Precondition failed"):
    """``If-Match`` did not hold: someone changed the feature since the client read it."""


class PayloadTooLarge(GisServiceError, status=413, title="Payload too large"): ...


class UnsupportedMediaType(GisServiceError, status=415, title="Unsupported media type"): ...


class InvalidFeature(GisServiceError, status=422, title="Invalid feature"):
    """A feature the layer's checks (the loader's) refuse: the detail names the property or the coordinate."""


class LoadError(GisServiceError, status=422, title="Load failed"):
    """A file could not be loaded; nothing was written."""


class PreconditionRequired(GisServiceError, status=428, title="Precondition required"): ...


class QueryTimeout(GisServiceError, status=503, title="Query took too long"): ...


class DatabaseUnavailable(GisServiceError, status=503, title="Database unavailable", retry_after=2):
    """Refused, starting up, shutting down or gone mid-request: a retry soon is likely to work."""


class ServiceBusy(GisServiceError, status=503, title="Service busy", retry_after=1):
    """No database connection or admission slot freed up within the configured wait."""
