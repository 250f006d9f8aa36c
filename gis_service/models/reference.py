"""Reference layers (rivers), the name alias table and per-layer data versions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from gis_service.models.base import Base, Named, Sourced, geometry, web_mercator


class River(Named, Sourced, Base):
    __tablename__ = "rivers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    name_en: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    geom = geometry("GEOMETRY", nullable=False)
    geom_3857 = web_mercator("GEOMETRY")


class NameAlias(Base):
    """Short names planners type (VSIP, KCN, QL13, VĐ3) pointing at a feature of a layer."""

    __tablename__ = "name_aliases"
    __table_args__ = (UniqueConstraint("alias", "layer", "feature_code", name="uq_name_aliases_alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alias: Mapped[str] = mapped_column(Text, nullable=False)
    layer: Mapped[str] = mapped_column(String(64), nullable=False)
    feature_code: Mapped[str] = mapped_column(String(32), nullable=False)


class LayerVersion(Base):
    """Bumped by a statement trigger on every write to a layer, in the writing transaction."""

    __tablename__ = "layer_versions"

    layer: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
