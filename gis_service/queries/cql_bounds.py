"""How deep a CQL2 filter nests, measured without recursion before the ``cql2`` library parses it.

``cql2`` parses (Rust, pest) and converts (pyo3) recursively: input nested deeply enough overflows the
native stack and the process dies of SIGSEGV, which no ``except`` can catch. Measured with cql2 0.6 on an
8 MiB stack, in the levels :func:`nesting` and :func:`json_nesting` count (``python -m
tests.hostile.cql_crash`` measures again), it dies at 1,104 levels of ``(a OR (b AND …))``, 1,552
nested parentheses or arrays, 2,208 levels of parenthesised arithmetic, 3,104 nested function calls, 3,456
NOTs or unary minuses, 3,904 chained comparisons, 9,088 chained additions, 16,384 ANDs/ORs in a row, and
5,888 nested CQL2-JSON operators (orjson refuses JSON nested beyond 1,024 levels before that).

Python's stack runs out much sooner: the translation to SQLAlchemy and SQLAlchemy's compiler recurse
about a dozen frames per level of nested CASEI/ACCENTI and half as many per level of alternately nested
AND/OR, and a RecursionError under Python's limit of 1,000 frames is a 500. Measured through a real server
(uvicorn, items, CSV and tiles) the shallowest such failure is 84 levels of nested CASEI, then 131 of
``(a OR (b AND …))``, 167 of ``NOT (a OR NOT (b AND …))`` (``python -m tests.hostile.cql_crash`` prints
both thresholds from a shallow stack). So before the library sees a filter, it is scanned without
recursion for what makes the parser recurse, and refused above ``max_depth`` levels (64 by default,
never more than :data:`DEPTH_CEILING`) or :data:`MAX_LOGICAL` ANDs/ORs. Under these exact bounds every
construct parses, translates, compiles and runs in the request's own process
(``tests/hostile/test_cql_bounds.py`` sends the deepest allowed filter of each through a server
configured with the ceiling, and checks that bare cql2 survives 4x the ceiling).
"""

from __future__ import annotations

import re
from typing import Any

from gis_service.errors import InvalidFilter

#: Hard ceiling of the configurable depth: 20 levels under the shallowest RecursionError measured in a
#: request (84 nested CASEI), 17x under the shallowest crash of cql2 (1,104 levels of alternate OR/AND).
DEPTH_CEILING = 64
#: ANDs and ORs in one filter (16x below the crash of a flat chain); longer lists are what IN is for.
MAX_LOGICAL = 1_000

#: Tokens of CQL2 text, enough to follow nesting: strings and quoted identifiers are skipped whole (an
#: unterminated one runs to the end), so parentheses inside them do not count.
TOKEN = re.compile(
    r"""(?P<string>'(?:[^']|'')*'?)
      | (?P<quoted>"(?:[^"]|"")*"?)
      | (?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_:.]*)
      | (?P<open>[(\[])
      | (?P<close>[)\]])
      | (?P<comma>,)
      | (?P<op><>|<=|>=|!=|[-=<>+*/%^])
      | (?P<space>\s+)
      | (?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
LOGICAL_WORDS = frozenset({"AND", "OR"})
#: Words that build one more level over what follows or precedes them (NOT, comparisons, DIV).
NESTING_WORDS = frozenset({"NOT", "LIKE", "BETWEEN", "IN", "IS", "DIV"})


def nesting(text: str) -> tuple[int, int]:
    """(deepest nesting, ANDs and ORs) of CQL2 text, found without parsing or recursion.

    A parenthesis (of a group, a function call, a list or a geometry) opens a level; within it, every NOT,
    unary minus, comparison and arithmetic operator since the last AND, OR or comma nests one more (chains
    of them are parsed as nested trees); AND and OR chains are flat, counted apart."""
    bases, chains = [0], [0]
    deepest = logical = 0
    for match in TOKEN.finditer(text):
        kind, word = match.lastgroup, match.group().upper()
        if kind == "open":
            bases.append(bases[-1] + chains[-1] + 1)
            chains.append(0)
        elif kind == "close" and len(bases) > 1:
            bases.pop()
            chains.pop()
        elif kind == "comma" or (kind == "word" and word in LOGICAL_WORDS):
            logical += kind == "word"
            chains[-1] = 0
        elif kind == "op" or (kind == "word" and word in NESTING_WORDS):
            chains[-1] += 1
        deepest = max(deepest, bases[-1] + chains[-1])
    return deepest, logical


def json_nesting(value: Any) -> tuple[int, int]:
    """(deepest nesting, ANDs and ORs) of CQL2-JSON: every object and array is a level (an operator's
    ``args`` array belongs to its object), walked with an explicit stack. Refuses NUL in any string (a
    ``\\u0000`` escape), which PostgreSQL text cannot hold."""
    deepest = logical = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, str) and "\x00" in node:
            raise InvalidFilter("filter: NUL characters (\\u0000) are not allowed", parameter="filter")
        if isinstance(node, dict):
            pending.extend((key, depth) for key in node)
            deepest = max(deepest, depth)
            args = node.get("args")
            if node.get("op") in ("and", "or") and isinstance(args, list):
                logical += max(len(args) - 1, 0)
            for key, child in node.items():
                if key == "args" and isinstance(child, list):
                    pending.extend((item, depth + 1) for item in child)
                else:
                    pending.append((child, depth + 1))
        elif isinstance(node, list):
            deepest = max(deepest, depth)
            pending.extend((item, depth + 1) for item in node)
    return deepest, logical


def check_nesting(deepest: int, logical: int, max_depth: int) -> None:
    """Refuse a filter nested deeper than ``max_depth`` (at most :data:`DEPTH_CEILING`) or with more than
    :data:`MAX_LOGICAL` ANDs/ORs."""
    max_depth = min(max_depth, DEPTH_CEILING)
    if deepest > max_depth:
        raise InvalidFilter(
            f"filter nests {deepest} levels deep (parentheses, NOT, function calls, operators, arrays); "
            f"the limit is {max_depth}",
            parameter="filter",
        )
    if logical > MAX_LOGICAL:
        raise InvalidFilter(
            f"filter has {logical} AND/OR operators; the limit is {MAX_LOGICAL} (use IN for lists)",
            parameter="filter",
        )
