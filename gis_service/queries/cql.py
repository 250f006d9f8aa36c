"""CQL2 (text or JSON) -> a SQLAlchemy boolean expression with bound values only.

Parsing is done by the ``cql2`` library; both encodings are reduced to CQL2-JSON and translated here.
Property names are checked against the collection's queryables and every value against its property's
type, so a filter the database could not run is a 400 here, never a database error. Before the library
sees a filter, its nesting is measured and bounded (:mod:`gis_service.queries.cql_bounds`): input nested
deeply enough crashes the library's native parser.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import cql2
import orjson
from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    String,
    Text,
    and_,
    between,
    func,
    literal,
    not_,
    null,
    or_,
    true,
)
from sqlalchemy.sql.expression import ColumnElement

from gis_service.catalog import LayerSpec
from gis_service.crs import inside_domain
from gis_service.errors import InvalidFilter, InvalidParameter
from gis_service.geojson import bare_geometry, check_geometry, points_of
from gis_service.literals import INT64, date_value, datetime_value, instant_value, shown
from gis_service.queries.cql_bounds import DEPTH_CEILING as DEPTH_CEILING  # re-exported: the bounds of parse()
from gis_service.queries.cql_bounds import MAX_LOGICAL as MAX_LOGICAL
from gis_service.queries.cql_bounds import check_nesting, json_nesting, nesting
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
#: Temporal operators on intervals [a0, a1] and [b0, b1] (an instant is an interval of one instant).
TEMPORAL: dict[str, Callable[[Expr, Expr, Expr, Expr], Expr]] = {
    "t_before": lambda a0, a1, b0, b1: a1 < b0,
    "t_after": lambda a0, a1, b0, b1: a0 > b1,
    "t_meets": lambda a0, a1, b0, b1: a1 == b0,
    "t_metby": lambda a0, a1, b0, b1: a0 == b1,
    "t_equals": lambda a0, a1, b0, b1: and_(a0 == b0, a1 == b1),
    "t_intersects": lambda a0, a1, b0, b1: and_(a0 <= b1, a1 >= b0),
    "t_disjoint": lambda a0, a1, b0, b1: or_(a1 < b0, a0 > b1),
    "t_during": lambda a0, a1, b0, b1: and_(a0 > b0, a1 < b1),
    "t_contains": lambda a0, a1, b0, b1: and_(a0 < b0, a1 > b1),
}
ARITY = {
    "not": 1,
    "isNull": 1,
    "like": 2,
    "between": 3,
    "in": 2,
    **dict.fromkeys([*COMPARISONS, *SPATIAL, *TEMPORAL], 2),
}
GEOMETRY_NAMES = ("geom", "geometry")
#: Type families of the catalogue's columns and of the literals built here (DateTime before Date).
KINDS: tuple[tuple[str, Any], ...] = (
    ("geometry", Geometry),
    ("boolean", Boolean),
    ("timestamp", DateTime),
    ("date", Date),
    ("string", String),
    ("number", (Integer, Float, Numeric)),
)
MAX_LITERAL_POSITIONS = 10_000


def parse(text: str, lang: str | None, *, max_chars: int, max_depth: int) -> dict[str, Any]:
    """Check size, nesting and characters, then parse with cql2 into CQL2-JSON."""
    if len(text) > max_chars:
        raise InvalidFilter(f"filter is {len(text)} characters; the limit is {max_chars}", parameter="filter")
    if "\x00" in text:
        raise InvalidFilter("filter: NUL characters (%00) are not allowed", parameter="filter")
    if lang is None:
        lang = "cql2-json" if text.lstrip().startswith("{") else "cql2-text"
    if lang not in ("cql2-text", "cql2-json"):
        raise InvalidFilter(f"filter-lang {shown(lang)} is not cql2-text or cql2-json", parameter="filter-lang")
    try:
        if lang == "cql2-json":
            value = orjson.loads(text)
            check_nesting(*json_nesting(value), max_depth)
            expr = cql2.Expr(value)
        else:
            check_nesting(*nesting(text), max_depth)
            expr = cql2.parse_text(text)
        ast: Any = expr.to_json()
    except InvalidFilter:
        raise
    except orjson.JSONDecodeError as exc:
        raise InvalidFilter(f"filter is not JSON: {exc}", parameter="filter") from exc
    except Exception as exc:  # cql2 raises ParseError, ValidationError and bare Exceptions (from pyo3)
        raise InvalidFilter(f"cannot parse the filter: {_first_line(exc)}", parameter="filter") from exc
    except BaseException as exc:  # a Rust panic arrives as pyo3's PanicException, a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        raise InvalidFilter("cannot parse the filter", parameter="filter") from None
    if not isinstance(ast, dict):
        raise InvalidFilter("the filter is not a boolean expression", parameter="filter")
    return ast


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines)[:300] or type(exc).__name__


def kind_of(expr: Expr) -> str:
    """The family of a SQL expression's type: number, string, boolean, date, timestamp or geometry."""
    sql_type = expr.type
    for kind, types in KINDS:
        if isinstance(sql_type, types):
            return kind
    return "unknown"


def family(kind: str | None) -> str | None:
    """Dates and timestamps compare with each other (PostgreSQL casts the date)."""
    return "time" if kind in ("date", "timestamp") else kind


class Translator:
    """Walks CQL2-JSON and builds SQL; literal geometries are in ``filter_srid``."""

    def __init__(self, spec: LayerSpec, filter_srid: int = 4326) -> None:
        self.spec = spec
        self.table = layer_table(spec)
        self.filter_srid = filter_srid

    def __call__(self, node: Any) -> Expr:
        if isinstance(node, bool):
            return true() if node else not_(true())
        if isinstance(node, dict) and "property" in node:
            column = self.column(node["property"])
            if kind_of(column) != "boolean":
                raise self.error(f"{shown(str(node['property']))} is not a boolean property; compare it")
            return column
        if not isinstance(node, dict) or not isinstance(node.get("op"), str):
            raise self.error("expected a predicate (a comparison, a spatial or temporal test, AND/OR/NOT)")
        op, args = node["op"], node.get("args")
        if not isinstance(args, list):
            raise self.error(f"{shown(op)} needs an args array")
        return self.predicate(op, args)

    @staticmethod
    def error(detail: str) -> InvalidFilter:
        return InvalidFilter(f"filter: {detail}", parameter="filter")

    def predicate(self, op: str, args: list[Any]) -> Expr:
        if op in ("and", "or"):
            if not args:
                raise self.error(f"{op.upper()} needs at least one argument")
            parts = [self(a) for a in args]
            return and_(*parts) if op == "and" else or_(*parts)
        if op in ARITY and len(args) != ARITY[op]:
            raise self.error(f"{op.upper()} takes {ARITY[op]} arguments, got {len(args)}")
        if op == "not":
            return not_(self(args[0]))
        if op in COMPARISONS:
            lhs, rhs = self.operands(args[0], args[1])
            return COMPARISONS[op](lhs, rhs)
        if op == "like":
            return self.like(args[0], args[1])
        if op == "between":
            subject = self.value(args[0])
            return between(subject, self.value(args[1], subject), self.value(args[2], subject))
        if op == "in":
            return self.member(args[0], args[1])
        if op == "isNull":
            return self.value(args[0], allow_geometry=True).is_(null())
        if op in SPATIAL:
            return getattr(func, SPATIAL[op])(self.geometry(args[0]), self.geometry(args[1]))
        if op in TEMPORAL:
            return self.temporal(op, args)
        raise self.error(f"operator {shown(op)} is not supported")

    def operands(self, a: Any, b: Any) -> tuple[Expr, Expr]:
        """Both sides of a comparison, a literal typed like the property on the other side."""
        if self.is_literal(a) and not self.is_literal(b):
            rhs = self.value(b)
            return self.value(a, rhs), rhs
        lhs = self.value(a)
        return lhs, self.value(b, lhs)

    @staticmethod
    def is_literal(node: Any) -> bool:
        return not isinstance(node, dict) or not ({"property", "op"} & node.keys())

    def like(self, subject_node: Any, pattern_node: Any) -> Expr:
        subject = self.value(subject_node)
        if kind_of(subject) != "string":
            raise self.error("LIKE applies to text properties")
        pattern = self.value(pattern_node, subject)
        text = pattern_node
        while isinstance(text, dict) and text.get("op") in ("casei", "accenti") and text.get("args"):
            text = text["args"][0]
        if isinstance(text, str) and (len(text) - len(text.rstrip("\\"))) % 2:
            raise self.error("a LIKE pattern must not end with a lone backslash (the escape character)")
        return subject.like(pattern)

    def member(self, subject_node: Any, values: Any) -> Expr:
        if not isinstance(values, list) or not values:
            raise self.error("IN needs a non-empty list of values")
        subject = self.value(subject_node)
        return subject.in_([self.value(v, subject) for v in values])

    def value(self, node: Any, like: Expr | None = None, *, allow_geometry: bool = False) -> Expr:
        if isinstance(node, dict):
            if "property" in node:
                column = self.column(node["property"])
                if kind_of(column) == "geometry" and not allow_geometry:
                    raise self.error(
                        f"{shown(str(node['property']))} is a geometry: test it with S_INTERSECTS, S_WITHIN, …"
                    )
                return self.checked(column, like)
            if node.get("op") in ("casei", "accenti"):
                return self.checked(self.text_function(node), like)
            if "date" in node or "timestamp" in node:
                return self.checked(self.instant_literal(node), like)
            if "type" in node or "bbox" in node:
                raise self.error("a geometry can only be an argument of a spatial operator (S_INTERSECTS, …)")
            raise self.error(f"unsupported value {_sample(node)}")
        if isinstance(node, list):
            raise self.error("a list is only allowed after IN")
        return self.typed_literal(node, like)

    def checked(self, expr: Expr, like: Expr | None) -> Expr:
        """Two sides of one comparison must be of one type family."""
        if like is not None and family(kind_of(like)) != family(kind_of(expr)):
            raise self.error(f"cannot compare a {kind_of(like)} with a {kind_of(expr)}")
        return expr

    def text_function(self, node: dict[str, Any]) -> Expr:
        args = node.get("args")
        if not isinstance(args, list) or len(args) != 1:
            raise self.error(f"{node['op'].upper()} takes one argument")
        inner = self.value(args[0])
        if kind_of(inner) != "string":
            raise self.error(f"{node['op'].upper()} applies to text")
        return func.lower(inner, type_=Text) if node["op"] == "casei" else func.gis_search_key(inner, type_=Text)

    def typed_literal(self, value: Any, like: Expr | None) -> Expr:
        """A literal typed like the other side: numbers for numbers, text for text, dates for dates."""
        kind = kind_of(like) if like is not None else None
        if isinstance(value, bool):
            if kind not in (None, "boolean"):
                raise self.error(f"cannot compare a {kind} with TRUE/FALSE")
            return literal(value, Boolean)
        if isinstance(value, int | float):
            if kind not in (None, "number"):
                raise self.error(f"cannot compare a {kind} with the number {value!r}")
            if not math.isfinite(value):
                raise self.error(f"the number {value!r} is not finite")
            if like is None or not isinstance(like.type, Integer):
                return literal(float(value), Float)
            if not INT64[0] <= value < INT64[1]:
                raise self.error(f"the number {value!r} is beyond the 64-bit integers of {shown(str(like))}")
            return literal(int(value), like.type) if float(value).is_integer() else literal(float(value), Float)
        if isinstance(value, str):
            return self.string_literal(value, kind)
        if value is None:
            raise self.error("use IS NULL to test for missing values")
        raise self.error(f"unsupported value {shown(repr(value))}")

    def string_literal(self, value: str, kind: str | None) -> Expr:
        if kind in (None, "string"):
            return literal(value, Text)
        if kind in ("date", "timestamp"):
            return _instant(value, kind)
        if kind == "boolean":
            raise self.error(f"a boolean property compares with TRUE or FALSE, not {shown(value)}")
        raise self.error(f"cannot compare a {kind} with the text {shown(value)}")

    def column(self, name: Any) -> Expr:
        if not isinstance(name, str):
            raise self.error("a property name must be a string")
        if name in GEOMETRY_NAMES or name == self.spec.geometry_column:
            return geom_col(self.spec)
        if name not in self.table.c or name not in self.spec.property_names:
            raise self.error(f"{shown(name)} is not a queryable of {self.spec.id}")
        return self.table.c[name]

    def geometry(self, node: Any) -> Expr:
        if isinstance(node, dict) and "property" in node:
            if node["property"] not in (*GEOMETRY_NAMES, self.spec.geometry_column):
                raise self.error(f"{shown(str(node['property']))} is not a geometry")
            return geom_col(self.spec)
        if isinstance(node, dict) and "bbox" in node:
            shape = self.envelope(node["bbox"])
        elif isinstance(node, dict) and "type" in node:
            shape = self.geometry_literal(node)
        else:
            raise self.error("expected a geometry or a geometry property")
        if self.filter_srid != 4326:
            shape = func.ST_Transform(shape, literal(4326))
        return shape

    def envelope(self, box: Any) -> Expr:
        if not isinstance(box, list) or len(box) not in (4, 6) or not all(self.is_number(v) for v in box):
            raise self.error("a BBOX takes 4 or 6 finite numbers")
        x1, y1, x2, y2 = box[:2] + box[3:5] if len(box) == 6 else box
        if x1 > x2 or y1 > y2:
            raise self.error("a BBOX is inverted: the lower corner comes first")
        self.check_domain([(x1, y1), (x2, y2), (x1, y2), (x2, y1)])
        return func.ST_MakeEnvelope(x1, y1, x2, y2, literal(self.filter_srid))

    def geometry_literal(self, node: dict[str, Any]) -> Expr:
        try:
            check_geometry(node, parameter="filter", max_vertices=MAX_LITERAL_POSITIONS)
        except InvalidParameter as exc:
            raise InvalidFilter(exc.detail, parameter="filter") from None
        self.check_domain(points_of(node))
        geojson = orjson.dumps(bare_geometry(node)).decode()
        return func.ST_SetSRID(func.ST_GeomFromGeoJSON(literal(geojson, Text)), literal(self.filter_srid))

    def check_domain(self, points: list[tuple[float, float]]) -> None:
        if inside_domain(self.filter_srid, points):
            return
        if self.filter_srid == 4326:
            raise self.error("a geometry is outside longitude/latitude range")
        raise self.error(f"a geometry reaches outside the domain of EPSG:{self.filter_srid}")

    @staticmethod
    def is_number(value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

    def instant_literal(self, node: dict[str, Any]) -> Expr:
        for kind in ("date", "timestamp"):
            if isinstance(node.get(kind), str):
                return _instant(node[kind], kind)
        raise self.error("DATE and TIMESTAMP take an RFC 3339 string")

    def interval_end(self, node: Any, open_end: dt.date) -> Expr:
        if node == "..":
            return literal(open_end, Date)
        if isinstance(node, str):
            return literal(instant_value(node, parameter="filter"))
        return self.value(node)

    def interval(self, node: Any) -> tuple[Expr, Expr]:
        if isinstance(node, dict) and "interval" in node:
            ends = node["interval"]
            if not isinstance(ends, list) or len(ends) != 2:
                raise self.error("an INTERVAL has a start and an end")
            return self.interval_end(ends[0], dt.date.min), self.interval_end(ends[1], dt.date.max)
        value = self.value(node)
        return value, value

    def temporal(self, op: str, args: list[Any]) -> Expr:
        (a0, a1), (b0, b1) = self.interval(args[0]), self.interval(args[1])
        if any(family(kind_of(end)) != "time" for end in (a0, a1, b0, b1)):
            raise self.error(f"{op.upper()} compares dates, timestamps or intervals of them")
        return TEMPORAL[op](a0, a1, b0, b1)


def _sample(node: dict[str, Any]) -> str:
    """The start of a value for an error message; a value nested past orjson's 255 levels is named by its
    operator (the message must not fail itself)."""
    try:
        return shown(orjson.dumps(node).decode(), 80)
    except orjson.JSONEncodeError:
        return f'{{"op": {shown(str(node.get("op")), 40)}, …}}'


def _instant(text: str, kind: str) -> Expr:
    """A DATE or TIMESTAMP literal from RFC 3339 text."""
    if kind == "date":
        return literal(date_value(text, parameter="filter"), Date)
    return literal(datetime_value(text, parameter="filter"), DateTime(timezone=True))


def to_sql(spec: LayerSpec, ast: dict[str, Any], filter_srid: int = 4326) -> Expr:
    return Translator(spec, filter_srid)(ast)
