"""OGC API documents: landing page, conformance, collections, feature collections, queryables."""

from __future__ import annotations

from typing import Any

from gis_service.catalog import LayerSpec
from gis_service.crs import OGC_CRS84, SUPPORTED
from gis_service.responses import GEOJSON, HTML, JSON, OPENAPI

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/sortables",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/schemas",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/core-roles-features",
    # Part 4 (editing), under its current URIs and the OGC API - Common - Part 5 ones the draft moves to.
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    "http://www.opengis.net/spec/ogcapi-common-5/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-common-5/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-common-5/1.0/conf/optimistic-locking-etags",
    "http://www.opengis.net/spec/ogcapi-common-5/1.0/conf/return-representation",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/sorting",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/datetime",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
]
JSON_SCHEMA_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "date": "string",
}


def link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def landing(base: str, title: str, description: str) -> dict[str, Any]:
    return {
        "title": title,
        "description": description,
        "links": [
            link(f"{base}/", "self", JSON, "This document"),
            link(f"{base}/?f=html", "alternate", HTML, "This document as HTML"),
            link(f"{base}/api", "service-desc", OPENAPI, "The API definition (OpenAPI 3.0)"),
            link(f"{base}/api.html", "service-doc", HTML, "The API documentation"),
            link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
            link(f"{base}/conformance", "http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON),
            link(f"{base}/collections", "data", JSON, "Collections"),
            link(f"{base}/collections", "http://www.opengis.net/def/rel/ogc/1.0/data", JSON),
            link(
                f"{base}/tileMatrixSets",
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                JSON,
                "Tile matrix sets",
            ),
            link(
                f"{base}/tiles/planning.json",
                "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                "application/json",
                "Planning tileset (TileJSON)",
            ),
            link(
                f"{base}/styles/planning.json",
                "stylesheet",
                "application/vnd.mapbox.style+json",
                "MapLibre style of the planning tileset",
            ),
            link(f"{base}/health", "status", JSON, "Service health"),
            link(f"{base}/maps", "alternate", HTML, "Maps"),
            link(f"{base}/edit", "alternate", HTML, "Editor (Biên tập)"),
        ],
    }


def collection(
    base: str, spec: LayerSpec, bbox: list[float] | None, interval: list[str | None] | None
) -> dict[str, Any]:
    href = f"{base}/collections/{spec.id}"
    extent: dict[str, Any] = {"spatial": {"bbox": [bbox or [106.3, 10.85, 107.0, 11.55]], "crs": OGC_CRS84}}
    if interval is not None:
        extent["temporal"] = {
            "interval": [interval],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return {
        "id": spec.id,
        "title": spec.title,
        "description": spec.description,
        "keywords": spec.keywords,
        "itemType": "feature",
        "crs": list(SUPPORTED),
        "storageCrs": OGC_CRS84,
        "extent": extent,
        "attribution": spec.attribution or None,
        "license": spec.license or None,
        "links": [
            link(href, "self", JSON, spec.title),
            link(f"{href}?f=html", "alternate", HTML),
            link(f"{href}/items", "items", GEOJSON, f"{spec.title} (GeoJSON)"),
            link(f"{href}/items?f=html", "items", HTML, f"{spec.title} (HTML)"),
            link(f"{href}/items?f=csv&limit=10000", "enclosure", "text/csv", "CSV download"),
            link(f"{href}/items?f=gpkg", "enclosure", "application/geopackage+sqlite3", "GeoPackage download"),
            link(
                f"{href}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
                "Queryables",
            ),
            link(f"{href}/queryables", "describedby", "application/schema+json", "Schema of the features"),
            link(
                f"{href}/schema", "http://www.opengis.net/def/rel/ogc/1.0/schema", "application/schema+json", "Schema"
            ),
            link(f"{href}/tiles", "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", JSON, "Vector tilesets"),
            link(f"{base}/tiles/{spec.id}.json", "alternate", "application/json", "TileJSON (XYZ vector tiles)"),
            link(f"{base}/maps/collections/{spec.id}", "alternate", HTML, "Map"),
            link(
                f"{href}/sortables",
                "http://www.opengis.net/def/rel/ogc/1.0/sortables",
                "application/schema+json",
                "Sortables",
            ),
        ],
    }


def queryables(base: str, spec: LayerSpec, kind: str = "queryables") -> dict[str, Any]:
    props: dict[str, Any] = {}
    if kind == "queryables":
        props["geom"] = {
            "title": "Geometry",
            "format": f"geometry-{spec.geometry_type.lower()}",
            "x-ogc-role": "primary-geometry",
        }
    for p in spec.properties:
        schema: dict[str, Any] = {"type": JSON_SCHEMA_TYPES[p.type]}
        if p.type == "date":
            schema["format"] = "date"
        if p.title:
            schema["title"] = p.title
        if p.enum:
            schema["enum"] = p.enum
        props[p.name] = schema
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{base}/collections/{spec.id}/{kind}",
        "type": "object",
        "title": spec.title,
        "properties": props,
        "additionalProperties": False,
    }
