"""What each operation answers: media types and body schemas of its successes, and the errors it can give.

One table keyed by ``operation_id``; ``gis_service.openapi`` writes it into the document, and a test fails
when an operation is missing from it. Every operation can answer 400 (unknown or malformed parameter), 405
(another method on its path) and 500; the table adds the rest. Bodies are OpenAPI 3.0 Schema Objects,
strict about what clients rely on and open (``additionalProperties``) elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gis_service.responses import CSV, GEOJSON, GEOJSONSEQ, GPKG, HTML, JSON, MVT

SCHEMA_JSON = "application/schema+json"
PROTOBUF = "application/x-protobuf"
PNG = "image/png"
WEBP = "image/webp"
ALWAYS = (400, 405, 500)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": True}


TEXT = {"type": "string"}
BINARY = {"type": "string", "format": "binary"}
NUMBERS = {"type": "array", "items": {"type": "number"}}
LINKS = {"type": "array", "items": ref("Link")}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Link": obj(["href", "rel"], href=TEXT, rel=TEXT, type=TEXT, title=TEXT, templated={"type": "boolean"}),
    "LandingPage": obj(["links"], title=TEXT, description=TEXT, links=LINKS),
    "ConformanceDeclaration": obj(["conformsTo"], conformsTo={"type": "array", "items": TEXT}),
    "Collection": obj(
        ["id", "links"],
        id=TEXT,
        title=TEXT,
        description=TEXT,
        itemType=TEXT,
        crs={"type": "array", "items": TEXT},
        extent={"type": "object"},
        links=LINKS,
    ),
    "Collections": obj(
        ["collections", "links"], links=LINKS, collections={"type": "array", "items": ref("Collection")}
    ),
    "Geometry": {
        **obj(["type"], type=TEXT, coordinates={"type": "array"}, geometries={"type": "array"}),
        "nullable": True,
    },
    "Feature": obj(
        ["type", "geometry", "properties"],
        type={"type": "string", "enum": ["Feature"]},
        id={"anyOf": [TEXT, {"type": "integer"}]},
        geometry=ref("Geometry"),
        properties={"type": "object", "nullable": True},
        links=LINKS,
    ),
    "FeatureCollection": obj(
        ["type", "features"],
        type={"type": "string", "enum": ["FeatureCollection"]},
        features={"type": "array", "items": ref("Feature")},
        numberMatched={"type": "integer", "minimum": 0},
        numberReturned={"type": "integer", "minimum": 0},
        links=LINKS,
    ),
    "JSONSchema": obj(["type", "properties"], type=TEXT, properties={"type": "object"}),
    "TileJSON": obj(
        ["tilejson", "tiles"],
        tilejson=TEXT,
        tiles={"type": "array", "items": TEXT, "minItems": 1},
        minzoom={"type": "integer", "minimum": 0, "maximum": 30},
        maxzoom={"type": "integer", "minimum": 0, "maximum": 30},
        bounds=NUMBERS,
        center=NUMBERS,
        vector_layers={"type": "array", "items": obj(["id"], id=TEXT)},
    ),
    "TileSets": obj(["tilesets"], links=LINKS, tilesets={"type": "array", "items": obj(["links"], links=LINKS)}),
    "TileSet": obj(["dataType", "crs", "links"], dataType=TEXT, crs=TEXT, links=LINKS),
    "TileMatrixSets": obj(
        ["tileMatrixSets"], tileMatrixSets={"type": "array", "items": obj(["id", "links"], id=TEXT, links=LINKS)}
    ),
    "TileMatrixSet": obj(["id", "crs", "tileMatrices"], id=TEXT, tileMatrices={"type": "array"}),
    "Style": obj(["version", "sources", "layers"], version={"type": "integer"}, sources={"type": "object"}),
    "Health": obj(["status", "database"], status={"type": "string", "enum": ["ok", "degraded"]}, database=TEXT),
    "Rasters": obj(["rasters"], rasters={"type": "array", "items": obj(["id", "links"], id=TEXT, links=LINKS)}),
    "Raster": obj(["id", "links"], id=TEXT, links=LINKS),
    "AnalysisResult": {"type": "object", "additionalProperties": True},
}


#: Response headers worth knowing (none is sent on every answer of an operation, so none is required).
HEADERS: dict[str, str] = {
    "ETag": "Version of the answer; send it back in `If-None-Match` to get 304 while it is current.",
    "Cache-Control": "How long the answer may be reused.",
    "Content-Crs": "CRS of the geometries (OGC API Features Part 2), in angle brackets.",
    "Content-Security-Policy": "What the page may load and run.",
}
CACHED = ("ETag", "Cache-Control")
PAGE = ("ETag", "Cache-Control", "Content-Security-Policy")


def headers(names: tuple[str, ...]) -> dict[str, Any]:
    return {name: {"description": HEADERS[name], "schema": {"type": "string"}} for name in names}


@dataclass(frozen=True)
class Answers:
    """``ok``: media type -> schema of the 200 body; ``errors``: statuses beyond ``ALWAYS``;
    ``empty``: body-less successes (204 no feature in the tile, 304 the client's copy is current);
    ``html_errors``: 4xx answers are HTML pages (the maps) as well as problem+json; ``headers``: of the
    successes (200 and 304)."""

    ok: dict[str, dict[str, Any]]
    errors: tuple[int, ...] = ()
    empty: tuple[int, ...] = ()
    html_errors: bool = False
    headers: tuple[str, ...] = ()


def json_(name: str = "AnalysisResult", media: str = JSON) -> dict[str, dict[str, Any]]:
    return {media: ref(name)}


def json_or_html(name: str) -> dict[str, dict[str, Any]]:
    return {JSON: ref(name), HTML: TEXT}


DB = 503  # the database is unreachable or the query timed out
BUSY = 503  # no admission slot freed up in time (analyses and rasters)
LOOKUP = 404
TILE = {MVT: BINARY}

OPERATIONS: dict[str, Answers] = {
    # Capabilities
    "getLandingPage": Answers(json_or_html("LandingPage")),
    "getConformance": Answers(json_or_html("ConformanceDeclaration")),
    "getHealth": Answers(json_("Health"), (DB,)),
    # Features
    "getCollections": Answers(json_or_html("Collections"), (DB,)),
    "describeCollection": Answers(json_or_html("Collection"), (LOOKUP, DB)),
    "getQueryables": Answers(json_("JSONSchema", SCHEMA_JSON), (LOOKUP,)),
    "getSortables": Answers(json_("JSONSchema", SCHEMA_JSON), (LOOKUP,)),
    "getFeatures": Answers(
        {GEOJSON: ref("FeatureCollection"), HTML: TEXT, CSV: TEXT, GEOJSONSEQ: TEXT, GPKG: BINARY},
        (LOOKUP, DB),
        headers=("Content-Crs",),
    ),
    "getFeature": Answers({GEOJSON: ref("Feature"), HTML: TEXT}, (LOOKUP, DB), headers=("Content-Crs",)),
    # Analyses
    "locate": Answers(json_(), (DB,)),
    "nearby": Answers(json_("FeatureCollection", GEOJSON), (LOOKUP, DB)),
    "nearbyGeometry": Answers(json_("FeatureCollection", GEOJSON), (LOOKUP, DB)),
    "corridor": Answers(json_(), (LOOKUP, DB)),
    "areaStats": Answers(json_(), (LOOKUP, DB)),
    "siteSelection": Answers({GEOJSON: ref("FeatureCollection"), CSV: TEXT}, (LOOKUP, DB)),
    "crosswalk": Answers(json_(), (LOOKUP, DB)),
    "reassign": Answers(json_(), (LOOKUP, DB)),
    "timeline": Answers(json_(), (DB,)),
    # Tiles
    "getTileMatrixSets": Answers(json_("TileMatrixSets")),
    "getTileMatrixSet": Answers(json_("TileMatrixSet"), (LOOKUP,)),
    "getCollectionTileSets": Answers(json_("TileSets"), (LOOKUP,)),
    "getCollectionTileSet": Answers(json_("TileSet"), (LOOKUP, DB)),
    "getCollectionTileJSON": Answers(json_("TileJSON"), (LOOKUP, DB)),
    "getCollectionTile": Answers(TILE, (LOOKUP, DB), (204, 304), headers=CACHED),
    "getPlanningTileJSON": Answers(json_("TileJSON"), (LOOKUP, DB)),
    "getPlanningTile": Answers(TILE, (LOOKUP, DB), (204, 304), headers=CACHED),
    "getTileJSON": Answers(json_("TileJSON"), (LOOKUP, DB)),
    "getXYZTile": Answers(TILE, (LOOKUP, DB), (204, 304), headers=CACHED),
    "getPlanningStyle": Answers(json_("Style")),
    "getGlyphs": Answers({PROTOBUF: BINARY}, (LOOKUP,), headers=("Cache-Control",)),
    # Rasters
    "getRasters": Answers(json_("Rasters"), (BUSY,)),
    "getRaster": Answers(json_("Raster"), (LOOKUP, BUSY)),
    "getRasterTileJSON": Answers(json_("TileJSON"), (LOOKUP, BUSY)),
    "getRasterTile": Answers({PNG: BINARY, WEBP: BINARY}, (LOOKUP, BUSY), (304,), headers=CACHED),
    "getRasterPoint": Answers(json_(), (LOOKUP, BUSY)),
    "postRasterStatistics": Answers(json_(), (LOOKUP, 413, BUSY)),
    "getRasterUnitStatistics": Answers(json_(), (LOOKUP, 413, DB)),
    # Maps: errors are HTML pages, except parameters FastAPI rejects before the page is built
    "getMaps": Answers({HTML: TEXT}, html_errors=True, headers=PAGE[1:]),
    "getPlanningMap": Answers({HTML: TEXT}, (LOOKUP, DB), (304,), html_errors=True, headers=PAGE),
    "getCollectionMap": Answers({HTML: TEXT}, (LOOKUP, DB), (304,), html_errors=True, headers=PAGE),
}
