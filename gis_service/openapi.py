"""The OpenAPI document: version 3.0, true to what each operation sends, for OGC clients and API fuzzers.

FastAPI's document is rewritten in one place here: JSON Schema 2020-12 constructs become 3.0 ones, every
operation gets its media types and its problem+json errors from ``schemas.answers`` (FastAPI's 422
``HTTPValidationError`` is dropped: validation errors are answered as 400), path parameters that name
catalogue entries list them, and ``limit`` is one shared parameter: QGIS sizes its pages from
``components.parameters.limit`` (minimum, maximum, default).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gis_service.auth.openapi import add_security
from gis_service.literals import INT64
from gis_service.schemas import answers, problem
from gis_service.schemas.openapi30 import schema30
from gis_service.settings import Settings

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: Operations whose ``limit`` is the page size of OGC API Features (the shared parameter).
LIMIT_OPERATIONS = frozenset({"getFeatures"})
FASTAPI_ONLY = ("HTTPValidationError", "ValidationError")
EMPTY = {
    204: "No feature in this tile.",
    304: "Not modified: the `ETag` sent in `If-None-Match` is still current.",
}


def install(app: FastAPI, settings: Settings) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            openapi_version="3.0.3",
        )
        app.openapi_schema = true_document(schema, settings, catalogue_enums(app))
        add_security(app.openapi_schema, settings, app.routes)  # schemes, 401/403 where credentials count
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def catalogue_enums(app: FastAPI) -> dict[str, list[str]]:
    """Path parameters whose values are the catalogue's entries (anything else is a 404)."""
    state = app.state
    return {
        "collectionId": [spec.id for spec in state.catalog],
        "tileMatrixSetId": list(state.tms.ids),
        "rasterId": [spec.id for spec in state.rasters],
    }


def true_document(schema: dict[str, Any], settings: Settings, enums: dict[str, list[str]]) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in FASTAPI_ONLY:
        schemas.pop(name, None)
    for name, body in list(schemas.items()):
        schemas[name] = schema30(body)
    schemas["Problem"] = problem.PROBLEM_SCHEMA
    schemas.update(answers.SCHEMAS)
    components.setdefault("parameters", {})["limit"] = limit_parameter(settings)
    statuses: set[int] = set()
    for operation in operations(schema):
        shared_limit = operation.get("operationId") in LIMIT_OPERATIONS
        operation["parameters"] = [parameter30(p, enums, shared_limit) for p in operation.get("parameters", [])]
        if not operation["parameters"]:
            del operation["parameters"]
        for media in operation.get("requestBody", {}).get("content", {}).values():
            media["schema"] = schema30(media.get("schema", {}))
        operation["responses"] = responses(operation)
        statuses.update(int(s) for s in operation["responses"] if int(s) >= 400)
    components["responses"] = {problem.ERRORS[s][0]: problem.error_response(s) for s in sorted(statuses)}
    return schema


def operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for path in schema.get("paths", {}).values() for method, op in path.items() if method in METHODS]


def limit_parameter(settings: Settings) -> dict[str, Any]:
    return {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"Page size; values above {settings.features.max_limit} are clamped.",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": settings.features.max_limit,
            "default": settings.features.default_limit,
        },
        "style": "form",
        "explode": False,
    }


def parameter30(parameter: dict[str, Any], enums: dict[str, list[str]], shared_limit: bool) -> dict[str, Any]:
    """One parameter in the 3.0 dialect; ``limit`` of the items is the shared one."""
    if shared_limit and parameter.get("name") == "limit" and parameter.get("in") == "query":
        return {"$ref": "#/components/parameters/limit"}
    out = {**parameter, "schema": schema30(_schema(parameter))}
    out["schema"].pop("nullable", None)  # `X | None = None` means "may be absent"; a parameter is never null
    if out["schema"].get("type") == "integer":  # integers are read as 64-bit (gis_service.literals)
        out["schema"].setdefault("minimum", INT64[0])
        out["schema"].setdefault("maximum", INT64[1])
    if out["in"] == "path" and out["name"] in enums:
        out["schema"] = {**out["schema"], "enum": enums[out["name"]]}
        out["schema"].pop("maxLength", None)
    if "example" in out["schema"]:
        out["example"] = out["schema"].pop("example")
    return out


def _schema(parameter: dict[str, Any]) -> dict[str, Any]:
    value = parameter.get("schema", {})
    return value if isinstance(value, dict) else {}


def responses(operation: dict[str, Any]) -> dict[str, Any]:
    """The operation's answers from ``schemas.answers`` (only the always-possible errors when it is not listed)."""
    entry = answers.OPERATIONS.get(operation.get("operationId", ""))
    out: dict[str, Any] = {}
    if entry is None:
        out["200"] = operation.get("responses", {}).get("200", {"description": "Success."})
    else:
        content = {media: {"schema": body} for media, body in entry.ok.items()}
        out["200"] = {"description": operation.get("summary") or "Success.", "content": content}
        out.update({str(status): {"description": EMPTY[status]} for status in entry.empty})
        for code in ("200", "304"):
            if entry.headers and code in out:
                out[code]["headers"] = answers.headers(entry.headers)
    errors = set(answers.ALWAYS) | set(entry.errors if entry else ())
    if "requestBody" in operation:
        errors |= {413, 415}
    for status in sorted(errors):
        if entry is not None and entry.html_errors and 400 <= status < 500 and status != 405:
            _, description = problem.ERRORS[status]
            out[str(status)] = {"description": description, "content": problem.problem_content(also_html=True)}
        else:
            out[str(status)] = problem.error_ref(status)
    return out
