"""Folium maps as HTML pages: the index, the planning map to 2040 and one map per collection.

Pages carry a Content-Security-Policy computed from the page (``html.response``); Leaflet and its plugins
come from ``/static``. Errors (unknown collection 404, bad year 400 ...) are problem+json like the rest of the
API.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from gis_service import html, repository
from gis_service.auth.dependency import Readable, ReadableCollection, ReadableLayers
from gis_service.catalog import Catalog
from gis_service.dependencies import AsciiInt, CatalogDep, ConnDep, SettingsDep, reject_unknown
from gis_service.maps import pages
from gis_service.maps.assets import STATIC_DIR, Assets
from gis_service.maps.build import build_map, render
from gis_service.maps.data import PLANNING_LAYERS, UNIT_SETS, YEAR_RANGE, MapRequest, fetch_async
from gis_service.raster.catalog import RasterSpec
from gis_service.responses import etag_for, not_modified
from gis_service.routers.common import root_path
from gis_service.routers.raster import DERIVED_FROM

router = APIRouter(prefix="/maps", tags=["Maps"])
# Ranges and choices are documented here and checked by the page (a bad value gets an HTML error page).
Year = Annotated[
    AsciiInt | None,
    Query(
        description="Year the time control opens on (default 2040).",
        json_schema_extra={"minimum": YEAR_RANGE[0], "maximum": YEAR_RANGE[1]},
    ),
]
Units = Annotated[
    str | None,
    Query(description="Choropleth units (default: those in force).", json_schema_extra={"enum": list(UNIT_SETS)}),
]


@lru_cache(maxsize=1)
def code_version() -> str:
    """Changes when the map code or our static files change, so ETags do not outlive a deploy."""
    files = sorted([*FilePath(__file__).parent.parent.joinpath("maps").glob("*.py"), *STATIC_DIR.glob("*.*s")])
    return hashlib.sha1(b"".join(f.read_bytes() for f in files), usedforsecurity=False).hexdigest()[:12]


def raster_readable(catalog: Catalog, readable: Readable) -> Callable[[RasterSpec], bool]:
    """Whether the caller may see a raster: it shows the data of the collections it is computed from."""
    return lambda raster: all(readable(catalog.get(name)) for name in DERIVED_FROM[raster.derive])


async def map_page(
    request: Request, conn: ConnDep, catalog: CatalogDep, readable: Readable, map_request: MapRequest, title: str
) -> Response:
    settings = request.app.state.settings
    root = root_path(request)
    shown = raster_readable(catalog, readable)
    rasters = pages.raster_overlays(settings, root, request.app.state.rasters, shown)
    options = pages.map_options(settings, Assets.served(root), title=title, rasters=rasters, root=root)
    options.assets.check()
    versions = await repository.layer_versions(conn)
    etag = etag_for(request.url.path, sorted(versions.items()), map_request, options, code_version())
    if not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": html.PAGE_CACHE})
    data = await fetch_async(conn, catalog, map_request)
    body = await run_in_threadpool(lambda: render(build_map(data, options)))
    response = html.response(body, image_hosts=(html.origin(options.osm_url),))
    response.headers["ETag"] = etag
    return response


@router.get("", operation_id="getMaps", summary="The maps (HTML)", response_class=HTMLResponse)
async def maps_index(request: Request, catalog: CatalogDep, settings: SettingsDep) -> Response:
    reject_unknown(request, set())
    return html.response(pages.index_html(catalog, settings))


@router.get(
    "/planning-2040", operation_id="getPlanningMap", summary="Planning map to 2040 (HTML)", response_class=HTMLResponse
)
async def planning_map(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    readable: ReadableLayers,
    year: Year = None,
    units: Units = None,
) -> Response:
    reject_unknown(request, {"year", "units"})
    shown = tuple(spec.id for spec in readable.only(catalog.get(name) for name in PLANNING_LAYERS))
    map_request = pages.map_request(settings, year=year, units=units, collections=shown)
    return await map_page(request, conn, catalog, readable, map_request, pages.PLANNING_TITLE)


@router.get(
    "/collections/{collectionId}",
    operation_id="getCollectionMap",
    summary="Map of one collection (HTML)",
    response_class=HTMLResponse,
)
async def collection_map(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    spec: ReadableCollection,
    readable: ReadableLayers,
    year: Year = None,
    units: Units = None,
) -> Response:
    reject_unknown(request, {"year", "units"})
    map_request = pages.map_request(settings, year=year, units=units, collections=(spec.id,))
    return await map_page(request, conn, catalog, readable, map_request, spec.title)
