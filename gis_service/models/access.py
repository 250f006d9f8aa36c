"""Who may do what: principals, their API keys and groups, per-collection grants, edit areas, the audit log.

A grant or an edit area names either a principal or a group (``CHECK`` exactly one). Groups come from the
``principal_groups`` table or from OIDC claims; ``admin`` is a flag on the principal (global), the other
roles are per collection. API keys keep only a prefix (to find the row) and the HMAC of the secret.
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
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis_service.models.base import SRID, Base

#: Per-collection roles, weakest first; each includes the ones before it.
ROLES = ("viewer", "editor", "curator", "layer-admin")
PRINCIPAL_KINDS = ("user", "service")
ONE_SUBJECT = "(principal_id IS NULL) <> (group_name IS NULL)"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _created() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Principal(Base):
    __tablename__ = "principals"
    __table_args__ = (
        CheckConstraint(_in("kind", PRINCIPAL_KINDS), name="kind"),
        CheckConstraint("name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'", name="name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Login name: the user part of HTTP Basic, what the CLI takes.
    name: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    display_name: Mapped[str] = mapped_column(Text, nullable=False)
    oidc_subject: Mapped[str | None] = mapped_column(Text, unique=True)
    admin: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    #: Login role for editing PostGIS directly (QGIS), mapped back to this principal by the policies.
    db_role: Mapped[str | None] = mapped_column(String(63), unique=True)
    created_at: Mapped[dt.datetime] = _created()


class PrincipalGroup(Base):
    __tablename__ = "principal_groups"

    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(64), primary_key=True)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"), nullable=False)
    prefix: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    #: HMAC-SHA256 of the secret under the pepper from settings (never the secret itself).
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    label: Mapped[str | None] = mapped_column(Text)
    #: ``collection[:role]`` or ``*[:role]``; empty: whatever the principal may do.
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default=text("'{}'"))
    created_at: Mapped[dt.datetime] = _created()
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


def _one_subject(table: str, *checks: CheckConstraint) -> tuple[Any, ...]:
    """``__table_args__`` of a :class:`ForSubject` table: exactly one subject, one row per subject and collection."""
    return (
        CheckConstraint(ONE_SUBJECT, name="one_subject"),
        *checks,
        Index(f"uq_{table}_principal", "principal_id", "collection", unique=True),
        Index(f"uq_{table}_group", "group_name", "collection", unique=True),
    )


class ForSubject:
    """The columns of a row about a principal or a group (exactly one) on one collection."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal_id: Mapped[int | None] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"))
    group_name: Mapped[str | None] = mapped_column(String(64))
    collection: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = _created()
    created_by: Mapped[str] = mapped_column(Text, nullable=False)


class Grant(ForSubject, Base):
    __tablename__ = "grants"
    __table_args__ = _one_subject("grants", CheckConstraint(_in("role", ROLES), name="role"))

    role: Mapped[str] = mapped_column(String(16), nullable=False)


class EditArea(ForSubject, Base):
    """Where an editor grant of the same subject and collection applies; no row: the whole collection."""

    __tablename__ = "edit_areas"
    __table_args__ = _one_subject(
        "edit_areas", CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geom_ok")
    )

    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=False)


class AuditEvent(Base):
    """Authentication failures and every change of principals, keys and grants: who, when, what, from where."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    event: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    actor: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    collection: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, object]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"))
