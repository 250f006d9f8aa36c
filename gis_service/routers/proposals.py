"""Proposals over HTTP: an editor proposes a set of changes, a curator approves or rejects it. Thin: the
checks and the transaction are :mod:`gis_service.proposals`.

``POST /proposals`` (editors), ``GET /proposals``, ``GET /proposals/{proposalId}``, ``POST
/proposals/{proposalId}/approve`` and ``…/reject`` (curators of every collection the proposal touches).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from gis_service import proposals
from gis_service.auth.dependency import CurrentPrincipal
from gis_service.dependencies import AsciiInt, CatalogDep, ConnDep, reject_unknown
from gis_service.responses import FastJSON
from gis_service.routers.common import base_url
from gis_service.routers.edits import client, json_document

router = APIRouter(prefix="/proposals", tags=["Proposals"])
ProposalId = Annotated[AsciiInt, Path(ge=1, le=2**62, description="The proposal's number.")]
Status = Annotated[
    Literal["open", "approved", "rejected"] | None, Query(description="Only proposals in this state (default: all).")
]
JSON_TYPES = ("application/json",)


@router.post("", operation_id="createProposal", summary="Propose a set of feature changes for review",
             status_code=201)  # fmt: skip
async def create(request: Request, catalog: CatalogDep, principal: CurrentPrincipal) -> Response:
    """Body: ``{"title", "comment", "changes": [{"collection", "op": "create"|"update"|"delete", "id",
    "baseVersion", "feature"}]}``; ``baseVersion`` is the number of the ETag the change is based on."""
    who = proposals.signed_in(principal)
    document = await json_document(request, JSON_TYPES)
    title, comment, changes = await run_in_threadpool(proposals.parse, catalog, who, document)
    proposal_id = await proposals.create(request.app.state.engine, who, title, comment, changes)
    location = f"{base_url(request)}/proposals/{proposal_id}"
    return FastJSON({"id": proposal_id, "status": "open"}, status_code=201, headers={"Location": location})


@router.get("", operation_id="getProposals", summary="Proposals on collections you may edit, newest first")
async def listing(request: Request, conn: ConnDep, principal: CurrentPrincipal, status: Status = None) -> Response:
    reject_unknown(request, {"status"})
    who = proposals.signed_in(principal)
    return FastJSON(await proposals.listing(conn, who, status, base_url(request)))


@router.get("/{proposalId}", operation_id="getProposal", summary="A proposal: each change before and after")
async def one(request: Request, conn: ConnDep, principal: CurrentPrincipal, proposalId: ProposalId) -> Response:
    reject_unknown(request, set())
    who = proposals.signed_in(principal)
    return FastJSON(await proposals.one(conn, who, proposalId, base_url(request)))


@router.post("/{proposalId}/approve", operation_id="approveProposal",
             summary="Apply every change of a proposal in one transaction (curators)")  # fmt: skip
async def approve(request: Request, catalog: CatalogDep, principal: CurrentPrincipal,
                  proposalId: ProposalId) -> Response:  # fmt: skip
    who = proposals.signed_in(principal)
    result = await proposals.approve(request.app.state.engine, catalog, who, proposalId, client(request))
    return FastJSON(result)


@router.post("/{proposalId}/reject", operation_id="rejectProposal", summary="Reject a proposal with a reason")
async def reject(request: Request, principal: CurrentPrincipal, proposalId: ProposalId) -> Response:
    """Body: ``{"reason": "…"}`` (required)."""
    who = proposals.signed_in(principal)
    reason = proposals.reason(await json_document(request, JSON_TYPES))
    return FastJSON(await proposals.reject(request.app.state.engine, who, proposalId, reason))
