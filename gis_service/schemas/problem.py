"""The error answers of the OpenAPI document: one ``Problem`` schema (RFC 9457) and one response per status."""

from __future__ import annotations

from typing import Any

from gis_service.responses import HTML, PROBLEM

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
    404: ("NotFound", "The collection, feature, tile, raster or unit asked for does not exist."),
    405: ("MethodNotAllowed", "The path exists, but not with this method; `Allow` lists the methods it takes."),
    406: ("NotAcceptable", "None of the media types in `Accept` can be produced."),
    413: ("PayloadTooLarge", "The request body, the posted geometry or the area asked for is too large."),
    415: ("UnsupportedMediaType", "The request body is not `application/json`."),
    422: ("UnprocessableContent", "The body is well formed but cannot be processed."),
    500: ("InternalError", "An unexpected error; it has been logged."),
    503: ("ServiceUnavailable", "The database is unreachable, or the query ran past the statement timeout."),
}
ALLOW_HEADER = {
    "Allow": {
        "description": "The methods this path answers.",
        "required": True,
        "schema": {"type": "string"},
    }
}

RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds after which a retry is likely to work, when the service can tell.",
        "required": False,
        "schema": {"type": "integer", "minimum": 0},
    }
}


def problem_content(also_html: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    if also_html:
        content[HTML] = {"schema": {"type": "string"}}
    return content


def error_response(status: int) -> dict[str, Any]:
    """The ``components/responses`` entry of ``status``."""
    _, description = ERRORS[status]
    response: dict[str, Any] = {"description": description, "content": problem_content()}
    if status == 405:
        response["headers"] = ALLOW_HEADER
    if status == 503:
        response["headers"] = RETRY_AFTER_HEADER
    return response


def error_ref(status: int) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
