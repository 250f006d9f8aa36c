"""Transport projects: ring roads, expressways, national highways, ports, rail."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gis_service.models.base import Base, Named, Sourced, geometry, web_mercator

KINDS = ("ring road", "expressway", "national highway", "provincial road", "arterial road", "port", "rail")


class TransportProject(Named, Sourced, Base):
    __tablename__ = "transport_projects"

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
    geom = geometry("GEOMETRY")
    geom_3857 = web_mercator("GEOMETRY")
