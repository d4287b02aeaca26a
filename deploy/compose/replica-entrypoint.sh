#!/bin/sh
# The streaming replica: cloned from the primary with pg_basebackup -R on first start
# (standby.signal and primary_conninfo written), then a hot standby.
set -eu
PGDATA="${PGDATA:-/var/lib/postgresql/18/docker}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  PGPASSWORD="$(cat "$REPLICATION_PASSWORD_FILE")"
  export PGPASSWORD
  gosu postgres pg_basebackup -h "$PRIMARY_HOST" -U replicator -D "$PGDATA" \
    -R -X stream -c fast
fi
exec gosu postgres postgres -D "$PGDATA" -c hot_standby=on -c hot_standby_feedback=on \
  -c max_standby_streaming_delay=30s
