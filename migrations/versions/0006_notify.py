"""Tell every worker when a layer's data version changes: ``NOTIFY gis_layer_versions``.

Every writing channel (the API, the loader, QGIS editing PostGIS directly, psql) bumps ``layer_versions``
in its own transaction (the statement triggers of 0001, the loader's own bump); a row trigger on that table
sends ``{"layer", "version", "changed_at"}`` on the channel. PostgreSQL delivers a notification only when
the transaction commits, in commit order, so a worker that LISTENs learns of each write as it becomes
visible and its warm tile path needs no query to know the versions are current.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 08:00:00
"""

from __future__ import annotations

from alembic import op

from gis_service.auth.dbroles import OWNER

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: The channel the workers LISTEN on (``gis_service.notify``).
CHANNEL = "gis_layer_versions"


def upgrade() -> None:
    op.execute(f"SET LOCAL ROLE {OWNER}")  # objects belong to the owner (see 0004)
    op.execute(
        f"""
        CREATE FUNCTION gis_notify_layer_version() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            -- changed_at as UTC text, so every worker builds the same tile keys from it.
            PERFORM pg_notify('{CHANNEL}', json_build_object(
                'layer', NEW.layer, 'version', NEW.version,
                'changed_at', to_char(NEW.changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
            )::text);
            RETURN NULL;
        END
        $$"""
    )
    op.execute(
        "CREATE TRIGGER trg_layer_versions_notify AFTER INSERT OR UPDATE ON layer_versions "
        "FOR EACH ROW EXECUTE FUNCTION gis_notify_layer_version()"
    )
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET LOCAL ROLE {OWNER}")
    op.execute("DROP TRIGGER IF EXISTS trg_layer_versions_notify ON layer_versions")
    op.execute("DROP FUNCTION IF EXISTS gis_notify_layer_version()")
    op.execute("RESET ROLE")
