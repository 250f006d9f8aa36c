"""Web Mercator copies of every published geometry, for vector tiles.

A stored generated column ``geom_3857 = ST_Transform(geom, 3857)`` with its own GiST index lets the
tile query filter and clip in the tile's CRS without reprojecting a single row per request; PostgreSQL
keeps it in step with ``geom`` on every write. ``ST_Transform(geometry, integer)`` is IMMUTABLE, which
a generated column requires (the text-SRID variants are not, and are slow).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Published layer tables and the geometry type of their ``geom`` column.
TILED = {
    "admin_units": "MULTIPOLYGON",
    "industrial_parks": "POINT",
    "industrial_clusters": "POINT",
    "transport_projects": "GEOMETRY",
    "planning_zones": "MULTIPOLYGON",
    "parcels": "MULTIPOLYGON",
    "rivers": "GEOMETRY",
}
EXPRESSION = "ST_Transform(geom, 3857)"


def upgrade() -> None:
    for table, kind in TILED.items():
        op.add_column(
            table,
            sa.Column(
                "geom_3857",
                Geometry(geometry_type=kind, srid=3857, spatial_index=False, name="geometry"),
                sa.Computed(EXPRESSION, persisted=True),
                nullable=True,
            ),
        )
        op.create_index(f"idx_{table}_geom_3857", table, ["geom_3857"], postgresql_using="gist")


def downgrade() -> None:
    for table in TILED:
        op.drop_index(f"idx_{table}_geom_3857", table_name=table)
        op.drop_column(table, "geom_3857")
