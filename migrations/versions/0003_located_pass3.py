"""Third located pass: what a park's site point is, and how good schematic transport lines are.

- ``industrial_parks`` / ``industrial_clusters``: ``location_kind`` (what the point is: a gate sign, a factory
  whose address names the park, the centre of the park's mapped area) and ``location_confidence``
  (``fair`` | ``weak``, checked).
- ``transport_projects``: ``accuracy_m`` (worst waypoint accuracy radius of a schematic line, > 0),
  ``geometry_stub`` (too few waypoints to stand for the project), ``geometry_missing`` (the parts no source
  locates), and a CHECK on ``geometry_quality`` that admits the new ``schematic`` value.

The per-layer data-version triggers fire per statement on the whole table and the stored EPSG:3857 column
(0002) is generated from ``geom`` of any geometry type, so both keep working for the new rows unchanged.
The vocabularies are written out here, frozen as of this revision (the models hold the living copies).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ESTATES = ("industrial_parks", "industrial_clusters")
GEOMETRY_QUALITIES = ("surveyed", "official", "simplified", "approximate", "schematic", "synthetic", "unknown", "none")
LOCATION_CONFIDENCES = ("fair", "weak")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IS NULL OR {column} IN ({listed})"


def upgrade() -> None:
    for table in ESTATES:
        op.add_column(table, sa.Column("location_kind", sa.Text(), nullable=True))
        op.add_column(table, sa.Column("location_confidence", sa.String(length=16), nullable=True))
        op.create_check_constraint(
            "location_confidence", table, sa.text(_one_of("location_confidence", LOCATION_CONFIDENCES))
        )
    op.add_column("transport_projects", sa.Column("accuracy_m", sa.Float(), nullable=True))
    op.add_column(
        "transport_projects",
        sa.Column("geometry_stub", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("transport_projects", sa.Column("geometry_missing", sa.Text(), nullable=True))
    op.create_check_constraint("accuracy_m", "transport_projects", sa.text("accuracy_m IS NULL OR accuracy_m > 0"))
    op.create_check_constraint(
        "geometry_quality", "transport_projects", sa.text(_one_of("geometry_quality", GEOMETRY_QUALITIES))
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_transport_projects_geometry_quality"), "transport_projects", type_="check")
    op.drop_constraint(op.f("ck_transport_projects_accuracy_m"), "transport_projects", type_="check")
    for column in ("geometry_missing", "geometry_stub", "accuracy_m"):
        op.drop_column("transport_projects", column)
    for table in ESTATES:
        op.drop_constraint(op.f(f"ck_{table}_location_confidence"), table, type_="check")
        op.drop_column(table, "location_confidence")
        op.drop_column(table, "location_kind")
