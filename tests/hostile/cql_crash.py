"""The constructs that make cql2 recurse, built to an exact nesting depth, and where cql2 dies of them.

Each construct is built by ``build(depth)`` so that :func:`gis_service.queries.cql.nesting` (text) or
:func:`~gis_service.queries.cql.json_nesting` (JSON) of the result is exactly ``depth`` (for ``and_or``:
``depth`` ANDs/ORs). Everything that may crash runs in a child process (a stack overflow is SIGSEGV).

Run as a script to measure, for each construct, the depth at which cql2 itself crashes (its native stack)
and the depth at which cql2's parse, the translation to SQL and its compilation run out of Python's stack
(a RecursionError, measured from the script's shallow stack: a request starts deeper, so it fails sooner)::

    .venv/bin/python -m tests.hostile.cql_crash
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

COMPARISON = "planned_area_ha > 1"


def _not(depth: int) -> str:
    return "NOT " * (depth - 1) + COMPARISON


def _parentheses(depth: int) -> str:
    return "(" * (depth - 1) + COMPARISON + ")" * (depth - 1)


def _functions(depth: int) -> str:
    return "f(" * depth + "1" + ")" * depth + " = 1"


def _unary_minus(depth: int) -> str:
    return "planned_area_ha = " + "-" * (depth - 1) + "1"


def _arithmetic(depth: int) -> str:
    return "planned_area_ha = " + " + ".join(["1"] * depth)


def _comparisons(depth: int) -> str:
    return "planned_area_ha" + " = planned_area_ha" * depth


def _arrays(depth: int) -> str:
    return "A_CONTAINS(name, " + "(" * (depth - 1) + "'x'" + ")" * (depth - 1) + ")"


def _parenthesised_arithmetic(depth: int) -> str:
    """Two levels per parenthesis (the group and its operator); ``depth`` is odd."""
    levels = (depth - 1) // 2
    return "planned_area_ha = " + "(1 + " * levels + "1" + ")" * levels


def _casei(depth: int) -> str:
    return "CASEI(" * depth + "name" + ")" * depth + " = 'x'"


def _casei_accenti(depth: int) -> str:
    """CASEI and ACCENTI alternating (nothing to collapse), in a LIKE."""
    calls = "".join("CASEI(" if level % 2 else "ACCENTI(" for level in range(depth))
    return calls + "name" + ")" * depth + " LIKE 'x%'"


def _or_and(depth: int) -> str:
    """OR and AND nested alternately, so no list of them flattens: ``(a OR (b AND (c OR …)))``."""
    groups = "".join("(code='A' OR " if level % 2 == 0 else "(code='A' AND " for level in range(depth - 1))
    return groups + COMPARISON + ")" * (depth - 1)


def _not_or_and(depth: int) -> str:
    """``NOT (a OR NOT (b AND …))``: two levels per group."""
    levels = (depth - 1) // 2
    groups = "".join("NOT (code='A' OR " if level % 2 == 0 else "NOT (code='A' AND " for level in range(levels))
    inner = COMPARISON if depth % 2 else "NOT " + COMPARISON
    return groups + inner + ")" * levels


def _and_or(count: int) -> str:
    return " AND ".join(["code='A'"] * (count + 1))


def _json_not(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"op": ">", "args": [{"property": "planned_area_ha"}, 1]}
    for _ in range(depth - 2):
        node = {"op": "not", "args": [node]}
    return node


def _json_functions(depth: int) -> dict[str, Any]:
    node: Any = 1
    for _ in range(depth - 1):
        node = {"op": "f", "args": [node]}
    return {"op": "=", "args": [node, 1]}


def _json_arrays(depth: int) -> dict[str, Any]:
    node: Any = "x"
    for _ in range(depth - 1):
        node = [node]
    return {"op": "a_contains", "args": [{"property": "name"}, node]}


def _json_objects(depth: int) -> dict[str, Any]:
    node: Any = 1
    for _ in range(depth - 1):
        node = {"x": node}
    return {"op": "=", "args": [{"property": "name"}, node]}


def _json_comparisons(depth: int) -> dict[str, Any]:
    node: Any = {"property": "planned_area_ha"}
    for _ in range(depth - 1):
        node = {"op": "=", "args": [node, 1]}
    return node


def _json_casei(depth: int) -> dict[str, Any]:
    node: Any = {"property": "name"}
    for level in range(depth - 2):
        node = {"op": "casei" if level % 2 else "accenti", "args": [node]}
    return {"op": "=", "args": [node, "x"]}


def _json_not_or_and(depth: int) -> dict[str, Any]:
    """NOT, AND and OR nested alternately: two levels per NOT over AND or OR."""
    node: dict[str, Any] = {"op": ">", "args": [{"property": "planned_area_ha"}, 1]}
    if depth % 2:
        node = {"op": "not", "args": [node]}
    for level in range((depth - 2 - depth % 2) // 2):
        operand = {"op": "=", "args": [{"property": "code"}, "A"]}
        node = {"op": "not", "args": [{"op": "or" if level % 2 else "and", "args": [operand, node]}]}
    return node


def _json_and_or(count: int) -> dict[str, Any]:
    return {"op": "or", "args": [{"op": ">", "args": [{"property": "planned_area_ha"}, i]} for i in range(count + 1)]}


@dataclass(frozen=True)
class Construct:
    name: str
    lang: str  # cql2-text or cql2-json
    build: Callable[[int], Any]
    #: What the bound counts: nesting depth, or ANDs/ORs.
    counts: str = "depth"

    @classmethod
    def of(cls, build: Callable[[int], Any]) -> Construct:
        """Named after its builder; ``_json_…`` builders make CQL2 JSON, the others text."""
        name = build.__name__.removeprefix("_")
        lang = "cql2-json" if name.startswith("json_") else "cql2-text"
        return cls(name, lang, build, "logical" if name.endswith("and_or") else "depth")

    def text(self, size: int) -> str:
        value = self.build(size)
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


TEXT_BUILDERS = [
    *(_not, _parentheses, _functions, _unary_minus, _arithmetic, _comparisons, _arrays),
    *(_casei, _casei_accenti, _or_and, _not_or_and, _and_or),
]
JSON_BUILDERS = [
    *(_json_not, _json_functions, _json_arrays, _json_objects, _json_comparisons),
    *(_json_casei, _json_not_or_and, _json_and_or),
]
CONSTRUCTS = [Construct.of(build) for build in TEXT_BUILDERS + JSON_BUILDERS]
#: Only for the margin and the measurement (its depth moves in steps of two).
PARENTHESISED_ARITHMETIC = Construct.of(_parenthesised_arithmetic)
BY_NAME = {c.name: c for c in [*CONSTRUCTS, PARENTHESISED_ARITHMETIC]}

#: Parses with cql2 alone (no guard): the JSON constructs from Python objects, past orjson's own limit.
RAW_PARSE = """
import json, sys
import cql2
from tests.hostile.cql_crash import BY_NAME
for name, size in json.loads(sys.argv[1]):
    print(name, size, flush=True)
    value = BY_NAME[name].build(size)
    try:
        (cql2.parse_text(value) if isinstance(value, str) else cql2.Expr(value)).to_json()
    except Exception:
        pass
print("survived", flush=True)
"""


def survives(jobs: list[tuple[str, int]], *, cwd: str) -> tuple[bool, str]:
    """Parse every (construct, size) with bare cql2 in one child; (whether it lived, its last words)."""
    child = subprocess.run(
        [sys.executable, "-c", RAW_PARSE, json.dumps(jobs)], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    lines = child.stdout.strip().splitlines()
    return child.returncode == 0 and lines[-1:] == ["survived"], (lines[-1] if lines else child.stderr[-300:])


def crash_threshold(construct: Construct, *, cwd: str, high: int = 1 << 16) -> int | None:
    """The smallest size (within 2 %) at which bare cql2 dies, or None if it survives ``high``."""
    if survives([(construct.name, high)], cwd=cwd)[0]:
        return None
    low = 1
    while high - low > max(1, low // 50):
        middle = (low + high) // 2
        if survives([(construct.name, middle)], cwd=cwd)[0]:
            low = middle
        else:
            high = middle
    return high


def translates(construct: Construct, size: int) -> bool:
    """Whether cql2's parse, the translation to SQL and its compilation get through ``size`` without failing
    (a RecursionError: Python's stack, not the native one), from this shallow stack; refusals count as through."""
    import cql2
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql

    from gis_service.catalog import Catalog
    from gis_service.errors import GisServiceError
    from gis_service.queries import cql
    from gis_service.settings import PROJECT_ROOT

    spec = Catalog.from_dir(PROJECT_ROOT / "layers").get("industrial_parks")
    value = construct.build(size)
    try:
        ast = (cql2.parse_text(value) if isinstance(value, str) else cql2.Expr(value)).to_json()
    except Exception:  # cql2 refuses with bare Exceptions
        return True
    try:
        select(cql.to_sql(spec, ast)).compile(dialect=postgresql.dialect())
    except GisServiceError:  # a refusal (400), not a failure
        return True
    except Exception:  # RecursionError, or anything else that would be a 500
        return False
    return True


def recursion_threshold(construct: Construct, *, high: int = 1024) -> int | None:
    """The smallest size (exact) at which translate + compile fails (Python's stack exhausted, or another
    error than a refusal), or None."""
    if translates(construct, high):
        return None
    low = 1
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if translates(construct, middle) else (low, middle)
    return high


if __name__ == "__main__":
    from gis_service.settings import PROJECT_ROOT

    for item in [*CONSTRUCTS, PARENTHESISED_ARITHMETIC]:
        native = crash_threshold(item, cwd=str(PROJECT_ROOT))
        python = recursion_threshold(item) if item.counts == "depth" else None
        print(f"{item.name:20} cql2 crashes at {native}, Python's stack runs out at {python} ({item.counts})")
