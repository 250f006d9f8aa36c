"""OGC API Features: collections, items, item, queryables and sortables."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import URL

from gis_service import downloads, edits, history, html, repository
from gis_service.auth.dependency import ReadableCollection, ReadableLayers
from gis_service.dependencies import (
    CatalogDep,
    ConnDep,
    ItemsDep,
    SettingsDep,
    crs_query,
    output_format,
    reject_unknown,
)
from gis_service.queries.features import ItemsQuery
from gis_service.responses import CSV, GEOJSON, GEOJSONSEQ, GPKG, HTML, FastJSON, GeoJSONResponse, dumps
from gis_service.routers import paths
from gis_service.routers.common import DocFormat, base_url, json_or_html
from gis_service.schemas import ogc
from gis_service.schemas.feature_schema import SCHEMA_MEDIA_TYPE, feature_schema

router = APIRouter(tags=["Features"])
CRS_PREFIX = "http://www.opengis.net/def/crs/"


def content_crs(query: ItemsQuery) -> str:
    if query.out_srid == 4326:
        return "<http://www.opengis.net/def/crs/EPSG/0/4326>" if query.lat_first else f"<{ogc.OGC_CRS84}>"
    return f"<{CRS_PREFIX}EPSG/0/{query.out_srid}>"


def page_links(request: Request, query: ItemsQuery, returned: int, matched: int) -> list[dict[str, str]]:
    url = URL(str(request.url))
    links = [
        ogc.link(str(url), "self", GEOJSON, "This page"),
        ogc.link(str(url.include_query_params(f="html")), "alternate", HTML, "This page as HTML"),
    ]
    if query.offset + returned < matched:
        links.append(
            ogc.link(
                str(url.include_query_params(offset=query.offset + returned, limit=query.limit)),
                "next",
                GEOJSON,
                "Next page",
            )
        )
    if query.offset > 0:
        links.append(
            ogc.link(
                str(url.include_query_params(offset=max(0, query.offset - query.limit), limit=query.limit)),
                "prev",
                GEOJSON,
                "Previous page",
            )
        )
    return links


@router.get("/collections", operation_id="getCollections", summary="Collections")
async def collections(
    request: Request, conn: ConnDep, catalog: CatalogDep, readable: ReadableLayers, f: DocFormat = None
) -> Response:
    base = base_url(request)
    specs = readable.only(catalog)
    extents = await repository.extents(conn, request.app.state.extents, specs)
    docs = [ogc.collection(base, spec, extents[spec.id].bbox, extents[spec.id].interval) for spec in specs]
    links = [ogc.link(f"{base}/collections", "self", "application/json")]
    return json_or_html(request, {"title": "Collections", "links": links, "collections": docs})


@router.get("/collections/{collectionId}", operation_id="describeCollection", summary="A collection")
async def collection(request: Request, conn: ConnDep, spec: ReadableCollection, f: DocFormat = None) -> Response:
    extent = (await repository.extents(conn, request.app.state.extents, [spec]))[spec.id]
    return json_or_html(request, ogc.collection(base_url(request), spec, extent.bbox, extent.interval))


def json_schema(request: Request, document: dict[str, Any], media_type: str = "application/schema+json") -> Response:
    """A JSON Schema whatever ``f`` asks for, but ``f`` must still be a format, and the only parameter."""
    reject_unknown(request, {"f"})
    output_format(request, request.query_params.get("f"))
    return FastJSON(document, media_type=media_type)


@router.get("/collections/{collectionId}/queryables", operation_id="getQueryables", summary="Queryables (JSON Schema)")
async def queryables(request: Request, spec: ReadableCollection) -> Response:
    return json_schema(request, ogc.queryables(base_url(request), spec))


@router.get("/collections/{collectionId}/sortables", operation_id="getSortables", summary="Sortables (JSON Schema)")
async def sortables(request: Request, spec: ReadableCollection) -> Response:
    return json_schema(request, ogc.queryables(base_url(request), spec, "sortables"))


@router.get("/collections/{collectionId}/schema", operation_id="getSchema", summary="Feature schema (Part 5)")
async def schema(request: Request, spec: ReadableCollection) -> Response:
    return json_schema(request, feature_schema(base_url(request), spec), SCHEMA_MEDIA_TYPE)


@router.get(
    "/collections/{collectionId}/items",
    operation_id="getFeatures",
    summary="Features of a collection",
    response_class=GeoJSONResponse,
)
async def items(
    request: Request, conn: ConnDep, spec: ReadableCollection, params: ItemsDep, settings: SettingsDep
) -> Response:
    fmt = params.output_format()
    query = params.to_query(spec, settings, download=fmt in ("gpkg", "csv"))
    if fmt in ("csv", "gpkg", "html"):
        return await _rows_response(request, conn, spec, query, fmt)
    sep = ",\n" if fmt == "json" else "\n\x1e"
    page = await repository.items(conn, spec, query, sep)
    headers = {"Content-Crs": content_crs(query)}
    if fmt == "geojsonseq":
        return Response("\x1e" + page.body + "\n" if page.body else "", media_type=GEOJSONSEQ, headers=headers)
    links = page_links(request, query, page.returned, page.matched)
    head = {
        "type": "FeatureCollection",
        "numberMatched": page.matched,
        "numberReturned": page.returned,
        "timeStamp": _now(),
        "links": links,
    }
    body = dumps(head)[:-1] + b',"features":[' + page.body.encode() + b"]}"
    return Response(body, media_type=GEOJSON, headers=headers)


async def _rows_response(request: Request, conn: ConnDep, spec: Any, query: ItemsQuery, fmt: str) -> Response:
    rows = await repository.item_rows(conn, spec, query)
    names = list(query.properties or spec.property_names)
    if fmt == "csv":
        disposition = {"Content-Disposition": f'attachment; filename="{spec.id}.csv"'}
        return Response(downloads.csv_text(rows, names), media_type=CSV, headers=disposition)
    if fmt == "gpkg":
        data = await run_in_threadpool(downloads.geopackage, rows, names, spec.id, query.out_srid)
        return Response(
            data, media_type=GPKG, headers={"Content-Disposition": f'attachment; filename="{spec.id}.gpkg"'}
        )
    matched = await repository.count(conn, spec, query)
    links = page_links(request, query, len(rows), matched)
    return html.response(html.features_table(spec.title, rows, links, matched))


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@router.get(
    paths.ITEM,
    operation_id="getFeature",
    summary="One feature",
    response_class=GeoJSONResponse,
)
async def item(
    request: Request,
    conn: ConnDep,
    spec: ReadableCollection,
    featureId: str = Path(max_length=64, description="Feature id; a `/` in it is sent as `%2F`."),
    crs: str | None = None,
    f: str | None = None,
) -> Response:
    reject_unknown(request, {"crs", "f"})
    out = crs_query(crs)
    query = ItemsQuery(out_srid=out.srid, lat_first=out.lat_first)
    headers = {"Content-Crs": content_crs(query)}
    feature_id = spec.feature_id(featureId)
    if spec.editable:  # a strong ETag from the row's version, the same for every encoding (Part 4)
        text, version = await edits.item_with_version(conn, spec, feature_id, query)
        headers["ETag"] = edits.etag(version)
    else:
        text = await repository.item(conn, spec, feature_id, query)
    if output_format(request, f) == "html":
        feature = orjson.loads(text)
        timeline = html.timeline(await history.versions(conn, spec, featureId)) if spec.editable else ""
        page = html.response(html.features_table(f"{spec.title}: {featureId}", [feature], [], 1, timeline))
        if "ETag" in headers:
            page.headers["ETag"] = headers["ETag"]
        return page
    href = f"{base_url(request)}/collections/{spec.id}"
    links = [ogc.link(str(request.url), "self", GEOJSON), ogc.link(href, "collection", "application/json")]
    body = text[:-1] + ',"links":' + dumps(links).decode() + "}"
    return Response(body, media_type=GEOJSON, headers=headers)
