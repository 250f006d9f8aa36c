"""Administrative units before and after the 1 July 2025 reform, and who succeeded whom."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Computed, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gis_service.models.base import Base, Named, Sourced, geometry, web_mercator

AREA_HA = "ST_Area(geom::geography) / 10000.0"


class AdminUnit(Named, Sourced, Base):
    __tablename__ = "admin_units"
    __table_args__ = (
        UniqueConstraint(
            "code", "valid_from", name="uq_admin_units_code_valid_from", postgresql_nulls_not_distinct=True
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    unit_type: Mapped[str | None] = mapped_column(Text)
    parent_code: Mapped[str | None] = mapped_column(String(16))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    population: Mapped[int | None] = mapped_column(Integer)
    area_km2_official: Mapped[float | None] = mapped_column(Float)
    area_ha: Mapped[float | None] = mapped_column(Float, Computed(AREA_HA, persisted=True))
    geom = geometry("MULTIPOLYGON")
    geom_3857 = web_mercator("MULTIPOLYGON")


class AdminUnitSuccession(Base):
    __tablename__ = "admin_unit_successions"
    __table_args__ = (UniqueConstraint("old_unit_id", "new_unit_id", name="uq_admin_unit_successions_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    old_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_units.id", ondelete="CASCADE"), nullable=False)
    new_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_units.id", ondelete="CASCADE"), nullable=False)
    old_code: Mapped[str] = mapped_column(String(16), nullable=False)
    new_code: Mapped[str] = mapped_column(String(16), nullable=False)
    old_unit_split: Mapped[bool] = mapped_column(Boolean, nullable=False)
    share_of_old: Mapped[float | None] = mapped_column(Float)
    share_of_new: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text, nullable=False)
