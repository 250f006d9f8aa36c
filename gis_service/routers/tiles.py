"""OGC API Tiles and XYZ vector tiles of every collection, the planning tileset, its style and glyphs.

TileJSON advertises versioned XYZ URLs (``/tiles/{collectionId}/v{version}/{z}/{x}/{y}.pbf``,
``/tiles/planning/v{version}/{z}/{x}/{y}.pbf``): the version is a digest of the layers' data versions, so
those tiles are immutable and a CDN or nginx may keep them for a year; a stale version is redirected to the
current one. The unversioned URLs stay, revalidated by ETag.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import morecantile
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from gis_service import repository, tile_documents, tiles
from gis_service.auth.dependency import ReadableCollection, ReadableLayers
from gis_service.catalog import LayerSpec
from gis_service.dependencies import AsciiInt, CatalogDep, ConnDep, SettingsDep, reject_unknown
from gis_service.errors import InvalidParameter
from gis_service.raster import glyphs as glyph_ranges
from gis_service.replicas import read_engine
from gis_service.responses import MVT, FastJSON
from gis_service.routers.common import base_url
from gis_service.settings import Settings

router = APIRouter(tags=["Tiles"])
DEFAULT_BBOX = [106.3, 10.85, 107.0, 11.55]
TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
DIMENSIONS = {"point": 0, "multipoint": 0, "linestring": 1, "multilinestring": 1, "polygon": 2, "multipolygon": 2}


# Dependencies of the tile routes are ``async``: a sync one costs a thread-pool hop per request, and under
# CPU contention each hop waits for the scheduler (a cached tile went from ~1 ms to hundreds).
async def get_tms(request: Request) -> tiles.TileMatrixSets:
    sets: tiles.TileMatrixSets = request.app.state.tms
    return sets


async def get_vector_tiles(request: Request) -> tiles.VectorTiles:
    state = request.app.state
    return tiles.VectorTiles(read_engine(request), state.tile_cache, state.settings, state.layer_versions)


TmsDep = Annotated[tiles.TileMatrixSets, Depends(get_tms)]
TilesDep = Annotated[tiles.VectorTiles, Depends(get_vector_tiles)]
ParamsDep = Annotated[tiles.TileParams, Depends(tiles.tile_params)]
TmsId = Annotated[str, Path(description="Tile matrix set: WebMercatorQuad or WorldCRS84Quad.", max_length=64)]
Z = Annotated[AsciiInt, Path(description="Zoom level (tile matrix).")]
X = Annotated[AsciiInt, Path(description="Column.")]
Y = Annotated[AsciiInt, Path(description="Row (from the top).")]
JsonOnly = Annotated[Literal["json"] | None, Query(description="json: the one format of this document.")]
Version = Annotated[
    str,
    Path(
        pattern=f"^[0-9a-f]{{{tiles.TOKEN_CHARS}}}$",
        description="Data version of the layers (from TileJSON); a stale one redirects.",
    ),
]
#: TileJSON carries the current data version: clients ask again rather than reuse an old one.
DOCUMENT_CACHE = {"Cache-Control": "no-cache"}


def honoured(params: tiles.TileParams, spec: LayerSpec, settings: Settings, *, documents: bool) -> None:
    """Refuse what the tiles of ``spec`` cannot honour (a ``datetime`` on a layer without a time field, as the
    items do); a document also parses the filter, so it never links tiles that would be refused."""
    if params.datetime is not None and spec.temporal is None:
        raise InvalidParameter(f"datetime: {spec.id} has no time field to select on", parameter="datetime")
    if documents:
        params.where(spec, settings)


async def bbox_of(request: Request, conn: ConnDep, specs: list[LayerSpec]) -> list[float]:
    """The CRS84 extent of the layers (the per-process cache the collections share)."""
    extents = await repository.extents(conn, request.app.state.extents, specs)
    boxes = [extents[spec.id].bbox or DEFAULT_BBOX for spec in specs]
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


# ---- OGC API Tiles documents ----------------------------------------------------------------------


def limits(tms: morecantile.TileMatrixSet, bbox: list[float], minzoom: int, maxzoom: int) -> list[dict[str, Any]]:
    """``tileMatrixSetLimits``: the rows and columns that cover ``bbox`` (CRS84) at each zoom."""
    out = []
    for z in range(max(minzoom, tms.minzoom), min(maxzoom, tms.maxzoom) + 1):
        upper_left = tms.tile(bbox[0], bbox[3], z, truncate=True)
        lower_right = tms.tile(bbox[2], bbox[1], z, truncate=True)
        out.append(
            {
                "tileMatrix": str(z),
                "minTileRow": upper_left.y,
                "maxTileRow": lower_right.y,
                "minTileCol": upper_left.x,
                "maxTileCol": lower_right.x,
            }
        )
    return out


def tileset(
    base: str, spec: LayerSpec, tms: morecantile.TileMatrixSet, bbox: list[float], query: str = ""
) -> dict[str, Any]:
    """OGC API Tiles tileset metadata of one collection in one tile matrix set."""
    href = f"{base}/collections/{spec.id}/tiles/{tms.id}"
    suffix = f"?{query}" if query else ""
    return {
        "title": f"{spec.title} ({tms.id})",
        "dataType": "vector",
        "crs": tms.crs.srs,
        "tileMatrixSetURI": str(tms.uri),
        "tileMatrixSetLimits": limits(tms, bbox, spec.minzoom, spec.maxzoom),
        "boundingBox": {
            "lowerLeft": bbox[:2],
            "upperRight": bbox[2:],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        },
        "layers": [
            {
                "id": spec.id,
                "title": spec.title,
                "dataType": "vector",
                "geometryDimension": DIMENSIONS.get(spec.geometry_type.lower()),
                "minTileMatrix": str(spec.minzoom),
                "maxTileMatrix": str(min(spec.maxzoom, tms.maxzoom)),
                "propertiesSchema": {"type": "object", "properties": tile_documents.vector_layer(spec)["fields"]},
            }
        ],
        "links": [
            {"href": href, "rel": "self", "type": "application/json", "title": "This tileset"},
            {"href": f"{base}/tileMatrixSets/{tms.id}", "rel": TILING_SCHEME, "type": "application/json"},
            {"href": f"{base}/collections/{spec.id}", "rel": "collection", "type": "application/json"},
            {
                "href": f"{href}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}{suffix}",
                "rel": "item",
                "type": MVT,
                "templated": True,
                "title": "Tiles (Mapbox Vector Tile)",
            },
            {
                "href": f"{href}/tilejson.json{suffix}",
                "rel": "describedby",
                "type": "application/json",
                "title": "TileJSON",
            },
        ],
    }


def tilesets(base: str, spec: LayerSpec, sets: tiles.TileMatrixSets) -> dict[str, Any]:
    href = f"{base}/collections/{spec.id}/tiles"
    entries = []
    for tms_id in sets.ids:
        tms = sets.get(tms_id)
        entries.append(
            {
                "title": f"{spec.title} ({tms_id})",
                "dataType": "vector",
                "crs": tms.crs.srs,
                "tileMatrixSetURI": str(tms.uri),
                "links": [
                    {"href": f"{href}/{tms_id}", "rel": "self", "type": "application/json"},
                    {"href": f"{base}/tileMatrixSets/{tms_id}", "rel": TILING_SCHEME, "type": "application/json"},
                ],
            }
        )
    return {"links": [{"href": href, "rel": "self", "type": "application/json"}], "tilesets": entries}


# ---- routes ---------------------------------------------------------------------------------------


@router.get("/tileMatrixSets", operation_id="getTileMatrixSets", summary="Tile matrix sets")
async def tile_matrix_sets(request: Request, sets: TmsDep, f: JsonOnly = None) -> Response:
    reject_unknown(request, {"f"})
    base = base_url(request)
    entries = [
        {
            "id": tms_id,
            "title": sets.get(tms_id).title,
            "uri": str(sets.get(tms_id).uri),
            "links": [{"href": f"{base}/tileMatrixSets/{tms_id}", "rel": "self", "type": "application/json"}],
        }
        for tms_id in sets.ids
    ]
    return FastJSON({"tileMatrixSets": entries})


@router.get("/tileMatrixSets/{tileMatrixSetId}", operation_id="getTileMatrixSet", summary="A tile matrix set")
async def tile_matrix_set(request: Request, sets: TmsDep, tileMatrixSetId: TmsId, f: JsonOnly = None) -> Response:
    reject_unknown(request, {"f"})
    return FastJSON(sets.get(tileMatrixSetId).model_dump(mode="json", exclude_none=True))


@router.get("/collections/{collectionId}/tiles", operation_id="getCollectionTileSets", summary="Tilesets")
async def collection_tilesets(request: Request, spec: ReadableCollection, sets: TmsDep, f: JsonOnly = None) -> Response:
    reject_unknown(request, {"f"})
    return FastJSON(tilesets(base_url(request), spec, sets))


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}",
    operation_id="getCollectionTileSet",
    summary="Tileset metadata",
)
async def collection_tileset(
    request: Request,
    conn: ConnDep,
    spec: ReadableCollection,
    sets: TmsDep,
    settings: SettingsDep,
    tileMatrixSetId: TmsId,
    params: ParamsDep,
) -> Response:
    tms = sets.get(tileMatrixSetId)
    honoured(params, spec, settings, documents=True)
    bbox = await bbox_of(request, conn, [spec])
    return FastJSON(tileset(base_url(request), spec, tms, bbox, request.url.query))


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/tilejson.json",
    operation_id="getCollectionTileJSON",
    summary="TileJSON 3.0 of a collection",
)
async def collection_tilejson(
    request: Request,
    conn: ConnDep,
    spec: ReadableCollection,
    sets: TmsDep,
    renderer: TilesDep,
    settings: SettingsDep,
    tileMatrixSetId: TmsId,
    params: ParamsDep,
) -> Response:
    tms = sets.get(tileMatrixSetId)
    if tms.id != "WebMercatorQuad":
        raise tiles.UnknownTileMatrixSet("TileJSON describes WebMercatorQuad tiles only", parameter="tileMatrixSetId")
    honoured(params, spec, settings, documents=True)
    return await _tilejson(request, conn, spec, renderer)


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    operation_id="getCollectionTile",
    summary="A vector tile of a collection",
)
async def collection_tile(
    request: Request,
    spec: ReadableCollection,
    sets: TmsDep,
    renderer: TilesDep,
    params: ParamsDep,
    tileMatrixSetId: TmsId,
    tileMatrix: Z,
    tileRow: Y,
    tileCol: X,
    settings: SettingsDep,
) -> Response:
    tms = sets.get(tileMatrixSetId)
    honoured(params, spec, settings, documents=False)
    addr = tiles.address(tms, tileMatrix, tileCol, tileRow, spec.minzoom, spec.maxzoom)
    layers = [(spec, renderer.query(addr, params, spec))]
    return await renderer.respond(request, layers, addr, params.key())


@router.get("/tiles/planning.json", operation_id="getPlanningTileJSON", summary="TileJSON of the planning tileset")
async def planning_tilejson(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    readable: ReadableLayers,
    renderer: TilesDep,
    collections: Annotated[str | None, Query(description="Comma-separated subset of the layers.")] = None,
    datetime: Annotated[str | None, Query(description="Instant or interval for every temporal layer.")] = None,
) -> Response:
    reject_unknown(request, {"collections", "datetime"})
    tiles.TileParams(datetime)  # checked as the tiles check it: the document links them with it
    specs = readable.only(tiles.planning_layers(catalog, settings, collections), named=collections is not None)
    suffix = f"?{request.url.query}" if request.url.query else ""
    url = f"{base_url(request)}/tiles/planning/{{z}}/{{x}}/{{y}}.pbf{suffix}"
    url = tiles.versioned(url, await renderer.current_token(specs))
    bbox = await bbox_of(request, conn, specs)
    description = "Planning layers of former Binh Duong in one tile."
    labels = tuple(settings.tiles.label_layers)
    document = tile_documents.tilejson("planning", url, specs, bbox, description=description, labels=labels)
    return FastJSON(document, headers=DOCUMENT_CACHE)


@router.get(
    "/tiles/planning/{z}/{x}/{y}.pbf",
    operation_id="getPlanningTile",
    summary="A tile of the multi-layer planning tileset",
)
async def planning_tile(
    request: Request,
    catalog: CatalogDep,
    settings: SettingsDep,
    readable: ReadableLayers,
    sets: TmsDep,
    renderer: TilesDep,
    z: Z,
    x: X,
    y: Y,
    collections: Annotated[str | None, Query(description="Comma-separated subset of the layers.")] = None,
    datetime: Annotated[str | None, Query(description="Instant or interval for every temporal layer.")] = None,
) -> Response:
    return await _planning_tile(request, catalog, settings, readable, sets, renderer, (z, x, y), collections, datetime)


# Before the collections' versioned XYZ route, whose path has the same shape.
@router.get(
    "/tiles/planning/v{version}/{z}/{x}/{y}.pbf",
    operation_id="getPlanningTileVersioned",
    summary="A tile of the planning tileset at a data version (immutable; a stale version redirects)",
)
async def planning_tile_versioned(
    request: Request,
    catalog: CatalogDep,
    settings: SettingsDep,
    readable: ReadableLayers,
    sets: TmsDep,
    renderer: TilesDep,
    version: Version,
    z: Z,
    x: X,
    y: Y,
    collections: Annotated[str | None, Query(description="Comma-separated subset of the layers.")] = None,
    datetime: Annotated[str | None, Query(description="Instant or interval for every temporal layer.")] = None,
) -> Response:
    zxy = (z, x, y)
    return await _planning_tile(
        request, catalog, settings, readable, sets, renderer, zxy, collections, datetime, version
    )


async def _planning_tile(
    request: Request,
    catalog: CatalogDep,
    settings: Settings,
    readable: ReadableLayers,
    sets: tiles.TileMatrixSets,
    renderer: tiles.VectorTiles,
    zxy: tuple[int, int, int],
    collections: str | None,
    datetime: str | None,
    version: str | None = None,
) -> Response:
    reject_unknown(request, {"collections", "datetime"})
    specs = readable.only(tiles.planning_layers(catalog, settings, collections), named=collections is not None)
    z, x, y = zxy
    addr = tiles.address(
        sets.get("WebMercatorQuad"), z, x, y, min(s.minzoom for s in specs), max(s.maxzoom for s in specs)
    )
    params = tiles.TileParams(datetime)
    layers = [(s, renderer.query(addr, params, s)) for s in specs if s.minzoom <= z <= s.maxzoom]
    extra = ("planning", params.key())
    return await renderer.respond(request, layers, addr, extra, version=version, tileset=specs)


@router.get("/tiles/{collectionId}.json", operation_id="getTileJSON", summary="TileJSON 3.0 of a collection")
async def xyz_tilejson(
    request: Request,
    conn: ConnDep,
    spec: ReadableCollection,
    settings: SettingsDep,
    params: ParamsDep,
    renderer: TilesDep,
) -> Response:
    honoured(params, spec, settings, documents=True)
    return await _tilejson(request, conn, spec, renderer)


async def _tilejson(request: Request, conn: ConnDep, spec: LayerSpec, renderer: tiles.VectorTiles) -> Response:
    """TileJSON of one collection: its versioned XYZ tile URL."""
    suffix = f"?{request.url.query}" if request.url.query else ""
    url = f"{base_url(request)}/tiles/{spec.id}/{{z}}/{{x}}/{{y}}.pbf{suffix}"
    url = tiles.versioned(url, await renderer.current_token([spec]))
    bbox = await bbox_of(request, conn, [spec])
    document = tile_documents.tilejson(spec.id, url, [spec], bbox, description=spec.description)
    return FastJSON(document, headers=DOCUMENT_CACHE)


@router.get(
    "/tiles/{collectionId}/{z}/{x}/{y}.pbf",
    operation_id="getXYZTile",
    summary="A vector tile of a collection (XYZ, WebMercatorQuad)",
)
async def xyz_tile(
    request: Request, spec: ReadableCollection, sets: TmsDep, renderer: TilesDep, params: ParamsDep, z: Z, x: X, y: Y
) -> Response:
    honoured(params, spec, renderer.settings, documents=False)
    addr = tiles.address(sets.get("WebMercatorQuad"), z, x, y, spec.minzoom, spec.maxzoom)
    return await renderer.respond(request, [(spec, renderer.query(addr, params, spec))], addr, params.key())


@router.get(
    "/tiles/{collectionId}/v{version}/{z}/{x}/{y}.pbf",
    operation_id="getXYZTileVersioned",
    summary="A vector tile of a collection at a data version (immutable; a stale version redirects)",
)
async def xyz_tile_versioned(
    request: Request,
    spec: ReadableCollection,
    sets: TmsDep,
    renderer: TilesDep,
    params: ParamsDep,
    version: Version,
    z: Z,
    x: X,
    y: Y,
) -> Response:
    honoured(params, spec, renderer.settings, documents=False)
    addr = tiles.address(sets.get("WebMercatorQuad"), z, x, y, spec.minzoom, spec.maxzoom)
    layers = [(spec, renderer.query(addr, params, spec))]
    return await renderer.respond(request, layers, addr, params.key(), version=version)


@router.get("/styles/planning.json", operation_id="getPlanningStyle", summary="MapLibre style of the planning map")
async def planning_style(request: Request, settings: SettingsDep, catalog: CatalogDep) -> Response:
    reject_unknown(request, set())
    return FastJSON(tile_documents.planning_style(base_url(request), settings, catalog))


@router.get("/fonts/{fontstack}/{glyphs}.pbf", operation_id="getGlyphs", summary="SDF glyphs for map labels")
async def glyphs(
    request: Request,
    settings: SettingsDep,
    fontstack: Annotated[str, Path(max_length=200, description="Font stack, e.g. `DejaVu Sans Book`.")],
    glyphs: Annotated[str, Path(max_length=16, description="Code point range, e.g. `0-255`.")],
) -> Response:
    reject_unknown(request, set())
    data = await run_in_threadpool(glyph_ranges.glyph_range, settings, fontstack, glyphs)
    return Response(data, media_type="application/x-protobuf", headers={"Cache-Control": "public, max-age=86400"})
