"""OGC API Features Part 5 (draft): the schema of a collection's features, from the catalogue.

One document serves readers and editors: the id and the primary geometry carry their ``x-ogc-role``,
enumerations and types come from the catalogue, ``required`` lists what a create must give (the loader's
required columns and the sourced fields), and what the server computes is ``readOnly``.
"""

from __future__ import annotations

from typing import Any

from gis_service.catalog import LayerSpec
from gis_service.queries.edits import extra_geometries, required_properties, writable_columns
from gis_service.schemas.ogc import JSON_SCHEMA_TYPES

SCHEMA_MEDIA_TYPE = "application/schema+json"


def feature_schema(base: str, spec: LayerSpec) -> dict[str, Any]:
    writable = set(writable_columns(spec)) if spec.editable else set()
    props: dict[str, Any] = {}
    for p in spec.properties:
        schema: dict[str, Any] = {"type": JSON_SCHEMA_TYPES[p.type]}
        if p.type == "date":
            schema["format"] = "date"
        for key in ("title", "description", "enum"):
            if getattr(p, key):
                schema[key] = getattr(p, key)
        if p.name == spec.id_column:
            schema["x-ogc-role"] = "id"
        if p.name not in writable or p.name == spec.id_column:  # ids are the server's
            schema["readOnly"] = True
        props[p.name] = schema
    if spec.id_column not in props:
        props[spec.id_column] = {"type": "integer", "x-ogc-role": "id", "readOnly": True}
    props[spec.geometry_column] = {
        "title": "Geometry",
        "format": f"geometry-{spec.geometry_type.lower()}",
        "x-ogc-role": "primary-geometry",
    }
    for name in extra_geometries(spec) if spec.editable else ():
        # Read and written as a GeoJSON member of the properties (a park's footprint besides its site point).
        props[name] = {
            "title": name.capitalize(),
            "description": "A GeoJSON Polygon or MultiPolygon in the properties, in the request's CRS; kept "
            "as a MultiPolygon, checked as the loader checks polygons; null removes it.",
            "format": "geometry-multipolygon",
        }
    document: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{spec.id}/schema",
        "type": "object",
        "title": spec.title,
        "properties": props,
    }
    if spec.editable:
        document["required"] = [name for name in required_properties(spec) if name in props]
    return document
