"""What each operation answers: media types and body schemas of its successes, and the errors it can give.

One table keyed by ``operation_id``; ``gis_service.openapi`` writes it into the document, and a test fails
when an operation is missing from it. Every operation can answer 400 (unknown or malformed parameter), 405
(another method on its path) and 500; the table adds the rest. Bodies are OpenAPI 3.0 Schema Objects,
strict about what clients rely on and open (``additionalProperties``) elsewhere. 401, 403 (operations that
ask who is calling) and the 503 of the admission queue are added by ``gis_service.openapi`` from the routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gis_service.responses import CSV, GEOJSON, GEOJSONSEQ, GPKG, HTML, JSON, MVT
from gis_service.schemas.problem import header

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


#: Response headers worth knowing: name -> (description, schema).
HEADERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ETag": (
        "Version of the answer. Tiles and pages: send it back in `If-None-Match` to get 304 while it is current. "
        'A feature of an editable collection: its strong version (`"v7"`), to send in `If-Match` with a change.',
        {"type": "string", "pattern": '^(?:W/)?"[^"]*"$'},
    ),
    "Cache-Control": ("How long the answer may be reused.", TEXT),
    "Content-Crs": ("CRS of the geometries (OGC API Features Part 2), in angle brackets.", TEXT),
    "Content-Security-Policy": ("What the page may load and run.", TEXT),
    "Location": (
        "201: the new feature, `…/collections/{collectionId}/items/{featureId}`. 307: the tile at the layers' "
        "current data version.",
        TEXT,
    ),
    "Preference-Applied": (
        "`return=representation` when the body is the feature as stored (asked for with `Prefer`).",
        {"type": "string", "enum": ["return=representation"]},
    ),
    "X-Edit-Warnings": ("What the checks repaired in the feature (`; `-separated), e.g. a ring closed.", TEXT),
    "X-WAL-LSN": (
        "The write's position in the primary's write-ahead log (sent when read replicas are configured): reads "
        "that carry it, or its cookie, wait for a replica that has replayed it.",
        TEXT,
    ),
    "Allow": (
        "The methods THIS caller may use on the resource now, so it depends on the credentials sent: `GET, HEAD, "
        "OPTIONS` for whoever may read; with `POST` (the items) or `PUT, PATCH, DELETE` (a feature) as well when "
        "the collection is editable and the caller's grant allows editing. QGIS enables editing from it.",
        {
            "type": "string",
            "pattern": "^(?:GET|HEAD|OPTIONS|POST|PUT|PATCH|DELETE)(?:, (?:GET|HEAD|OPTIONS|POST|PUT|PATCH|DELETE))*$",
        },
    ),
    "Accept-Post": ("The media type a new feature is sent as.", {"type": "string", "enum": ["application/geo+json"]}),
    "Accept-Patch": (
        "The media type of a change (RFC 5789).",
        {"type": "string", "enum": ["application/merge-patch+json"]},
    ),
}
CACHED = ("ETag", "Cache-Control")
PAGE = ("ETag", "Cache-Control", "Content-Security-Policy")


def headers(names: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Response headers; ``required``: those sent on every answer of that status."""
    out: dict[str, Any] = {}
    for name in names:
        description, schema = HEADERS[name]
        out |= header(name, description, schema, required=name in required)
    return out


@dataclass(frozen=True)
class Sent:
    """One success status: the headers it sends ``always`` and ``maybe``; what it means, when it says more
    than the operation's summary."""

    always: tuple[str, ...] = ()
    maybe: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Answers:
    """``ok``: media type -> schema of the success body, answered with the statuses ``body`` (200 unless
    said); ``errors``: statuses beyond ``ALWAYS``; ``empty``: body-less successes (204 no feature in the
    tile or the change is done, 304 the client's copy is current); ``headers``: of the successes 200 and 304;
    ``sent``: the headers of a success status, where they matter to the client (an editing answer).
    Errors are always problem+json, the map pages' included."""

    ok: dict[str, dict[str, Any]]
    errors: tuple[int, ...] = ()
    empty: tuple[int, ...] = ()
    headers: tuple[str, ...] = ()
    body: tuple[int, ...] = (200,)
    sent: tuple[tuple[int, Sent], ...] = ()


def json_(name: str = "AnalysisResult", media: str = JSON) -> dict[str, dict[str, Any]]:
    return {media: ref(name)}


def json_or_html(name: str) -> dict[str, dict[str, Any]]:
    return {JSON: ref(name), HTML: TEXT}


DB = 503  # the database is unreachable, the query timed out, or no pooled connection freed up in time
LOOKUP = 404
TILE = {MVT: BINARY}

WAL = ("X-WAL-LSN",)
ALLOW = "No body: `Allow` lists the methods this caller may use here (it depends on the credentials sent)."
#: A create answers 201, or 200 when its ``Idempotency-Key`` was seen before (the feature made then); the
#: body (the feature) only with ``Prefer: return=representation``.
CREATED = Sent(
    ("Location", "ETag"),
    ("Preference-Applied", "X-Edit-Warnings", *WAL),
    "Created (201), or made before under the same `Idempotency-Key` (200): `Location` names the feature, `ETag` "
    "is its version. The body is the feature only with `Prefer: return=representation`, otherwise empty.",
)
#: A replace or update answers 200 with the feature (``Prefer: return=representation``), else 204.
CHANGED = (
    (200, Sent(("ETag", "Preference-Applied"), ("X-Edit-Warnings", *WAL), "Changed; the feature as stored.")),
    (204, Sent(("ETag",), ("X-Edit-Warnings", *WAL), "Changed; `ETag` is the new version.")),
)
REVERTED = "Reverted: the old version written as a new one (`ETag`), or the deleted feature made again."
#: A versioned tile URL whose version is no longer current redirects to the current one.
STALE_VERSION = ((307, Sent(("Location", "Cache-Control"))),)
CHANGE_ERRORS = (LOOKUP, 409, 412, 413, 415, 422, 428, DB)

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
    "getSchema": Answers(json_("JSONSchema", SCHEMA_JSON), (LOOKUP,)),
    "getFeatures": Answers(
        {GEOJSON: ref("FeatureCollection"), HTML: TEXT, CSV: TEXT, GEOJSONSEQ: TEXT, GPKG: BINARY},
        (LOOKUP, DB),
        headers=("Content-Crs",),
    ),
    "getFeature": Answers({GEOJSON: ref("Feature"), HTML: TEXT}, (LOOKUP, DB), headers=("Content-Crs", "ETag")),
    # Editing (Part 4) and history (extensions)
    "optionsFeatures": Answers(
        {}, (LOOKUP,), (200,), body=(), sent=((200, Sent(("Allow", "Accept-Post"), (), ALLOW)),)
    ),
    "optionsFeature": Answers(
        {}, (LOOKUP,), (200,), body=(), sent=((200, Sent(("Allow", "Accept-Patch"), (), ALLOW)),)
    ),
    "createFeature": Answers(
        {GEOJSON: ref("Feature")},
        (LOOKUP, 409, 413, 415, 422, DB),
        body=(200, 201),
        sent=((201, CREATED), (200, CREATED)),
    ),
    "replaceFeature": Answers({GEOJSON: ref("Feature")}, CHANGE_ERRORS, (204,), sent=CHANGED),
    "updateFeature": Answers({GEOJSON: ref("Feature")}, CHANGE_ERRORS, (204,), sent=CHANGED),
    "deleteFeature": Answers({}, (LOOKUP, 412, 428, DB), (204,), body=(), sent=((204, Sent((), WAL, "Deleted.")),)),
    "getFeatureHistory": Answers(json_(), (LOOKUP, DB)),
    "getCollectionChanges": Answers(json_(), (LOOKUP, DB)),
    "revertFeature": Answers(
        {}, (LOOKUP, 409, 422, DB), (204,), body=(), sent=((204, Sent(("ETag",), WAL, REVERTED)),)
    ),
    # Proposals and the editor page
    "createProposal": Answers(json_(), (401, 403, LOOKUP, 412, 415, 422, DB), (201,)),
    "getProposals": Answers(json_(), (401, DB)),
    "getProposal": Answers(json_(), (401, LOOKUP, DB)),
    "approveProposal": Answers(json_(), (401, 403, LOOKUP, 409, 422, DB)),
    "rejectProposal": Answers(json_(), (401, 403, LOOKUP, 409, 415, DB)),
    "getEditor": Answers({HTML: TEXT}, (503,), headers=PAGE[1:]),
    "getEditSession": Answers(json_(), (401, DB)),
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
    "getPlanningTileVersioned": Answers(TILE, (LOOKUP, DB), (204, 304, 307), headers=CACHED, sent=STALE_VERSION),
    "getTileJSON": Answers(json_("TileJSON"), (LOOKUP, DB)),
    "getXYZTile": Answers(TILE, (LOOKUP, DB), (204, 304), headers=CACHED),
    "getXYZTileVersioned": Answers(TILE, (LOOKUP, DB), (204, 304, 307), headers=CACHED, sent=STALE_VERSION),
    "getPlanningStyle": Answers(json_("Style")),
    "getGlyphs": Answers({PROTOBUF: BINARY}, (LOOKUP,), headers=("Cache-Control",)),
    # Rasters
    "getRasters": Answers(json_("Rasters")),
    "getRaster": Answers(json_("Raster"), (LOOKUP,)),
    "getRasterTileJSON": Answers(json_("TileJSON"), (LOOKUP,)),
    "getRasterTile": Answers({PNG: BINARY, WEBP: BINARY}, (LOOKUP,), (304,), headers=CACHED),
    "getRasterPoint": Answers(json_(), (LOOKUP,)),
    "postRasterStatistics": Answers(json_(), (LOOKUP, 413)),
    "getRasterUnitStatistics": Answers(json_(), (LOOKUP, 413, DB)),
    # Maps: the pages are HTML, their errors problem+json like every other answer
    "getMaps": Answers({HTML: TEXT}, headers=PAGE[1:]),
    "getPlanningMap": Answers({HTML: TEXT}, (LOOKUP, DB), (304,), headers=PAGE),
    "getCollectionMap": Answers({HTML: TEXT}, (LOOKUP, DB), (304,), headers=PAGE),
}
