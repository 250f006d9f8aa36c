"""Bad input for every endpoint family, as a table: families x payloads (``payloads.py``), each case named.

Every case of :func:`all_cases` is input the service must refuse: a 4xx problem+json, naming the parameter
where one is to blame. The writes and what needs credentials are in ``edit_cases.py``; hostile-looking input
that is valid, and bytes the HTTP parser itself may refuse, in ``odd_cases.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from tests.hostile.payloads import (
    BAD_BBOXES,
    BAD_BODIES,
    BAD_CRS,
    BAD_DATES,
    BAD_DATETIME_INTERVALS,
    BAD_GEOMETRIES,
    BAD_NUMBERS,
    CQL_JSON,
    CQL_JSON_DEEP,
    CQL_JSON_RAW,
    CQL_TEXT,
    HUGE_INTEGERS,
    IN_REGION,
    NEARBY_500,
    PARKS,
    PROJECTED,
    RASTER,
    UNITS,
    Case,
    get,
    gets,
    post,
    q,
)


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
    for name, value in {"unknown": "x=1", "nul": "f=json%00", "utf8": "%FF=1", "xml": "f=xml"}.items():
        for document in ("queryables", "sortables", "schema"):
            yield get(f, f"{document}_{name}", f"{PARKS}/{document}?{value}")
    yield get(f, "unknown_collection", "/collections/nope/queryables")
    yield get(f, "collection_nul", "/collections/%00/queryables")
    yield get(f, "schema_unknown_collection", "/collections/nope/schema")
    yield get(f, "schema_collection_nul", "/collections/%00/schema")
    yield get(f, "schema_collection_too_long", f"/collections/{'a' * 65}/schema", "collectionId")


def tiles_cases() -> Iterable[Case]:
    f = "tiles"
    bad_ints = {**BAD_NUMBERS, **HUGE_INTEGERS, "negative": "-1", "float": "1.5"}
    del bad_ints["empty"], bad_ints["two"]  # an empty segment or a comma changes the route: 404, tested below
    for name, value in bad_ints.items():
        yield get(f, f"z_{name}", f"{PARKS}/tiles/WebMercatorQuad/{value}/0/0")
        yield get(f, f"xyz_x_{name}", f"/tiles/industrial_parks/10/{value}/500.pbf")
    yield from gets(
        f,
        {
            "zoom_too_high": f"{PARKS}/tiles/WebMercatorQuad/40/0/0",
            "row_beyond": f"{PARKS}/tiles/WebMercatorQuad/3/0/8",
            "col_beyond": f"{PARKS}/tiles/WebMercatorQuad/3/99/0",
            "unknown_tms": f"{PARKS}/tiles/NoSuchQuad/3/0/0",
            "tms_nul": f"{PARKS}/tiles/Web%00/3/0/0",
            "xyz_zoom_huge": "/tiles/industrial_parks/99999999999999999999999/0/0.pbf",
            "xyz_unknown_collection": "/tiles/nope/10/800/500.pbf",
            "planning_zoom_negative": "/tiles/planning/-1/0/0.pbf",
            "xyz_versioned_zoom_huge": "/tiles/industrial_parks/v1/99999999999999999999999/0/0.pbf",
            "planning_versioned_zoom_negative": "/tiles/planning/v1/-1/0/0.pbf",
            "xyz_version_not_hex": ("/tiles/industrial_parks/vnot-a-version/12/1630/961.pbf", "version"),
            "planning_version_crlf": ("/tiles/planning/v%0D%0ALocation:%20x/10/812/490.pbf", "version"),
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
        },
    )


def tilesets_cases() -> Iterable[Case]:
    f = "tilesets"
    yield from gets(
        f,
        {
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
        },
    )
    # What a tileset document cannot honour is refused by name, never ignored or passed on to its tile links.
    yield from gets(
        f,
        {
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
            "tileset_datetime_without_time_field": (
                "/collections/parcels/tiles/WebMercatorQuad?datetime=2020",
                "datetime",
            ),
            "tile_datetime_without_time_field": (
                "/collections/parcels/tiles/WebMercatorQuad/14/7690/13035?datetime=2020",
                "datetime",
            ),
            "xyz_tile_datetime_without_time_field": ("/tiles/parcels/14/13035/7690.pbf?datetime=2020", "datetime"),
        },
    )


def tilejson_cases() -> Iterable[Case]:
    f = "tilejson"
    yield from gets(
        f,
        {
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
        },
    )
    yield from gets(
        f,
        {
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
        },
    )


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
    yield from gets(
        f,
        {
            "collection_unknown": "/analysis/nearby?collection=nope&distance_m=500&lon=106.7&lat=10.9",
            "collection_nul": "/analysis/nearby?collection=%00&distance_m=500&lon=106.7&lat=10.9",
            "feature_no_slash": "/analysis/nearby?collection=industrial_parks&distance_m=500&feature=QL13",
            "feature_unknown": f"{NEARBY_500}&feature=transport_projects/NOPE",
            "feature_nul": f"{NEARBY_500}&feature=transport_projects/%00",
            "feature_arabic_id": "/analysis/nearby?collection=admin_units&distance_m=500&feature=admin_units/%D9%A1",
            "no_reference": "/analysis/nearby?collection=industrial_parks&distance_m=500",
            "lon_only": "/analysis/nearby?collection=industrial_parks&distance_m=500&lon=106.7",
            "missing_distance": "/analysis/nearby?collection=industrial_parks&lon=106.7&lat=10.9",
        },
        "nearby_",
    )
    for name, value in {**BAD_NUMBERS, "subnormal": "5e-324", "zero": "0", "wide": "1001"}.items():
        yield get(f, f"corridor_width_{name}", f"/analysis/corridor?project=QL13&width_m={q(value)}", "width_m")
    yield from gets(
        f,
        {
            "project_nul": "/analysis/corridor?project=QL%0013&width_m=60",
            "project_unknown": "/analysis/corridor?project=NOPE&width_m=60",
            "project_empty": "/analysis/corridor?project=&width_m=60",
            "project_long": "/analysis/corridor?project=" + "Q" * 40 + "&width_m=60",
            "date_week": "/analysis/corridor?project=QL13&width_m=60&date=2020-W01-1",
        },
        "corridor_",
    )
    yield from gets(
        f,
        {
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
        },
    )


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
    yield from gets(
        f,
        {
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
        },
    )


def maps_cases() -> Iterable[Case]:
    f = "maps"
    yield from gets(
        f,
        {
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
        },
    )


def capabilities_cases() -> Iterable[Case]:
    for family, path in (("landing", "/"), ("conformance", "/conformance"), ("collections", "/collections")):
        for name, value in {"xml": "f=xml", "nul": "f=json%00", "unknown": "x=1", "utf8": "%FF=%FE"}.items():
            yield get(family, f"{family}_{name}", f"{path}?{value}")
    for name, value in {"unknown": "/collections/nope", "nul": "/collections/%00", "f": f"{PARKS}?f=xml"}.items():
        yield get("collections", f"collection_{name}", value)


def service_document_cases() -> Iterable[Case]:
    """What lies beside the OGC resources (health, the OpenAPI document and its page, the style, glyphs, the
    editor's page, the static files) and ``OPTIONS``: little to parse, and still every refusal a problem."""
    json_body = {"Content-Type": "application/json"}
    for family, path in (("health", "/health"), ("api", "/api.html"), ("style", "/styles/planning.json"),
                         ("editor", "/edit"), ("glyphs", "/fonts/DejaVu%20Sans%20Book/0-255.pbf")):  # fmt: skip
        yield get(family, f"{family}_unknown_param", f"{path}?x=1", "x")
        yield get(family, f"{family}_param_invalid_utf8", f"{path}?%FF=1")
        yield Case(family, f"{family}_post", "POST", path, b"{}", json_body)
    yield get("health", "health_f", "/health?f=json", "f")
    yield Case("api", "api_document_post", "POST", "/api", b"{}", json_body)
    yield get("api", "api_below", "/api/x")
    yield get("style", "style_unknown", "/styles/nope.json")
    yield get("editor", "editor_sign_in_callback_without_sign_in", "/edit?code=1&state=x", "code", "state")
    fonts = "/fonts/DejaVu%20Sans%20Book"
    yield from gets(
        "glyphs",
        {
            "range_unaligned": f"{fonts}/1-256.pbf",
            "range_short": f"{fonts}/0-254.pbf",
            "range_words": f"{fonts}/x-y.pbf",
            "range_underscore": f"{fonts}/0_0-255.pbf",
            "range_negative": f"{fonts}/-0-255.pbf",
            "range_nul": (f"{fonts}/%00-255.pbf", "glyphs"),  # refused by name on a route without a connection
            "fontstack_nul": ("/fonts/DejaVu%00Sans/0-255.pbf", "fontstack"),
            "range_superscript_digit": f"{fonts}/%C2%B2-255.pbf",
            "range_arabic_indic_digits": f"{fonts}/%D9%A0-%D9%A2%D9%A5%D9%A5.pbf",
            "range_invalid_utf8": f"{fonts}/%FF-255.pbf",
            "range_beyond_bmp": f"{fonts}/65536-65791.pbf",
            "range_too_long": (f"{fonts}/{'9' * 17}.pbf", "glyphs"),
            "range_missing": f"{fonts}/.pbf",
            "fontstack_too_long": (f"/fonts/{'x' * 201}/0-255.pbf", "fontstack"),
        },
    )
    yield from gets(
        "static",
        {
            "unknown": "/static/nope.js",
            "nul": "/static/%00",
            "invalid_utf8": "/static/%FF",
            "directory": "/static/",
            "dot_segments": "/static/../../etc/passwd",
            "encoded_dot_segments": "/static/%2e%2e/%2e%2e/pyproject.toml",
        },
    )
    yield Case("static", "post", "POST", "/static/editor.js", b"{}", json_body)
    for name, target in {
        "items_unknown_collection": "/collections/nope/items",
        "items_collection_nul": "/collections/%00/items",
        "item_unknown_collection": "/collections/nope/items/1",
        "item_id_too_long": f"{PARKS}/items/{'x' * 65}",
    }.items():
        yield Case("options", name, "OPTIONS", target)


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
        *service_document_cases(),
    ]
    labels = [c.label for c in cases]
    duplicates = {label for label in labels if labels.count(label) > 1}
    assert not duplicates, f"case names must be unique: {sorted(duplicates)}"
    return cases
