"""Declarative base and the column shapes every published layer shares."""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, Computed, MetaData, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SRID = 4326

#: What ``geometry_quality`` may say, best first. ``surveyed``: from a survey or cadastre; ``official``: a
#: government boundary layer; ``simplified``: official lineage, generalised; ``approximate``: a point at or in
#: the feature, or a coarse small-scale line; ``schematic``: straight segments through sourced waypoints, good
#: at kilometre scale only; ``synthetic``: generated; ``unknown``: a loaded file did not say; ``none``: no
#: sourced geometry (the column is NULL).
GEOMETRY_QUALITIES = ("surveyed", "official", "simplified", "approximate", "schematic", "synthetic", "unknown", "none")


def one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL of a CHECK that ``column`` is NULL or one of ``values`` (literals written by the code, not input)."""
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IS NULL OR {column} IN ({listed})"


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def geometry(kind: str, *, nullable: bool = True) -> Mapped[object]:
    """A geometry column with SRID typmod and a GiST index (created by the migration)."""
    return mapped_column(Geometry(kind, srid=SRID, spatial_index=True), nullable=nullable)


def web_mercator(kind: str) -> Mapped[object]:
    """``geom`` in EPSG:3857, stored and indexed (migration 0002) so vector tiles never reproject rows."""
    return mapped_column(
        Geometry(kind, srid=3857, spatial_index=True), Computed("ST_Transform(geom, 3857)", persisted=True)
    )


class Sourced:
    """Where a feature comes from and how good its geometry is."""

    geometry_quality: Mapped[str] = mapped_column(String(32), nullable=False)
    geometry_note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    license: Mapped[str | None] = mapped_column(Text)
    synthetic: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())


class Named:
    name: Mapped[str] = mapped_column(Text, nullable=False)
    name_ascii: Mapped[str] = mapped_column(Text, nullable=False)
