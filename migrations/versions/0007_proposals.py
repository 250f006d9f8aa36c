"""Proposals: sets of feature changes that wait for a curator's review before they count.

A proposal keeps its changes (create, update, delete; the feature as GeoJSON and the version it was based on)
as JSON, with what each feature was when proposed, so the review shows before and after even when the layer
has moved on. Approving applies every change in one transaction (one change set, recorded on the proposal);
rejecting keeps the reason. Nothing is ever deleted: a decided proposal stays as the record of the decision.
The app may read, add and decide proposals; readers and direct PostGIS editors see none of them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from gis_service.auth.dbroles import APP, EDITOR, OWNER, READER

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

STATUSES = "('open', 'approved', 'rejected')"


def upgrade() -> None:
    op.execute(f"SET LOCAL ROLE {OWNER}")  # objects belong to the owner (see 0004)
    op.create_table(
        "proposals",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'open'"), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("collections", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("change_set_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(f"status IN {STATUSES}", name=op.f("ck_proposals_status")),
        sa.CheckConstraint("(status = 'open') = (decided_at IS NULL)", name=op.f("ck_proposals_decided")),
        sa.ForeignKeyConstraint(
            ["author_id"], ["principals.id"], name=op.f("fk_proposals_author_id_principals"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["change_set_id"], ["change_sets.id"], name=op.f("fk_proposals_change_set_id_change_sets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    op.create_index(op.f("ix_proposals_status"), "proposals", ["status"], unique=False)
    op.execute(f"REVOKE ALL ON proposals FROM {APP}, {READER}, {EDITOR}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON proposals TO {APP}")
    op.execute(f"GRANT USAGE ON SEQUENCE proposals_id_seq TO {APP}")
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET LOCAL ROLE {OWNER}")
    op.drop_table("proposals")
    op.execute("RESET ROLE")
