"""Input that looks hostile and is not refused, and bytes the HTTP parser itself may refuse.

:func:`odd_but_valid_cases` are valid (answered: a 2xx, or a 4xx problem; never a 5xx); :func:`raw_byte_cases`
put bytes in the request line that no client library would send unencoded.
"""

from __future__ import annotations

import json

from tests.hostile.payloads import IN_REGION, PARKS, PROJECTED, RASTER, SQUARE, UNITS, Case, get, post, q


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
        # the OpenAPI document takes no parameter and ignores a query (a cache-buster, say)
        get(f, "api_document_query", "/api?x=%00%FF"),
        # a font stack names fonts it would like: any other falls back to the regular face
        get(f, "glyphs_fontstack_nul", "/fonts/%00/0-255.pbf"),
        get(f, "static_query", "/static/editor.js?x=1"),
        get(f, "static_without_slash", "/static"),
        # OPTIONS answers the methods of a feature, known or not
        Case(f, "options_feature_id_nul", "OPTIONS", f"{PARKS}/items/%00"),
        Case(f, "options_integer_id_text", "OPTIONS", f"{UNITS}/items/abc"),
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
