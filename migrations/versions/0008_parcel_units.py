"""Each parcel's administrative units, kept when it is written: area statistics become a GROUP BY.

``parcel_units`` holds, per parcel, its area and the ids of every unit (any level, any period) whose
geometry holds a point on the parcel's surface (``ST_PointOnSurface``): the rule the statistics already
used, so their answers do not change. Statement-level triggers keep it, set-based over the statement's
transition table, for every writing channel (the API, the loader's COPY, QGIS editing PostGIS directly,
psql): a parcel inserted, its geometry changed or deleted. When a unit's geometry comes, moves or goes,
the parcels that held it or now fall in it are assigned again, in the same statement. The functions run
as the owner (SECURITY DEFINER); everybody else may only read the table. Existing parcels are assigned
here once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from gis_service.auth.dbroles import APP, EDITOR, OWNER, READER

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: A parcel's units, for a parcel ``{row}`` whose point on its surface is ``{row}_pos(geom)`` in the FROM list
#: (``LATERAL ST_PointOnSurface``): written out in each statement (planned once per session with it, and ~25 %
#: faster over a million rows than a function called per row).
UNITS_OF = (
    "(SELECT coalesce(array_agg(u.id ORDER BY u.id), '{{}}') FROM admin_units u "
    "WHERE ST_Intersects(u.geom, {row}_pos.geom))"
)
POS = "CROSS JOIN LATERAL ST_PointOnSurface({row}.geom) AS {row}_pos(geom)"


def _units(row: str) -> str:
    return UNITS_OF.format(row=row)


def _pos(row: str) -> str:
    return POS.format(row=row)


FUNCTIONS = {
    "gis_parcel_units_sync()": f"""
        CREATE FUNCTION gis_parcel_units_sync() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                TRUNCATE parcel_units;
                RETURN NULL;
            END IF;
            IF TG_OP = 'DELETE' THEN
                DELETE FROM parcel_units pu USING old_rows o WHERE pu.parcel_id = o.id;
                RETURN NULL;
            END IF;
            IF TG_OP = 'INSERT' THEN
                INSERT INTO parcel_units AS pu (parcel_id, area_ha, unit_ids)
                SELECT n.id, n.area_ha, {_units("n")} FROM new_rows n {_pos("n")}
                ON CONFLICT (parcel_id) DO UPDATE SET area_ha = EXCLUDED.area_ha, unit_ids = EXCLUDED.unit_ids;
                RETURN NULL;
            END IF;
            DELETE FROM parcel_units pu USING old_rows o
            WHERE pu.parcel_id = o.id AND NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.id = o.id);
            -- An update that leaves the geometry alone leaves the units alone: no spatial question for it.
            INSERT INTO parcel_units AS pu (parcel_id, area_ha, unit_ids)
            SELECT n.id, n.area_ha, {_units("n")} FROM new_rows n {_pos("n")}
            WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.id = n.id AND o.geom IS NOT DISTINCT FROM n.geom)
            ON CONFLICT (parcel_id) DO UPDATE SET area_ha = EXCLUDED.area_ha, unit_ids = EXCLUDED.unit_ids;
            RETURN NULL;
        END
        $$""",
    "gis_parcel_units_follow_units()": f"""
        CREATE FUNCTION gis_parcel_units_follow_units() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE
            gone integer[] := '{{}}';
            came geometry[] := '{{}}';
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                UPDATE parcel_units SET unit_ids = '{{}}' WHERE unit_ids <> '{{}}';
                RETURN NULL;
            END IF;
            -- The units whose geometry came, went or moved: their parcels, before and after, are asked again.
            IF TG_OP = 'INSERT' THEN
                SELECT coalesce(array_agg(n.geom), '{{}}') INTO came FROM new_rows n WHERE n.geom IS NOT NULL;
            ELSIF TG_OP = 'DELETE' THEN
                SELECT coalesce(array_agg(o.id), '{{}}') INTO gone FROM old_rows o;
            ELSE
                SELECT coalesce(array_agg(o.id) FILTER (WHERE o.id IS NOT NULL), '{{}}'),
                       coalesce(array_agg(n.geom) FILTER (WHERE n.geom IS NOT NULL), '{{}}')
                INTO gone, came
                FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
                WHERE o.id IS NULL OR n.id IS NULL OR o.geom IS DISTINCT FROM n.geom;
            END IF;
            IF gone = '{{}}' AND came = '{{}}' THEN
                RETURN NULL;
            END IF;
            UPDATE parcel_units pu SET unit_ids = {_units("p")}
            FROM parcels p {_pos("p")}
            WHERE p.id = pu.parcel_id
              AND pu.parcel_id IN (
                  SELECT h.parcel_id FROM parcel_units h WHERE h.unit_ids && gone
                  UNION
                  SELECT q.id FROM unnest(came) AS c(geom)
                  JOIN parcels q ON q.geom && c.geom AND ST_Intersects(c.geom, ST_PointOnSurface(q.geom)));
            RETURN NULL;
        END
        $$""",
}
NEW, OLD = "NEW TABLE AS new_rows", "OLD TABLE AS old_rows"
#: Statement triggers: (table, event, transition tables, function).
TRIGGERS = {
    "trg_parcels_units_insert": ("parcels", "INSERT", f"REFERENCING {NEW}", "gis_parcel_units_sync"),
    "trg_parcels_units_update": ("parcels", "UPDATE", f"REFERENCING {OLD} {NEW}", "gis_parcel_units_sync"),
    "trg_parcels_units_delete": ("parcels", "DELETE", f"REFERENCING {OLD}", "gis_parcel_units_sync"),
    "trg_parcels_units_truncate": ("parcels", "TRUNCATE", "", "gis_parcel_units_sync"),
    "trg_admin_units_parcels_insert": ("admin_units", "INSERT", f"REFERENCING {NEW}", "gis_parcel_units_follow_units"),
    "trg_admin_units_parcels_update": (
        "admin_units",
        "UPDATE",
        f"REFERENCING {OLD} {NEW}",
        "gis_parcel_units_follow_units",
    ),
    "trg_admin_units_parcels_delete": ("admin_units", "DELETE", f"REFERENCING {OLD}", "gis_parcel_units_follow_units"),
    "trg_admin_units_parcels_truncate": ("admin_units", "TRUNCATE", "", "gis_parcel_units_follow_units"),
}


def upgrade() -> None:
    op.execute(f"SET LOCAL ROLE {OWNER}")  # objects belong to the owner (see 0004)
    op.create_table(
        "parcel_units",
        sa.Column("parcel_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("area_ha", sa.Float(), nullable=True),
        sa.Column("unit_ids", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.PrimaryKeyConstraint("parcel_id", name=op.f("pk_parcel_units")),
    )
    for statement in FUNCTIONS.values():
        op.execute(statement)
    for name, (table, event, transition, function) in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} {transition} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    op.execute(
        f"INSERT INTO parcel_units (parcel_id, area_ha, unit_ids) SELECT p.id, p.area_ha, {_units('p')} "
        f"FROM parcels p {_pos('p')}"
    )
    op.execute(f"REVOKE ALL ON parcel_units FROM {APP}, {READER}, {EDITOR}")
    op.execute(f"GRANT SELECT ON parcel_units TO {APP}, {READER}, {EDITOR}")
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET LOCAL ROLE {OWNER}")
    for name, (table, *_) in TRIGGERS.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for signature in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.drop_table("parcel_units")
    op.execute("RESET ROLE")
