"""The pieces the bad-input tables are made of: :class:`Case` and its builders, and the payloads (bad numbers,
dates, bounding boxes, CRSs, CQL2 in text and JSON, geometries, bodies) the families of ``cases.py`` and
``edit_cases.py`` send to every endpoint.

Targets are written as raw request-target bytes (``%00``, ``%FF``, lone ``%`` arrive as sent).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

PARKS = "/collections/industrial_parks"
UNITS = "/collections/admin_units"
RASTER = "/rasters/population_density"
IN_REGION = (106.7266, 10.9312)
NEARBY_500 = "/analysis/nearby?collection=industrial_parks&distance_m=500"


@dataclass(frozen=True)
class Case:
    family: str
    name: str
    method: str
    target: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Names the problem's ``parameter`` may carry (None: not checked, e.g. a 404 of a path).
    params: frozenset[str] | None = None
    #: The status the answer must have (None: any 4xx).
    status: int | None = None

    @property
    def label(self) -> str:
        return f"{self.family}/{self.name}"


def q(value: str) -> str:
    """Percent-encode a value for a query string, keeping escapes already written (``%00``, ``%FF``)."""
    return quote(value, safe="%")


def get(family: str, name: str, target: str, *params: str) -> Case:
    return Case(family, name, "GET", target, params=frozenset(params) if params else None)


def post(family: str, name: str, target: str, body: Any, *params: str, raw: bool = False) -> Case:
    data = body if raw else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    return Case(family, name, "POST", target, data, headers, frozenset(params) if params else None)


def gets(family: str, rows: dict[str, str | tuple[str, str]], prefix: str = "") -> Iterable[Case]:
    """GETs by name: a target, or (a target, the parameter its problem must name)."""
    for name, row in rows.items():
        target, *params = (row,) if isinstance(row, str) else row
        yield get(family, prefix + name, target, *params)


# ---- payloads ---------------------------------------------------------------------------------------

#: Not numbers, or numbers no parser here may accept.
BAD_NUMBERS = {
    "underscore": "1_06",
    "arabic_indic": "%D9%A1%D9%A2",
    "fullwidth": "%EF%BC%91%EF%BC%92",
    "devanagari": "%E0%A5%A7",
    "hex": "0x10",
    "inf": "inf",
    "neg_inf": "-Infinity",
    "nan": "nan",
    "overflow": "1e400",
    "empty": "",
    "space": "%20",
    "plus_only": "%2B",
    "two": "1,2",
    "exponent_only": "1e",
    "dot": ".",
    "nul": "1%00",
    "text": "ten",
    "invalid_utf8": "%FF%FE",
    "bad_escape": "%G1",
    "lone_percent": "%",
}
#: Integers beyond 64 bits (for integer parameters and integer properties).
HUGE_INTEGERS = {"int65": "36893488147419103232", "neg_int65": "-36893488147419103232", "huge": "9" * 400}
BAD_DATES = {
    "iso_week": "2020-W01-1",
    "ordinal": "2020-001",
    "basic": "20200101",
    "month_13": "2020-13-01",
    "feb_30": "2020-02-30",
    "year_zero": "0000-01-01",
    "arabic_digits": "%D9%A2%D9%A0%D9%A2%D9%A0-01-01",
    "words": "yesterday",
    "hour_25": "2020-01-01T25:00:00Z",
    "bad_offset": "2020-01-01T00:00:00%2B99:99",
    "underscore": "2_020-01-01",
    "nul": "2020-01-01%00",
    "invalid_utf8": "%FF",
}
BAD_DATETIME_INTERVALS = {
    "inverted": "2025-01-01/2020-01-01",
    "open_instant": "..",
    "three_parts": "2020-01-01/2021-01-01/2022-01-01",
    "week_end": "2020-01-01/2020-W10-1",
    "year_0000": "0000",
    "year_sign": "-2020",
}
BAD_BBOXES = {
    "three": "1,2,3",
    "five": "1,2,3,4,5",
    "seven": "1,2,3,4,5,6,7",
    "inverted": "107,11,106,10",
    "lon_range": "106,10,200,11",
    "lat_range": "106,-95,107,11",
    "nan": "nan,10,107,11",
    "inf": "-inf,10,107,11",
    "underscore": "1_06,10,107,11",
    "arabic": "%D9%A1,10,107,11",
    "words": "a,b,c,d",
    "empty_parts": ",,,",
    "nul": "106,10,107,11%00",
    "overflow": "1e400,10,107,11",
    "semicolon": "106;10;107;11",
}
PROJECTED = "http://www.opengis.net/def/crs/EPSG/0/3405"
BAD_CRS = {
    "unknown_epsg": "EPSG:99999",
    "underscore_epsg": "EPSG:4_326",
    "arabic_epsg": "EPSG:%D9%A4%D9%A3%D9%A2%D9%A6",
    "urn": "urn:ogc:def:crs:EPSG::4326x",
    "uri_typo": "http://www.opengis.net/def/crs/EPSG/0/33405",
    "empty": "",
    "nul": "EPSG:4326%00",
    "long": "x" * 3000,
    "invalid_utf8": "%FF",
}
CQL_TEXT = {
    "type_boolean_text": "synthetic = 'maybe'",
    "type_geometry_number": "geom = 5",
    "type_text_number_props": "name = planned_area_ha",
    "type_number_text": "planned_area_ha = 'abc'",
    "type_number_underscore": "planned_area_ha = '1_06'",
    "type_year_date": "established_year > DATE('2020-01-01')",
    "casei_number": "CASEI(planned_area_ha) = 'x'",
    "like_number": "planned_area_ha LIKE '1%'",
    "like_backslash": "name LIKE 'abc\\'",
    "like_casei_backslash": "CASEI(name) LIKE CASEI('abc\\')",
    "empty_polygon": "S_INTERSECTS(geom, POLYGON EMPTY)",
    "empty_point": "S_INTERSECTS(geom, POINT EMPTY)",
    "unclosed_polygon": "S_INTERSECTS(geom, POLYGON((106 10, 107 10, 107 11, 106 11)))",
    "short_ring": "S_INTERSECTS(geom, POLYGON((106 10, 107 10, 106 10)))",
    "short_line": "S_INTERSECTS(geom, LINESTRING(106 10))",
    "spatial_one_arg": "S_INTERSECTS(geom)",
    "spatial_three_args": "S_INTERSECTS(geom, geom, geom)",
    "spatial_non_geometry": "S_INTERSECTS(name, POINT(106 10))",
    "spatial_outside_lonlat": "S_INTERSECTS(geom, POINT(500 10))",
    "bbox_predicate": "BBOX(geom, 106, 10, 107, 11)",
    "int65": "established_year = 36893488147419103232",
    "huge_int": "established_year = " + "9" * 400,
    "number_infinite": "planned_area_ha > 1e400",
    "week_date": "T_AFTER(valid_from, DATE('2020-W01-1'))",
    "bad_timestamp": "valid_from > TIMESTAMP('2020-01-01T25:00:00Z')",
    "integer_beyond_int64": "established_year > 9.3e18",
    "unknown_function": "nosuch(name) = 1",
    "unknown_property": "nosuch = 1",
    "not_property": "NOT NOT nosuch",
    "unknown_temporal": "T_FOO(valid_from, DATE('2020-01-01'))",
    "arithmetic": "planned_area_ha + 1 > 2",
    "unterminated_string": "name = 'abc",
    "dangling_and": "name = 'x' AND",
    "empty_in": "code IN ()",
    "null_compare": "name = NULL",
    "geometry_in_compare": "name = POINT(1 1)",
    "list_compare": "name = ('a', 'b')",
    "nul": "name = 'a%00b'",
    "nul_in_property_name": '"na%00me" = 1',
    "only_spaces": "   ",
    "sql": "1; DROP TABLE industrial_parks",
    "not_boolean": "planned_area_ha",
    "string_predicate": "'abc'",
    "deep_parens": "(" * 200 + "planned_area_ha > 1" + ")" * 200,
    "deep_not": "NOT " * 4500 + "planned_area_ha > 1",
    "deep_minus": "planned_area_ha = " + "-" * 3000 + "1",
    "deep_functions": "f(" * 500 + "1" + ")" * 500 + " = 1",
    "comparison_chain": "planned_area_ha" + " = planned_area_ha" * 2000,
    "long_or_chain": " OR ".join(["code = 'X'"] * 1500),
    "too_long": "name = '" + "x" * 30_000 + "'",
}
CQL_JSON: dict[str, Any] = {
    "empty_object": {},
    "empty_array": [],
    "null": None,
    "number": 5,
    "unknown_op": {"op": "foo", "args": [1]},
    "op_not_string": {"op": 5, "args": []},
    "args_not_array": {"op": "=", "args": 5},
    "and_empty": {"op": "and", "args": []},
    "not_two_args": {"op": "not", "args": [True, True]},
    "eq_one_arg": {"op": "=", "args": [{"property": "name"}]},
    "in_not_list": {"op": "in", "args": [{"property": "name"}, 5]},
    "property_number": {"op": "=", "args": [{"property": 5}, 1]},
    "int65": {"op": "=", "args": [{"property": "established_year"}, 2**65]},
    "point_short": {"op": "s_intersects", "args": [{"property": "geom"}, {"type": "Point", "coordinates": [1]}]},
    "point_text": {"op": "s_intersects", "args": [{"property": "geom"}, {"type": "Point", "coordinates": ["a", 1]}]},
    "polygon_empty": {"op": "s_intersects", "args": [{"property": "geom"}, {"type": "Polygon", "coordinates": []}]},
    "feature": {"op": "s_intersects", "args": [{"property": "geom"}, {"type": "Feature", "geometry": None}]},
    "bbox_three": {"op": "s_intersects", "args": [{"property": "geom"}, {"bbox": [1, 2, 3]}]},
    "bbox_inverted": {"op": "s_intersects", "args": [{"property": "geom"}, {"bbox": [107, 11, 106, 10]}]},
    "interval_one": {"op": "t_intersects", "args": [{"property": "valid_from"}, {"interval": ["2020-01-01"]}]},
    "date_number": {"op": ">", "args": [{"property": "valid_from"}, {"date": 5}]},
    "timestamp_week": {"op": ">", "args": [{"property": "valid_from"}, {"timestamp": "2020-W01-1T00:00:00Z"}]},
    "like_backslash": {"op": "like", "args": [{"property": "name"}, "abc\\"]},
    "boolean_vs_number": {"op": "=", "args": [True, 5]},
    "text_vs_number": {"op": "=", "args": ["a", 5]},
}


def nested_json_not(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"op": ">", "args": [{"property": "planned_area_ha"}, 1]}
    for _ in range(levels):
        node = {"op": "not", "args": [node]}
    return node


def nested_array(levels: int) -> Any:
    node: Any = 1
    for _ in range(levels):
        node = [node]
    return node


CQL_JSON_DEEP = {
    "deep_not_300": nested_json_not(300),
    "deep_array_300": {"op": "a_contains", "args": [{"property": "name"}, nested_array(300)]},
}
#: Raw JSON text, for nesting beyond what Python's own json module writes.
CQL_JSON_RAW = {
    "deep_array_5000": '{"op":"a_contains","args":[{"property":"name"},' + "[" * 5000 + "1" + "]" * 5000 + "]}",
    "malformed": '{"op": "=", "args": [',
    "trailing": '{"op": "=", "args": [{"property": "name"}, "x"]} x',
    "nan_literal": '{"op": ">", "args": [{"property": "planned_area_ha"}, NaN]}',
    "nul_escape": '{"op": "=", "args": [{"property": "name"}, "a\\u0000b"]}',
    "lone_surrogate": '{"op": "=", "args": [{"property": "name"}, "\\ud800"]}',
}


def deep_collection(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "Point", "coordinates": list(IN_REGION)}
    for _ in range(levels):
        node = {"type": "GeometryCollection", "geometries": [node]}
    return node


SQUARE = [[[106.70, 10.90], [106.72, 10.90], [106.72, 10.92], [106.70, 10.92], [106.70, 10.90]]]
BAD_GEOMETRIES: dict[str, Any] = {
    "empty_object": {},
    "array": [],
    "null": None,
    "string": "POINT(106.7 10.9)",
    "feature": {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": SQUARE}, "properties": {}},
    "feature_collection": {"type": "FeatureCollection", "features": []},
    "no_type": {"coordinates": SQUARE},
    "unknown_type": {"type": "Circle", "coordinates": [106.7, 10.9]},
    "type_number": {"type": 5, "coordinates": [106.7, 10.9]},
    "no_coordinates": {"type": "Polygon"},
    "empty_polygon": {"type": "Polygon", "coordinates": []},
    "empty_ring": {"type": "Polygon", "coordinates": [[]]},
    "unclosed_ring": {"type": "Polygon", "coordinates": [[[106.70, 10.90], [106.72, 10.90], [106.72, 10.92]]]},
    "three_position_ring": {"type": "Polygon", "coordinates": [[[106.7, 10.9], [106.72, 10.9], [106.7, 10.9]]]},
    "point_one_number": {"type": "Point", "coordinates": [106.7]},
    "point_four_numbers": {"type": "Point", "coordinates": [106.7, 10.9, 1, 2]},
    "point_strings": {"type": "Point", "coordinates": ["106.7", "10.9"]},
    "point_booleans": {"type": "Point", "coordinates": [True, False]},
    "point_nested_too_deep": {"type": "Point", "coordinates": [[106.7, 10.9]]},
    "mixed_dimensions": {
        "type": "Polygon",
        "coordinates": [[[106.7, 10.9, 5], [106.72, 10.9, 5], [106.72, 10.92], [106.7, 10.9, 5]]],
    },
    "multipolygon_shallow": {"type": "MultiPolygon", "coordinates": SQUARE},
    "line_one_position": {"type": "LineString", "coordinates": [[106.7, 10.9]]},
    "empty_collection": {"type": "GeometryCollection", "geometries": []},
    "collection_nested_200": deep_collection(200),
    "collection_nested_6": deep_collection(6),
    "huge_coordinate": {"type": "Point", "coordinates": [1e300 * 10, 10.9]},
    "big_integer_coordinate": {"type": "Point", "coordinates": [10**30, 10.9]},
    "self_intersecting": {
        "type": "Polygon",
        "coordinates": [[[106.7, 10.9], [106.72, 10.92], [106.72, 10.9], [106.7, 10.92], [106.7, 10.9]]],
    },
    "outside_region": {"type": "Point", "coordinates": [0, 0]},
    "too_many_vertices": {"type": "MultiPoint", "coordinates": [list(IN_REGION)] * 10_001},
}
#: Raw bodies that are not (readable) JSON.
BAD_BODIES = {
    "malformed": b'{"collection": "industrial_parks", ',
    "deep_arrays": b'{"geometry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "deep_objects": b'{"geometry": ' + b'{"a":' * 30_000 + b"1" + b"}" * 30_000 + b"}",
    "nan": b'{"collection": "industrial_parks", "distance_m": NaN, "geometry": {"type": "Point"}}',
    "bom": b'\xef\xbb\xbf{"collection": "industrial_parks"}',
    "invalid_utf8": b'{"collection": "\xff\xfe"}',
    "empty": b"",
    "json_null": b"null",
    "json_array": b"[]",
    "json_string": b'"x"',
}
