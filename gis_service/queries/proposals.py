"""Statements of proposals (migration 0007): pure builders, every value bound."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Select, Update, func, insert, literal_column, or_, select, update

from gis_service.models.access import EditArea
from gis_service.models.proposals import Proposal

#: Most proposals one listing answers (newest first).
MAX_LISTED = 500


def insert_proposal(
    title: str, comment: str | None, author_id: int | None, author: str, collections: list[str], changes: list[Any]
) -> Insert:
    """The new proposal's id."""
    return (
        insert(Proposal)
        .values(
            title=title,
            comment=comment,
            author_id=author_id,
            author=author,
            collections=collections,
            changes=changes,
        )
        .returning(Proposal.id)
    )


def listing(status: str | None, limit: int = MAX_LISTED) -> Select[Any]:
    p = Proposal.__table__
    stmt = select(p).order_by(p.c.id.desc()).limit(limit)
    return stmt.where(p.c.status == status) if status else stmt


def one(proposal_id: int, *, for_update: bool = False) -> Select[Any]:
    """The proposal; locked for the deciding transaction, so two curators cannot both decide it."""
    p = Proposal.__table__
    stmt = select(p).where(p.c.id == proposal_id)
    return stmt.with_for_update() if for_update else stmt


def decide(proposal_id: int, status: str, decided_by: str, reason: str | None, change_set_id: int | None) -> Update:
    p = Proposal.__table__
    return (
        update(Proposal)
        .where(p.c.id == proposal_id, p.c.status == "open")
        .values(status=status, decided_by=decided_by, reason=reason, change_set_id=change_set_id, decided_at=func.now())
        .returning(p.c.id)
    )


def this_change_set() -> Select[Any]:
    """The change set the triggers made for the current transaction (None before its first row change)."""
    return select(literal_column("(gis_change_set()).id"))


def edit_areas(principal_id: int, groups: list[str], collections: list[str]) -> Select[Any]:
    """(collection, GeoJSON) of the areas a principal may edit in (its own and its groups'), per collection."""
    a = EditArea.__table__
    subject = (
        or_(a.c.principal_id == principal_id, a.c.group_name.in_(groups))
        if groups
        else (a.c.principal_id == principal_id)
    )
    return (
        select(a.c.collection, func.ST_AsGeoJSON(func.ST_Union(a.c.geom), 7).label("geometry"))
        .where(subject, a.c.collection.in_(collections))
        .group_by(a.c.collection)
    )
