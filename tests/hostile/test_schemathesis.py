"""Schemathesis against the real service: every operation of ``/api``, every default check.

The service runs as a real server process (``hostile_server`` in ``conftest.py``: ``tests/serverproc.py``
on the test database with the bundled layers and rasters built, so the raster operations answer for real).
Schemathesis reads the document the server publishes and runs its phases on every operation (documented
examples, coverage of edges and invalid values, random fuzzing, chains of requests), then checks every
answer: no 5xx, status codes, media types, headers and bodies as documented, valid data accepted, invalid
data rejected, 405 with ``Allow`` for undocumented methods. Any failure fails the test with a curl line
that reproduces it.

Two passes: every operation anonymously (a write is a 401 there, before its body is read), then the editing
operations with the key of an account that may curate every editable collection, so their successes are
checked too (status, ``ETag``, ``Location``, ``Preference-Applied``, the body, and that the same request
without the key or with a bad one is a 401). In the second pass half of the schema-valid cases carry a
feature the collection takes and every feature id names a feature the pass made itself: random GeoJSON is
almost never a feature of a given layer, and random ids almost never exist. What the pass made is removed
afterwards, and the test fails if it changed any feature it did not make.

The run is deterministic (``GIS_FUZZ_SEED``, fixed by default) and bounded: ``GIS_FUZZ_EXAMPLES`` random
examples per operation, 100 by default (the writes: 20 anonymously, ``GIS_FUZZ_EDITOR_EXAMPLES``, 30 by
default, with the key), about 3 minutes on 2 cores. A longer run, before a release::

    GIS_FUZZ_EXAMPLES=1000 GIS_FUZZ_EDITOR_EXAMPLES=300 GIS_FUZZ_SEED=$RANDOM \
        .venv/bin/pytest tests/hostile/test_schemathesis.py
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import schemathesis
from jsonschema import Draft4Validator
from schemathesis import HookContext, engine
from schemathesis.core.failures import AcceptedNegativeData, Failure, MalformedJson
from schemathesis.engine import StopReason
from schemathesis.engine.events import (
    EngineFinished,
    FatalError,
    FuzzScenarioFinished,
    NonFatalError,
    ScenarioFinished,
)
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.openapi.checks import AllowHeaderMismatch, MissingContentType, RejectedPositiveData
from sqlalchemy import Engine

from gis_service.main import create_app
from gis_service.settings import Settings
from tests.accessdata import Account
from tests.hostile.fuzzedits import EditingTargets, changed_features_not_made_by
from tests.hostile.routes import routes

EXAMPLES = int(os.environ.get("GIS_FUZZ_EXAMPLES", "100"))
EDITOR_EXAMPLES = int(os.environ.get("GIS_FUZZ_EDITOR_EXAMPLES", "30"))
#: Anonymous writes are all 401 before anything else is read: a few examples say so.
ANONYMOUS_WRITE_EXAMPLES = min(EXAMPLES, 20)
WRITES = ("createFeature", "replaceFeature", "updateFeature", "deleteFeature", "revertFeature")
EDITING = (*WRITES, "optionsFeatures", "optionsFeature", "getFeatureHistory", "getCollectionChanges")
#: Reads that answer only someone signed in (anonymously, a 401 whatever was asked). The decisions on
#: proposals are left out: random ids would decide other modules' proposals.
SIGNED_IN = ("getProposals", "getProposal", "getEditSession")
#: What the document leaves out, so schemathesis never calls it: the document itself, its page and the
#: static files (the raw-socket tables of ``test_bad_input.py`` reach them).
UNDOCUMENTED = {("GET", "/api"), ("GET", "/api.html"), ("GET", "/static")}
#: The operations of a path item of the document.
METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
SEED = int(os.environ.get("GIS_FUZZ_SEED", "20250701"))
#: Parameters whose rules OpenAPI 3.0 cannot state, by operation: a CQL2 filter's grammar, datetime
#: intervals, CRS names, the property names of each collection, one of two ways to give a reference (a
#: point or a feature), a posted geometry that must be valid and inside the region, an attribute that
#: depends on the collection, a colour map name, a ``min,max`` rescale, ``asOf`` (only the editable
#: collections keep a history: it depends on the collection in the path), the ``id`` of a merge patch
#: (it must be the path's ``featureId``, or absent). A request the document allows may still be refused
#: there, with a 400 that names the parameter; a refusal naming any other parameter, or any other status,
#: remains a failure. A name ending in ``.`` stands for its members (``properties.`` for every property).
TILE_OPERATIONS = (
    "getCollectionTileSet",
    "getCollectionTileJSON",
    "getCollectionTile",
    "getTileJSON",
    "getXYZTile",
    "getXYZTileVersioned",
)
TILE_FILTERS = frozenset({"filter", "filter-lang", "filter-crs", "datetime"})
UNSTATED_RULES: dict[str, frozenset[str] | set[str]] = {
    "getFeatures": {"filter", "filter-lang", "filter-crs", "datetime", "bbox", "bbox-crs", "crs", "properties"}
    | {"sortby", "f", "asOf"},
    "getFeature": {"crs", "f", "featureId"},
    **dict.fromkeys(TILE_OPERATIONS, TILE_FILTERS),
    "getPlanningTileJSON": {"collections", "datetime"},
    "getPlanningTile": {"collections", "datetime"},
    "getPlanningTileVersioned": {"collections", "datetime"},
    "nearby": {"reference", "feature"},
    "nearbyGeometry": {"geometry"},
    "postRasterStatistics": {"body"},
    "areaStats": {"by", "date"},
    "getRasterTileJSON": {"colormap", "rescale"},
    "getRasterTile": {"colormap", "rescale"},
    "updateFeature": {"id", "properties."},
}
#: The editing operations' refusals of schema-valid requests that depend on what OpenAPI 3.0 cannot tie to
#: a request, by status: what the collection in the path takes (its properties, the required ones and their
#: values, its geometry type) and a geometry valid and inside the province, in the CRS of ``Content-Crs``
#: (422); the version a feature has now (412: an ``If-Match`` can be well formed and not current); a revert
#: to the version that is the deletion (422).
BODY_RULES = frozenset({"properties.", "geometry"})
UNSTATED_REFUSALS: dict[str, dict[int, frozenset[str]]] = {
    "createFeature": {422: BODY_RULES},
    "replaceFeature": {422: BODY_RULES, 412: frozenset({"If-Match"})},
    "updateFeature": {422: BODY_RULES, 412: frozenset({"If-Match"})},
    "deleteFeature": {412: frozenset({"If-Match"})},
    "revertFeature": {422: frozenset({"version"})},
}
#: ``OPTIONS`` answers the methods THIS caller may use (QGIS enables editing from them), while a path item
#: lists its methods for everyone: the writes may be missing from ``Allow`` where the caller may not write
#: (anonymous, or a read-only collection). Nothing else may differ, and an editor must get them all.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: A create answers its feature only when asked (``Prefer: return=representation``); OpenAPI 3.0 cannot make
#: a body depend on a request header, so the documented body may be missing from a 200 or 201 without it.
BODY_ON_REQUEST = frozenset({"createFeature"})
#: OGC API Features: a ``limit`` above the documented maximum is not an error; the page is clamped to it.
CLAMPED = {"getFeatures": "limit"}


def config(examples: int = EXAMPLES, **extra: Any) -> schemathesis.Config:
    return schemathesis.Config.from_dict({"seed": SEED, "generation": {"max-examples": examples}, **extra})


def keep_failure(
    context: HookContext, failure: Failure, case: schemathesis.Case, response: schemathesis.Response
) -> bool:
    """Every failure counts, except answers the document cannot predict (see above) and refusals of requests
    that schemathesis sent as valid although the document does not allow them."""
    operation = case.operation.definition.raw
    operation_id = operation.get("operationId", "")
    doc = case.operation.schema.raw_schema
    if isinstance(failure, AcceptedNegativeData) and operation_id in CLAMPED:
        return f"parameter `{CLAMPED[operation_id]}`" not in failure.message
    if isinstance(failure, AcceptedNegativeData) and response.status_code == 412:
        # Refused, not accepted: preconditions are evaluated before the content is processed (RFC 9110
        # 13.2.1), so an If-Match that cannot hold (``*`` on a feature the pass deleted) answers 412 whatever
        # the body holds. Only where the document lists that refusal, naming If-Match.
        return not listed(UNSTATED_REFUSALS.get(operation_id, {}).get(412, ()), problem_parameter(response))
    if isinstance(failure, AllowHeaderMismatch):
        return not may_not_write(failure, case, response, doc)
    if isinstance(failure, MissingContentType | MalformedJson) and operation_id in BODY_ON_REQUEST:
        return bool(response.content) or "return=representation" in str(case.headers or {})
    if not isinstance(failure, RejectedPositiveData):
        return True
    if outside_document(doc, operation, case.path_parameters or {}):
        return False  # the stateful phase fills path parameters from earlier answers (a read-only collection)
    parameter = problem_parameter(response)
    if listed(UNSTATED_REFUSALS.get(operation_id, {}).get(response.status_code, ()), parameter):
        return False
    if response.status_code != 400:
        return True
    if listed(UNSTATED_RULES.get(operation_id, ()), parameter):
        return False
    if any(map(unstorable, leaves([case.path_parameters, case.query, case.body]))):
        return False  # PostgreSQL holds neither U+0000 in text nor subnormal floats: a 400 wherever they appear
    sent = {**(case.path_parameters or {}), **(case.query or {}), **dict(case.headers or {})}
    schema = parameter_schema(doc, operation, parameter)
    return not (parameter in sent and schema is not None and violates(schema, sent[parameter]))


def listed(names: frozenset[str] | set[str] | tuple[()], parameter: str | None) -> bool:
    return parameter is not None and any(parameter == n or (n.endswith(".") and parameter.startswith(n)) for n in names)


def may_not_write(
    failure: AllowHeaderMismatch, case: schemathesis.Case, response: schemathesis.Response, doc: dict[str, Any]
) -> bool:
    if failure.undocumented_methods or not set(failure.missing_methods) <= WRITE_METHODS:
        return False
    anonymous = "authorization" not in {name.lower() for name in response.request.headers}
    return anonymous or (case.path_parameters or {}).get("collectionId") not in editable_collections(doc)


def editable_collections(doc: dict[str, Any]) -> list[str]:
    """The collections the document says may be written to (the ``collectionId`` of ``createFeature``)."""
    operation = doc["paths"]["/collections/{collectionId}/items"]["post"]
    enum: list[str] = parameter_schema(doc, operation, "collectionId")["enum"]  # type: ignore[index]
    return enum


def outside_document(doc: dict[str, Any], operation: dict[str, Any], path_parameters: dict[str, Any]) -> bool:
    """Whether a path parameter sent breaks its documented schema (the request was not valid after all)."""
    for name, value in path_parameters.items():
        schema = parameter_schema(doc, operation, name)
        if schema is not None and violates(schema, value):
            return True
    return False


def problem_parameter(response: schemathesis.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("parameter") if isinstance(body, dict) else None


def leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield from leaves(list(value))
        yield from leaves(list(value.values()))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def unstorable(value: Any) -> bool:
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value = float(value)
        except ValueError:
            return False
    return isinstance(value, float) and 0 < abs(value) < sys.float_info.min


def parameter_schema(doc: dict[str, Any], operation: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = doc["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        if parameter["name"] == name:
            schema: dict[str, Any] = parameter["schema"]
            return schema
    return None


def violates(schema: dict[str, Any], value: Any) -> bool:
    """Whether a sent parameter value breaks its documented schema (numbers arrive as text on the wire)."""
    kind = schema.get("type")
    if isinstance(value, str) and kind in ("integer", "number"):
        try:
            value = int(value) if kind == "integer" else float(value)
        except ValueError:
            return True
    return not Draft4Validator(schema).is_valid(value)


def run(schema: schemathesis.BaseSchema) -> tuple[list[str], EngineFinished, Counter[tuple[str, int]]]:
    """Run every phase on every operation: the failures as readable reports with a curl line each, and how
    often each operation answered each status."""
    reports: list[str] = []
    statuses: Counter[tuple[str, int]] = Counter()
    finished: EngineFinished | None = None
    for event in engine.from_schema(schema).execute():
        if isinstance(event, ScenarioFinished | FuzzScenarioFinished):
            reports.extend(f"[{getattr(event, 'phase', 'fuzz')}] {r}" for r in failure_reports(event.recorder))
            statuses.update(answered(event.recorder))
        elif isinstance(event, NonFatalError):
            reports.append(f"{event.label}: {event.info.title}\n{event.info.message}")
        elif isinstance(event, FatalError):
            raise event.exception
        elif isinstance(event, EngineFinished):
            finished = event
            reports.extend(f"{f.operation}: {f.title}\n{f.message}" for f in event.failures)
    assert finished is not None
    return reports, finished, statuses


def answered(recorder: ScenarioRecorder) -> Iterator[tuple[str, int]]:
    for case_id, interaction in recorder.interactions.items():
        if interaction.response is not None:
            operation_id = recorder.cases[case_id].value.operation.definition.raw.get("operationId", "")
            yield operation_id, interaction.response.status_code


def failure_reports(recorder: ScenarioRecorder) -> list[str]:
    out = []
    for nodes in recorder.checks.values():
        for node in nodes:
            if node.failure_info is not None:
                failure = node.failure_info.failure
                out.append(f"{failure.operation}: {failure.title}\n{failure.message}\n{node.failure_info.code_sample}")
    return out


def test_every_operation_keeps_its_documented_promises(hostile_server: str) -> None:
    few = {"include-operation-id": list(WRITES), "generation": {"max-examples": ANONYMOUS_WRITE_EXAMPLES}}
    schema = schemathesis.openapi.from_url(f"{hostile_server}/api", config=config(operations=[few]))
    schema.hook("filter_failure")(keep_failure)
    assert len(list(schema.get_all_operations())) >= 40
    reports, finished, statuses = run(schema)
    assert finished.stop_reason == StopReason.COMPLETED
    unique = sorted(set(reports))
    assert not unique, f"{len(unique)} failures:\n\n" + "\n\n".join(unique)
    assert all(status in (400, 401, 404, 405, 413, 415) for (op, status) in statuses if op in WRITES), statuses


def test_the_editing_operations_keep_their_promises_to_an_editor(
    hostile_server: str, editor: Account, editing_targets: EditingTargets, bundled: Engine
) -> None:
    auth = {"openapi": {"bearer": {"bearer": editor.key}}}
    stateless = {"stateful": {"enabled": False}}  # it would take ids from answers: features the pass did not make
    schema = schemathesis.openapi.from_url(
        f"{hostile_server}/api", config=config(EDITOR_EXAMPLES, auth=auth, phases=stateless)
    ).include(operation_id=[*EDITING, *SIGNED_IN])
    schema.hook("filter_failure")(keep_failure)
    schema.hook("map_case")(lambda context, case: editing_targets.aim(context, case))  # a function, not a method
    reports, finished, statuses = run(schema)
    assert finished.stop_reason == StopReason.COMPLETED
    unique = sorted(set(reports))
    assert not unique, f"{len(unique)} failures:\n\n" + "\n\n".join(unique)
    succeeded = {op for (op, status), count in statuses.items() if 200 <= status < 300 and count}
    assert {*WRITES, "getProposals", "getEditSession"} <= succeeded, sorted(statuses.items())
    assert not changed_features_not_made_by(bundled, editor.name)


def test_the_document_leaves_out_only_itself_its_page_and_the_static_files(migrated: Settings) -> None:
    app = create_app(migrated)
    documented = {(m.upper(), path) for path, item in app.openapi()["paths"].items() for m in item if m in METHODS}
    left_out = {(m, path) for m, path in routes(app) if (m, re.sub(r":\w+}", "}", path)) not in documented}
    assert left_out == UNDOCUMENTED
