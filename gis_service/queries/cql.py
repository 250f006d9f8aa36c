"""CQL2 (text or JSON) -> a SQLAlchemy boolean expression with bound values only.

Parsing is done by the ``cql2`` library; both encodings are reduced to CQL2-JSON and translated here.
Property names are checked against the collection's queryables. Size and nesting are limited *before*
parsing: a deeply nested filter can overflow a recursive parser's stack and take the whole process down.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import cql2
import orjson
from sqlalchemy import Integer, and_, between, func, literal, not_, null, or_, true
from sqlalchemy.sql.expression import ColumnElement

from gis_service.catalog import LayerSpec
from gis_service.errors import InvalidFilter
from gis_service.queries.tables import geom_col, layer_table

Expr = ColumnElement[Any]
COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
SPATIAL = {
    "s_intersects": "ST_Intersects",
    "s_equals": "ST_Equals",
    "s_disjoint": "ST_Disjoint",
    "s_touches": "ST_Touches",
    "s_within": "ST_Within",
    "s_overlaps": "ST_Overlaps",
    "s_crosses": "ST_Crosses",
    "s_contains": "ST_Contains",
}
GEOMETRY_NAMES = ("geom", "geometry")


def nesting_depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


def parse(text: str, lang: str | None, *, max_chars: int, max_depth: int) -> dict[str, Any]:
    """Check size and depth, then parse with cql2 into CQL2-JSON."""
    if len(text) > max_chars:
        raise InvalidFilter(f"filter is {len(text)} characters; the limit is {max_chars}", parameter="filter")
    if nesting_depth(text) > max_depth:
        raise InvalidFilter(f"filter nests deeper than {max_depth} levels", parameter="filter")
    lang = lang or ("cql2-json" if text.lstrip().startswith("{") else "cql2-text")
    try:
        if lang == "cql2-json":
            expr = cql2.Expr(orjson.loads(text))
        elif lang == "cql2-text":
            expr = cql2.parse_text(text)
        else:
            raise InvalidFilter(f"filter-lang {lang!r} is not cql2-text or cql2-json", parameter="filter-lang")
        ast: dict[str, Any] = expr.to_json()
    except (ValueError, cql2.ParseError, cql2.ValidationError, orjson.JSONDecodeError) as exc:
        raise InvalidFilter(f"cannot parse the filter: {exc}", parameter="filter") from exc
    if not isinstance(ast, dict):
        raise InvalidFilter("the filter is not a boolean expression", parameter="filter")
    return ast


class Translator:
    """Walks CQL2-JSON and builds SQL; literal geometries are in ``filter_srid``."""

    def __init__(self, spec: LayerSpec, filter_srid: int = 4326) -> None:
        self.spec = spec
        self.table = layer_table(spec)
        self.filter_srid = filter_srid

    def __call__(self, node: Any) -> Expr:
        if isinstance(node, bool):
            return true() if node else not_(true())
        if not isinstance(node, dict) or "op" not in node:
            raise InvalidFilter("expected a predicate in the filter", parameter="filter")
        return self.predicate(node["op"], node.get("args", []))

    def predicate(self, op: str, args: list[Any]) -> Expr:
        if op in ("and", "or"):
            parts = [self(a) for a in args]
            return and_(*parts) if op == "and" else or_(*parts)
        if op == "not":
            return not_(self(args[0]))
        if op in COMPARISONS:
            lhs, rhs = self.operands(args[0], args[1])
            return COMPARISONS[op](lhs, rhs)
        if op == "like":
            return self.value(args[0]).like(self.value(args[1]))
        if op == "between":
            subject = self.value(args[0])
            return between(subject, self.value(args[1], subject), self.value(args[2], subject))
        if op == "in":
            subject = self.value(args[0])
            return subject.in_([self.value(v, subject) for v in args[1]])
        if op == "isNull":
            return self.value(args[0]).is_(null())
        if op in SPATIAL:
            return getattr(func, SPATIAL[op])(self.geometry(args[0]), self.geometry(args[1]))
        if op.startswith("t_"):
            return self.temporal(op, args)
        raise InvalidFilter(f"operator {op!r} is not supported", parameter="filter")

    def operands(self, a: Any, b: Any) -> tuple[Expr, Expr]:
        lhs = self.value(a)
        return lhs, self.value(b, lhs)

    def value(self, node: Any, like: Expr | None = None) -> Expr:
        if isinstance(node, dict):
            if "property" in node:
                return self.column(node["property"])
            if node.get("op") in ("casei", "accenti"):
                inner = self.value(node["args"][0])
                return func.lower(inner) if node["op"] == "casei" else func.gis_search_key(inner)
            if "date" in node or "timestamp" in node:
                return literal(self.instant(node))
            raise InvalidFilter(f"unsupported value {orjson.dumps(node).decode()[:80]}", parameter="filter")
        if isinstance(node, list):
            raise InvalidFilter("a list is only allowed after IN", parameter="filter")
        return self.typed_literal(node, like)

    def typed_literal(self, value: Any, like: Expr | None) -> Expr:
        kind = like.type.python_type if like is not None and hasattr(like.type, "python_type") else None
        try:
            if kind is int and not isinstance(value, bool):
                if float(value) != int(float(value)):
                    return literal(float(value))
                return literal(int(float(value)), Integer)
            if kind is float and not isinstance(value, bool):
                return literal(float(value))
            if kind is str:
                return literal(str(value))
            if kind is dt.date and isinstance(value, str):
                return literal(dt.date.fromisoformat(value[:10]))
        except (TypeError, ValueError) as exc:
            raise InvalidFilter(f"{value!r} does not fit the property's type", parameter="filter") from exc
        return literal(value)

    def column(self, name: str) -> Expr:
        if name in GEOMETRY_NAMES or name == self.spec.geometry_column:
            return geom_col(self.spec)
        if name not in self.table.c or name not in self.spec.property_names:
            raise InvalidFilter(f"{name!r} is not a queryable of {self.spec.id}", parameter="filter")
        return self.table.c[name]

    def geometry(self, node: Any) -> Expr:
        if isinstance(node, dict) and "property" in node:
            if node["property"] not in (*GEOMETRY_NAMES, self.spec.geometry_column):
                raise InvalidFilter(f"{node['property']!r} is not a geometry", parameter="filter")
            return geom_col(self.spec)
        if isinstance(node, dict) and "bbox" in node:
            x1, y1, x2, y2 = node["bbox"][:2] + node["bbox"][-2:] if len(node["bbox"]) == 6 else node["bbox"]
            shape = func.ST_MakeEnvelope(x1, y1, x2, y2, literal(self.filter_srid, Integer))
        elif isinstance(node, dict) and "type" in node:
            geojson = orjson.dumps(node).decode()
            shape = func.ST_SetSRID(func.ST_GeomFromGeoJSON(literal(geojson)), literal(self.filter_srid, Integer))
        else:
            raise InvalidFilter("expected a geometry or a geometry property", parameter="filter")
        if self.filter_srid != 4326:
            shape = func.ST_Transform(shape, literal(4326, Integer))
        return shape

    @staticmethod
    def instant(node: dict[str, Any]) -> dt.date | dt.datetime:
        try:
            if "date" in node:
                return dt.date.fromisoformat(node["date"])
            return dt.datetime.fromisoformat(node["timestamp"].replace("Z", "+00:00"))
        except (TypeError, ValueError) as exc:
            raise InvalidFilter(f"bad instant {node}", parameter="filter") from exc

    def interval(self, node: Any) -> tuple[Expr, Expr]:
        if isinstance(node, dict) and "interval" in node:
            start, end = node["interval"]
            low = literal(self.instant(start)) if isinstance(start, dict) else literal(dt.date.min)
            high = literal(self.instant(end)) if isinstance(end, dict) else literal(dt.date.max)
            return low, high
        value = self.value(node)
        return value, value

    def temporal(self, op: str, args: list[Any]) -> Expr:
        (a0, a1), (b0, b1) = self.interval(args[0]), self.interval(args[1])
        rules = {
            "t_before": lambda: a1 < b0,
            "t_after": lambda: a0 > b1,
            "t_meets": lambda: a1 == b0,
            "t_metby": lambda: a0 == b1,
            "t_equals": lambda: and_(a0 == b0, a1 == b1),
            "t_intersects": lambda: and_(a0 <= b1, a1 >= b0),
            "t_disjoint": lambda: or_(a1 < b0, a0 > b1),
            "t_during": lambda: and_(a0 > b0, a1 < b1),
            "t_contains": lambda: and_(a0 < b0, a1 > b1),
        }
        if op not in rules:
            raise InvalidFilter(f"temporal operator {op!r} is not supported", parameter="filter")
        return rules[op]()


def to_sql(spec: LayerSpec, ast: dict[str, Any], filter_srid: int = 4326) -> Expr:
    return Translator(spec, filter_srid)(ast)
