"""Planning schema: administrative units, industry, transport, planning, reference layers.

Besides the tables: the extensions, geometry sanity checks (valid, non-empty, finite lon/lat), the
pinned VN-2000 spatial_ref_sys rows, per-layer data versions bumped by statement triggers, the
diacritics-insensitive search key with trigram indexes, and non-overlapping validity per unit code.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 12:56:28.107466
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

from gis_service.crs import PINNED_PROJ, SRTEXT_9210

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    before_tables()
    op.create_geospatial_table(
        "admin_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("unit_type", sa.Text(), nullable=True),
        sa.Column("parent_code", sa.String(length=16), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("area_km2_official", sa.Float(), nullable=True),
        sa.Column(
            "area_ha",
            sa.Float(),
            sa.Computed("ST_Area(geom::geography) / 10000.0", persisted=True),
            nullable=True,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_ascii", sa.Text(), nullable=False),
        sa.Column("geometry_quality", sa.String(length=32), nullable=False),
        sa.Column("geometry_note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("license", sa.Text(), nullable=True),
        sa.Column("synthetic", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_units")),
        sa.UniqueConstraint(
            "code", "valid_from", name="uq_admin_units_code_valid_from", postgresql_nulls_not_distinct=True
        ),
    )
    op.create_geospatial_index(
        "idx_admin_units_geom",
        "admin_units",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "feature_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layer", sa.String(length=64), nullable=False),
        sa.Column("feature_code", sa.String(length=32), nullable=False),
        sa.Column("attribute", sa.String(length=64), nullable=False),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("definition", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("publisher", sa.Text(), nullable=True),
        sa.Column("source_date", sa.Text(), nullable=True),
        sa.Column("source_key", sa.String(length=64), nullable=True),
        sa.Column("is_canonical", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_sources")),
    )
    op.create_index("ix_feature_sources_feature", "feature_sources", ["layer", "feature_code"], unique=False)
    op.create_geospatial_table(
        "industrial_clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("developer", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_note", sa.Text(), nullable=True),
        sa.Column("established_year", sa.Integer(), nullable=True),
        sa.Column("planned_area_ha", sa.Float(), nullable=True),
        sa.Column("area_definition", sa.Text(), nullable=True),
        sa.Column("leased_area_ha", sa.Float(), nullable=True),
        sa.Column("occupancy_pct", sa.Float(), nullable=True),
        sa.Column("horizon_year", sa.Integer(), nullable=True),
        sa.Column("district_code", sa.String(length=16), nullable=True),
        sa.Column("district_name", sa.Text(), nullable=True),
        sa.Column("location_text", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "footprint",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_ascii", sa.Text(), nullable=False),
        sa.Column("geometry_quality", sa.String(length=32), nullable=False),
        sa.Column("geometry_note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("license", sa.Text(), nullable=True),
        sa.Column("synthetic", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_industrial_clusters")),
        sa.UniqueConstraint("code", name=op.f("uq_industrial_clusters_code")),
    )
    op.create_geospatial_index(
        "idx_industrial_clusters_footprint",
        "industrial_clusters",
        ["footprint"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_industrial_clusters_geom",
        "industrial_clusters",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "industrial_parks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("developer", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_note", sa.Text(), nullable=True),
        sa.Column("established_year", sa.Integer(), nullable=True),
        sa.Column("planned_area_ha", sa.Float(), nullable=True),
        sa.Column("area_definition", sa.Text(), nullable=True),
        sa.Column("leased_area_ha", sa.Float(), nullable=True),
        sa.Column("occupancy_pct", sa.Float(), nullable=True),
        sa.Column("horizon_year", sa.Integer(), nullable=True),
        sa.Column("district_code", sa.String(length=16), nullable=True),
        sa.Column("district_name", sa.Text(), nullable=True),
        sa.Column("location_text", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "footprint",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_ascii", sa.Text(), nullable=False),
        sa.Column("geometry_quality", sa.String(length=32), nullable=False),
        sa.Column("geometry_note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("license", sa.Text(), nullable=True),
        sa.Column("synthetic", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_industrial_parks")),
        sa.UniqueConstraint("code", name=op.f("uq_industrial_parks_code")),
    )
    op.create_geospatial_index(
        "idx_industrial_parks_footprint",
        "industrial_parks",
        ["footprint"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_industrial_parks_geom",
        "industrial_parks",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "layer_versions",
        sa.Column("layer", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("layer", name=op.f("pk_layer_versions")),
    )
    op.create_table(
        "name_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.Text(), nullable=False),
        sa.Column("layer", sa.String(length=64), nullable=False),
        sa.Column("feature_code", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_name_aliases")),
        sa.UniqueConstraint("alias", "layer", "feature_code", name="uq_name_aliases_alias"),
    )
    op.create_geospatial_table(
        "parcels",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("admin_code", sa.String(length=16), nullable=False),
        sa.Column("sheet_no", sa.String(length=16), nullable=False),
        sa.Column("parcel_no", sa.String(length=16), nullable=False),
        sa.Column("land_use_code", sa.String(length=16), nullable=False),
        sa.Column(
            "area_ha",
            sa.Float(),
            sa.Computed("ST_Area(geom::geography) / 10000.0", persisted=True),
            nullable=True,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("geometry_quality", sa.String(length=32), nullable=False),
        sa.Column("geometry_note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("license", sa.Text(), nullable=True),
        sa.Column("synthetic", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parcels")),
        sa.UniqueConstraint("admin_code", "sheet_no", "parcel_no", name="uq_parcels_natural_key"),
    )
    op.create_geospatial_index(
        "idx_parcels_geom", "parcels", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_geospatial_table(
        "planning_zones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("name_ascii", sa.Text(), nullable=True),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("zone_type", sa.String(length=64), nullable=False),
        sa.Column("horizon_year", sa.Integer(), nullable=True),
        sa.Column("admin_code", sa.String(length=16), nullable=True),
        sa.Column(
            "area_ha",
            sa.Float(),
            sa.Computed("ST_Area(geom::geography) / 10000.0", persisted=True),
            nullable=True,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("geometry_quality", sa.String(length=32), nullable=False),
        sa.Column("geometry_note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("license", sa.Text(), nullable=True),
        sa.Column("synthetic", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_zones")),
        sa.UniqueConstraint("code", name=op.f("uq_planning_zones_code")),
    )
    op.create_geospatial_index(
        "idx_planning_zones_geom",
        "planning_zones",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "rivers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_ascii", sa.Text(), nullable=False),
        sa.Column("geometry_quality", sa.String(length=32), nullable=False),
        sa.Column("geometry_note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("license", sa.Text(), nullable=True),
        sa.Column("synthetic", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rivers")),
        sa.UniqueConstraint("code", name=op.f("uq_rivers_code")),
    )
    op.create_geospatial_index(
        "idx_rivers_geom", "rivers", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_geospatial_table(
        "transport_projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_note", sa.Text(), nullable=True),
        sa.Column("start_year", sa.Integer(), nullable=True),
        sa.Column("completion_year", sa.Integer(), nullable=True),
        sa.Column("length_km", sa.Float(), nullable=True),
        sa.Column("length_note", sa.Text(), nullable=True),
        sa.Column("lanes", sa.Integer(), nullable=True),
        sa.Column("design", sa.Text(), nullable=True),
        sa.Column("budget_vnd_bn", sa.Float(), nullable=True),
        sa.Column(
            "geom",
            Geometry(srid=4326, dimension=2, spatial_index=False, from_text="ST_GeomFromEWKT", name="geometry"),
            nullable=True,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_ascii", sa.Text(), nullable=False),
        sa.Column("geometry_quality", sa.String(length=32), nullable=False),
        sa.Column("geometry_note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("license", sa.Text(), nullable=True),
        sa.Column("synthetic", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transport_projects")),
        sa.UniqueConstraint("code", name=op.f("uq_transport_projects_code")),
    )
    op.create_geospatial_index(
        "idx_transport_projects_geom",
        "transport_projects",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "admin_unit_successions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("old_unit_id", sa.Integer(), nullable=False),
        sa.Column("new_unit_id", sa.Integer(), nullable=False),
        sa.Column("old_code", sa.String(length=16), nullable=False),
        sa.Column("new_code", sa.String(length=16), nullable=False),
        sa.Column("old_unit_split", sa.Boolean(), nullable=False),
        sa.Column("share_of_old", sa.Float(), nullable=True),
        sa.Column("share_of_new", sa.Float(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["new_unit_id"],
            ["admin_units.id"],
            name=op.f("fk_admin_unit_successions_new_unit_id_admin_units"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["old_unit_id"],
            ["admin_units.id"],
            name=op.f("fk_admin_unit_successions_old_unit_id_admin_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_unit_successions")),
        sa.UniqueConstraint("old_unit_id", "new_unit_id", name="uq_admin_unit_successions_pair"),
    )

    after_tables()


def downgrade() -> None:
    before_drop()
    op.drop_table("admin_unit_successions")
    op.drop_geospatial_index(
        "idx_transport_projects_geom",
        table_name="transport_projects",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("transport_projects")
    op.drop_geospatial_index("idx_rivers_geom", table_name="rivers", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("rivers")
    op.drop_geospatial_index(
        "idx_planning_zones_geom", table_name="planning_zones", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("planning_zones")
    op.drop_geospatial_index("idx_parcels_geom", table_name="parcels", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("parcels")
    op.drop_table("name_aliases")
    op.drop_table("layer_versions")
    op.drop_geospatial_index(
        "idx_industrial_parks_geom",
        table_name="industrial_parks",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_index(
        "idx_industrial_parks_footprint",
        table_name="industrial_parks",
        postgresql_using="gist",
        column_name="footprint",
    )
    op.drop_geospatial_table("industrial_parks")
    op.drop_geospatial_index(
        "idx_industrial_clusters_geom",
        table_name="industrial_clusters",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_index(
        "idx_industrial_clusters_footprint",
        table_name="industrial_clusters",
        postgresql_using="gist",
        column_name="footprint",
    )
    op.drop_geospatial_table("industrial_clusters")
    op.drop_index("ix_feature_sources_feature", table_name="feature_sources")
    op.drop_table("feature_sources")
    op.drop_geospatial_index(
        "idx_admin_units_geom", table_name="admin_units", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("admin_units")

    after_drop()


VERSIONED = (
    "admin_units",
    "industrial_parks",
    "industrial_clusters",
    "transport_projects",
    "planning_zones",
    "parcels",
    "rivers",
)
GEOMETRY_COLUMNS = {
    "admin_units": ("geom",),
    "industrial_parks": ("geom", "footprint"),
    "industrial_clusters": ("geom", "footprint"),
    "transport_projects": ("geom",),
    "planning_zones": ("geom",),
    "parcels": ("geom",),
    "rivers": ("geom",),
}
SEARCHABLE = ("admin_units", "industrial_parks", "industrial_clusters", "transport_projects", "rivers")
VN2000_SRIDS = (4756, 3405, 5897)


def before_tables() -> None:
    for ext in ("postgis", "unaccent", "pg_trgm", "btree_gist"):
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}")
    # PostGIS calls POINT(NaN NaN) valid: bounding the coordinates to lon/lat rejects NaN and infinities.
    op.execute(
        """
        CREATE FUNCTION gis_geom_ok(g geometry) RETURNS boolean
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT ST_IsValid(g) AND NOT ST_IsEmpty(g)
               AND ST_XMin(g) >= -180 AND ST_XMax(g) <= 180
               AND ST_YMin(g) >= -90 AND ST_YMax(g) <= 90
        $$
        """
    )
    # unaccent() is only STABLE; the search key must be IMMUTABLE to be indexed.
    op.execute(
        """
        CREATE FUNCTION gis_search_key(t text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT lower(public.unaccent('public.unaccent'::regdictionary,
                                          translate(t, 'ĐđƉɖ', 'DdDd')))
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION gis_bump_layer_version() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'TRUNCATE' THEN  -- a TRUNCATE trigger has no transition table to look at
                IF NOT EXISTS (SELECT 1 FROM changed) THEN
                    RETURN NULL;
                END IF;
            END IF;
            INSERT INTO layer_versions (layer, version, changed_at) VALUES (TG_TABLE_NAME, 1, now())
            ON CONFLICT (layer) DO UPDATE
                SET version = layer_versions.version + 1, changed_at = now();
            RETURN NULL;
        END
        $$
        """
    )
    pin_vn2000()


def pin_vn2000() -> None:
    """PostGIS prefers PROJ's EPSG definition when auth_name is set; clearing it makes it use the
    srtext/proj4text rows, which carry the official Decision 05/2007 shift."""
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text) "
            "VALUES (9210, NULL, NULL, :srtext, :proj) ON CONFLICT (srid) DO UPDATE "
            "SET auth_name = NULL, auth_srid = NULL, srtext = EXCLUDED.srtext, proj4text = EXCLUDED.proj4text"
        ),
        {"srtext": SRTEXT_9210, "proj": PINNED_PROJ[9210]},
    )
    for srid in VN2000_SRIDS:
        conn.execute(
            sa.text(
                "UPDATE spatial_ref_sys SET auth_name = NULL, auth_srid = NULL, proj4text = :proj WHERE srid = :srid"
            ),
            {"srid": srid, "proj": PINNED_PROJ[srid]},
        )


def after_tables() -> None:
    for table, columns in GEOMETRY_COLUMNS.items():
        for column in columns:
            op.create_check_constraint(f"{column}_ok", table, sa.text(f"{column} IS NULL OR gis_geom_ok({column})"))
    op.execute(
        "ALTER TABLE admin_units ADD CONSTRAINT ex_admin_units_validity EXCLUDE USING gist "
        "(code WITH =, daterange(valid_from, valid_to, '[]') WITH &&)"
    )
    op.execute("CREATE INDEX ix_admin_units_validity ON admin_units USING gist (daterange(valid_from, valid_to, '[]'))")
    for table in SEARCHABLE:
        op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING gin (gis_search_key(name) gin_trgm_ops)")
    op.execute("CREATE INDEX ix_name_aliases_search ON name_aliases USING gin (gis_search_key(alias) gin_trgm_ops)")
    for table in VERSIONED:
        # Transition tables let a statement that changed no row (an idempotent reload) keep the version.
        for event, rows in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            op.execute(
                f"CREATE TRIGGER trg_{table}_version_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {rows} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION gis_bump_layer_version()"
            )
        op.execute(
            f"CREATE TRIGGER trg_{table}_version_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION gis_bump_layer_version()"
        )
        op.execute(f"INSERT INTO layer_versions (layer, version) VALUES ('{table}', 0)")


def before_drop() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM spatial_ref_sys WHERE srid = 9210"))
    for srid in VN2000_SRIDS:
        conn.execute(
            sa.text("UPDATE spatial_ref_sys SET auth_name = 'EPSG', auth_srid = :srid WHERE srid = :srid"),
            {"srid": srid},
        )


def after_drop() -> None:
    for fn in ("gis_bump_layer_version()", "gis_search_key(text)", "gis_geom_ok(geometry)"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
