"""Planning analyses over HTTP; the same plans run from Python (gis_service.analysis.api)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from gis_service.analysis import Plan, plans, run_async, stats
from gis_service.analysis.access import Access
from gis_service.analysis.inputs import MAX_CORRIDOR_M, MAX_RADIUS_M, MIN_RADIUS_M, REGION
from gis_service.analysis.inputs import geometry as checked_geometry
from gis_service.auth.dependency import CurrentPrincipal, allowed
from gis_service.auth.principal import Action
from gis_service.dependencies import AsciiDate, AsciiFloat, AsciiInt, CatalogDep, ConnDep, SettingsDep, reject_unknown
from gis_service.errors import NotAuthenticated
from gis_service.responses import CSV, FastJSON, GeoJSONResponse
from gis_service.schemas.analysis import NearbyBody, SiteSelectionBody

router = APIRouter(prefix="/analysis", tags=["Analysis"])
Day = Annotated[AsciiDate | None, Query(description="Date the administrative units are taken at (default today).")]


def only(request: Request, *names: str) -> None:
    reject_unknown(request, set(names))


async def caller_access(catalog: CatalogDep, settings: SettingsDep, principal: CurrentPrincipal) -> Access:
    """The collections this caller's analyses may read (the grants read once, with the credentials)."""
    if principal is None and not settings.auth.anonymous_reads:
        raise NotAuthenticated("the analyses read collections, and reading needs credentials here")
    return Access.of(catalog, lambda spec: allowed(settings, principal, spec, Action.READ), anonymous=principal is None)


AccessDep = Annotated[Access, Depends(caller_access)]


async def answer(request: Request, conn: AsyncConnection, plan: Plan) -> Any:
    """Run the plan; an answer that depends on who asks is private (``Cache-Control: private``)."""
    if plan.private:
        request.state.cache_private = True
    return await run_async(conn, plan)


@router.get("/locate", operation_id="locate", summary="What is here: units, park, zone, parcel, nearest transport")
async def locate(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    lon: Annotated[AsciiFloat, Query(ge=REGION[0], le=REGION[2], examples=[106.7266])],
    lat: Annotated[AsciiFloat, Query(ge=REGION[1], le=REGION[3], examples=[10.9312])],
    access: AccessDep,
    date: Day = None,
) -> Response:
    only(request, "lon", "lat", "date")
    return FastJSON(await answer(request, conn, plans.locate(catalog, lon, lat, date, access=access)))


@router.get(
    "/nearby",
    operation_id="nearby",
    summary="Features within a distance of a point or a feature",
    response_class=GeoJSONResponse,
)
async def nearby(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    access: AccessDep,
    collection: Annotated[str, Query(max_length=64, examples=["industrial_parks"])],
    distance_m: Annotated[
        AsciiFloat, Query(ge=MIN_RADIUS_M, le=MAX_RADIUS_M, description="Radius in metres.", examples=[5000])
    ],
    lon: Annotated[
        AsciiFloat | None, Query(ge=REGION[0], le=REGION[2], description="Point (CRS84).", examples=[106.7266])
    ] = None,
    lat: Annotated[
        AsciiFloat | None, Query(ge=REGION[1], le=REGION[3], description="Point (CRS84).", examples=[10.9312])
    ] = None,
    feature: Annotated[
        str | None, Query(description="collection/id, e.g. transport_projects/QL13", max_length=130)
    ] = None,
    limit: Annotated[AsciiInt, Query(ge=1, le=10_000)] = 100,
) -> Response:
    only(request, "collection", "distance_m", "lon", "lat", "feature", "limit")
    reference = plans.Reference.of_feature(feature) if feature is not None else plans.Reference(lon=lon, lat=lat)
    plan = plans.nearby(catalog, collection, reference, distance_m, limit, access)
    return GeoJSONResponse(await answer(request, conn, plan))


@router.post(
    "/nearby",
    operation_id="nearbyGeometry",
    summary="Features within a distance of a posted geometry",
    response_class=GeoJSONResponse,
)
async def nearby_geometry(
    request: Request, conn: ConnDep, catalog: CatalogDep, access: AccessDep, body: NearbyBody
) -> Response:
    reference = plans.Reference(geojson=checked_geometry(body.geometry))
    plan = plans.nearby(catalog, body.collection, reference, body.distance_m, body.limit, access)
    return GeoJSONResponse(await answer(request, conn, plan))


@router.get("/corridor", operation_id="corridor", summary="What a transport project's right of way takes")
async def corridor(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    project: Annotated[str, Query(min_length=1, max_length=32, examples=["QL13"])],
    width_m: Annotated[
        AsciiFloat, Query(ge=MIN_RADIUS_M, le=MAX_CORRIDOR_M, description="Right-of-way width, metres.", examples=[60])
    ],
    access: AccessDep,
    date: Day = None,
) -> Response:
    only(request, "project", "width_m", "date")
    return FastJSON(await answer(request, conn, plans.corridor(catalog, project, width_m, date, access)))


@router.get("/area-stats", operation_id="areaStats", summary="Hectares and counts by unit, status or horizon")
async def area_stats(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    access: AccessDep,
    collection: Annotated[
        str, Query(examples=["industrial_parks"], json_schema_extra={"enum": list(stats.STAT_LAYERS)})
    ],
    by: Annotated[str, Query(description="unit, status, horizon_year, zone_type, land_use_code")] = "unit",
    units: Annotated[
        str,
        Query(description="legacy (districts), legacy-wards or 2025", json_schema_extra={"enum": [*stats.UNIT_SETS]}),
    ] = "2025",
    date: Day = None,
) -> Response:
    only(request, "collection", "by", "units", "date")
    return FastJSON(await answer(request, conn, stats.area_stats(catalog, collection, by, units, date, access)))


@router.post("/site-selection", operation_id="siteSelection", summary="Ranked candidate sites (GeoJSON or CSV)")
async def site_selection(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    body: SiteSelectionBody,
    access: AccessDep,
    f: Annotated[Literal["json", "csv"] | None, Query(description="json (GeoJSON) or csv")] = None,
) -> Response:
    only(request, "f")
    criteria = stats.SiteCriteria(**body.model_dump())
    result = await answer(request, conn, stats.site_selection(catalog, criteria, access))
    if f == "csv":
        return Response(sites_csv(result), media_type=CSV)
    return GeoJSONResponse(result)


def sites_csv(result: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = sorted({n for s in result["features"] for n in s["properties"]["criteria"]})
    writer.writerow(["site", "score", *[f"{n}_value" for n in names], *[f"{n}_score" for n in names], "members"])
    for site in result["features"]:
        crit = site["properties"]["criteria"]
        values = [next((v for k, v in crit.get(n, {}).items() if k != "score" and k != "max_m"), "") for n in names]
        writer.writerow(
            [
                site["id"],
                site["properties"]["score"],
                *values,
                *[crit.get(n, {}).get("score", "") for n in names],
                " ".join(map(str, site["properties"]["members"])),
            ]
        )
    return out.getvalue()


@router.get("/crosswalk", operation_id="crosswalk", summary="2025 reform: old units -> new units with shares")
async def crosswalk(
    request: Request,
    conn: ConnDep,
    access: AccessDep,
    code: Annotated[str, Query(min_length=1, max_length=16, examples=["25741"])],
    direction: Annotated[
        Literal["forward", "reverse"], Query(description="forward (old -> new) or reverse")
    ] = "forward",
    level: Annotated[Literal["ward", "district"], Query(description="ward or district")] = "ward",
) -> Response:
    only(request, "code", "direction", "level")
    return FastJSON(await answer(request, conn, stats.crosswalk(code, direction, level, access)))


@router.get("/reassign", operation_id="reassign", summary="Features of a layer -> 2025 units by largest overlap")
async def reassign(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    collection: Annotated[str, Query(examples=["industrial_parks"])],
    access: AccessDep,
    limit: Annotated[AsciiInt, Query(ge=1, le=100_000)] = 10_000,
) -> Response:
    only(request, "collection", "limit")
    return FastJSON(await answer(request, conn, stats.reassign(catalog, collection, None, limit, access)))


@router.get("/timeline", operation_id="timeline", summary="What exists or is planned in a year")
async def timeline(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    access: AccessDep,
    year: Annotated[AsciiInt, Query(ge=2000, le=2060, examples=[2040])],
) -> Response:
    only(request, "year")
    return FastJSON(await answer(request, conn, stats.timeline(catalog, year, access)))
