"""The CQL2 nesting bounds: just under them a filter parses, just over it is a 400, nothing kills the server.

cql2 (Rust) dies of SIGSEGV on input nested deeply enough (``tests/hostile/cql_crash.py`` measures where);
``gis_service.queries.cql`` refuses such input before the library sees it. Every parse that could crash
runs in a child process, so a guard that fails shows up as a failed test, not a dead test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import quote

import cql2
import pytest

from gis_service.catalog import Catalog
from gis_service.errors import InvalidFilter
from gis_service.queries import cql
from gis_service.queries.cql import DEPTH_CEILING, MAX_LOGICAL
from gis_service.queries.cql_bounds import json_nesting, nesting
from gis_service.settings import PROJECT_ROOT, FeatureSettings, Settings
from tests.hostile.cql_crash import BY_NAME, CONSTRUCTS, PARENTHESISED_ARITHMETIC, Construct, survives
from tests.hostile.rawhttp import RawClient
from tests.serverproc import server_process

DEFAULT_DEPTH = FeatureSettings().max_filter_depth
MAX_CHARS = FeatureSettings().max_filter_chars
PARKS_ITEMS = "/collections/industrial_parks/items"
#: Every path a filter takes: features as GeoJSON and as CSV (a download query), and a vector tile.
PARKS_TILE = "/collections/industrial_parks/tiles/WebMercatorQuad/10/812/483"
FILTERED_TARGETS = (PARKS_ITEMS, f"{PARKS_ITEMS}?f=csv", PARKS_TILE)
#: Child: the guarded parse of each construct just under and just over each bound, one JSON line each.
GUARDED_PARSE = """
import json, sys
from gis_service.errors import InvalidFilter
from gis_service.queries import cql
from tests.hostile.cql_crash import BY_NAME
for name, max_depth, size in json.loads(sys.argv[1]):
    construct = BY_NAME[name]
    print(json.dumps({"start": [name, max_depth, size]}), flush=True)
    try:
        cql.parse(construct.text(size), construct.lang, max_chars=10**7, max_depth=max_depth)
        outcome = "parsed"
    except InvalidFilter as exc:
        outcome = exc.detail
    print(json.dumps({"name": name, "max_depth": max_depth, "size": size, "outcome": outcome}), flush=True)
"""


def bound(construct_counts: str, max_depth: int) -> int:
    return max_depth if construct_counts == "depth" else MAX_LOGICAL


def refused_for_size(outcome: str) -> bool:
    return "levels deep" in outcome or "AND/OR operators" in outcome


def test_just_under_the_bound_parses_and_just_over_is_refused_in_a_child_process() -> None:
    jobs = []
    for construct in CONSTRUCTS:
        for max_depth in (DEFAULT_DEPTH, DEPTH_CEILING):
            limit = bound(construct.counts, max_depth)
            jobs += [(construct.name, max_depth, limit), (construct.name, max_depth, limit + 1)]
    child = subprocess.run(
        [sys.executable, "-c", GUARDED_PARSE, json.dumps(jobs)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [json.loads(line) for line in child.stdout.splitlines()]
    assert child.returncode == 0, f"the guarded parse died ({child.returncode}) at {lines[-1:]}: {child.stderr[-500:]}"
    results = [line for line in lines if "outcome" in line]
    assert len(results) == len(jobs)
    wrong = []
    for result in results:
        limit = bound(next(c.counts for c in CONSTRUCTS if c.name == result["name"]), result["max_depth"])
        over = result["size"] > limit
        if over != refused_for_size(result["outcome"]):
            wrong.append(f"{result['name']} at {result['size']} (bound {limit}): {result['outcome']}")
    assert not wrong, "\n".join(wrong)
    # under the bound the valid constructs really parse (the rest fail for what they are, not for their size)
    parsed = {r["name"] for r in results if r["outcome"] == "parsed" and r["max_depth"] == DEFAULT_DEPTH}
    assert {"not", "parentheses", "unary_minus", "and_or", "json_not", "json_and_or"} <= parsed, parsed


def test_bare_cql2_survives_four_times_the_ceiling_so_the_bounds_are_well_below_the_crash() -> None:
    jobs = [(c.name, 4 * bound(c.counts, DEPTH_CEILING)) for c in CONSTRUCTS]
    jobs.append((PARENTHESISED_ARITHMETIC.name, 4 * DEPTH_CEILING - 1))
    alive, last = survives(jobs, cwd=str(PROJECT_ROOT))
    assert alive, f"cql2 died at {last}: the bounds in gis_service/queries/cql.py are too close to the crash"


def measured(construct: Construct, size: int) -> int:
    """What the guard counts of the construct built to ``size``: its nesting, or its ANDs/ORs."""
    text = construct.text(size)
    counted = nesting(text) if construct.lang == "cql2-text" else json_nesting(json.loads(text))
    return counted[0] if construct.counts == "depth" else counted[1]


def test_each_construct_is_built_to_exactly_the_size_the_guard_counts() -> None:
    sizes = (3, 4, 17, DEPTH_CEILING)
    wrong = [(c.name, size, measured(c, size)) for c in CONSTRUCTS for size in sizes if measured(c, size) != size]
    assert not wrong


def test_the_deepest_filter_allowed_under_the_ceiling_is_answered_on_every_path(
    migrated: Settings, bundled: object
) -> None:
    """With the depth limit set to its ceiling, the deepest filter of each construct runs through parsing,
    translation, SQL compilation and the database on items, CSV and tiles: answered, never a 500 (nested
    CASEI and alternately nested AND/OR used to run out of Python's stack here)."""
    env = {"GIS_FEATURES__MAX_FILTER_DEPTH": str(DEPTH_CEILING)}
    failures = []
    with server_process(migrated.dsn, env=env) as server, RawClient(server.base) as raw:
        for construct in CONSTRUCTS:
            limit = bound(construct.counts, DEPTH_CEILING)
            if len(construct.text(limit)) > MAX_CHARS:
                continue  # over the size limit before its nesting counts (json_and_or)
            for target in FILTERED_TARGETS:
                separator = "&" if "?" in target else "?"
                for size in (limit, limit + 1):
                    query = f"filter-lang={construct.lang}&filter={_quote(construct.text(size))}"
                    answer = raw.get(f"{target}{separator}{query}", headers={"Accept": "application/json"})
                    detail = answer.json().get("detail", "") if answer.media_type.endswith("json") else ""
                    if answer.status >= 500 or refused_for_size(str(detail)) != (size > limit):
                        failures.append(f"{construct.name} at {size} on {target}: {answer.status} {detail[:200]}")
        assert raw.get("/health").status == 200
    assert not failures, "\n".join(failures)


def test_an_unsupported_value_nested_past_the_serialiser_is_refused_not_a_server_error() -> None:
    """The refusal of an unsupported value quotes it; nested past orjson's 255 levels, quoting it failed
    (TypeError: a 500 had the depth limit allowed it). The translator alone, without the guard."""
    spec = Catalog.from_dir(PROJECT_ROOT / "layers").get("industrial_parks")
    for name in ("functions", "json_functions", "comparisons", "json_comparisons"):
        value = BY_NAME[name].build(300)
        ast = (cql2.parse_text(value) if isinstance(value, str) else cql2.Expr(value)).to_json()
        with pytest.raises(InvalidFilter):
            cql.to_sql(spec, ast)


@pytest.mark.parametrize("configured", [DEPTH_CEILING + 1, 256])
def test_a_depth_limit_over_the_ceiling_is_refused_by_the_settings(configured: int) -> None:
    with pytest.raises(ValueError, match="max_filter_depth"):
        FeatureSettings(max_filter_depth=configured)


def test_the_server_refuses_over_the_bound_answers_under_it_and_survives(raw: RawClient) -> None:
    failures = []
    for construct in CONSTRUCTS:
        limit = bound(construct.counts, DEFAULT_DEPTH)
        if len(construct.text(limit)) > MAX_CHARS:
            continue  # over the size limit before its nesting counts (json_and_or): the child test covers it
        for size in (limit, limit + 1):
            target = f"{PARKS_ITEMS}?filter-lang={construct.lang}&filter={_quote(construct.text(size))}"
            answer = raw.get(target, headers={"Accept": "application/json"})
            detail = answer.json().get("detail", "") if answer.media_type.endswith("json") else answer.text()
            over = size > limit
            if answer.status >= 500 or (over and (answer.status != 400 or not refused_for_size(detail))):
                failures.append(f"{construct.name} at {size}: {answer.status} {detail[:200]}")
            elif not over and refused_for_size(str(detail)):
                failures.append(f"{construct.name} at {size} was refused for its size: {detail[:200]}")
    # the probe that found the crash: 4,500 NOTs, 18 kB, under the size limit
    answer = raw.get(f"{PARKS_ITEMS}?filter={_quote('NOT ' * 4500 + 'planned_area_ha > 1')}")
    if answer.status != 400 or not refused_for_size(answer.json()["detail"]):
        failures.append(f"4,500 NOTs: {answer.status} {answer.text()[:200]}")
    health = raw.get("/health")
    assert health.status == 200, f"the server is down after the deep filters: {health.status} {health.text()[:300]}"
    assert not failures, "\n".join(failures)


def _quote(text: str) -> str:
    return quote(text, safe="")
