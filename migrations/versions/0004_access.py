"""Access: principals, API keys, grants, edit areas and the audit log; database roles and row-level security.

Roles are cluster-wide while several databases share the cluster, so they are created when missing and
never dropped; ownership, grants and policies are per database, so downgrading one database does not touch
another. ``gis_owner`` owns every table and function of the schema; ``gis_app`` (the API) and ``gis_editor``
(people editing PostGIS directly) own nothing, so the policies below apply to them: reads are open, and a
change to an editable layer needs an editor grant, inside the grant's edit area when it has one (``USING``:
the feature touches the area; ``WITH CHECK``: the new geometry is covered by it). Who is editing is
``app.user_id`` for the API and the login role (``principals.db_role``) for everyone else. The owner has a
policy of its own, so FORCE can hold for the loader too. Migrations after this one create their objects as
the owner (``SET LOCAL ROLE gis_owner``) or hand them over at their end.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

from gis_service.auth.dbroles import APP, DBA_SENTENCE, EDITOR, OWNER, READER

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

EDITABLE = ("parcels", "planning_zones", "industrial_parks", "industrial_clusters", "transport_projects")
ACCESS_TABLES = ("principals", "principal_groups", "api_keys", "grants", "edit_areas", "audit_log")
#: Columns of ``api_keys`` the app may see: everything but the hash.
KEY_COLUMNS_APP = "id, last_used_at"
EDITOR_ROLES = "('editor', 'curator', 'layer-admin')"
NOT_EXTENSION = "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.deptype = 'e')"

FUNCTIONS = {
    "gis_principal_id()": f"""
        CREATE FUNCTION gis_principal_id() RETURNS integer
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
            SELECT p.id FROM principals p
            WHERE NOT p.disabled
              AND CASE WHEN pg_has_role(session_user, '{APP}', 'MEMBER')
                       THEN p.id = nullif(current_setting('app.user_id', true), '')::integer
                       ELSE p.db_role = session_user END
        $$""",
    "gis_principal_groups(integer)": f"""
        CREATE FUNCTION gis_principal_groups(p_id integer) RETURNS text[]
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
            SELECT coalesce(array_agg(name), '{{}}') FROM (
                SELECT group_name AS name FROM principal_groups WHERE principal_id = p_id
                UNION
                SELECT g FROM unnest(string_to_array(nullif(current_setting('app.groups', true), ''), ',')) AS g
                WHERE pg_has_role(session_user, '{APP}', 'MEMBER')
            ) AS s
        $$""",
    "gis_may_edit(text, geometry, boolean)": f"""
        CREATE FUNCTION gis_may_edit(p_collection text, p_geom geometry, p_touch boolean) RETURNS boolean
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE
            me integer := gis_principal_id();
        BEGIN
            IF me IS NULL THEN
                RETURN false;
            END IF;
            IF EXISTS (SELECT 1 FROM principals WHERE id = me AND admin) THEN
                RETURN true;
            END IF;
            RETURN EXISTS (
                SELECT 1 FROM grants g
                LEFT JOIN edit_areas a ON a.collection = g.collection
                     AND a.principal_id IS NOT DISTINCT FROM g.principal_id
                     AND a.group_name IS NOT DISTINCT FROM g.group_name
                WHERE g.collection = p_collection
                  AND g.role IN {EDITOR_ROLES}
                  AND (g.principal_id = me OR g.group_name = ANY (gis_principal_groups(me)))
                  AND (a.id IS NULL
                       OR (p_touch AND ST_Intersects(p_geom, a.geom))
                       OR (NOT p_touch AND ST_CoveredBy(p_geom, a.geom))));
        END
        $$""",
    "gis_api_key_lookup(text)": """
        CREATE FUNCTION gis_api_key_lookup(p_prefix text)
        RETURNS TABLE (id integer, principal_id integer, secret_hash bytea, scopes text[],
                       expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
            SELECT k.id, k.principal_id, k.secret_hash, k.scopes, k.expires_at, k.revoked_at, k.last_used_at
            FROM api_keys k WHERE k.prefix = p_prefix
        $$""",
}


def upgrade() -> None:
    ensure_roles()
    create_tables()
    for statement in FUNCTIONS.values():
        op.execute(statement)
    op.execute("REVOKE ALL ON FUNCTION gis_api_key_lookup(text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION gis_api_key_lookup(text) TO {APP}")
    # The data-version trigger runs for whoever writes (the app, a QGIS editor): as its owner it can
    # bump layer_versions, which nobody else may write.
    op.execute("ALTER FUNCTION gis_bump_layer_version() SECURITY DEFINER SET search_path = public, pg_temp")
    hand_over(OWNER)
    grant_privileges()
    for table in EDITABLE:
        create_policies(table)


def downgrade() -> None:
    for table in EDITABLE:
        op.execute(f"DROP POLICY IF EXISTS gis_read ON {table}")
        for action in ("owner", "insert", "update", "delete"):
            op.execute(f"DROP POLICY IF EXISTS gis_{action} ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY")
    revoke_privileges()
    op.execute("ALTER FUNCTION gis_bump_layer_version() SECURITY INVOKER RESET search_path")
    hand_over("CURRENT_USER")
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    for table in reversed(ACCESS_TABLES):
        op.drop_table(table)


def ensure_roles() -> None:
    """Create the roles when missing, idempotently (other databases may be migrating at the same time)."""
    conn = op.get_bind()
    missing = [r for r in (OWNER, APP, READER, EDITOR) if not conn.execute(_role_exists(r)).scalar()]
    may = conn.execute(sa.text("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"))
    if missing and not may.scalar():
        raise RuntimeError(f"roles {missing} are missing and this login may not create them: {DBA_SENTENCE}")
    for role in missing:
        # The app may log in (without a password it can only where the cluster trusts local connections;
        # `gis-service db up` gives it one); the others are groups.
        login = "LOGIN" if role == APP else "NOLOGIN"
        op.execute(
            f"DO $$ BEGIN CREATE ROLE {role} {login}; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )


def _role_exists(role: str) -> sa.TextClause:
    return sa.text("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :r)").bindparams(r=role)


def hand_over(new_owner: str) -> None:
    """Every table, view, free-standing sequence and function of ``public`` that no extension owns."""
    op.execute(
        f"""
        DO $$
        DECLARE r record;
        BEGIN
            FOR r IN
                SELECT c.oid, c.relname, c.relkind FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND {NOT_EXTENSION.format(oid="c.oid")}
                  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
            LOOP
                EXECUTE format('ALTER %s %I OWNER TO {new_owner}',
                    CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                   WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, r.relname);
            END LOOP;
            FOR r IN
                SELECT p.oid::regprocedure AS signature FROM pg_proc p
                JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'public'
                WHERE p.prokind IN ('f', 'p') AND {NOT_EXTENSION.format(oid="p.oid")}
            LOOP
                EXECUTE format('ALTER ROUTINE %s OWNER TO {new_owner}', r.signature);
            END LOOP;
        END $$
        """
    )
    op.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {OWNER}")


def grant_privileges() -> None:
    op.execute(
        f"DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO {APP}, {READER}, {EDITOR}', "
        "current_database()); END $$"
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP}, {READER}, {EDITOR}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {APP}, {READER}, {EDITOR}")
    access = ", ".join(ACCESS_TABLES)
    op.execute(f"REVOKE ALL ON {access} FROM {READER}, {EDITOR}")
    op.execute(f"REVOKE ALL ON api_keys, audit_log FROM {APP}")
    op.execute(f"GRANT SELECT ({KEY_COLUMNS_APP}), UPDATE (last_used_at) ON api_keys TO {APP}")
    op.execute(f"GRANT INSERT ON audit_log TO {APP}")
    op.execute(f"GRANT USAGE ON SEQUENCE audit_log_id_seq TO {APP}")
    editable = ", ".join(EDITABLE)
    op.execute(f"GRANT INSERT, UPDATE, DELETE ON {editable} TO {APP}, {EDITOR}")
    for table in EDITABLE:
        op.execute(
            f"DO $$ BEGIN IF pg_get_serial_sequence('{table}', 'id') IS NOT NULL THEN "
            f"EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {APP}, {EDITOR}', pg_get_serial_sequence('{table}', 'id'));"
            " END IF; END $$"
        )
    for creator in (OWNER, "CURRENT_USER"):
        op.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {creator} IN SCHEMA public GRANT SELECT ON TABLES TO {APP}, {READER}"
        )


def revoke_privileges() -> None:
    roles = f"{APP}, {READER}, {EDITOR}"
    for creator in (OWNER, "CURRENT_USER"):
        op.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {creator} IN SCHEMA public REVOKE SELECT ON TABLES FROM {APP}, {READER}"
        )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {roles}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {roles}")
    op.execute(f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM {roles}")
    op.execute(f"REVOKE ALL ON SCHEMA public FROM {roles}, {OWNER}")
    op.execute(f"DO $$ BEGIN EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM {roles}', current_database()); END $$")


def create_policies(table: str) -> None:
    """Reads open; the owner unrestricted (loader); the app and direct editors inside their grants."""
    writers = f"{APP}, {EDITOR}"
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY gis_read ON {table} FOR SELECT USING (true)")
    op.execute(f"CREATE POLICY gis_owner ON {table} FOR ALL TO {OWNER} USING (true) WITH CHECK (true)")
    inside = f"gis_may_edit('{table}', geom, false)"
    touches = f"gis_may_edit('{table}', geom, true)"
    op.execute(f"CREATE POLICY gis_insert ON {table} FOR INSERT TO {writers} WITH CHECK ({inside})")
    op.execute(f"CREATE POLICY gis_update ON {table} FOR UPDATE TO {writers} USING ({touches}) WITH CHECK ({inside})")
    op.execute(f"CREATE POLICY gis_delete ON {table} FOR DELETE TO {writers} USING ({touches})")


def create_tables() -> None:
    op.create_table(
        "principals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("oidc_subject", sa.Text(), nullable=True),
        sa.Column("admin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("db_role", sa.String(length=63), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('user', 'service')", name=op.f("ck_principals_kind")),
        sa.CheckConstraint("name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'", name=op.f("ck_principals_name")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principals")),
        sa.UniqueConstraint("db_role", name=op.f("uq_principals_db_role")),
        sa.UniqueConstraint("name", name=op.f("uq_principals_name")),
        sa.UniqueConstraint("oidc_subject", name=op.f("uq_principals_oidc_subject")),
    )
    op.create_table(
        "principal_groups",
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("group_name", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_principal_groups_principal_id_principals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("principal_id", "group_name", name=op.f("pk_principal_groups")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name=op.f("fk_api_keys_principal_id_principals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_table(
        "grants",
        *_subject(),
        sa.Column("role", sa.String(length=16), nullable=False),
        *_stamp(),
        sa.CheckConstraint("(principal_id IS NULL) <> (group_name IS NULL)", name=op.f("ck_grants_one_subject")),
        sa.CheckConstraint("role IN ('viewer', 'editor', 'curator', 'layer-admin')", name=op.f("ck_grants_role")),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name=op.f("fk_grants_principal_id_principals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
    )
    op.create_table(
        "edit_areas",
        *_subject(),
        sa.Column(
            "geom",
            Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False, name="geometry"),
            nullable=False,
        ),
        *_stamp(),
        sa.CheckConstraint("(principal_id IS NULL) <> (group_name IS NULL)", name=op.f("ck_edit_areas_one_subject")),
        sa.CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f("ck_edit_areas_geom_ok")),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name=op.f("fk_edit_areas_principal_id_principals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edit_areas")),
    )
    for table in ("grants", "edit_areas"):
        op.create_index(f"uq_{table}_principal", table, ["principal_id", "collection"], unique=True)
        op.create_index(f"uq_{table}_group", table, ["group_name", "collection"], unique=True)
    op.create_index("idx_edit_areas_geom", "edit_areas", ["geom"], postgresql_using="gist")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("collection", sa.String(length=64), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_event"), "audit_log", ["event"], unique=False)


def _subject() -> list[sa.Column[object]]:
    """Columns a grant and an edit area share: a principal or a group, and a collection."""
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=True),
        sa.Column("group_name", sa.String(length=64), nullable=True),
        sa.Column("collection", sa.String(length=64), nullable=False),
    ]


def _stamp() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
    ]
