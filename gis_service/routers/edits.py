"""OGC API Features Part 4 (create, replace, update, delete) and the history extensions. Thin: parsing in
small functions, the transaction in :mod:`gis_service.edits`, SQL in the query builders.

Extensions (not OGC): ``GET …/items/{id}/history``, ``GET /collections/{id}/changes``, ``POST
…/items/{id}/revert`` and the ``asOf`` parameter of ``…/items``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from gis_service import edit_input, edits, history
from gis_service.auth.dependency import CurrentPrincipal, ReadableCollection, authorize
from gis_service.auth.principal import Action, Principal
from gis_service.catalog import LayerSpec
from gis_service.crs import SUPPORTED, ServiceCrs
from gis_service.dependencies import AsciiInt, CollectionDep, ConnDep, crs_query, reject_unknown
from gis_service.errors import InvalidParameter, MethodNotAllowed, PreconditionRequired
from gis_service.literals import datetime_value
from gis_service.queries import edits as eq
from gis_service.replicas import remember_write
from gis_service.responses import GEOJSON, FastJSON
from gis_service.routers.common import base_url
from gis_service.routers.paths import HISTORY, ITEM, ITEMS, REVERT

router = APIRouter(tags=["Editing"])
READ_METHODS = ["GET", "HEAD", "OPTIONS"]
FeatureIdPath = Annotated[str, Path(max_length=64, description="Feature id; a `/` in it is sent as `%2F`.")]
CommentHeader = Annotated[str | None, Header(alias="X-Change-Comment", max_length=500, description="Why (change set).")]
IfMatchHeader = Annotated[str | None, Header(alias="If-Match", max_length=500, description="Strong ETag(s) or `*`.")]
PreferHeader = Annotated[str | None, Header(alias="Prefer", max_length=200, description="`return=representation`.")]
CrsHeader = Annotated[str | None, Header(alias="Content-Crs", max_length=200, description="CRS of the body.")]


def allowed(principal: Principal | None, spec: LayerSpec, item: bool) -> list[str]:
    """The methods this caller may use on the resource now (QGIS enables editing from them)."""
    writes = ["PUT", "PATCH", "DELETE"] if item else ["POST"]
    may_edit = spec.editable and principal is not None and principal.may(spec.id, Action.EDIT)
    return READ_METHODS + writes if may_edit else READ_METHODS


def editable(request: Request, principal: Principal | None, spec: LayerSpec, action: Action) -> None:
    if not spec.editable:
        allow = ", ".join(READ_METHODS)
        raise MethodNotAllowed(f"{spec.id} is read-only", parameter="collectionId", headers={"Allow": allow})
    authorize(request, principal, spec, action)


def context(request: Request, principal: Principal | None, comment: str | None, prefer: str | None,
            if_match: str | None = None, spec: LayerSpec | None = None) -> edits.EditContext:  # fmt: skip
    parsed = edit_input.IfMatch.parse(if_match)
    if spec is not None and parsed is None and spec.precondition == "required":
        raise PreconditionRequired(f"{spec.id} takes changes only with If-Match (GET the feature for its ETag)",
                                   parameter="If-Match")  # fmt: skip
    assert principal is not None  # authorize() let no anonymous writer through
    representation = "return=representation" in (prefer or "").replace(" ", "")
    return edits.EditContext(principal, utf8_header(comment), client(request), representation, parsed)


def client(request: Request) -> str | None:
    """The change set's client: the User-Agent, cut to 200 characters."""
    return (request.headers.get("user-agent") or "")[:200] or None


def utf8_header(value: str | None) -> str | None:
    """A header sent as UTF-8 bytes (a Vietnamese comment from the editor page) is read as Latin-1 by
    the server; read it again as UTF-8 where it is valid UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8") if value else value
    except UnicodeError:
        return value


async def written(request: Request, spec: LayerSpec, result: edits.Written, ctx: edits.EditContext,
                  created: bool = False, warnings: list[str] | None = None) -> Response:  # fmt: skip
    headers = {"ETag": edits.etag(result.version)}
    if created:
        headers["Location"] = (
            f"{base_url(request)}/collections/{spec.id}/items/{quote(str(result.feature_id), safe='')}"
        )
    if warnings:
        headers["X-Edit-Warnings"] = "; ".join(warnings)[:1000]
    status = 201 if created and not result.replayed else 200
    if result.body is not None:
        headers["Preference-Applied"] = "return=representation"
        response = Response(result.body, status_code=status, media_type=GEOJSON, headers=headers)
    else:
        response = Response(status_code=status if created else 204, headers=headers)
    await remember_write(request, response)  # read-your-writes on replicas
    return response


async def json_document(request: Request, accepted: tuple[str, ...]) -> dict[str, Any]:
    """The body: one of the ``accepted`` media types, a JSON object nested no deeper than the bound."""
    edit_input.media_type(request.headers.get("content-type"), accepted)
    return edit_input.json_body(await request.body())


async def feature_body(request: Request, spec: LayerSpec, crs: str | None, key: Any = None) -> edit_input.Candidate:
    """The feature of a POST or PUT, checked as the loader checks, under the id it is written as."""
    document = await json_document(request, edit_input.FEATURE_TYPES)
    return await run_in_threadpool(edit_input.checked_feature, spec, document, content_crs(crs), key)


def content_crs(header: str | None) -> ServiceCrs:
    """A CRS URI the service supports, in angle brackets (Part 2) or bare (QGIS); CRS84 when absent."""
    if header is None:
        return crs_query(None)
    uri = header.strip()
    if uri[:1] == "<" and uri[-1:] == ">":
        uri = uri[1:-1]
    if uri not in SUPPORTED:
        raise InvalidParameter(f"Content-Crs: {uri[:80]!r} is not a CRS URI of this service; use one of "
                               f"{sorted(SUPPORTED)} (in angle brackets or bare)", parameter="Content-Crs")  # fmt: skip
    return SUPPORTED[uri]


@router.options(ITEMS, operation_id="optionsFeatures", summary="Methods allowed on the items")
async def options_items(request: Request, spec: ReadableCollection, principal: CurrentPrincipal) -> Response:
    headers = {"Allow": ", ".join(allowed(principal, spec, False)), "Accept-Post": "application/geo+json"}
    return Response(status_code=200, headers=headers)


@router.options(ITEM, operation_id="optionsFeature", summary="Methods allowed on a feature (known or not)")
async def options_item(request: Request, spec: ReadableCollection, principal: CurrentPrincipal,
                       featureId: FeatureIdPath) -> Response:  # fmt: skip
    headers = {"Allow": ", ".join(allowed(principal, spec, True)), "Accept-Patch": edit_input.MERGE_PATCH}
    return Response(status_code=200, headers=headers)


@router.post(ITEMS, operation_id="createFeature", summary="Add a feature (Part 4)", status_code=201)
async def create(request: Request, spec: CollectionDep, principal: CurrentPrincipal, comment: CommentHeader = None,
                 prefer: PreferHeader = None, crs: CrsHeader = None,
                 idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
                 ) -> Response:  # fmt: skip
    editable(request, principal, spec, Action.EDIT)
    candidate = await feature_body(request, spec, crs, key=eq.new_code(spec))
    ctx = context(request, principal, comment, prefer)
    result = await edits.create(request.app.state.engine, spec, ctx, candidate, idempotency_key)
    return await written(request, spec, result, ctx, created=True, warnings=candidate.warnings)


@dataclass(frozen=True)
class ItemChange:
    """A PUT or PATCH of one feature with its writer allowed and its headers read (the body not yet)."""

    spec: LayerSpec
    feature_id: str
    ctx: edits.EditContext
    crs: str | None


async def item_change(request: Request, featureId: FeatureIdPath, spec: CollectionDep, principal: CurrentPrincipal,
                      comment: CommentHeader = None, prefer: PreferHeader = None, crs: CrsHeader = None,
                      if_match: IfMatchHeader = None) -> ItemChange:  # fmt: skip
    editable(request, principal, spec, Action.EDIT)
    return ItemChange(spec, featureId, context(request, principal, comment, prefer, if_match, spec), crs)


ItemChangeDep = Annotated[ItemChange, Depends(item_change)]


@router.put(ITEM, operation_id="replaceFeature", summary="Replace a feature (Part 4)")
async def replace(request: Request, change: ItemChangeDep) -> Response:
    spec, ctx = change.spec, change.ctx
    candidate = await feature_body(request, spec, change.crs, key=change.feature_id)
    result = await edits.replace(request.app.state.engine, spec, ctx, spec.feature_id(change.feature_id), candidate)
    return await written(request, spec, result, ctx, warnings=candidate.warnings)


@router.patch(ITEM, operation_id="updateFeature", summary="Update a feature with a JSON Merge Patch (Part 4)")
async def update(request: Request, change: ItemChangeDep) -> Response:
    spec, ctx = change.spec, change.ctx
    document = await json_document(request, (edit_input.MERGE_PATCH,))
    key = spec.feature_id(change.feature_id)
    target_crs = content_crs(change.crs)
    if target_crs.srid != 4326 or target_crs.lat_first:  # the merge happens on the stored CRS84 feature
        document = await run_in_threadpool(edit_input.patch_to_crs84, spec, document, target_crs)
    result, candidate = await edits.patch(request.app.state.engine, spec, ctx, key, document)
    return await written(request, spec, result, ctx, warnings=candidate.warnings)


@router.delete(ITEM, operation_id="deleteFeature", summary="Delete a feature (Part 4)", status_code=204)
async def delete(request: Request, spec: CollectionDep, principal: CurrentPrincipal, featureId: FeatureIdPath,
                 comment: CommentHeader = None, if_match: IfMatchHeader = None) -> Response:  # fmt: skip
    editable(request, principal, spec, Action.EDIT)
    ctx = context(request, principal, comment, None, if_match, spec)
    await edits.delete(request.app.state.engine, spec, ctx, spec.feature_id(featureId))
    response = Response(status_code=204)
    await remember_write(request, response)
    return response


@router.get(HISTORY, operation_id="getFeatureHistory",
            summary="Every version of a feature (extension)")  # fmt: skip
async def feature_history(request: Request, conn: ConnDep, spec: ReadableCollection, featureId: FeatureIdPath,
                          ) -> Response:  # fmt: skip
    reject_unknown(request, set())
    versions = await history.versions(conn, spec, featureId)
    return FastJSON({"collection": spec.id, "id": featureId, "versions": versions})


@router.get("/collections/{collectionId}/changes", operation_id="getCollectionChanges",
            summary="Features added, modified and removed between two instants (extension)")  # fmt: skip
async def changes(
    request: Request,
    conn: ConnDep,
    spec: ReadableCollection,
    start: Annotated[str, Query(alias="from", description="RFC 3339 instant (exclusive).")],
    end: Annotated[str | None, Query(alias="to", description="RFC 3339 instant (inclusive); now if absent.")] = None,
) -> Response:
    reject_unknown(request, {"from", "to"})
    since = datetime_value(start, parameter="from")
    until = datetime_value(end, parameter="to") if end is not None else dt.datetime.now(dt.UTC)
    return FastJSON(await history.changes(conn, spec, since, until))


@router.post(REVERT, operation_id="revertFeature",
             summary="Write an earlier version back as a new one (curators; extension)")  # fmt: skip
async def revert(request: Request, spec: CollectionDep, principal: CurrentPrincipal, featureId: FeatureIdPath,
                 version: Annotated[AsciiInt, Query(ge=1, description="The version to restore.")],
                 comment: CommentHeader = None) -> Response:  # fmt: skip
    history.kept(spec)  # no history to revert to: the resource does not exist (as for …/history)
    editable(request, principal, spec, Action.CURATE)
    ctx = context(request, principal, comment or f"revert to version {version}", None)
    result = await history.revert(request.app.state.engine, spec, ctx, featureId, version)
    return await written(request, spec, result, ctx)
