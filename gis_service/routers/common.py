"""Landing page, conformance, OpenAPI document, health."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from gis_service import html, repository
from gis_service.dependencies import CatalogDep, ConnDep, SettingsDep, output_format, reject_unknown
from gis_service.errors import InvalidParameter
from gis_service.responses import OPENAPI, FastJSON
from gis_service.schemas import ogc

router = APIRouter(tags=["Capabilities"])
DOC_FORMATS = ("json", "html")
DocFormat = Annotated[
    Literal["json", "html"] | None, Query(description="json or html (default: html for browsers, else json).")
]


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def json_or_html(request: Request, doc: dict[str, Any]) -> Response:
    reject_unknown(request, {"f"})
    f = request.query_params.get("f")
    if f is not None and f not in DOC_FORMATS:
        raise InvalidParameter("f must be json or html", parameter="f")
    if output_format(request, f) == "html":
        return html.response(html.document(doc))
    return FastJSON(doc)


@router.get("/", operation_id="getLandingPage", summary="Landing page")
async def landing(request: Request, settings: SettingsDep, f: DocFormat = None) -> Response:
    doc = ogc.landing(
        base_url(request),
        settings.api.title,
        "OGC API Features of former Binh Duong province: parks, transport, units, parcels.",
    )
    return json_or_html(request, doc)


@router.get("/conformance", operation_id="getConformance", summary="Conformance")
async def conformance(request: Request, f: DocFormat = None) -> Response:
    return json_or_html(request, {"title": "Conformance", "conformsTo": ogc.CONFORMANCE})


@router.get("/api", operation_id="getOpenAPI", summary="OpenAPI 3.0 definition", include_in_schema=False)
async def openapi(request: Request) -> Response:
    return FastJSON(request.app.openapi(), media_type=OPENAPI)


@router.get("/api.html", operation_id="getAPIDocs", include_in_schema=False)
async def api_docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/api", title="Binh Duong planning GIS – API")


@router.get("/health", operation_id="getHealth", summary="Service health")
async def health(request: Request, conn: ConnDep, catalog: CatalogDep) -> Response:
    """Database reachable, PostGIS version, migration head (and whether it is the newest) and the feature
    count of every layer."""
    reject_unknown(request, set())
    body = await repository.health(conn, catalog)
    expected = request.app.state.migration_head
    current = body["migration"] == expected
    return FastJSON(
        {
            "status": "ok" if current else "degraded",
            "database": "reachable",
            **body,
            "migration_expected": expected,
            "schema_up_to_date": current,
        }
    )
