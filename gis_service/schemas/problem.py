"""The error answers of the OpenAPI document: one ``Problem`` schema (RFC 9457) and one response per status."""

from __future__ import annotations

from typing import Any

from gis_service.responses import PROBLEM

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Problem details (RFC 9457). `parameter` names the query parameter or body member at fault.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "`about:blank`, with the error class as fragment."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What was wrong, in a sentence."},
        "instance": {"type": "string", "description": "The path that was asked for."},
        "parameter": {"type": "string", "nullable": True},
    },
    "additionalProperties": True,
}

#: status -> (component name, description)
ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "A parameter or the body is malformed, out of range or unknown; `parameter` says which."),
    401: (
        "Unauthorized",
        "Credentials are needed (a non-public collection, or anonymous reads are off), or those sent do not hold; "
        "`WWW-Authenticate` names the schemes to answer with.",
    ),
    403: ("Forbidden", "The credentials hold, but their grants do not allow this; `parameter` says what was asked."),
    404: ("NotFound", "The collection, feature, tile, raster or unit asked for does not exist."),
    405: (
        "MethodNotAllowed",
        "The path exists, but not with this method, or it is a change to a read-only collection; `Allow` lists "
        "the methods it takes.",
    ),
    406: ("NotAcceptable", "None of the media types in `Accept` can be produced."),
    409: (
        "Conflict",
        "The request conflicts with the current state: a feature with that key exists, the `Idempotency-Key` "
        "was used in another collection, or the feature kept changing while a patch was applied.",
    ),
    412: (
        "PreconditionFailed",
        "`If-Match` does not hold: the feature changed since it was read (`ETag` is its current version) or is gone.",
    ),
    413: ("PayloadTooLarge", "The request body, the posted geometry or the area asked for is too large."),
    415: (
        "UnsupportedMediaType",
        "The body's `Content-Type` is not one the operation takes: `application/json` (`application/geo+json` "
        "for a feature, `application/merge-patch+json` for a change).",
    ),
    422: (
        "UnprocessableContent",
        "The body is well formed but cannot be processed: the collection does not take the feature (`parameter` "
        "names the property, or `geometry`), or the change is not possible.",
    ),
    428: ("PreconditionRequired", "A change needs `If-Match` with the feature's current `ETag`."),
    500: ("InternalError", "An unexpected error; it has been logged."),
    503: (
        "ServiceUnavailable",
        "The database is unreachable or the query ran past the statement timeout, or the service is busy: no "
        "pooled database connection became free within the pool wait, or the admission queue of heavy work "
        "(analyses, raster statistics, map pages) is full or its wait ran out. `Retry-After` says when to try again.",
    ),
}


def header(name: str, description: str, schema: dict[str, Any], *, required: bool) -> dict[str, Any]:
    """One entry of a response's ``headers``."""
    return {name: {"description": description, "required": required, "schema": schema}}


TEXT = {"type": "string"}
#: The headers of an error answer, by status.
HEADERS = {
    401: header(
        "WWW-Authenticate",
        "The schemes to answer with: Bearer (API key or OIDC token) and Basic (key as password).",
        TEXT,
        required=True,
    ),
    405: header("Allow", "The methods this path answers.", TEXT, required=True),
    412: header("ETag", "The feature's current version, when it still exists.", TEXT, required=False),
    503: header(
        "Retry-After",
        "Seconds after which a retry is likely to work: sent when the pool or the admission queue was full, or "
        "the database could not be reached (not after a statement timeout).",
        {"type": "integer", "minimum": 0},
        required=False,
    ),
}


def problem_content() -> dict[str, Any]:
    return {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def error_response(status: int) -> dict[str, Any]:
    """The ``components/responses`` entry of ``status``."""
    _, description = ERRORS[status]
    response: dict[str, Any] = {"description": description, "content": problem_content()}
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


def error_ref(status: int) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
