"""Bad input for every endpoint family, as a table: families x payloads, each case named.

Targets are written as raw request-target bytes (``%00``, ``%FF``, lone ``%`` arrive as sent). Every case of
:func:`all_cases` is input the service must refuse: a 4xx problem+json, naming the parameter where one is to
blame. :func:`odd_but_valid_cases` look hostile but are valid (answered, never a 5xx); :func:`raw_byte_cases`
put bytes in the request line that the HTTP parser itself may refuse.
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


# ---- families ---------------------------------------------------------------------------------------


def items_cases() -> Iterable[Case]:
    yield from items_number_cases()
    yield from items_geometry_and_time_cases()
    yield from items_filter_cases()
    yield from items_other_cases()


def items_number_cases() -> Iterable[Case]:
    f = "items"
    for name, value in {**BAD_NUMBERS, **HUGE_INTEGERS, "zero": "0", "negative": "-5", "float": "1.5"}.items():
        yield get(f, f"limit_{name}", f"{PARKS}/items?limit={q(value)}", "limit")
    for name, value in {**BAD_NUMBERS, **HUGE_INTEGERS, "negative": "-1"}.items():
        yield get(f, f"offset_{name}", f"{PARKS}/items?offset={q(value)}", "offset")
    for name, value in {**BAD_NUMBERS, **HUGE_INTEGERS, "float": "2020.5"}.items():
        yield get(f, f"integer_property_{name}", f"{PARKS}/items?established_year={q(value)}", "established_year")
    for name, value in BAD_NUMBERS.items():
        yield get(f, f"number_property_{name}", f"{PARKS}/items?planned_area_ha={q(value)}", "planned_area_ha")
    for name, value in {**BAD_DATES, "datetime": "2020-01-01T00:00:00Z"}.items():
        yield get(f, f"date_property_{name}", f"{UNITS}/items?valid_from={q(value)}", "valid_from")
    for name, value in {"maybe": "maybe", "one": "1", "nul": "true%00", "turkish_i": "%C4%B0"}.items():
        yield get(f, f"boolean_property_{name}", f"/collections/parcels/items?synthetic={q(value)}", "synthetic")
    for name, value in {"nul": "a%00b", "only_nul": "%00"}.items():
        yield get(f, f"string_property_{name}", f"{PARKS}/items?status={value}", "status")
        yield get(f, f"q_{name}", f"{PARKS}/items?q={value}", "q")
    yield get(f, "q_too_long", f"{PARKS}/items?q={'x' * 201}", "q")


def items_geometry_and_time_cases() -> Iterable[Case]:
    f = "items"
    for name, value in BAD_BBOXES.items():
        yield get(f, f"bbox_{name}", f"{PARKS}/items?bbox={q(value)}", "bbox")
    for name, value in {"huge": "-1e30,-1e30,1e30,1e30", "far": "1e9,1e9,2e9,2e9", "neg": "-1e12,0,0,1"}.items():
        yield get(f, f"bbox_projected_{name}", f"{PARKS}/items?bbox={q(value)}&bbox-crs={q(PROJECTED)}", "bbox")
    lat_first = "http://www.opengis.net/def/crs/EPSG/0/4326"
    yield get(f, "bbox_lat_first_range", f"{PARKS}/items?bbox=10,200,11,201&bbox-crs={q(lat_first)}", "bbox")
    for name, value in BAD_CRS.items():
        yield get(f, f"crs_{name}", f"{PARKS}/items?crs={q(value)}", "crs")
        yield get(f, f"bbox_crs_{name}", f"{PARKS}/items?bbox=1,2,3,4&bbox-crs={q(value)}", "bbox-crs")
    for name, value in {**BAD_DATES, **BAD_DATETIME_INTERVALS}.items():
        yield get(f, f"datetime_{name}", f"{UNITS}/items?datetime={q(value)}", "datetime")
    yield get(f, "datetime_without_time_field", "/collections/rivers/items?datetime=2020-01-01", "datetime")
    yield get(f, "datetime_without_time_field_interval", "/collections/rivers/items?datetime=2020/..", "datetime")


def items_filter_cases() -> Iterable[Case]:
    f = "items"
    for name, value in CQL_TEXT.items():
        collection = "/collections/parcels" if "synthetic" in value else UNITS if "valid_" in value else PARKS
        yield get(f, f"cql_text_{name}", f"{collection}/items?filter={q(value)}", "filter")
    for name, value in {**CQL_JSON, **CQL_JSON_DEEP}.items():
        text = q(json.dumps(value))
        collection = UNITS if "valid_from" in text else PARKS
        yield get(f, f"cql_json_{name}", f"{collection}/items?filter-lang=cql2-json&filter={text}", "filter")
    for name, value in CQL_JSON_RAW.items():
        yield get(f, f"cql_json_raw_{name}", f"{PARKS}/items?filter-lang=cql2-json&filter={q(value)}", "filter")
    for name, value in {"sql": "sql", "nul": "cql2-text%00", "empty": "", "case": "CQL2-TEXT"}.items():
        target = f"{PARKS}/items?filter=name%3D%27x%27&filter-lang={q(value)}"
        yield get(f, f"filter_lang_{name}", target, "filter-lang")
    yield get(f, "filter_crs_without_filter", f"{PARKS}/items?filter-crs={q(PROJECTED)}", "filter")
    yield get(f, "filter_lang_without_filter", f"{PARKS}/items?filter-lang=cql2-text", "filter")
    yield get(
        f,
        "filter_crs_outside_domain",
        f"{PARKS}/items?filter-crs={q(PROJECTED)}&filter={q('S_INTERSECTS(geom, POINT(1e30 1e30))')}",
        "filter",
    )
    yield get(f, "filter_crs_unknown", f"{PARKS}/items?filter=name%3D%27x%27&filter-crs=EPSG:1", "filter-crs")


def items_other_cases() -> Iterable[Case]:
    f = "items"
    many = ",".join(["name", "code", "status", *(f"p{i}" for i in range(60))])
    fifty_one = ",".join(["name"] * 1 + [f"x{i}" for i in range(50)])
    for name, value in {"unknown": "secret", "sql": "name;DROP", "many": many, "51": fifty_one}.items():
        yield get(f, f"properties_{name}", f"{PARKS}/items?properties={q(value)}", "properties")
    for name, value in {
        "unknown": "nosuch",
        "sql": "name; DROP TABLE x",
        "sign_only": "-",
        "nul": "name%00",
        "many_keys": ",".join(["name", "code", "status", "developer", "kind", "established_year", "plan", "x"] * 2),
        "double_sign": "--name",
    }.items():
        yield get(f, f"sortby_{name}", f"{PARKS}/items?sortby={q(value)}", "sortby")
    for name, value in {"xml": "xml", "nul": "json%00", "empty": "", "upper": "JSON"}.items():
        yield get(f, f"f_{name}", f"{PARKS}/items?f={q(value)}", "f")
    for name, value in {"unknown": "evil=1", "nul_name": "ev%00il=1", "utf8_name": "%FF=1", "empty_name": "=1"}.items():
        yield get(f, f"param_{name}", f"{PARKS}/items?{value}")
    yield get(f, "unknown_collection", "/collections/nope/items")
    yield get(f, "collection_nul", "/collections/admin%00units/items")
    yield get(f, "collection_too_long", f"/collections/{'a' * 65}/items", "collectionId")
    yield get(f, "collection_dotted", "/collections/industrial_parks.x/items")


def item_cases() -> Iterable[Case]:
    f = "item"
    ids = {
        "nul": "VSIP%00",
        "unknown": "NOPE",
        "slash": "a%2Fb",
        "dots": "%2E%2E",
        "quote": "%27%20OR%20%271%27%3D%271",
        "invalid_utf8": "%FF%FE",
        "too_long": "x" * 65,
        "integer_arabic": None,
        "integer_underscore": None,
        "integer_huge": None,
        "integer_negative": None,
        "integer_exponent": None,
        "integer_nul": None,
    }
    numeric_ids = {
        "integer_arabic": "%D9%A1",
        "integer_underscore": "1_0",
        "integer_huge": "9" * 30,
        "integer_negative": "-1",
        "integer_exponent": "1e3",
        "integer_nul": "1%00",
    }
    for name, value in ids.items():
        if value is not None:
            yield get(f, f"id_{name}", f"{PARKS}/items/{value}", "featureId")
    for name, value in numeric_ids.items():
        yield get(f, f"id_{name}", f"{UNITS}/items/{value}", "featureId")
    for name, value in BAD_CRS.items():
        yield get(f, f"crs_{name}", f"{PARKS}/items/VSIP1?crs={q(value)}", "crs")
    for name, value in {"xml": "xml", "nul": "json%00"}.items():
        yield get(f, f"f_{name}", f"{PARKS}/items/VSIP1?f={value}", "f")
    yield get(f, "unknown_param", f"{PARKS}/items/VSIP1?bbox=1,2,3,4", "bbox")
    yield get(f, "unknown_collection", "/collections/nope/items/1")


def queryables_cases() -> Iterable[Case]:
    f = "queryables"
    for name, value in {"unknown": "x=1", "nul": "f=json%00", "utf8": "%FF=1"}.items():
        yield get(f, f"queryables_{name}", f"{PARKS}/queryables?{value}")
        yield get(f, f"sortables_{name}", f"{PARKS}/sortables?{value}")
    yield get(f, "unknown_collection", "/collections/nope/queryables")
    yield get(f, "collection_nul", "/collections/%00/queryables")


def tiles_cases() -> Iterable[Case]:
    f = "tiles"
    bad_ints = {**BAD_NUMBERS, **HUGE_INTEGERS, "negative": "-1", "float": "1.5"}
    del bad_ints["empty"], bad_ints["two"]  # an empty segment or a comma changes the route: 404, tested below
    for name, value in bad_ints.items():
        yield get(f, f"z_{name}", f"{PARKS}/tiles/WebMercatorQuad/{value}/0/0")
        yield get(f, f"xyz_x_{name}", f"/tiles/industrial_parks/10/{value}/500.pbf")
    for name, target in {
        "zoom_too_high": f"{PARKS}/tiles/WebMercatorQuad/40/0/0",
        "row_beyond": f"{PARKS}/tiles/WebMercatorQuad/3/0/8",
        "col_beyond": f"{PARKS}/tiles/WebMercatorQuad/3/99/0",
        "unknown_tms": f"{PARKS}/tiles/NoSuchQuad/3/0/0",
        "tms_nul": f"{PARKS}/tiles/Web%00/3/0/0",
        "xyz_zoom_huge": "/tiles/industrial_parks/99999999999999999999999/0/0.pbf",
        "xyz_unknown_collection": "/tiles/nope/10/800/500.pbf",
        "planning_zoom_negative": "/tiles/planning/-1/0/0.pbf",
        "planning_unknown_layer": "/tiles/planning/10/812/490.pbf?collections=nosuch",
        "planning_layer_nul": "/tiles/planning/10/812/490.pbf?collections=parcels%00",
        "planning_datetime_week": "/tiles/planning/10/812/490.pbf?datetime=2020-W01-1",
        "planning_unknown_param": "/tiles/planning/10/812/490.pbf?filter=x",
        "tile_filter_deep": f"{PARKS}/tiles/WebMercatorQuad/10/490/812?filter={q('NOT ' * 4500 + 'code = 1')}",
        "tile_filter_type": f"{PARKS}/tiles/WebMercatorQuad/10/490/812?filter={q('geom = 5')}",
        "tile_filter_nul": f"{PARKS}/tiles/WebMercatorQuad/10/490/812?filter=name%3D%27%00%27",
        "tile_datetime_arabic": f"{PARKS}/tiles/WebMercatorQuad/10/490/812?datetime=%D9%A2%D9%A0%D9%A2%D9%A0",
        "tile_filter_lang_alone": f"{PARKS}/tiles/WebMercatorQuad/10/490/812?filter-lang=cql2-json",
        "tile_filter_crs_unknown": f"{PARKS}/tiles/WebMercatorQuad/10/490/812?filter=code%3D%27x%27&filter-crs=x",
    }.items():
        yield get(f, name, target)


def tilesets_cases() -> Iterable[Case]:
    f = "tilesets"
    for name, target in {
        "list_unknown_collection": "/collections/nope/tiles",
        "list_unknown_param": f"{PARKS}/tiles?x=1",
        "tileset_unknown_tms": f"{PARKS}/tiles/NoSuch",
        "tileset_tms_nul": f"{PARKS}/tiles/Web%00Quad",
        "tileset_datetime": f"{PARKS}/tiles/WebMercatorQuad?datetime=2020-W01-1",
        "tileset_unknown_param": f"{PARKS}/tiles/WebMercatorQuad?zoom=3",
        "tms_unknown": "/tileMatrixSets/NoSuch",
        "tms_list_unknown_param": "/tileMatrixSets?x=1",
        "tms_nul": "/tileMatrixSets/%00",
        "tms_too_long": "/tileMatrixSets/" + "W" * 65,
    }.items():
        yield get(f, name, target)
    # What a tileset document cannot honour is refused by name, never ignored or passed on to its tile links.
    for name, (target, parameter) in {
        "list_f_xml": (f"{PARKS}/tiles?f=xml", "f"),
        "list_f_nul": (f"{PARKS}/tiles?f=json%00", "f"),
        "tms_list_f_html": ("/tileMatrixSets?f=html", "f"),
        "tms_f_xml": ("/tileMatrixSets/WebMercatorQuad?f=xml", "f"),
        "tileset_f": (f"{PARKS}/tiles/WebMercatorQuad?f=json", "f"),
        "tileset_filter_unknown_property": (f"{PARKS}/tiles/WebMercatorQuad?filter=nosuch%3D1", "filter"),
        "tileset_filter_syntax": (f"{PARKS}/tiles/WebMercatorQuad?filter=x", "filter"),
        "tileset_filter_crs_unknown": (
            f"{PARKS}/tiles/WebMercatorQuad?filter=code%3D%27x%27&filter-crs=x",
            "filter-crs",
        ),
        "tileset_datetime_without_time_field": ("/collections/parcels/tiles/WebMercatorQuad?datetime=2020", "datetime"),
        "tile_datetime_without_time_field": (
            "/collections/parcels/tiles/WebMercatorQuad/14/7690/13035?datetime=2020",
            "datetime",
        ),
        "xyz_tile_datetime_without_time_field": ("/tiles/parcels/14/13035/7690.pbf?datetime=2020", "datetime"),
    }.items():
        yield get(f, name, target, parameter)


def tilejson_cases() -> Iterable[Case]:
    f = "tilejson"
    for name, target in {
        "collection_crs84": f"{PARKS}/tiles/WorldCRS84Quad/tilejson.json",
        "collection_unknown": "/collections/nope/tiles/WebMercatorQuad/tilejson.json",
        "collection_datetime": f"{PARKS}/tiles/WebMercatorQuad/tilejson.json?datetime=yesterday",
        "xyz_unknown": "/tiles/nope.json",
        "xyz_datetime": "/tiles/industrial_parks.json?datetime=2020-13-01",
        "xyz_filter_nul": "/tiles/industrial_parks.json?filter=%00",
        "xyz_unknown_param": "/tiles/industrial_parks.json?x=1",
        "planning_collections": "/tiles/planning.json?collections=nosuch",
        "planning_unknown_param": "/tiles/planning.json?x=1",
        "raster_colormap": f"{RASTER}/tilejson.json?colormap=nosuch",
        "raster_rescale": f"{RASTER}/tilejson.json?rescale=1_0,2",
        "raster_rescale_inverted": f"{RASTER}/tilejson.json?rescale=5,1",
        "raster_format": f"{RASTER}/tilejson.json?format=gif",
        "raster_unknown": "/rasters/nope/tilejson.json",
    }.items():
        yield get(f, name, target)
    for name, (target, parameter) in {
        "collection_f": (f"{PARKS}/tiles/WebMercatorQuad/tilejson.json?f=json", "f"),
        "collection_filter_unknown_property": (
            f"{PARKS}/tiles/WebMercatorQuad/tilejson.json?filter=nosuch%3D1",
            "filter",
        ),
        "collection_datetime_without_time_field": (
            "/collections/parcels/tiles/WebMercatorQuad/tilejson.json?datetime=2020",
            "datetime",
        ),
        "xyz_f": ("/tiles/industrial_parks.json?f=json", "f"),
        "xyz_filter_syntax": ("/tiles/industrial_parks.json?filter=x", "filter"),
        "xyz_filter_lang_alone": ("/tiles/industrial_parks.json?filter-lang=cql2-text", "filter"),
        "xyz_datetime_without_time_field": ("/tiles/parcels.json?datetime=2020", "datetime"),
        "planning_f": ("/tiles/planning.json?f=json", "f"),
        "planning_filter": ("/tiles/planning.json?filter=code%3D%27x%27", "filter"),
        "planning_datetime_words": ("/tiles/planning.json?datetime=yesterday", "datetime"),
        "planning_datetime_inverted": ("/tiles/planning.json?datetime=2025-01-01/2020-01-01", "datetime"),
    }.items():
        yield get(f, name, target, parameter)


def analysis_get_cases() -> Iterable[Case]:
    f = "analysis_get"
    lon, lat = IN_REGION
    for name, value in {**BAD_NUMBERS, "outside": "0", "subnormal": "6.4e-104"}.items():
        yield get(f, f"locate_lon_{name}", f"/analysis/locate?lon={q(value)}&lat={lat}", "lon")
        yield get(f, f"locate_lat_{name}", f"/analysis/locate?lon={lon}&lat={q(value)}", "lat")
    for name, value in BAD_DATES.items():
        yield get(f, f"locate_date_{name}", f"/analysis/locate?lon={lon}&lat={lat}&date={q(value)}", "date")
    near = f"/analysis/nearby?collection=industrial_parks&lon={lon}&lat={lat}"
    for name, value in {**BAD_NUMBERS, "subnormal": "5e-324", "zero": "0", "negative": "-5", "far": "50001"}.items():
        yield get(f, f"nearby_distance_{name}", f"{near}&distance_m={q(value)}", "distance_m")
    for name, value in {**BAD_NUMBERS, **HUGE_INTEGERS, "zero": "0"}.items():
        yield get(f, f"nearby_limit_{name}", f"{near}&distance_m=500&limit={q(value)}", "limit")
    for name, target in {
        "collection_unknown": "/analysis/nearby?collection=nope&distance_m=500&lon=106.7&lat=10.9",
        "collection_nul": "/analysis/nearby?collection=%00&distance_m=500&lon=106.7&lat=10.9",
        "feature_no_slash": "/analysis/nearby?collection=industrial_parks&distance_m=500&feature=QL13",
        "feature_unknown": f"{NEARBY_500}&feature=transport_projects/NOPE",
        "feature_nul": f"{NEARBY_500}&feature=transport_projects/%00",
        "feature_arabic_id": "/analysis/nearby?collection=admin_units&distance_m=500&feature=admin_units/%D9%A1",
        "no_reference": "/analysis/nearby?collection=industrial_parks&distance_m=500",
        "lon_only": "/analysis/nearby?collection=industrial_parks&distance_m=500&lon=106.7",
        "missing_distance": "/analysis/nearby?collection=industrial_parks&lon=106.7&lat=10.9",
    }.items():
        yield get(f, f"nearby_{name}", target)
    for name, value in {**BAD_NUMBERS, "subnormal": "5e-324", "zero": "0", "wide": "1001"}.items():
        yield get(f, f"corridor_width_{name}", f"/analysis/corridor?project=QL13&width_m={q(value)}", "width_m")
    for name, target in {
        "project_nul": "/analysis/corridor?project=QL%0013&width_m=60",
        "project_unknown": "/analysis/corridor?project=NOPE&width_m=60",
        "project_empty": "/analysis/corridor?project=&width_m=60",
        "project_long": "/analysis/corridor?project=" + "Q" * 40 + "&width_m=60",
        "date_week": "/analysis/corridor?project=QL13&width_m=60&date=2020-W01-1",
    }.items():
        yield get(f, f"corridor_{name}", target)
    for name, target in {
        "collection_unknown": "/analysis/area-stats?collection=nope",
        "collection_nul": "/analysis/area-stats?collection=parcels%00",
        "by_unknown": "/analysis/area-stats?collection=industrial_parks&by=nosuch",
        "units_unknown": "/analysis/area-stats?collection=industrial_parks&units=1900",
        "units_wrong_day": "/analysis/area-stats?collection=industrial_parks&units=legacy&date=2026-01-01",
        "date_ordinal": "/analysis/area-stats?collection=industrial_parks&date=2020-001",
        "crosswalk_nul": "/analysis/crosswalk?code=25741%00",
        "crosswalk_unknown": "/analysis/crosswalk?code=00000",
        "crosswalk_direction": "/analysis/crosswalk?code=25741&direction=sideways",
        "crosswalk_level": "/analysis/crosswalk?code=25741&level=planet",
        "crosswalk_long": "/analysis/crosswalk?code=" + "1" * 17,
        "reassign_unknown": "/analysis/reassign?collection=nope",
        "reassign_limit_underscore": "/analysis/reassign?collection=industrial_parks&limit=1_0",
        "reassign_limit_huge": "/analysis/reassign?collection=industrial_parks&limit=" + "9" * 30,
        "timeline_underscore": "/analysis/timeline?year=2_040",
        "timeline_arabic": "/analysis/timeline?year=%D9%A2%D9%A0%D9%A4%D9%A0",
        "timeline_range": "/analysis/timeline?year=1999",
        "timeline_huge": "/analysis/timeline?year=" + "9" * 30,
        "unknown_param": "/analysis/timeline?year=2040&x=1",
    }.items():
        yield get(f, name, target)


def analysis_post_cases() -> Iterable[Case]:
    f = "analysis_post"
    base = {"collection": "industrial_parks", "distance_m": 500}
    for name, geometry in BAD_GEOMETRIES.items():
        yield post(f, f"nearby_geometry_{name}", "/analysis/nearby", {**base, "geometry": geometry}, "geometry")
    point = {"type": "Point", "coordinates": list(IN_REGION)}
    for name, value in {
        "string": "500",
        "underscore": "1_06",
        "subnormal": 5e-324,
        "zero": 0,
        "huge": 1e308,
        "boolean": True,
        "null": None,
    }.items():
        body = {**base, "distance_m": value, "geometry": point}
        yield post(f, f"nearby_distance_{name}", "/analysis/nearby", body, "distance_m")
    for name, value in {"string": "10", "float": 1.5, "zero": 0, "huge": 2**70}.items():
        body = {**base, "limit": value, "geometry": point}
        yield post(f, f"nearby_limit_{name}", "/analysis/nearby", body, "limit")
    yield post(f, "nearby_extra_field", "/analysis/nearby", {**base, "geometry": point, "x": 1}, "x")
    yield post(f, "nearby_collection_nul", "/analysis/nearby", {**base, "collection": "a\u0000", "geometry": point})
    for name, body in BAD_BODIES.items():
        yield post(f, f"nearby_body_{name}", "/analysis/nearby", body, raw=True)
    yield Case(f, "nearby_text_plain", "POST", "/analysis/nearby", b"{}", {"Content-Type": "text/plain"})
    for name, (body, params) in {
        "types_empty": ({"types": []}, ("types",)),
        "types_nul": ({"types": ["industrial\u0000"]}, ("types",)),
        "types_many": ({"types": ["x"] * 51}, ("types",)),
        "min_area_string": ({"min_area_ha": "50"}, ("min_area_ha",)),
        "min_area_negative": ({"min_area_ha": -1}, ("min_area_ha",)),
        "min_area_underscore": ({"min_area_ha": "5_0"}, ("min_area_ha",)),
        "distance_unknown_target": ({"max_distance_m": {"moon": 5000}}, ("max_distance_m",)),
        "distance_string": ({"max_distance_m": {"nh13": "5000"}}, ("max_distance_m",)),
        # nearby refuses these radii too: below a centimetre, and subnormal (PostgreSQL underflows on 5e-324)
        "distance_subnormal": ({"max_distance_m": {"nh13": 5e-324}}, ("max_distance_m",)),
        "distance_millimetre": ({"max_distance_m": {"ring_roads": 0.001}}, ("max_distance_m",)),
        "distance_zero": ({"max_distance_m": {"port": 0}}, ("max_distance_m",)),
        "distance_far": ({"max_distance_m": {"rail": 50_001}}, ("max_distance_m",)),
        "weights_string": ({"weights": {"area": "1"}}, ("weights",)),
        "weights_unknown": ({"weights": {"moon": 1}}, ("weights",)),
        "weights_key_nul": ({"weights": {"area\u0000": 1}}, ("weights",)),
        "weights_negative": ({"weights": {"area": -1}}, ("weights",)),
        "exclude_unknown": ({"exclude": ["nosuch"]}, ()),
        "exclude_nul": ({"exclude": ["industrial_parks\u0000"]}, ("exclude",)),
        "bbox_three": ({"bbox": [1, 2, 3]}, ("bbox",)),
        "bbox_strings": ({"bbox": ["a", "b", "c", "d"]}, ("bbox",)),
        "collection_other": ({"collection": "industrial_parks"}, ("collection",)),
        "limit_huge": ({"limit": 10**30}, ("limit",)),
        "extra": ({"evil": 1}, ("evil",)),
        "f_unknown": (None, ("f",)),
    }.items():
        target = "/analysis/site-selection" + ("?f=xml" if body is None else "")
        yield post(f, f"site_selection_{name}", target, body or {}, *params)
    for name, body in BAD_BODIES.items():
        if body:
            yield post(f, f"site_selection_body_{name}", "/analysis/site-selection", body, raw=True)


def raster_cases() -> Iterable[Case]:
    f = "raster"
    lon, lat = IN_REGION
    for name, value in {**BAD_NUMBERS, "range": "200"}.items():
        yield get(f, f"point_lon_{name}", f"{RASTER}/point?lon={q(value)}&lat={lat}", "lon")
    for name, value in {"subnormal": "6.4e-104", "underscore": "1_0.9", "range": "-91", "nan": "nan"}.items():
        yield get(f, f"point_lat_{name}", f"{RASTER}/point?lon={lon}&lat={q(value)}")
    yield get(f, "point_outside", f"{RASTER}/point?lon=0&lat=0")
    # far from the raster's UTM zone a point does not even project: a GDAL error before the fix
    yield get(f, "point_outside_projection", f"{RASTER}/point?lon=-160&lat=6.4e-104")
    yield get(f, "point_outside_projection_2", "/rasters/transport_distance/point?lat=-3.6479281862424386&lon=-160.0")
    far = [[[-160.0, -3.0], [-159.0, -3.0], [-159.0, -2.0], [-160.0, -2.0], [-160.0, -3.0]]]
    yield post(f, "statistics_outside_projection", f"{RASTER}/statistics", {"type": "Polygon", "coordinates": far})
    yield get(f, "point_missing", f"{RASTER}/point?lon={lon}", "lat")
    for name, geometry in BAD_GEOMETRIES.items():
        if name != "feature":  # a Feature with a polygon is what the zonal statistics take, besides geometries
            yield post(f, f"statistics_{name}", f"{RASTER}/statistics", geometry)
    yield post(f, "statistics_point", f"{RASTER}/statistics", {"type": "Point", "coordinates": list(IN_REGION)})
    yield post(f, "statistics_feature_no_geometry", f"{RASTER}/statistics", {"type": "Feature", "geometry": None})
    for name, body in BAD_BODIES.items():
        yield post(f, f"statistics_body_{name}", f"{RASTER}/statistics", body, raw=True)
    for name, target in {
        "unit_nul": f"{RASTER}/statistics?admin_code=25741%00",
        "unit_unknown": f"{RASTER}/statistics?admin_code=00000",
        "unit_missing": f"{RASTER}/statistics",
        "unit_long": f"{RASTER}/statistics?admin_code=" + "1" * 17,
        "raster_unknown": "/rasters/nope",
        "raster_nul": "/rasters/%00",
        "list_unknown_param": "/rasters?x=1",
        "tile_z_underscore": f"{RASTER}/tiles/WebMercatorQuad/1_0/812/490.png",
        "tile_zoom_huge": f"{RASTER}/tiles/WebMercatorQuad/99/0/0.png",
        "tile_format": f"{RASTER}/tiles/WebMercatorQuad/10/812/490.gif",
        "tile_outside": f"{RASTER}/tiles/WebMercatorQuad/10/0/0.png",
        "tile_colormap": f"{RASTER}/tiles/WebMercatorQuad/10/812/490.png?colormap=%00",
        "tile_rescale_nan": f"{RASTER}/tiles/WebMercatorQuad/10/812/490.png?rescale=nan,1",
        "tile_rescale_arabic": f"{RASTER}/tiles/WebMercatorQuad/10/812/490.png?rescale=%D9%A1,2",
        "tile_unknown_tms": f"{RASTER}/tiles/NoSuch/10/812/490.png",
    }.items():
        yield get(f, name, target)


def maps_cases() -> Iterable[Case]:
    f = "maps"
    for name, target in {
        "index_unknown_param": "/maps?x=1",
        "planning_year_text": "/maps/planning-2040?year=soon",
        "planning_year_underscore": "/maps/planning-2040?year=2_040",
        "planning_year_range": "/maps/planning-2040?year=1900",
        "planning_year_huge": "/maps/planning-2040?year=" + "9" * 30,
        "planning_units": "/maps/planning-2040?units=moon",
        "planning_units_nul": "/maps/planning-2040?units=2025%00",
        "planning_unknown_param": "/maps/planning-2040?x=1",
        "collection_unknown": "/maps/collections/nope",
        "collection_nul": "/maps/collections/%00",
        "collection_year": "/maps/collections/industrial_parks?year=%D9%A2%D9%A0%D9%A4%D9%A0",
    }.items():
        yield get(f, name, target)


def capabilities_cases() -> Iterable[Case]:
    for family, path in (("landing", "/"), ("conformance", "/conformance"), ("collections", "/collections")):
        for name, value in {"xml": "f=xml", "nul": "f=json%00", "unknown": "x=1", "utf8": "%FF=%FE"}.items():
            yield get(family, f"{family}_{name}", f"{path}?{value}")
    for name, value in {"unknown": "/collections/nope", "nul": "/collections/%00", "f": f"{PARKS}?f=xml"}.items():
        yield get("collections", f"collection_{name}", value)


def odd_but_valid_cases() -> list[Case]:
    """Hostile-looking input that is nonetheless valid: answered (2xx, or a 4xx problem), never a 5xx."""
    f = "odd"
    point = {"type": "Point", "coordinates": list(IN_REGION)}
    junk = "[" * 300 + "]" * 300
    square = json.dumps({"type": "Polygon", "coordinates": SQUARE})
    return [
        get(f, "q_rtl_override", f"{PARKS}/items?q=%E2%80%AEVSIP"),
        get(f, "q_emoji", f"{PARKS}/items?q=%F0%9F%8F%AD"),
        get(f, "q_invalid_utf8", f"{PARKS}/items?q=%FF%FE"),
        get(f, "q_bad_escape", f"{PARKS}/items?q=%G1"),
        get(f, "q_like_wildcards", f"{PARKS}/items?q={'%25' * 200}"),
        get(f, "q_backslash", f"{PARKS}/items?q=%5C"),
        get(f, "cql_text_replacement_chars", f"{PARKS}/items?filter={q(chr(0xFFFD) * 3)}"),
        get(f, "cql_string_invalid_utf8", f"{PARKS}/items?filter=name%20%3D%20%27%FF%FE%27"),
        get(f, "offset_int64_max", f"{PARKS}/items?offset=9223372036854775807"),
        get(f, "limit_int64_max", f"{PARKS}/items?limit=9223372036854775807"),
        get(
            f, "bbox_web_mercator_world", f"{UNITS}/items?bbox=-2e7,-1e8,2e7,1e8&bbox-crs={q(PROJECTED[:-4] + '3857')}"
        ),
        get(f, "datetime_far_range", f"{UNITS}/items?datetime=0001-01-01/9999-12-31"),
        # RFC 3339 instants past the calendar's ends in UTC: as bounds they mean "the earliest"/"the latest"
        get(f, "datetime_beyond_year_9999", f"{UNITS}/items?datetime={q('9999-12-31T23:59:59-23:59')}"),
        get(
            f,
            "cql_timestamp_beyond_9999",
            f"{UNITS}/items?filter=" + q("valid_from < TIMESTAMP('9999-12-31T23:59:59-23:59')"),
        ),
        get(
            f, "changes_before_year_1", f"/collections/transport_projects/changes?from={q('0001-01-01T00:00:02+23:05')}"
        ),
        get(f, "raster_point_subnormal_lat", f"{RASTER}/point?lon={IN_REGION[0]}&lat=6.4e-104"),
        get(f, "raster_point_negative_zero", f"{RASTER}/point?lon=-0&lat=-0.0"),
        post(
            f,
            "nearby_foreign_member_deep",
            "/analysis/nearby",
            b'{"collection":"industrial_parks",'
            b'"distance_m":500,"geometry":{"type":"Point","coordinates":[106.73,10.93],"junk":' + junk.encode() + b"}}",
            raw=True,
        ),
        post(
            f,
            "nearby_crs_member",
            "/analysis/nearby",
            {
                "collection": "industrial_parks",
                "distance_m": 500,
                "geometry": {**point, "crs": {"type": "name", "properties": {"name": "EPSG:3405"}}},
            },
        ),
        post(
            f,
            "statistics_foreign_member_deep",
            f"{RASTER}/statistics",
            (square[:-1] + ',"junk":' + junk + "}").encode(),
            raw=True,
        ),
        post(
            f,
            "statistics_half_the_world",
            f"{RASTER}/statistics",
            {
                "type": "Polygon",
                "coordinates": [[[-170, 10.9], [106.72, 10.9], [106.72, 10.92], [-170, 10.92], [-170, 10.9]]],
            },
        ),
        post(
            f,
            "statistics_feature_properties_deep",
            f"{RASTER}/statistics",
            ('{"type":"Feature","geometry":' + square + ',"properties":' + junk + "}").encode(),
            raw=True,
        ),
    ]


def raw_byte_cases() -> list[Case]:
    """Bytes no client library would send unencoded: the HTTP parser may refuse them (a plain 400 before
    the application), or the application answers; either way no 5xx and the server stays up."""
    f = "raw_bytes"
    return [
        get(f, "nul_in_query", f"{PARKS}/items?q=a\x00b"),
        get(f, "nul_in_path", f"{PARKS}/items/VSIP\x001"),
        get(f, "latin1_in_query", f"{PARKS}/items?q=\xff\xfe"),
        get(f, "latin1_in_path", "/collections/\xff/items"),
        get(f, "utf8_in_query", f"{PARKS}/items?q=" + "Bàu Bàng".replace(" ", "%20").encode().decode("latin-1")),
        get(f, "utf8_in_filter", f"{PARKS}/items?filter=name%3D%27" + "Đ".encode().decode("latin-1") + "%27"),
        get(f, "tab_in_query", f"{PARKS}/items?q=a\tb"),
        get(f, "del_in_query", f"{PARKS}/items?q=a\x7fb"),
        get(f, "control_in_filter", f"{PARKS}/items?filter=name%3D%27\x01%27"),
        get(f, "lone_percent_path", "/collections/%/items"),
        get(f, "double_percent", f"{PARKS}/items?q=%%30"),
        get(f, "fragment", f"{PARKS}/items?q=a#b"),
        get(f, "absolute_form", "http://elsewhere.example/collections/industrial_parks/items"),
        get(f, "asterisk", "*"),
        get(f, "dot_segments", "/collections/../../etc/passwd"),
        get(f, "encoded_dot_segments", "/collections/%2e%2e/%2e%2e/etc/passwd"),
        get(f, "double_slash", "//collections//industrial_parks//items"),
    ]


def all_cases() -> list[Case]:
    cases = [
        *items_cases(),
        *item_cases(),
        *queryables_cases(),
        *tiles_cases(),
        *tilesets_cases(),
        *tilejson_cases(),
        *analysis_get_cases(),
        *analysis_post_cases(),
        *raster_cases(),
        *maps_cases(),
        *capabilities_cases(),
    ]
    labels = [c.label for c in cases]
    duplicates = {label for label in labels if labels.count(label) > 1}
    assert not duplicates, f"case names must be unique: {sorted(duplicates)}"
    return cases
