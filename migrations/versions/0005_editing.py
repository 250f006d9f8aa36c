"""Editing: row versions, change sets and per-layer history kept by triggers.

Every editable layer gets ``version`` (the strong ETag), ``updated_at`` and ``updated_by``, stamped by a
BEFORE trigger whoever writes, and a ``<table>_history`` table that an AFTER trigger fills with every
version: the row as JSON, the geometry typed, ``valid`` as ``[from, to)``, the operation, who and the change
set. Who is the principal (``app.user_id`` for the API, the login role for direct PostGIS editors), else
``app.user_id``, else the login role. The change set of a transaction is made by its first row change from
``app.comment``, ``app.client`` and ``app.unconditional`` (set locally by the API or the loader). The
trigger functions run as ``gis_owner`` (SECURITY DEFINER), so history and change sets are readable by the
app and editors but writable by nobody else. Existing rows get a first version (a baseline change set).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

from gis_service.auth.dbroles import APP, EDITOR, OWNER, READER

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: Editable layer -> the column the API shows as the feature id.
EDITABLE = {
    "parcels": "id",
    "planning_zones": "code",
    "industrial_parks": "code",
    "industrial_clusters": "code",
    "transport_projects": "code",
}
#: Columns the history row leaves out of its JSON: the geometry is typed apart, the tile copy is derived.
NOT_IN_ROW = "'geom', 'geom_3857'"

FUNCTIONS = {
    "gis_actor()": """
        CREATE FUNCTION gis_actor() RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
            SELECT coalesce((SELECT name FROM principals WHERE id = gis_principal_id()),
                            nullif(current_setting('app.user_id', true), ''), session_user::text)
        $$""",
    "gis_change_set()": """
        CREATE FUNCTION gis_change_set(OUT id bigint, OUT who text)
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE
            tx bigint := txid_current();
            cached text := current_setting('gis.change_set', true);
        BEGIN
            -- One change set per transaction; cached in a transaction-local setting after the first row.
            IF cached IS NOT NULL AND split_part(cached, '|', 1) = tx::text THEN
                id := split_part(cached, '|', 2)::bigint;
                who := substr(cached, length(split_part(cached, '|', 1)) + length(split_part(cached, '|', 2)) + 3);
                RETURN;
            END IF;
            who := gis_actor();
            INSERT INTO change_sets AS c (txid, principal_id, changed_by, db_role, client, comment, unconditional)
            VALUES (tx, gis_principal_id(), who, session_user,
                    coalesce(nullif(current_setting('app.client', true), ''),
                             nullif(current_setting('application_name', true), '')),
                    nullif(current_setting('app.comment', true), ''),
                    coalesce(nullif(current_setting('app.unconditional', true), '')::boolean, false))
            ON CONFLICT (txid) DO UPDATE SET txid = EXCLUDED.txid
            RETURNING c.id INTO id;
            PERFORM set_config('gis.change_set', tx || '|' || id || '|' || who, true);
        END
        $$""",
    "gis_stamp_row()": """
        CREATE FUNCTION gis_stamp_row() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            -- The version is the database's: a client cannot set it, every channel bumps it.
            NEW.version := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE OLD.version + 1 END;
            NEW.updated_at := now();
            NEW.updated_by := (gis_change_set()).who;
            RETURN NEW;
        END
        $$""",
    "gis_record_history()": f"""
        CREATE FUNCTION gis_record_history() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE
            history text := TG_TABLE_NAME || '_history';
            cs record := gis_change_set();
            -- The clock when the row is written, not now() (when the transaction began): a transaction that
            -- began before another one committed a version of this row (and waited for the row) must still
            -- start its version after that one, or the version before would overlap it or become empty.
            at timestamptz := clock_timestamp();
            closed timestamptz;
            r record;
            version bigint;
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                -- Close the current version, a microsecond after it began at the least (equal clocks), so no
                -- version is ever empty and hidden from asOf; the next one begins where it ends.
                EXECUTE format('UPDATE %I SET valid = tstzrange(lower(valid), '
                               'greatest($2, lower(valid) + interval ''1 microsecond'')) '
                               'WHERE feature_id = $1 AND upper_inf(valid) AND NOT isempty(valid) '
                               'RETURNING upper(valid)', history)
                    INTO closed USING OLD.id, at;
            END IF;
            IF TG_OP = 'DELETE' THEN
                r := OLD;
                version := OLD.version + 1;
            ELSE
                r := NEW;
                version := NEW.version;
            END IF;
            IF closed IS NULL THEN
                -- A new row, or one that comes back after its deletion: after the last version it had.
                EXECUTE format('SELECT max(upper(valid)) FROM %I WHERE feature_id = $1', history)
                    INTO closed USING r.id;
            END IF;
            at := greatest(at, closed);
            EXECUTE format('INSERT INTO %I (feature_id, feature_key, version, valid, op, changed_at, changed_by, '
                           'change_set_id, row, geom) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)', history)
                USING r.id, to_jsonb(r) ->> TG_ARGV[0], version,
                      CASE WHEN TG_OP = 'DELETE' THEN 'empty'::tstzrange ELSE tstzrange(at, NULL) END,
                      left(TG_OP, 1), at, cs.who, cs.id, to_jsonb(r) - ARRAY[{NOT_IN_ROW}], r.geom;
            RETURN NULL;
        END
        $$""",
}


def upgrade() -> None:
    op.execute(f"SET LOCAL ROLE {OWNER}")  # every object below belongs to the owner (see 0004)
    create_change_sets()
    for statement in FUNCTIONS.values():
        op.execute(statement)
    for table, key in EDITABLE.items():
        op.add_column(table, sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False))
        op.add_column(table, sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column("updated_by", sa.Text(), nullable=True))
        create_history(table)
        baseline(table, key)
        op.execute(
            f"CREATE TRIGGER trg_{table}_stamp BEFORE INSERT OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION gis_stamp_row()"
        )
        op.execute(
            f"CREATE TRIGGER trg_{table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION gis_record_history('{key}')"
        )
    create_idempotency_keys()
    grant()
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET LOCAL ROLE {OWNER}")
    for table in EDITABLE:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_history ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_stamp ON {table}")
        op.drop_table(f"{table}_history")
        for column in ("updated_by", "updated_at", "version"):
            op.drop_column(table, column)
    for signature in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.drop_table("idempotency_keys")
    op.drop_table("change_sets")
    op.execute("RESET ROLE")


def create_change_sets() -> None:
    op.create_table(
        "change_sets",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=True),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("db_role", sa.Text(), nullable=False),
        sa.Column("client", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("unconditional", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_change_sets_principal_id_principals"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_sets")),
        sa.UniqueConstraint("txid", name=op.f("uq_change_sets_txid")),
    )


def create_idempotency_keys() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("collection", sa.String(length=64), nullable=False),
        sa.Column("feature_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_idempotency_keys_principal_id_principals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("principal_id", "key", name=op.f("pk_idempotency_keys")),
    )


def create_history(table: str) -> None:
    name = f"{table}_history"
    op.create_table(
        name,
        sa.Column("hist_id", sa.BigInteger(), nullable=False),
        sa.Column("feature_id", sa.BigInteger(), nullable=False),
        sa.Column("feature_key", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("valid", postgresql.TSTZRANGE(), nullable=False),
        sa.Column("op", sa.String(length=1), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("change_set_id", sa.BigInteger(), nullable=False),
        sa.Column("row", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "geom", Geometry(geometry_type="GEOMETRY", srid=4326, spatial_index=False, name="geometry"), nullable=True
        ),
        sa.CheckConstraint("op IN ('I', 'U', 'D')", name=op.f(f"ck_{name}_op")),
        sa.ForeignKeyConstraint(
            ["change_set_id"], ["change_sets.id"], name=op.f(f"fk_{name}_change_set_id_change_sets")
        ),
        sa.PrimaryKeyConstraint("hist_id", name=op.f(f"pk_{name}")),
    )
    op.create_index(f"ix_{name}_feature", name, ["feature_key", "version"])
    op.create_index(f"idx_{name}_geom", name, ["geom"], postgresql_using="gist")
    op.execute(f"CREATE INDEX ix_{name}_validity ON {name} USING gist (valid)")
    # The versions of one feature never overlap: the database refuses a history that says otherwise.
    op.execute(
        f"ALTER TABLE {name} ADD CONSTRAINT ex_{name}_validity EXCLUDE USING gist (feature_id WITH =, valid WITH &&)"
    )


def baseline(table: str, key: str) -> None:
    """The rows already there become version 1 of their feature, in one change set of the migration."""
    op.execute("SELECT set_config('app.comment', 'baseline: rows present when history began (migration 0005)', true)")
    op.execute(
        f"INSERT INTO {table}_history (feature_id, feature_key, version, valid, op, changed_at, changed_by, "
        f"change_set_id, row, geom) "
        f"SELECT t.id, t.{key}::text, t.version, tstzrange(now(), NULL), 'I', now(), cs.who, cs.id, "
        f"to_jsonb(t) - ARRAY[{NOT_IN_ROW}], t.geom FROM {table} t, gis_change_set() cs"
    )


def grant() -> None:
    tables = ", ".join(["change_sets", *(f"{t}_history" for t in EDITABLE)])
    op.execute(f"REVOKE ALL ON {tables} FROM {APP}, {READER}, {EDITOR}")
    op.execute(f"GRANT SELECT ON {tables} TO {APP}, {READER}, {EDITOR}")
    op.execute(f"REVOKE ALL ON idempotency_keys FROM {APP}, {READER}, {EDITOR}")
    op.execute(f"GRANT SELECT, INSERT ON idempotency_keys TO {APP}")
    op.execute("REVOKE ALL ON FUNCTION gis_change_set() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION gis_change_set() TO {APP}, {EDITOR}")
