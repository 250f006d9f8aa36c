"""Bad writes (OGC API Features Part 4), history reads and proposals, as a table like ``cases.py``: sent with an
editor's key, so that what is refused is the input (media types, ``Content-Crs``, ``If-Match``, merge patches,
NUL, nesting, sizes, numbers, ids, versions, the members of a proposal), and without credentials (a 401 before
the body is read).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from tests.hostile.payloads import (
    BAD_BODIES,
    IN_REGION,
    PARKS,
    PROJECTED,
    SQUARE,
    UNITS,
    Case,
    deep_collection,
    get,
    gets,
    post,
)

FEATURE = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
JSON = {"Content-Type": "application/json"}
NO_BODY = None


def park(**geometry: Any) -> dict[str, Any]:
    """A park the collection takes (each bad case spoils one thing of it)."""
    point = geometry or {"type": "Point", "coordinates": list(IN_REGION)}
    properties = {"name": "Hostile park", "kind": "KCN", "status": "planned", "geometry_quality": "approximate"}
    return {"type": "Feature", "geometry": point, "properties": {**properties, "source": "test: hostile"}}


def park_with(**properties: Any) -> dict[str, Any]:
    feature = park()
    feature["properties"].update(properties)
    return feature


def point(x: float, y: float) -> dict[str, Any]:
    return park(type="Point", coordinates=[x, y])


def write(family: str, name: str, method: str, target: str, body: Any, params: str | tuple[str, ...] = (),
          key: str | None = None, **headers: str) -> Case:  # fmt: skip
    """A write: ``body`` as JSON (bytes as they are), typed as a feature (POST, PUT) or a merge patch."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    sent = {"Content-Type": FEATURE if method in ("POST", "PUT") else MERGE_PATCH, **headers}
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    names = (params,) if isinstance(params, str) else params
    return Case(family, name, method, target, data, sent, frozenset(names) if names else None)


def keyed(case: Case, key: str) -> Case:
    return replace(case, headers={**case.headers, "Authorization": f"Bearer {key}"})


CONTENT_CRS = {
    "epsg_short": "EPSG:3405",
    "urn": "urn:ogc:def:crs:EPSG::3405",
    "unsupported": "<http://www.opengis.net/def/crs/EPSG/0/2154>",
    "double_brackets": f"<<{PROJECTED}>>",
    "square_brackets": f"[{PROJECTED}]",
    "half_bracket": f"<{PROJECTED}",
    "empty": "",
    "crs84_word": "CRS84",
    "too_long": "<" + "x" * 300 + ">",
    "latin1_bytes": f"<{PROJECTED}\xc3\xa9>",
}
#: Not a list of entity tags: 400 naming If-Match.
BAD_IF_MATCH = {
    "unquoted": "v1",
    "unclosed": '"v1',
    "star_and_tag": '*, "v1"',
    "weak_prefix_only": "W/",
    "two_tags_no_comma": '"v1" "v2"',
    "semicolon": '"v1"; "v2"',
    "too_long": '"' + "v" * 600 + '"',
    "sql": '"v1" OR 1=1',
}
#: Well-formed lists that name no current version: 412 (with the current ETag).
STALE_IF_MATCH = {
    "superscript_digit": '"v\xb2"',
    "weak_current": 'W/"v1"',
    "empty_list": "",
    "commas_only": ", ,",
    "huge_version": '"v99999999999999999999999"',
    "escaped_nul_text": '"v\\u0000"',
}


def edit_cases(key: str, feature_id: str, proposal_id: int) -> list[Case]:
    """Bad writes by an editor who may write to the parks; ``feature_id``: a park of the editor's own, so a
    refusal is about the input, never a missing feature; ``proposal_id``: an open proposal of the editor's."""
    f, items, item = "edits", f"{PARKS}/items", f"{PARKS}/items/{feature_id}"
    raw_nul = json.dumps(park_with(name="ab")).encode().replace(b"ab", b"a\x00b")
    deep_properties = {**park(), "properties": {"a": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}}
    many_points = park(type="MultiPoint", coordinates=[list(IN_REGION)] * 20_000)
    beyond_double = json.dumps(park()).encode().replace(str(IN_REGION[0]).encode(), b"1e400")
    year = "properties.established_year"
    table: list[tuple[str, str, str, Any, str | tuple[str, ...], dict[str, str]]] = [
        # media types: a feature is application/geo+json (or json), a change application/merge-patch+json
        ("post_text_plain", "POST", items, park(), "body", {"Content-Type": "text/plain"}),
        ("post_xml", "POST", items, b"<Feature/>", "body", {"Content-Type": "application/xml"}),
        ("post_merge_patch", "POST", items, park(), "Content-Type", {"Content-Type": MERGE_PATCH}),
        ("put_merge_patch", "PUT", item, park(), "Content-Type", {"Content-Type": MERGE_PATCH}),
        ("patch_geojson", "PATCH", item, {}, "Content-Type", {"Content-Type": FEATURE}),
        ("patch_json", "PATCH", item, {}, "Content-Type", {"Content-Type": "application/json"}),
        ("patch_form", "PATCH", item, b"a=1", "body", {"Content-Type": "application/x-www-form-urlencoded"}),
        *(
            (f"content_crs_{n}", "POST", items, park(), "Content-Crs", {"Content-Crs": v})
            for n, v in CONTENT_CRS.items()
        ),
        ("patch_content_crs_bad", "PATCH", item, {}, "Content-Crs", {"Content-Crs": "EPSG:9999"}),
        *((f"if_match_{n}", "PATCH", item, {}, "If-Match", {"If-Match": v}) for n, v in BAD_IF_MATCH.items()),
        *((f"if_match_{n}", "PATCH", item, {}, "If-Match", {"If-Match": v}) for n, v in STALE_IF_MATCH.items()),
        ("delete_if_match_empty_list", "DELETE", item, NO_BODY, "If-Match", {"If-Match": ""}),
        ("put_if_match_stale", "PUT", item, park(), "If-Match", {"If-Match": '"v2", "v3"'}),
        # merge patches: the id stays, the result is a feature the collection takes
        ("patch_changes_id", "PATCH", item, {"id": "OTHER"}, "id", {}),
        ("patch_changes_id_property", "PATCH", item, {"properties": {"code": "OTHER"}}, "properties.code", {}),
        ("patch_type", "PATCH", item, {"type": "FeatureCollection"}, "type", {}),
        ("patch_removes_geometry", "PATCH", item, {"geometry": None}, "geometry", {}),
        ("patch_unknown_property", "PATCH", item, {"properties": {"nope": 1}}, "properties.nope", {}),
        ("patch_object_property", "PATCH", item, {"properties": {"name": {"a": 1}}}, "properties.name", {}),
        ("patch_enum_property", "PATCH", item, {"properties": {"status": "demolished"}}, "properties.status", {}),
        ("patch_required_removed", "PATCH", item, {"properties": {"name": None}}, "properties.name", {}),
        ("patch_array", "PATCH", item, [], "body", {}),
        ("patch_string", "PATCH", item, "x", "body", {}),
        ("patch_null", "PATCH", item, b"null", "body", {}),
        # NUL: escaped in values and names, raw in the bytes, in a geometry type
        ("nul_in_value", "POST", items, park_with(name="a\u0000b"), "properties.name", {}),
        ("nul_in_patch_value", "PATCH", item, {"properties": {"name": "a\u0000b"}}, "properties.name", {}),
        ("nul_in_property_name", "PATCH", item, {"properties": {"na\u0000me": "x"}}, (), {}),
        ("nul_raw_byte", "POST", items, raw_nul, "body", {}),
        ("nul_in_geometry_type", "POST", items, park(type="Po\u0000int", coordinates=list(IN_REGION)), "geometry", {}),
        # nesting and sizes
        ("geometry_collection_nested_200", "POST", items, park(**deep_collection(200)), "body", {}),
        ("properties_nested_deep", "POST", items, deep_properties, "body", {}),
        ("deep_arrays", "POST", items, BAD_BODIES["deep_arrays"], "body", {}),
        ("deep_objects", "PATCH", item, BAD_BODIES["deep_objects"], "body", {}),
        ("too_large", "POST", items, b'{"type": "Feature", "x": "' + b"a" * 1_200_000 + b'"}', "body", {}),
        ("too_many_vertices", "PUT", item, many_points, "geometry", {}),
        # numbers
        ("huge_coordinates", "POST", items, point(1e308, 1e308), "geometry", {}),
        ("coordinate_beyond_double", "POST", items, beyond_double, "body", {}),
        ("big_integer_coordinates", "POST", items, point(10**30, 10**30), "geometry", {}),
        ("integer_beyond_64_bits", "POST", items, park_with(established_year=2**70), year, {}),
        ("integer_beyond_the_column", "PUT", item, park_with(established_year=2**31), year, {}),
        # geometries and documents the collection does not take
        ("geometry_outside_region", "PUT", item, point(0, 0), "geometry", {}),
        ("geometry_wrong_type", "PUT", item, park(type="Polygon", coordinates=SQUARE), "geometry", {}),
        ("geometry_not_geojson", "POST", items, {**park(), "geometry": "POINT(106.7 10.9)"}, "geometry", {}),
        ("feature_collection", "POST", items, {"type": "FeatureCollection", "features": [park()]}, "type", {}),
        ("properties_array", "POST", items, {**park(), "properties": [1]}, "properties", {}),
        ("malformed", "POST", items, BAD_BODIES["malformed"], "body", {}),
        ("invalid_utf8", "POST", items, BAD_BODIES["invalid_utf8"], "body", {}),
        ("empty", "PUT", item, b"", "body", {}),
        # headers with limits, ids, versions, read-only collections
        ("comment_too_long", "POST", items, park(), "X-Change-Comment", {"X-Change-Comment": "c" * 600}),
        ("idempotency_key_too_long", "POST", items, park(), "Idempotency-Key", {"Idempotency-Key": "k" * 300}),
        ("feature_id_too_long", "PATCH", f"{items}/{'x' * 65}", {}, "featureId", {}),
        ("feature_id_unknown", "DELETE", f"{items}/NOPE-{feature_id}", NO_BODY, "featureId", {}),
        ("feature_id_nul", "PUT", f"{item}%00", park(), "featureId", {}),
        ("integer_id_text", "DELETE", "/collections/parcels/items/abc", NO_BODY, "featureId", {}),
        ("read_only_collection", "POST", f"{UNITS}/items", park(), "collectionId", {}),
        ("revert_version_zero", "POST", f"{item}/revert?version=0", NO_BODY, "version", {}),
        ("revert_version_text", "POST", f"{item}/revert?version=v1", NO_BODY, "version", {}),
        ("revert_version_missing", "POST", f"{item}/revert", NO_BODY, "version", {}),
        ("revert_version_unknown", "POST", f"{item}/revert?version=999999", NO_BODY, "version", {}),
        ("revert_read_only", "POST", f"{UNITS}/items/1/revert?version=1", NO_BODY, "collectionId", {}),
        ("put_on_history", "PUT", f"{item}/history", park(), (), {}),
        ("revert_version_negative", "POST", f"{item}/revert?version=-1", NO_BODY, "version", {}),
        ("revert_version_nul", "POST", f"{item}/revert?version=1%00", NO_BODY, "version", {}),
        ("revert_version_arabic", "POST", f"{item}/revert?version=%D9%A1", NO_BODY, "version", {}),
        ("revert_version_empty", "POST", f"{item}/revert?version=", NO_BODY, "version", {}),
        ("revert_version_beyond_64_bits", "POST", f"{item}/revert?version={'9' * 30}", NO_BODY, "version", {}),
        ("revert_version_underscore", "POST", f"{item}/revert?version=1_0", NO_BODY, "version", {}),
        ("revert_feature_id_nul", "POST", f"{items}/%00/revert?version=1", NO_BODY, "featureId", {}),
        ("revert_feature_id_too_long", "POST", f"{items}/{'x' * 65}/revert?version=1", NO_BODY, "featureId", {}),
        ("revert_feature_unknown", "POST", f"{items}/NOPE-{feature_id}/revert?version=1", NO_BODY, (), {}),
        ("revert_unknown_collection", "POST", "/collections/nope/items/1/revert?version=1", NO_BODY, (), {}),
    ]
    cases = [
        write(f, name, method, target, body, params, key, **headers)
        for name, method, target, body, params, headers in table
    ]
    return cases + history_cases(feature_id) + proposal_cases(key, feature_id, proposal_id)


SINCE = "2025-07-01T00:00Z"
#: Not an RFC 3339 date-time (``from`` and ``to`` of the changes of a collection).
BAD_INSTANTS = {
    "garbage": "yesterday",
    "date_only": "2025-07-01",
    "feb_30": "2025-02-30T00:00:00Z",
    "offset_minutes_60": "2025-07-01T00:00%2B05:60",
    "empty": "",
    "nul": f"{SINCE}%00",
    "invalid_utf8": "%FF",
    "arabic_digits": "%D9%A2%D9%A0%D9%A2%D9%A5-07-01T00:00Z",
}


def history_cases(feature_id: str) -> list[Case]:
    """The reads of the history (anonymous: an editable collection's history is as public as the collection);
    ``feature_id``: a park that has a history."""
    f = "edits"
    return [
        # a parameter the read does not take is refused as everywhere else, before anything is looked up
        replace(get(f, "changes_unknown_param", f"{PARKS}/changes?from={SINCE}&x=1", "x"), status=400),
        replace(get(f, "history_unknown_param", f"{PARKS}/items/{feature_id}/history?x=1", "x"), status=400),
        *(get(f, f"changes_from_{n}", f"{PARKS}/changes?from={v}", "from") for n, v in BAD_INSTANTS.items()),
        *gets(
            f,
            {
                "changes_to_hour_24": (f"{PARKS}/changes?from={SINCE}&to=2025-07-01T24:00Z", "to"),
                "changes_to_empty": (f"{PARKS}/changes?from={SINCE}&to=", "to"),
                "changes_from_missing": (f"{PARKS}/changes", "from"),
                "changes_read_only": (f"{UNITS}/changes?from={SINCE}", "collectionId"),
                "changes_unknown_collection": f"/collections/nope/changes?from={SINCE}",
                "changes_collection_nul": (f"/collections/%00/changes?from={SINCE}", "collectionId"),
                "as_of_garbage": (f"{PARKS}/items?asOf=now", "asOf"),
                "as_of_read_only": (f"{UNITS}/items?asOf={SINCE}", "asOf"),
                "history_read_only": (f"{UNITS}/items/1/history", "collectionId"),
                "history_unknown_collection": "/collections/nope/items/1/history",
                "history_unknown_feature": f"{PARKS}/items/NOPE/history",
                "history_feature_id_nul": (f"{PARKS}/items/%00/history", "featureId"),
                "history_feature_id_invalid_utf8": f"{PARKS}/items/%FF/history",
                "history_feature_id_too_long": (f"{PARKS}/items/{'x' * 65}/history", "featureId"),
            },
        ),
    ]


#: Not a proposal's number (``proposalId``: an integer from 1 to 2**62).
BAD_PROPOSAL_IDS = {
    "zero": "0",
    "negative": "-1",
    "text": "abc",
    "float": "1.5",
    "exponent": "1e3",
    "nul": "%00",
    "invalid_utf8": "%FF",
    "arabic": "%D9%A1",
    "fullwidth": "%EF%BC%91",
    "beyond_bound": str(2**62 + 1),
    "huge": "9" * 30,
    "underscore": "1_0",
}
NO_PROPOSAL = f"/proposals/{2**62}"


def proposal_cases(key: str, feature_id: str, proposal_id: int) -> list[Case]:
    """Bad proposals, and bad decisions on ``proposal_id`` (open: a refusal that did not happen would decide
    it, and change ``feature_id``)."""
    f, open_one = "proposals", f"/proposals/{proposal_id}"
    create = {"collection": "industrial_parks", "op": "create", "feature": park()}
    update = {"collection": "industrial_parks", "op": "update", "id": feature_id, "baseVersion": 1, "feature": park()}

    def proposal(**members: Any) -> dict[str, Any]:
        return {"title": "Hostile proposal", "changes": [create], **members}

    def change(**members: Any) -> dict[str, Any]:
        return proposal(changes=[{**update, **members}])

    deep_properties = park_with(a=[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]])
    bodies: dict[str, tuple[Any, str]] = {
        "title_missing": ({"changes": [create]}, "title"),
        "title_empty": (proposal(title=""), "title"),
        "title_number": (proposal(title=5), "title"),
        "title_too_long": (proposal(title="t" * 2001), "title"),
        "title_nul": (proposal(title="a\u0000b"), "title"),
        "comment_nul": (proposal(comment="a\u0000b"), "comment"),
        "comment_object": (proposal(comment={"a": 1}), "comment"),
        "comment_too_long": (proposal(comment="c" * 2001), "comment"),
        "changes_missing": ({"title": "Hostile proposal"}, "changes"),
        "changes_empty": (proposal(changes=[]), "changes"),
        "changes_object": (proposal(changes={"0": create}), "changes"),
        "changes_too_many": (proposal(changes=[create] * 201), "changes"),
        "change_not_object": (proposal(changes=[5]), "changes[0]"),
        "op_unknown": (change(op="merge"), "changes[0].op"),
        "op_nul": (change(op="update\u0000"), "changes[0].op"),
        "collection_unknown": (change(collection="nope"), "changes[0].collection"),
        "collection_nul": (change(collection="industrial_parks\u0000"), "changes[0].collection"),
        "collection_read_only": (change(collection="admin_units"), "changes[0].collection"),
        "id_missing": (change(id=None), "changes[0].id"),
        "id_boolean": (change(id=True), "changes[0].id"),
        "id_unknown": (change(id=f"NOPE-{feature_id}"), "changes[0].id"),
        "id_nul": (change(id="a\u0000b"), "changes[0].id"),
        "id_integer_text": (change(collection="parcels", op="delete", id="abc"), "changes[0].id"),
        "base_missing": (change(baseVersion=None), "changes[0].baseVersion"),
        "base_zero": (change(baseVersion=0), "changes[0].baseVersion"),
        "base_boolean": (change(baseVersion=True), "changes[0].baseVersion"),
        "base_string": (change(baseVersion="1"), "changes[0].baseVersion"),
        "base_float": (change(baseVersion=1.5), "changes[0].baseVersion"),
        "base_beyond_64_bits": (change(baseVersion=2**70), "changes[0].baseVersion"),
        "base_stale": (change(baseVersion=99), "changes[0].baseVersion"),
        "feature_missing": (change(feature=None), "changes[0].feature"),
        "feature_array": (change(feature=[]), "changes[0].feature"),
        "feature_outside_region": (change(feature=point(0, 0)), "changes[0].geometry"),
        "feature_unknown_property": (change(feature=park_with(nope=1)), "changes[0].properties.nope"),
        "feature_beyond_the_column": (
            change(feature=park_with(established_year=2**31)),
            "changes[0].properties.established_year",
        ),
        "feature_nested_deep": (change(feature=deep_properties), "body"),
        "geometry_collection_nested_200": (change(feature=park(**deep_collection(200))), "body"),
        **{f"body_{name}": (body, "body") for name, body in BAD_BODIES.items()},
        "too_large": (b'{"title": "' + b"t" * 1_200_000 + b'"}', "body"),
    }
    reasons = {"missing": {}, "empty": {"reason": ""}, "null": {"reason": None}, "number": {"reason": 5},
               "array": {"reason": ["x"]}, "too_long": {"reason": "r" * 2001},
               "nul": {"reason": "a\u0000b"}}  # fmt: skip
    cases = [
        *(
            post(f, name, "/proposals", body, param, raw=isinstance(body, bytes))
            for name, (body, param) in bodies.items()
        ),
        *(post(f, f"reject_reason_{name}", f"{open_one}/reject", body, "reason") for name, body in reasons.items()),
        *(
            post(f, f"reject_body_{name}", f"{open_one}/reject", body, "body", raw=True)
            for name, body in BAD_BODIES.items()
        ),
        post(f, "reject_unknown", f"{NO_PROPOSAL}/reject", {"reason": "no such proposal"}, "proposalId"),
        post(f, "approve_unknown", f"{NO_PROPOSAL}/approve", None, "proposalId", raw=True),
        *gets(
            f,
            {
                "list_status_unknown": ("/proposals?status=maybe", "status"),
                "list_status_upper_case": ("/proposals?status=OPEN", "status"),
                "list_status_nul": ("/proposals?status=open%00", "status"),
                "list_unknown_param": ("/proposals?x=1", "x"),
                "list_param_invalid_utf8": "/proposals?%FF=1",
                "one_unknown_param": (f"{open_one}?x=1", "x"),
                "one_unknown": (NO_PROPOSAL, "proposalId"),
                "session_unknown_param": ("/edit/session?x=1", "x"),
            },
        ),
    ]
    for name, value in BAD_PROPOSAL_IDS.items():
        cases += [
            get(f, f"one_id_{name}", f"/proposals/{value}", "proposalId"),
            post(f, f"approve_id_{name}", f"/proposals/{value}/approve", None, "proposalId", raw=True),
            post(f, f"reject_id_{name}", f"/proposals/{value}/reject", {"reason": "x"}, "proposalId"),
        ]
    media = {
        "text_plain": ("/proposals", json.dumps(proposal()).encode(), "text/plain"),
        "geojson": ("/proposals", json.dumps(proposal()).encode(), FEATURE),
        "merge_patch": ("/proposals", json.dumps(proposal()).encode(), MERGE_PATCH),
        "reject_text_plain": (f"{open_one}/reject", b'{"reason": "x"}', "text/plain"),
        "reject_form": (f"{open_one}/reject", b"reason=x", "application/x-www-form-urlencoded"),
        "approve_text_plain": (f"{open_one}/approve", b"approve", "text/plain"),
    }
    cases += [Case(f, n, "POST", t, body, {"Content-Type": kind}) for n, (t, body, kind) in media.items()]
    cases.append(Case(f, "approve_too_large", "POST", f"{open_one}/approve", b"{}" + b" " * 1_200_000, JSON))
    return [keyed(case, key) for case in cases]


def anonymous_edit_cases(feature_id: str) -> list[Case]:
    """Writes, proposals and the edit session without (valid) credentials, most with something else wrong too:
    a protected operation answers 401 before it reads the body (a body refused by its headers alone, too large
    or not JSON, would come first)."""
    f, items, item = "anonymous_edits", f"{PARKS}/items", f"{PARKS}/items/{feature_id}"
    table: list[tuple[str, str, str, Any, dict[str, str]]] = [
        ("post_malformed", "POST", items, BAD_BODIES["malformed"], {}),
        ("post_not_a_feature", "POST", items, {"type": "FeatureCollection"}, {}),
        ("post_bad_content_crs", "POST", items, park(), {"Content-Crs": "EPSG:1"}),
        ("patch_changes_id", "PATCH", item, {"id": "OTHER"}, {}),
        ("patch_bad_if_match", "PATCH", item, {}, {"If-Match": "garbage"}),
        ("put_merge_patch_media", "PUT", item, park(), {"Content-Type": MERGE_PATCH}),
        ("delete_unknown", "DELETE", f"{items}/NOPE", NO_BODY, {}),
        ("revert_unknown_version", "POST", f"{item}/revert?version=999999", NO_BODY, {}),
        ("bad_bearer", "PATCH", item, {}, {"Authorization": "Bearer gsk_nonsense.nonsense"}),
        ("basic_not_base64", "PATCH", item, {}, {"Authorization": "Basic !!!"}),
        ("unknown_scheme", "DELETE", item, NO_BODY, {"Authorization": "Digest x"}),
        ("proposal_malformed", "POST", "/proposals", BAD_BODIES["malformed"], JSON),
        ("proposal_not_a_proposal", "POST", "/proposals", {"changes": 5}, JSON),
        ("proposal_approve_unknown", "POST", f"{NO_PROPOSAL}/approve", NO_BODY, {}),
        ("proposal_reject_bad_reason", "POST", f"{NO_PROPOSAL}/reject", {"reason": 5}, JSON),
        ("proposal_reject_bad_bearer", "POST", "/proposals/1/reject", {}, {**JSON, "Authorization": "Bearer x"}),
    ]
    reads = {
        "proposals": ("/proposals", {}),
        "proposal_unknown": (NO_PROPOSAL, {}),
        "edit_session": ("/edit/session", {}),
        "edit_session_basic_not_base64": ("/edit/session", {"Authorization": "Basic !!!"}),
    }
    cases = [
        *(write(f, name, method, target, body, **headers) for name, method, target, body, headers in table),
        *(Case(f, name, "GET", target, headers=headers) for name, (target, headers) in reads.items()),
    ]
    return [replace(case, status=401) for case in cases]
