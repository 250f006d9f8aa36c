"""History recorded per statement: the versions of a bulk write are written set-based, not row by row.

Migration 0005 recorded each version from a row-level trigger, one plpgsql call and two or three dynamic
statements per row: a COPY of 200,000 parcels or a large DELETE paid it 200,000 times. Here statement-level
triggers (one per event: a trigger with transition tables has one event) read the statement's rows from its
transition tables and do the same work in two statements whatever the row count: close the open versions of
the old rows, then insert one history row per written row, with the same columns and values as before.
The triggers are ``trg_<table>_history_insert``, ``_update`` and ``_delete``. The row's JSON is built from
the columns it keeps, so the geometries it leaves out are no longer converted to GeoJSON to be dropped.

Unchanged: the clock is ``clock_timestamp()`` when the history is written (once per statement; versions of a
later statement begin later), a closed version lasts at least a microsecond, a feature written again after
its deletion starts after the last version it had, a deletion is recorded as version + 1 with an empty
range, and a statement that touched no row records nothing (nor opens a change set). The function runs as
the owner (SECURITY DEFINER), as before. Downgrade puts the row-level trigger of 0005 back (its function
stays in place, owned by 0005).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from alembic import op

from gis_service.auth.dbroles import OWNER

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: Editable layer -> the column the API shows as the feature id (as in 0005).
EDITABLE = {
    "parcels": "id",
    "planning_zones": "code",
    "industrial_parks": "code",
    "industrial_clusters": "code",
    "transport_projects": "code",
}
#: Columns the history row leaves out of its JSON (as in 0005).
NOT_IN_ROW = "'geom', 'geom_3857'"
NEW, OLD = "NEW TABLE AS new_rows", "OLD TABLE AS old_rows"
#: Event -> the transition tables its trigger reads.
EVENTS = {"INSERT": f"REFERENCING {NEW}", "UPDATE": f"REFERENCING {OLD} {NEW}", "DELETE": f"REFERENCING {OLD}"}

FUNCTION = f"""
    CREATE FUNCTION gis_record_history_rows() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
        history text := TG_TABLE_NAME || '_history';
        -- The rows whose version is recorded: the deleted ones as they were, the others as written.
        written text := CASE TG_OP WHEN 'DELETE' THEN 'old_rows' ELSE 'new_rows' END;
        cs record;
        -- The row as JSON, built from its other columns: the left-out geometries are never converted.
        members text;
        -- The clock when the history is written, not now() (when the transaction began): a transaction that
        -- began before another one committed a version of these rows (and waited for them) must still start
        -- its versions after that one, or the version before would overlap it or become empty.
        at timestamptz := clock_timestamp();
    BEGIN
        IF TG_OP = 'DELETE' THEN
            PERFORM FROM old_rows LIMIT 1;
        ELSE
            PERFORM FROM new_rows LIMIT 1;
        END IF;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        cs := gis_change_set();
        SELECT string_agg(format('r.%I', a.attname), ', ' ORDER BY a.attnum) INTO members
        FROM pg_attribute a
        WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped
          AND a.attname <> ALL (ARRAY[{NOT_IN_ROW}]::name[]);
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            -- Close the current versions, a microsecond after they began at the least (equal clocks), so no
            -- version is ever empty and hidden from asOf; the next one begins where it ends.
            EXECUTE format('UPDATE %I h SET valid = tstzrange(lower(h.valid), '
                           'greatest($1, lower(h.valid) + interval ''1 microsecond'')) '
                           'FROM old_rows o '
                           'WHERE h.feature_id = o.id AND upper_inf(h.valid) AND NOT isempty(h.valid)', history)
                USING at;
        END IF;
        -- Each version begins after the last one of its feature: the one just closed, or for a feature
        -- written again after its deletion the last it had; a deletion is version + 1, an empty range.
        EXECUTE format('INSERT INTO %1$I (feature_id, feature_key, version, valid, op, changed_at, changed_by, '
                       'change_set_id, row, geom) '
                       'SELECT r.id, j.doc ->> %2$L, r.version + $2, '
                       'CASE WHEN $2 = 1 THEN ''empty''::tstzrange ELSE tstzrange(s.at, NULL) END, '
                       '$3, s.at, $4, $5, j.doc, r.geom '
                       'FROM %3$I r, LATERAL (SELECT to_jsonb(x) FROM (SELECT %4$s) AS x) AS j(doc), '
                       'LATERAL (SELECT greatest($1, '
                       '    (SELECT max(upper(h.valid)) FROM %1$I h WHERE h.feature_id = r.id))) AS s(at)',
                       history, TG_ARGV[0], written, members)
            USING at, CASE TG_OP WHEN 'DELETE' THEN 1 ELSE 0 END, left(TG_OP, 1), cs.who, cs.id;
        RETURN NULL;
    END
    $$"""


def upgrade() -> None:
    op.execute(f"SET LOCAL ROLE {OWNER}")  # objects belong to the owner (see 0004)
    op.execute(FUNCTION)
    for table, key in EDITABLE.items():
        op.execute(f"DROP TRIGGER trg_{table}_history ON {table}")
        for event, transition in EVENTS.items():
            op.execute(
                f"CREATE TRIGGER trg_{table}_history_{event.lower()} AFTER {event} ON {table} {transition} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION gis_record_history_rows('{key}')"
            )
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET LOCAL ROLE {OWNER}")
    for table, key in EDITABLE.items():
        for event in EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_history_{event.lower()} ON {table}")
        op.execute(
            f"CREATE TRIGGER trg_{table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION gis_record_history('{key}')"
        )
    op.execute("DROP FUNCTION IF EXISTS gis_record_history_rows()")
    op.execute("RESET ROLE")
