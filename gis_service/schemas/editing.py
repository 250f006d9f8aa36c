"""The request bodies of the editing operations (OGC API Features Part 4), as OpenAPI 3.0 schemas.

What a schema can say is said: a GeoJSON Feature (RFC 7946) with a geometry of the seven types and
properties of scalar values; a JSON Merge Patch (RFC 7396) of one. What depends on the collection in the
path (which properties it has and requires, their values, its geometry type) or on the data (a geometry
that is valid or repairable and inside the province) cannot be tied to the path in OpenAPI 3.0: those are
refused with 422 naming ``properties.<name>`` or ``geometry``.
"""

from __future__ import annotations

from typing import Any

from gis_service.responses import GEOJSON, JSON
from gis_service.schemas.answers import ref

MERGE_PATCH = "application/merge-patch+json"
#: Operations that change features: credentials required, the editable collections only.
WRITES = frozenset({"createFeature", "replaceFeature", "updateFeature", "deleteFeature", "revertFeature"})
#: Operations on the path's collection that exist for the editable collections only (those keep a history).
EDITABLE_ONLY = WRITES | {"getFeatureHistory", "getCollectionChanges"}

NUMBER = {"type": "number"}
POSITION = {"type": "array", "items": NUMBER, "minItems": 2, "maxItems": 3}


def _array(items: dict[str, Any], minimum: int = 1) -> dict[str, Any]:
    return {"type": "array", "items": items, "minItems": minimum}


def _positions(minimum: int) -> dict[str, Any]:
    return _array(POSITION, minimum)


def _geometry(kind: str, coordinates: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {"type": {"type": "string", "enum": [kind]}, "coordinates": coordinates, "bbox": _array(NUMBER)},
        "additionalProperties": True,
    }


RING = _positions(4)
SIMPLE_GEOMETRIES = [
    _geometry("Point", POSITION),
    _geometry("MultiPoint", _positions(1)),
    _geometry("LineString", _positions(2)),
    _geometry("MultiLineString", _array(_positions(2))),
    _geometry("Polygon", _array(RING)),
    _geometry("MultiPolygon", _array(_array(RING))),
]
#: Nested collections are left out (RFC 7946 3.1.8 advises against them; they are refused as too deep).
GEOMETRY_COLLECTION = {
    "type": "object",
    "required": ["type", "geometries"],
    "properties": {
        "type": {"type": "string", "enum": ["GeometryCollection"]},
        "geometries": _array({"anyOf": SIMPLE_GEOMETRIES}),
    },
    "additionalProperties": True,
}
#: A property's value: a scalar, or for a further geometry of the collection (the ``footprint`` of parks and
#: clusters) a GeoJSON Polygon or MultiPolygon.
PROPERTY_VALUE = {"anyOf": [{"type": "string", "nullable": True}, NUMBER, {"type": "boolean"}, *SIMPLE_GEOMETRIES[4:]]}
#: The members a feature and a patch of one have in common.
FEATURE_MEMBERS = {
    "type": {"type": "string", "enum": ["Feature"]},
    "id": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    "geometry": ref("GeometryInput"),
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "GeometryInput": {
        "description": "A GeoJSON geometry (RFC 7946), in the CRS of `Content-Crs` (CRS84 when absent). The "
        "collection decides which types it takes; an invalid geometry is repaired where it can be (the answer's "
        "`X-Edit-Warnings` says so), otherwise refused.",
        "anyOf": [*SIMPLE_GEOMETRIES, GEOMETRY_COLLECTION],
    },
    "FeatureInput": {
        "type": "object",
        "description": "A GeoJSON Feature. `properties` are those of the collection (its `schema` resource "
        "lists them, the required ones, and the values of enumerated ones); the id and computed properties the "
        "server keeps are ignored, any other name is refused. A further geometry of the collection (`footprint`) "
        "is a GeoJSON Polygon or MultiPolygon among the properties.",
        "required": ["type", "geometry", "properties"],
        "properties": {
            **FEATURE_MEMBERS,
            "properties": {"type": "object", "nullable": True, "additionalProperties": PROPERTY_VALUE},
        },
        "additionalProperties": True,
    },
    "FeaturePatch": {
        "type": "object",
        "description": "A JSON Merge Patch (RFC 7396) of the feature as `GET` returns it: members replace, "
        "`null` removes a property. The result must be a feature the collection takes; `id` and the id "
        "property cannot change (400).",
        "properties": {**FEATURE_MEMBERS, "properties": {"type": "object", "additionalProperties": PROPERTY_VALUE}},
        "additionalProperties": True,
    },
}


def _body(description: str, media: dict[str, str]) -> dict[str, Any]:
    content = {name: {"schema": ref(schema)} for name, schema in media.items()}
    return {"required": True, "description": description, "content": content}


FEATURE = _body(
    "The feature; `application/geo+json` (or `application/json`). Larger bodies are refused (413).",
    {GEOJSON: "FeatureInput", JSON: "FeatureInput"},
)
#: operation id -> its request body (the handlers read the body themselves, so FastAPI does not see it).
REQUEST_BODIES: dict[str, dict[str, Any]] = {
    "createFeature": FEATURE,
    "replaceFeature": FEATURE,
    "updateFeature": _body("The changes, as `application/merge-patch+json` only.", {MERGE_PATCH: "FeaturePatch"}),
}
