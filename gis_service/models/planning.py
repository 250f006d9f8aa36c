"""Planning zones and cadastral parcels: empty at first, filled by ``gis-service load``."""

from __future__ import annotations

from sqlalchemy import BigInteger, Computed, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gis_service.models.admin import AREA_HA
from gis_service.models.base import Base, Sourced, geometry, web_mercator
from gis_service.models.history import Versioned


class PlanningZone(Versioned, Sourced, Base):
    __tablename__ = "planning_zones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    name_ascii: Mapped[str | None] = mapped_column(Text)
    plan: Mapped[str] = mapped_column(Text, nullable=False)
    zone_type: Mapped[str] = mapped_column(String(64), nullable=False)
    horizon_year: Mapped[int | None] = mapped_column(Integer)
    admin_code: Mapped[str | None] = mapped_column(String(16))
    area_ha: Mapped[float | None] = mapped_column(Float, Computed(AREA_HA, persisted=True))
    geom = geometry("MULTIPOLYGON", nullable=False)
    geom_3857 = web_mercator("MULTIPOLYGON")


class Parcel(Versioned, Sourced, Base):
    __tablename__ = "parcels"
    __table_args__ = (UniqueConstraint("admin_code", "sheet_no", "parcel_no", name="uq_parcels_natural_key"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    admin_code: Mapped[str] = mapped_column(String(16), nullable=False)
    sheet_no: Mapped[str] = mapped_column(String(16), nullable=False)
    parcel_no: Mapped[str] = mapped_column(String(16), nullable=False)
    land_use_code: Mapped[str] = mapped_column(String(16), nullable=False)
    area_ha: Mapped[float | None] = mapped_column(Float, Computed(AREA_HA, persisted=True))
    geom = geometry("MULTIPOLYGON", nullable=False)
    geom_3857 = web_mercator("MULTIPOLYGON")


class ParcelUnits(Base):
    """A parcel's area and the ids of every administrative unit holding a point on its surface, kept by the
    triggers of migration 0008 (on ``parcels`` and on ``admin_units``): area statistics read it."""

    __tablename__ = "parcel_units"

    parcel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    area_ha: Mapped[float | None] = mapped_column(Float)
    unit_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), nullable=False)
