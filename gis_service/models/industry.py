"""Industrial parks (KCN) and clusters (CCN), with every cited figure kept in ``feature_sources``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from gis_service.models.base import Base, Named, Sourced, geometry, one_of, web_mercator
from gis_service.models.history import Versioned

#: How far a site point can be trusted: ``fair`` (a named object at or in the park, or the centre of its mapped
#: area), ``weak`` (a mis-tagged node that only carries the park's name). NULL without a location.
LOCATION_CONFIDENCES = ("fair", "weak")


class _Estate(Versioned, Named, Sourced):
    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (CheckConstraint(one_of("location_confidence", LOCATION_CONFIDENCES), name="location_confidence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    developer: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    status_note: Mapped[str | None] = mapped_column(Text)
    established_year: Mapped[int | None] = mapped_column(Integer)
    planned_area_ha: Mapped[float | None] = mapped_column(Float)
    area_definition: Mapped[str | None] = mapped_column(Text)
    leased_area_ha: Mapped[float | None] = mapped_column(Float)
    occupancy_pct: Mapped[float | None] = mapped_column(Float)
    horizon_year: Mapped[int | None] = mapped_column(Integer)
    district_code: Mapped[str | None] = mapped_column(String(16))
    district_name: Mapped[str | None] = mapped_column(Text)
    location_text: Mapped[str | None] = mapped_column(Text)
    #: What the site point is ("gate sign", "a factory whose address names the park"): never the park's centre
    #: unless it says so.
    location_kind: Mapped[str | None] = mapped_column(Text)
    location_confidence: Mapped[str | None] = mapped_column(String(16))
    geom = geometry("POINT")
    footprint = geometry("MULTIPOLYGON")
    geom_3857 = web_mercator("POINT")


class IndustrialPark(_Estate, Base):
    __tablename__ = "industrial_parks"


class IndustrialCluster(_Estate, Base):
    __tablename__ = "industrial_clusters"


class FeatureSource(Base):
    """One cited statement about one feature; conflicting figures are all kept, one marked canonical."""

    __tablename__ = "feature_sources"
    __table_args__ = (Index("ix_feature_sources_feature", "layer", "feature_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer: Mapped[str] = mapped_column(String(64), nullable=False)
    feature_code: Mapped[str] = mapped_column(String(32), nullable=False)
    attribute: Mapped[str] = mapped_column(String(64), nullable=False)
    value_num: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    publisher: Mapped[str | None] = mapped_column(Text)
    source_date: Mapped[str | None] = mapped_column(Text)
    source_key: Mapped[str | None] = mapped_column(String(64))
    is_canonical: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    note: Mapped[str | None] = mapped_column(Text)
