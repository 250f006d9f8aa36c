"""Schemathesis against the real service: every operation of ``/api``, every default check.

The service runs as a real server process (``hostile_server`` in ``conftest.py``: ``tests/serverproc.py``
on the test database with the bundled layers and rasters built, so the raster operations answer for real).
Schemathesis reads the document the server publishes and runs its phases on every operation (documented
examples, coverage of edges and invalid values, random fuzzing, chains of requests), then checks every
answer: no 5xx, status codes, media types, headers and bodies as documented, valid data accepted, invalid
data rejected, 405 with ``Allow`` for undocumented methods. Any failure fails the test with a curl line
that reproduces it.

The run is deterministic (``GIS_FUZZ_SEED``, fixed by default) and bounded: ``GIS_FUZZ_EXAMPLES`` random
examples per operation, 100 by default (about 2 minutes on 2 cores). A longer run, before a release::

    GIS_FUZZ_EXAMPLES=1000 GIS_FUZZ_SEED=$RANDOM .venv/bin/pytest tests/hostile/test_schemathesis.py
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import schemathesis
from jsonschema import Draft4Validator
from schemathesis import HookContext, engine
from schemathesis.core.failures import AcceptedNegativeData, Failure
from schemathesis.engine import StopReason
from schemathesis.engine.events import (
    EngineFinished,
    FatalError,
    FuzzScenarioFinished,
    NonFatalError,
    ScenarioFinished,
)
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.openapi.checks import RejectedPositiveData

EXAMPLES = int(os.environ.get("GIS_FUZZ_EXAMPLES", "100"))
SEED = int(os.environ.get("GIS_FUZZ_SEED", "20250701"))
#: Parameters whose rules OpenAPI 3.0 cannot state, by operation: a CQL2 filter's grammar, datetime
#: intervals, CRS names, the property names of each collection, one of two ways to give a reference (a
#: point or a feature), a posted geometry that must be valid and inside the region, an attribute that
#: depends on the collection, a colour map name, a ``min,max`` rescale. A request the document allows may
#: still be refused there, with a 400 that names the parameter; a refusal naming any other parameter, or
#: any other status, remains a failure.
TILE_OPERATIONS = ("getCollectionTileSet", "getCollectionTileJSON", "getCollectionTile", "getTileJSON", "getXYZTile")
TILE_FILTERS = frozenset({"filter", "filter-lang", "filter-crs", "datetime"})
UNSTATED_RULES: dict[str, frozenset[str] | set[str]] = {
    "getFeatures": {"filter", "filter-lang", "filter-crs", "datetime", "bbox", "bbox-crs", "crs", "properties"}
    | {"sortby", "f"},
    "getFeature": {"crs", "f", "featureId"},
    **dict.fromkeys(TILE_OPERATIONS, TILE_FILTERS),
    "getPlanningTileJSON": {"collections", "datetime"},
    "getPlanningTile": {"collections", "datetime"},
    "nearby": {"reference", "feature"},
    "nearbyGeometry": {"geometry"},
    "postRasterStatistics": {"body"},
    "areaStats": {"by", "date"},
    "getRasterTileJSON": {"colormap", "rescale"},
    "getRasterTile": {"colormap", "rescale"},
}
#: OGC API Features: a ``limit`` above the documented maximum is not an error; the page is clamped to it.
CLAMPED = {"getFeatures": "limit"}


def config() -> schemathesis.Config:
    return schemathesis.Config.from_dict({"seed": SEED, "generation": {"max-examples": EXAMPLES}})


def keep_failure(
    context: HookContext, failure: Failure, case: schemathesis.Case, response: schemathesis.Response
) -> bool:
    """Every failure counts, except answers the document cannot predict (see above) and refusals of requests
    that schemathesis sent as valid although the document does not allow them."""
    operation = case.operation.definition.raw
    operation_id = operation.get("operationId", "")
    if isinstance(failure, AcceptedNegativeData) and operation_id in CLAMPED:
        return f"parameter `{CLAMPED[operation_id]}`" not in failure.message
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 400:
        return True
    parameter = problem_parameter(response)
    if parameter in UNSTATED_RULES.get(operation_id, ()):
        return False
    if any(map(unstorable, leaves([case.path_parameters, case.query, case.body]))):
        return False  # PostgreSQL holds neither U+0000 in text nor subnormal floats: a 400 wherever they appear
    sent = {**(case.path_parameters or {}), **(case.query or {})}
    schema = parameter_schema(case.operation.schema.raw_schema, operation, parameter)
    return not (parameter in sent and schema is not None and violates(schema, sent[parameter]))


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


def run(schema: schemathesis.BaseSchema) -> tuple[list[str], EngineFinished]:
    """Run every phase on every operation; the failures as readable reports with a curl line each."""
    reports: list[str] = []
    finished: EngineFinished | None = None
    for event in engine.from_schema(schema).execute():
        if isinstance(event, ScenarioFinished | FuzzScenarioFinished):
            reports.extend(f"[{getattr(event, 'phase', 'fuzz')}] {r}" for r in failure_reports(event.recorder))
        elif isinstance(event, NonFatalError):
            reports.append(f"{event.label}: {event.info.title}\n{event.info.message}")
        elif isinstance(event, FatalError):
            raise event.exception
        elif isinstance(event, EngineFinished):
            finished = event
            reports.extend(f"{f.operation}: {f.title}\n{f.message}" for f in event.failures)
    assert finished is not None
    return reports, finished


def failure_reports(recorder: ScenarioRecorder) -> list[str]:
    out = []
    for nodes in recorder.checks.values():
        for node in nodes:
            if node.failure_info is not None:
                failure = node.failure_info.failure
                out.append(f"{failure.operation}: {failure.title}\n{failure.message}\n{node.failure_info.code_sample}")
    return out


def test_every_operation_keeps_its_documented_promises(hostile_server: str) -> None:
    schema = schemathesis.openapi.from_url(f"{hostile_server}/api", config=config())
    schema.hook("filter_failure")(keep_failure)
    assert len(list(schema.get_all_operations())) >= 40
    reports, finished = run(schema)
    assert finished.stop_reason == StopReason.COMPLETED
    unique = sorted(set(reports))
    assert not unique, f"{len(unique)} failures:\n\n" + "\n\n".join(unique)
