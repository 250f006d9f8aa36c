"""Transport projects: ring roads, expressways, national highways, ports, rail."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Float, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from gis_service.models.base import GEOMETRY_QUALITIES, Base, Named, Sourced, geometry, one_of, web_mercator
from gis_service.models.history import Versioned

KINDS = ("ring road", "expressway", "national highway", "provincial road", "arterial road", "port", "rail")


class TransportProject(Versioned, Named, Sourced, Base):
    __tablename__ = "transport_projects"
    __table_args__ = (
        CheckConstraint(one_of("geometry_quality", GEOMETRY_QUALITIES), name="geometry_quality"),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m > 0", name="accuracy_m"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    name_en: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    status_note: Mapped[str | None] = mapped_column(Text)
    start_year: Mapped[int | None] = mapped_column(Integer)
    completion_year: Mapped[int | None] = mapped_column(Integer)
    length_km: Mapped[float | None] = mapped_column(Float)
    length_note: Mapped[str | None] = mapped_column(Text)
    lanes: Mapped[int | None] = mapped_column(Integer)
    design: Mapped[str | None] = mapped_column(Text)
    budget_vnd_bn: Mapped[float | None] = mapped_column(Float)
    #: Worst accuracy radius (metres) of the waypoints a schematic line is drawn through.
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    #: Too few waypoints to stand for the project (a stub): drawn, flagged, not to be measured.
    geometry_stub: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    #: The parts of the project the geometry does not cover, as the sources say.
    geometry_missing: Mapped[str | None] = mapped_column(Text)
    geom = geometry("GEOMETRY")
    geom_3857 = web_mercator("GEOMETRY")
