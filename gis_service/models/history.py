"""Editing: per-row versions, change sets and the history of every editable layer (migration 0005).

The database keeps the history, not the web layer: triggers stamp each row (``version``, ``updated_at``,
``updated_by``) and copy every version into ``<table>_history``, whoever writes (the API as ``gis_app``,
the loader, a planner editing PostGIS directly from QGIS). A version is valid over ``valid``
(``[from, to)``; open while current); a deletion is a tombstone row (``op = 'D'``, empty range) holding
what was deleted. An exclusion constraint keeps the versions of one feature from overlapping.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSTZRANGE
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from gis_service.models.base import SRID, Base

#: Layers the API (and direct PostGIS editors) may change; the others are read-only.
EDITABLE_TABLES = ("parcels", "planning_zones", "industrial_parks", "industrial_clusters", "transport_projects")
OPERATIONS = ("I", "U", "D")


#: The columns of :class:`Versioned`: loaders and clients never write them.
MAINTAINED_COLUMNS = ("version", "updated_at", "updated_by")


class Versioned:
    """Columns the triggers maintain on every editable layer: a client never sets them."""

    #: Bumped by every change of the row, whatever channel: the strong ETag ``"v{version}"``.
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("1"))
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str | None] = mapped_column(Text)


class ChangeSet(Base):
    """One writing transaction: who, when, with which client, why; made by the first trigger that fires."""

    __tablename__ = "change_sets"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: ``txid_current()`` of the transaction (64-bit, never wraps): one change set per transaction.
    txid: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    principal_id: Mapped[int | None] = mapped_column(ForeignKey("principals.id", ondelete="SET NULL"))
    #: The principal's name, else ``app.user_id``, else the database login (psql, the loader as owner).
    changed_by: Mapped[str] = mapped_column(Text, nullable=False)
    db_role: Mapped[str] = mapped_column(Text, nullable=False)
    client: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    #: Written without a precondition (no If-Match): the client may have overwritten someone's change.
    unconditional: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class HistoryRow:
    """A version of one feature; the row's columns as JSON (``geom`` apart, typed and indexed)."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        name = cls.__tablename__  # type: ignore[attr-defined]
        return (
            CheckConstraint("op IN ('I', 'U', 'D')", name="op"),
            Index(f"ix_{name}_feature", "feature_key", "version"),
        )

    hist_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: The layer's primary key (the exclusion constraint is on it and ``valid``).
    feature_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: The feature id the API shows (the catalogue's id column: ``code`` for parks, ``id`` for parcels).
    feature_key: Mapped[str] = mapped_column(Text, nullable=False)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False)
    valid: Mapped[Any] = mapped_column(TSTZRANGE, nullable=False)
    op: Mapped[str] = mapped_column(String(1), nullable=False)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    changed_by: Mapped[str] = mapped_column(Text, nullable=False)
    change_set_id: Mapped[int] = mapped_column(ForeignKey("change_sets.id"), nullable=False)
    row: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    geom = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=True))


class ParcelHistory(HistoryRow, Base):
    __tablename__ = "parcels_history"


class PlanningZoneHistory(HistoryRow, Base):
    __tablename__ = "planning_zones_history"


class IndustrialParkHistory(HistoryRow, Base):
    __tablename__ = "industrial_parks_history"


class IndustrialClusterHistory(HistoryRow, Base):
    __tablename__ = "industrial_clusters_history"


class TransportProjectHistory(HistoryRow, Base):
    __tablename__ = "transport_projects_history"


HISTORY_MODELS = {
    "parcels": ParcelHistory,
    "planning_zones": PlanningZoneHistory,
    "industrial_parks": IndustrialParkHistory,
    "industrial_clusters": IndustrialClusterHistory,
    "transport_projects": TransportProjectHistory,
}


class IdempotencyKey(Base):
    """``Idempotency-Key`` of a create: a retried POST answers the feature the first one made."""

    __tablename__ = "idempotency_keys"

    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    collection: Mapped[str] = mapped_column(String(64), nullable=False)
    feature_key: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
