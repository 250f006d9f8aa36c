"""Folium maps as HTML pages: the index, the planning map to 2040 and one map per collection.

Answers are pages, errors included (a 404 or 400 page with its message, not problem+json), each with a
Content-Security-Policy computed from the page; Leaflet and its plugins come from ``/static``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from gis_service import repository
from gis_service.dependencies import CatalogDep, ConnDep, SettingsDep, reject_unknown
from gis_service.errors import GisServiceError
from gis_service.maps import csp, pages
from gis_service.maps.assets import STATIC_DIR, Assets
from gis_service.maps.build import build_map, render
from gis_service.maps.data import MapRequest, fetch_async
from gis_service.responses import etag_for, not_modified

router = APIRouter(prefix="/maps", tags=["Maps"])
Year = Annotated[int | None, Query(description="Year the time control opens on, 2000-2060 (default 2040).")]
Units = Annotated[str | None, Query(description="Choropleth units: legacy, legacy-wards or 2025 (default: in force).")]
PAGE_CACHE = "no-cache"


@lru_cache(maxsize=1)
def code_version() -> str:
    """Changes when the map code or our static files change, so ETags do not outlive a deploy."""
    files = sorted([*FilePath(__file__).parent.parent.joinpath("maps").glob("*.py"), *STATIC_DIR.glob("*.*s")])
    return hashlib.sha1(b"".join(f.read_bytes() for f in files), usedforsecurity=False).hexdigest()[:12]


def page(body: str, status: int = 200, *, image_hosts: tuple[str | None, ...] = ()) -> HTMLResponse:
    headers = {"Content-Security-Policy": csp.policy(body, image_hosts=image_hosts), "Cache-Control": PAGE_CACHE}
    return HTMLResponse(body, status_code=status, headers=headers)


async def as_page(answer: Callable[[], Awaitable[Response]]) -> Response:
    """Domain errors as HTML pages with their status (unknown collection 404, bad year 400 ...)."""
    try:
        return await answer()
    except GisServiceError as exc:
        return page(pages.error_html(exc), exc.status)


async def map_page(
    request: Request, conn: ConnDep, catalog: CatalogDep, map_request: MapRequest, title: str
) -> Response:
    settings = request.app.state.settings
    root = request.scope.get("root_path", "")
    options = pages.map_options(
        settings, Assets.served(root), title=title, rasters=pages.raster_overlays(settings, root), root=root
    )
    options.assets.check()
    versions = await repository.layer_versions(conn)
    etag = etag_for(request.url.path, sorted(versions.items()), map_request, options, code_version())
    if not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": PAGE_CACHE})
    data = await fetch_async(conn, catalog, map_request)
    body = await run_in_threadpool(lambda: render(build_map(data, options)))
    response = page(body, image_hosts=(csp.origin(options.osm_url),))
    response.headers["ETag"] = etag
    return response


@router.get("", operation_id="getMaps", summary="The maps (HTML)", response_class=HTMLResponse)
async def maps_index(request: Request, catalog: CatalogDep, settings: SettingsDep) -> Response:
    async def answer() -> Response:
        reject_unknown(request, set())
        return page(pages.index_html(catalog, settings))

    return await as_page(answer)


@router.get(
    "/planning-2040", operation_id="getPlanningMap", summary="Planning map to 2040 (HTML)", response_class=HTMLResponse
)
async def planning_map(
    request: Request, conn: ConnDep, catalog: CatalogDep, settings: SettingsDep, year: Year = None, units: Units = None
) -> Response:
    async def answer() -> Response:
        reject_unknown(request, {"year", "units"})
        map_request = pages.map_request(settings, year=year, units=units)
        return await map_page(request, conn, catalog, map_request, pages.PLANNING_TITLE)

    return await as_page(answer)


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
    collectionId: Annotated[str, Path(description="Collection id (a table name, no dots).")],
    year: Year = None,
    units: Units = None,
) -> Response:
    async def answer() -> Response:
        reject_unknown(request, {"year", "units"})
        spec = catalog.get(collectionId)
        map_request = pages.map_request(settings, year=year, units=units, collections=(spec.id,))
        return await map_page(request, conn, catalog, map_request, spec.title)

    return await as_page(answer)
