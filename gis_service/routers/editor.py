"""The planner's editor in the browser (``/edit``): Leaflet with Leaflet-Geoman, every write through the
Part 4 API and ``/proposals``, never anything of its own.

The page carries no data of the service in its script text: what the form needs (the editable collections,
their properties, enums and required fields) travels in one JSON block (:func:`gis_service.html.json_block`),
and the script (``static/editor.js``) builds every element with ``textContent``, so a property holding markup
stays text. ``GET /edit/session`` tells the signed-in page who it is, its role per collection and its edit
areas.

With an OIDC issuer and the editor's public client id configured, the page also signs in with the
authorization-code flow and PKCE (S256), entirely in the browser: it reads the issuer's discovery document,
keeps state, nonce and code verifier in ``sessionStorage``, exchanges the code at the token endpoint without a
secret and sends the **id token** as ``Authorization: Bearer``. The id token, because it is the JWT the API
can check offline against the issuer's keys (its ``aud`` is the client id); access tokens may be opaque (as
oidc-provider-mock's are) and the API does no introspection. ``connect-src`` gains the issuer's origin, and
only it.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from gis_service import html
from gis_service.auth.dependency import CurrentPrincipal
from gis_service.catalog import Catalog, LayerSpec
from gis_service.dependencies import CatalogDep, ConnDep, SettingsDep, reject_unknown
from gis_service.maps.assets import LEAFLET, STATIC_DIR, VENDOR, AssetsMissing
from gis_service.maps.vendor import GEOMAN
from gis_service.models import GEOMETRY_QUALITIES
from gis_service.proposals import signed_in
from gis_service.queries import edits as eq
from gis_service.queries import proposals as pq
from gis_service.responses import FastJSON
from gis_service.routers.common import root_path
from gis_service.settings import AuthSettings

router = APIRouter(prefix="/edit", tags=["Editor"])
OWN = ("editor.js", "editor.css")
#: What an issuer appends to the redirect URI (RFC 6749 4.1.2, RFC 9207 ``iss``, OIDC session management).
CALLBACK = {"code", "state", "error", "error_description", "error_uri", "iss", "session_state"}


def field(spec: LayerSpec, name: str, required: set[str]) -> dict[str, Any]:
    prop = spec.property(name)
    column = eq.model_table(spec).c[name]
    kind = (
        prop.type
        if prop
        else {"int": "integer", "float": "number", "bool": "boolean"}.get(column.type.python_type.__name__, "string")
    )
    enum = prop.enum if prop and prop.enum else (list(GEOMETRY_QUALITIES) if name == "geometry_quality" else None)
    title = prop.title if prop and prop.title else name
    return {"name": name, "type": kind, "enum": enum, "title": title, "required": name in required}


def collection_form(spec: LayerSpec) -> dict[str, Any]:
    """What the page's form is generated from: the writable properties with their types, enums and whether
    the API requires them (the loader's required columns, ``source`` and ``geometry_quality``)."""
    required = set(eq.required_properties(spec))
    names = [n for n in eq.writable_columns(spec) if n not in ("synthetic", "name_ascii")]
    names.sort(key=lambda n: (n not in required, n))
    return {
        "id": spec.id,
        "title": spec.title,
        "geometryType": spec.geometry_type,
        "idColumn": spec.id_column,
        "precondition": spec.precondition,
        "fields": [field(spec, n, required) for n in names],
        # Polygons written as GeoJSON members of the properties (a park's footprint besides its site point).
        "extraGeometries": eq.extra_geometries(spec),
    }


def oidc_config(auth: AuthSettings) -> dict[str, Any] | None:
    """What the page needs for the authorization-code flow with PKCE; None without an issuer or client id."""
    if not (auth.oidc_issuer and auth.oidc_editor_client_id):
        return None
    return {
        "issuer": auth.oidc_issuer.rstrip("/"),
        "clientId": auth.oidc_editor_client_id,
        "scopes": " ".join(auth.oidc_editor_scopes),
    }


def page_config(catalog: Catalog, root: str, auth: AuthSettings) -> dict[str, Any]:
    return {
        "root": root,
        "collections": [collection_form(spec) for spec in catalog if spec.editable],
        "oidc": oidc_config(auth),
    }


def issuer_origin(auth: AuthSettings) -> str | None:
    """The origin the page fetches the discovery document and exchanges the code at (the issuer's, by OIDC
    Discovery; a token endpoint on another host would need its origin here too): ``connect-src`` gains it,
    and only it."""
    return html.origin(auth.oidc_issuer) if oidc_config(auth) else None


def editor_page(root: str, title: str, config: dict[str, Any]) -> str:
    static = f"{root}/static"
    leaflet = f"{static}/{VENDOR}/{LEAFLET.spec}"
    geoman = f"{static}/{VENDOR}/{GEOMAN.spec}"
    return (
        html.head(title)
        + f'<link rel="stylesheet" href="{html.esc(leaflet)}/leaflet.css">'
        + f'<link rel="stylesheet" href="{html.esc(geoman)}/leaflet-geoman.css">'
        + f'<link rel="stylesheet" href="{html.esc(static)}/editor.css">'
        + '</head><body><div id="editor-app"></div><div id="editor-map"></div>'
        + html.json_block("editor-config", config)
        + f'<script src="{html.esc(leaflet)}/leaflet.js"></script>'
        + f'<script src="{html.esc(geoman)}/leaflet-geoman.min.js"></script>'
        + f'<script src="{html.esc(static)}/editor.js"></script></body></html>'
    )


def assets_present() -> None:
    wanted = [STATIC_DIR / VENDOR / GEOMAN.spec / "leaflet-geoman.min.js", *(STATIC_DIR / name for name in OWN)]
    if not all(path.is_file() for path in wanted):
        raise AssetsMissing("the editor's scripts are not installed: run `python -m gis_service.maps.vendor`")


@router.get("", operation_id="getEditor", summary="The planner's editor (HTML)", response_class=HTMLResponse)
async def editor(request: Request, catalog: CatalogDep, settings: SettingsDep) -> Response:
    reject_unknown(request, CALLBACK if oidc_config(settings.auth) else set())
    assets_present()
    root = root_path(request)
    config = page_config(catalog, root, settings.auth)
    page = editor_page(root, f"{settings.api.title} – Biên tập / Editor", config)
    # Leaflet-Geoman draws its toolbar icons from data: URIs in its stylesheet.
    return html.response(page, image_hosts=["data:"], connect_hosts=[issuer_origin(settings.auth)])


@router.get("/session", operation_id="getEditSession", summary="Who is signed in: roles and edit areas")
async def session(request: Request, conn: ConnDep, catalog: CatalogDep, principal: CurrentPrincipal) -> Response:
    reject_unknown(request, set())
    who = signed_in(principal)
    editable = [spec.id for spec in catalog if spec.editable]
    roles = {c: role for c in editable if (role := who.role_for(c))}
    limited = [c for c in roles if c in who.grants and who.grants[c].area and not who.admin]
    areas = {}
    if limited and who.id is not None:
        rows = (await conn.execute(pq.edit_areas(who.id, list(who.groups), limited))).all()
        areas = {r.collection: orjson.loads(r.geometry) for r in rows}
    return FastJSON({"name": who.name, "scheme": who.scheme, "roles": roles, "editAreas": areas})
