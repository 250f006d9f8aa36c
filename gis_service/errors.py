"""One error vocabulary, mapped to HTTP once and answered as problem+json (RFC 9457)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

PROBLEM_JSON = "application/problem+json"


class GisServiceError(Exception):
    """Base of every error the service answers; ``status`` is the HTTP status it maps to."""

    status: int = 500
    title: str = "Internal error"
    #: Seconds a client should wait before trying again (a ``Retry-After`` header); None: no header.
    retry_after: int | None = None

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


class InvalidParameter(GisServiceError):
    status = 400
    title = "Invalid parameter"


class UnknownParameter(InvalidParameter):
    title = "Unknown query parameter"


class InvalidFilter(InvalidParameter):
    title = "Invalid filter"


class InvalidValue(InvalidParameter):
    """A value the parsers let through that PostgreSQL/PostGIS refused (a data exception, an unsupported
    feature, a geometry PostGIS cannot read or transform): still the client's error, so a 400."""

    title = "Invalid value"


class NotFound(GisServiceError):
    status = 404
    title = "Not found"


class UnknownCollection(NotFound):
    title = "Unknown collection"

    def __init__(self, collection_id: str) -> None:
        super().__init__(f"collection {collection_id!r} does not exist", parameter="collectionId")


class FeatureNotFound(NotFound):
    title = "Feature not found"


class NotAuthenticated(GisServiceError):
    """No credentials where they are needed, or credentials that do not hold (answered with WWW-Authenticate)."""

    status = 401
    title = "Authentication required"


class Forbidden(GisServiceError):
    """Valid credentials without the grant this needs."""

    status = 403
    title = "Forbidden"


class PayloadTooLarge(GisServiceError):
    status = 413
    title = "Payload too large"


class NotAcceptable(GisServiceError):
    status = 406
    title = "Not acceptable"


class QueryTimeout(GisServiceError):
    status = 503
    title = "Query took too long"


class DatabaseUnavailable(GisServiceError):
    """Refused, starting up, shutting down or gone mid-request: a retry soon is likely to work."""

    status = 503
    title = "Database unavailable"
    retry_after = 2


class ServiceBusy(GisServiceError):
    """No database connection or admission slot freed up within the configured wait."""

    status = 503
    title = "Service busy"
    retry_after = 1


class LoadError(GisServiceError):
    """A file could not be loaded; nothing was written."""

    status = 422
    title = "Load failed"


def status_title(status: int) -> str:
    return HTTPStatus(status).phrase


class MethodNotAllowed(GisServiceError):
    """A write to a read-only collection (answered with the ``Allow`` of the resource)."""

    status = 405
    title = "Method not allowed"


class Conflict(GisServiceError):
    status = 409
    title = "Conflict"


class PreconditionFailed(GisServiceError):
    """``If-Match`` did not hold: someone changed the feature since the client read it."""

    status = 412
    title = "Precondition failed"


class UnsupportedMediaType(GisServiceError):
    status = 415
    title = "Unsupported media type"


class InvalidFeature(GisServiceError):
    """A feature the layer's checks (the loader's) refuse: the detail names the property or the coordinate."""

    status = 422
    title = "Invalid feature"


class PreconditionRequired(GisServiceError):
    status = 428
    title = "Precondition required"
