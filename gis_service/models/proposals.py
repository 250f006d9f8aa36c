"""Proposals (migration 0007): feature changes waiting for a curator, applied together when approved."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis_service.models.base import Base

PROPOSAL_STATUSES = ("open", "approved", "rejected")


class Proposal(Base):
    """One set of changes by one editor; ``changes`` holds each change with the feature before it."""

    __tablename__ = "proposals"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'approved', 'rejected')", name="status"),
        CheckConstraint("(status = 'open') = (decided_at IS NULL)", name="decided"),
        Index("ix_proposals_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default=text("'open'"))
    author_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("principals.id", ondelete="SET NULL"))
    author: Mapped[str] = mapped_column(Text, nullable=False)
    #: The collections the changes touch: who may see and decide the proposal follows from them.
    collections: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    #: The change set the approval wrote (every change of the proposal, one transaction).
    change_set_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("change_sets.id"))
