"""Landing page, conformance, OpenAPI document and its Swagger UI page, health."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from gis_service import html, repository
from gis_service.dependencies import CatalogDep, ConnDep, SettingsDep, output_format, reject_unknown
from gis_service.maps.assets import STATIC_DIR, VENDOR, AssetsMissing
from gis_service.maps.vendor import SWAGGER_UI
from gis_service.responses import OPENAPI, FastJSON
from gis_service.schemas import ogc

router = APIRouter(tags=["Capabilities"])
DocFormat = Annotated[
    Literal["json", "html"] | None, Query(description="json or html (default: html for browsers, else json).")
]


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def root_path(request: Request) -> str:
    """The path the service is mounted under (``""`` at the root), without a trailing slash."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def json_or_html(request: Request, doc: dict[str, Any]) -> Response:
    """The document as JSON or HTML; ``f`` was already checked by its :data:`DocFormat` parameter."""
    reject_unknown(request, {"f"})
    if output_format(request, request.query_params.get("f")) == "html":
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


#: Our init script of Swagger UI (``static/``): the page has no inline script for its policy to allow.
API_DOCS_JS = "api-docs.js"


def api_page(root: str, title: str) -> str:
    """Swagger UI from our origin: the vendored bundle and stylesheet, then our init script; the document's
    URL travels in a data attribute, never in script text."""
    static = f"{root}/static"
    vendored = f"{static}/{VENDOR}/{SWAGGER_UI.spec}"
    return (
        html.head(title, lang="en")
        + f'<link rel="stylesheet" href="{html.esc(vendored)}/swagger-ui.css">'
        + f'<link rel="icon" type="image/png" href="{html.esc(vendored)}/favicon-32x32.png">'
        + f'</head><body><div id="swagger-ui" data-openapi-url="{html.esc(root)}/api"></div>'
        + f'<script src="{html.esc(vendored)}/swagger-ui-bundle.js"></script>'
        + f'<script src="{html.esc(static)}/{API_DOCS_JS}"></script></body></html>'
    )


@router.get("/api.html", operation_id="getAPIDocs", include_in_schema=False)
async def api_docs(request: Request, settings: SettingsDep) -> Response:
    reject_unknown(request, set())
    if not (STATIC_DIR / VENDOR / SWAGGER_UI.spec / "swagger-ui-bundle.js").is_file():
        raise AssetsMissing("Swagger UI is not installed: run `gis-service map vendor` (make run does it)")
    page = api_page(root_path(request), f"{settings.api.title} – API")
    # Swagger UI draws its icons from data: URIs in its stylesheet.
    return html.response(page, image_hosts=["data:"])


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
