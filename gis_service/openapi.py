"""The OpenAPI document: version 3.0, true to what each operation sends, for OGC clients and API fuzzers.

FastAPI's document is rewritten in one place here: JSON Schema 2020-12 constructs become 3.0 ones, every
operation gets its media types and its problem+json errors from ``schemas.answers`` (FastAPI's 422
``HTTPValidationError`` is dropped: validation errors are answered as 400), operations that ask who is
calling get 401/403 (``auth.openapi``), heavy ones the 503 of the admission queue, path parameters that name
catalogue entries list them (the editing and history operations: the editable collections only), parameters
with a stated format get it (``schemas.formats``), the editing operations their request bodies
(``schemas.editing``) and need credentials, and ``limit`` is one shared parameter: QGIS sizes its pages
from ``components.parameters.limit`` (minimum, maximum, default).
"""

from __future__ import annotations

import copy
from collections.abc import Set as AbstractSet
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gis_service import admission
from gis_service.auth import openapi as auth_openapi
from gis_service.literals import INT64
from gis_service.schemas import answers, editing, formats, problem
from gis_service.schemas.openapi30 import schema30
from gis_service.settings import Settings

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: Operations whose ``limit`` is the page size of OGC API Features (the shared parameter).
LIMIT_OPERATIONS = frozenset({"getFeatures"})
FASTAPI_ONLY = ("HTTPValidationError", "ValidationError")
#: The key of the editable collections among the catalogue's enums (no parameter has this name).
EDITABLE = "editable collectionId"
EMPTY = {
    200: "Success without a body: the answer is in the headers.",
    201: "Created: `Location` names what was made.",
    204: "No content: no feature in this tile, or the change is done.",
    304: "Not modified: the `ETag` sent in `If-None-Match` is still current.",
    307: "The data changed since this version: `Location` is the tile at the current version.",
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
        guarded = auth_openapi.guarded(app.routes)
        app.openapi_schema = true_document(schema, settings, catalogue_enums(app), guarded)
        auth_openapi.add_security(app.openapi_schema, settings, guarded)
        credentials_required(app.openapi_schema)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def catalogue_enums(app: FastAPI) -> dict[str, list[str]]:
    """Path parameters whose values are the catalogue's entries (anything else is a 404)."""
    state = app.state
    return {
        "collectionId": [spec.id for spec in state.catalog],
        EDITABLE: [spec.id for spec in state.catalog if spec.editable],
        "tileMatrixSetId": list(state.tms.ids),
        "rasterId": [spec.id for spec in state.rasters],
    }


def true_document(
    schema: dict[str, Any],
    settings: Settings,
    enums: dict[str, list[str]],
    guarded: AbstractSet[str] = frozenset(),
) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in FASTAPI_ONLY:
        schemas.pop(name, None)
    for name, body in list(schemas.items()):
        schemas[name] = schema30(body)
    schemas["Problem"] = problem.PROBLEM_SCHEMA
    schemas.update(answers.SCHEMAS)
    schemas.update(editing.SCHEMAS)
    components.setdefault("parameters", {})["limit"] = limit_parameter(settings)
    statuses: set[int] = set()
    for operation in operations(schema):
        operation_id = operation.get("operationId")
        shared_limit = operation_id in LIMIT_OPERATIONS
        own = {**enums, "collectionId": enums[EDITABLE]} if operation_id in editing.EDITABLE_ONLY else enums
        operation["parameters"] = [parameter30(p, own, shared_limit) for p in operation.get("parameters", [])]
        if operation_id in editing.REQUEST_BODIES:
            operation["requestBody"] = copy.deepcopy(editing.REQUEST_BODIES[operation_id])  # rewritten below
        if not operation["parameters"]:
            del operation["parameters"]
        for media in operation.get("requestBody", {}).get("content", {}).values():
            media["schema"] = schema30(media.get("schema", {}))
        operation["responses"] = responses(operation, operation_id in guarded)
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
    stated = formats.PARAMETERS.get(parameter.get("name", ""))
    if stated is not None and stated["in"] == parameter.get("in"):
        parameter = {**parameter, "description": stated["description"], "schema": stated["schema"]}
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


#: Operations that wait for an admission slot (``gis_service.admission``): a full queue is a 503.
ADMITTED = admission.HEAVY_OPERATIONS | admission.NEARBY_OPERATIONS | admission.MAP_OPERATIONS


def responses(operation: dict[str, Any], guarded: bool = False) -> dict[str, Any]:
    """The operation's answers from ``schemas.answers`` (only the always-possible errors when it is not
    listed), with 401/403 where it asks who is calling and 503 where it queues for admission."""
    operation_id = operation.get("operationId", "")
    entry = answers.OPERATIONS.get(operation_id)
    out = successes(operation, entry)
    errors = set(answers.ALWAYS) | set(entry.errors if entry else ())
    if "requestBody" in operation:
        errors |= {413, 415}
    if guarded:
        errors |= set(auth_openapi.STATUSES)
    if operation_id in ADMITTED:
        errors.add(503)
    out.update({str(status): problem.error_ref(status) for status in sorted(errors)})
    return out


def successes(operation: dict[str, Any], entry: answers.Answers | None) -> dict[str, Any]:
    """The success answers: ``ok``'s content under the ``body`` statuses, the body-less ones, their headers."""
    if entry is None:
        return {"200": operation.get("responses", {}).get("200", {"description": "Success."})}
    content = {media: {"schema": body} for media, body in entry.ok.items()}
    out: dict[str, Any] = {
        str(status): {"description": operation.get("summary") or "Success.", "content": content}
        for status in entry.body
    }
    out.update({str(status): {"description": EMPTY[status]} for status in entry.empty})
    for code in ("200", "304"):
        if entry.headers and code in out:
            out[code]["headers"] = answers.headers(entry.headers)
    for status, sent in entry.sent:
        answer = out[str(status)]
        answer["headers"] = answers.headers(sent.always + sent.maybe, sent.always)
        if sent.description:
            answer["description"] = sent.description
    return out


def credentials_required(schema: dict[str, Any]) -> None:
    """The editing operations take no anonymous call (``{}`` dropped from their security): every write is
    someone's, kept in the history."""
    for operation in operations(schema):
        if operation.get("operationId") in editing.WRITES and "security" in operation:
            operation["security"] = [s for s in operation["security"] if s]
