#!/bin/sh
# A streaming replica (hot standby) of the compose primary, made as `gis-service cluster up` makes its own:
# on first start `pg_basebackup -R -X stream -C -S <slot>` (standby.signal, primary_conninfo and the slot),
# named by cluster_name so pg_stat_replication tells the replicas apart; then the server, read-only.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
: "${PRIMARY_HOST:?the primary's host}"
: "${SLOT:?a replication slot name}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA" && chmod 700 "$PGDATA"
  until gosu postgres pg_isready -q -h "$PRIMARY_HOST" -U postgres; do sleep 1; done
  # A slot left by an earlier replica of this name would keep WAL for nobody: start from a fresh one.
  gosu postgres psql -h "$PRIMARY_HOST" -U postgres -d postgres -Atqc \
    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active"
  gosu postgres pg_basebackup -h "$PRIMARY_HOST" -U postgres -D "$PGDATA" -R -X stream -C -S "$SLOT" -c fast
  echo "cluster_name = '$SLOT'" >> "$PGDATA/postgresql.auto.conf"
fi
exec gosu postgres postgres
