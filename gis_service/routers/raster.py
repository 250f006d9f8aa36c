"""Raster tiles (PNG/WebP), point values and zonal statistics from the catalogue's COGs (rio-tiler)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from gis_service import repository
from gis_service.analysis.access import Access
from gis_service.dependencies import AsciiFloat, AsciiInt, ConnDep, SettingsDep, reject_unknown
from gis_service.geojson import bare_geometry, check_geometry
from gis_service.raster import reader
from gis_service.raster.catalog import RasterCatalog, RasterSpec
from gis_service.responses import FastJSON, not_modified
from gis_service.routers.analysis import AccessDep
from gis_service.routers.common import base_url
from gis_service.routers.tiles import TmsDep, TmsId
from gis_service.tiles import address

router = APIRouter(tags=["Rasters"])
RASTER_MAXZOOM = 22


def get_rasters(request: Request) -> RasterCatalog:
    rasters: RasterCatalog = request.app.state.rasters
    return rasters


#: The collections each kind of raster is computed from (``gis_service.raster.build``): a raster shows their
#: data, so reading it needs what reading them needs.
DERIVED_FROM = {
    "population_density": ("admin_units",),
    "transport_distance": ("admin_units", "transport_projects"),
}


def readable(access: Access, spec: RasterSpec) -> bool:
    return all(access.readable(name) for name in DERIVED_FROM[spec.derive])


def raster_param(
    request: Request,
    rasters: Annotated[RasterCatalog, Depends(get_rasters)],
    access: AccessDep,
    rasterId: Annotated[str, Path(description="Raster id from layers/rasters.yaml.", max_length=64)],
) -> RasterSpec:
    """The raster, when the caller may read the collections it is computed from (401/403 otherwise)."""
    spec = rasters.get(rasterId)
    for name in DERIVED_FROM[spec.derive]:
        access.require(name, "rasterId")
    if access.depends_on(DERIVED_FROM[spec.derive]):
        request.state.cache_private = True
    return spec


RastersDep = Annotated[RasterCatalog, Depends(get_rasters)]
RasterDep = Annotated[RasterSpec, Depends(raster_param)]
Colormap = Annotated[str | None, Query(description="rio-tiler colour map name (default from the catalogue).")]
Rescale = Annotated[str | None, Query(description="`min,max` mapped to the colour map's ends.")]


def describe(base: str, spec: RasterSpec) -> dict[str, Any]:
    href = f"{base}/rasters/{spec.id}"
    return {
        **spec.model_dump(exclude={"file", "derive"}),
        "links": [
            {"href": href, "rel": "self", "type": "application/json"},
            {"href": f"{href}/tilejson.json", "rel": "describedby", "type": "application/json", "title": "TileJSON"},
            {"href": f"{href}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png", "rel": "item", "type": "image/png"},
        ],
    }


@router.get("/rasters", operation_id="getRasters", summary="Rasters")
async def rasters_list(request: Request, rasters: RastersDep, access: AccessDep) -> Response:
    reject_unknown(request, set())
    if access.depends_on(name for names in DERIVED_FROM.values() for name in names):
        request.state.cache_private = True
    shown = [describe(base_url(request), spec) for spec in rasters if readable(access, spec)]
    return FastJSON({"rasters": shown})


@router.get("/rasters/{rasterId}", operation_id="getRaster", summary="A raster: extent, zooms, provenance")
async def raster_info(request: Request, rasters: RastersDep, spec: RasterDep, sets: TmsDep) -> Response:
    reject_unknown(request, set())
    info = await run_in_threadpool(reader.describe, rasters.path(spec), sets.get("WebMercatorQuad"))
    return FastJSON({**describe(base_url(request), spec), **info})


@router.get("/rasters/{rasterId}/tilejson.json", operation_id="getRasterTileJSON", summary="TileJSON of a raster")
async def raster_tilejson(
    request: Request,
    rasters: RastersDep,
    spec: RasterDep,
    sets: TmsDep,
    colormap: Colormap = None,
    rescale: Rescale = None,
    format: Literal["png", "webp"] = "png",
) -> Response:
    reject_unknown(request, {"colormap", "rescale", "format"})
    reader.colormap_query(colormap, spec.colormap)  # validated here, used by the tile URLs
    reader.rescale_query(rescale, spec.rescale)
    info = await run_in_threadpool(reader.describe, rasters.path(spec), sets.get("WebMercatorQuad"))
    query = request.url.remove_query_params("format").query
    url = f"{base_url(request)}/rasters/{spec.id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.{format}"
    bounds = info["bounds"]
    center = [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, info["minzoom"]]
    doc: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": spec.id,
        "description": spec.title,
        "attribution": spec.attribution,
    }
    doc |= {"tiles": [url + (f"?{query}" if query else "")], "minzoom": 0, "maxzoom": info["maxzoom"]}
    return FastJSON({**doc, "bounds": bounds, "center": center, "scheme": "xyz"})


@router.get(
    "/rasters/{rasterId}/tiles/{tileMatrixSetId}/{z}/{x}/{y}.{format}",
    operation_id="getRasterTile",
    summary="A coloured raster tile",
    responses={200: {"content": {"image/png": {}, "image/webp": {}}}},
)
async def raster_tile(
    request: Request,
    rasters: RastersDep,
    spec: RasterDep,
    sets: TmsDep,
    settings: SettingsDep,
    tileMatrixSetId: TmsId,
    z: AsciiInt,
    x: AsciiInt,
    y: AsciiInt,
    format: Literal["png", "webp"],
    colormap: Colormap = None,
    rescale: Rescale = None,
) -> Response:
    reject_unknown(request, {"colormap", "rescale"})
    tms = sets.get(tileMatrixSetId)
    address(tms, z, x, y, 0, RASTER_MAXZOOM)
    path = rasters.path(spec)
    options = {
        "fmt": format,
        "colormap": reader.colormap_query(colormap, spec.colormap),
        "rescale": reader.rescale_query(rescale, spec.rescale),
        "size": settings.raster.tile_size,
    }
    stat = path.stat()
    key = hashlib.sha1(repr((spec.id, stat.st_mtime_ns, stat.st_size, tms.id, z, x, y, options)).encode()).hexdigest()
    headers = {"ETag": f'"{key[:32]}"', "Cache-Control": "public, max-age=0, must-revalidate"}
    if not_modified(request, headers["ETag"]):
        return Response(status_code=304, headers=headers)

    async def render() -> bytes:
        return await run_in_threadpool(reader.tile, path, tms, z, x, y, **options)  # type: ignore[arg-type]

    data = await request.app.state.tile_cache.get_or_load("raster:" + key, render)
    return Response(data, media_type=reader.FORMATS[format][1], headers=headers)


@router.get("/rasters/{rasterId}/point", operation_id="getRasterPoint", summary="The raster value at a point")
async def raster_point(
    request: Request,
    rasters: RastersDep,
    spec: RasterDep,
    lon: Annotated[AsciiFloat, Query(ge=-180, le=180, description="Longitude (CRS84).")],
    lat: Annotated[AsciiFloat, Query(ge=-90, le=90, description="Latitude (CRS84).")],
) -> Response:
    reject_unknown(request, {"lon", "lat"})
    value = await run_in_threadpool(reader.point, rasters.path(spec), lon, lat)
    return FastJSON({"raster": spec.id, "coordinates": [lon, lat], "value": value, "units": spec.units})


@router.post("/rasters/{rasterId}/statistics", operation_id="postRasterStatistics", summary="Zonal statistics")
async def raster_zonal(
    request: Request,
    rasters: RastersDep,
    spec: RasterDep,
    settings: SettingsDep,
    zone: Annotated[dict[str, Any], Body(description="GeoJSON Polygon/MultiPolygon, or a Feature with one (CRS84).")],
) -> Response:
    reject_unknown(request, set())
    geometry: Any = zone.get("geometry") if zone.get("type") == "Feature" else zone
    check_geometry(geometry, parameter="body", types=reader.ZONE_TYPES)
    geometry = bare_geometry(geometry)
    stats = await run_in_threadpool(reader.zonal, rasters.path(spec), geometry, settings.raster.max_stats_pixels)
    return FastJSON({"raster": spec.id, "units": spec.units, "statistics": stats})


@router.get("/rasters/{rasterId}/statistics", operation_id="getRasterUnitStatistics", summary="Statistics of a unit")
async def raster_unit_zonal(
    request: Request,
    conn: ConnDep,
    rasters: RastersDep,
    spec: RasterDep,
    settings: SettingsDep,
    access: AccessDep,
    admin_code: Annotated[str, Query(max_length=16, description="GSO code of an administrative unit.")],
) -> Response:
    reject_unknown(request, {"admin_code"})
    access.require("admin_units", "admin_code")  # the zone is a unit's boundary
    geometry = await repository.unit_geometry(conn, admin_code)
    stats = await run_in_threadpool(reader.zonal, rasters.path(spec), geometry, settings.raster.max_stats_pixels)
    return FastJSON({"raster": spec.id, "units": spec.units, "admin_code": admin_code, "statistics": stats})
