#!/bin/sh
# Runs once, when the primary's data folder is created (docker-entrypoint-initdb.d).
set -eu
REPLICATION_PASSWORD="$(cat "$REPLICATION_PASSWORD_FILE")"
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
  -v repl_password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'repl_password';
-- Behind PgBouncer the API sends no statement_timeout at connect (PgBouncer would refuse
-- it): the role carries it instead.
ALTER ROLE berdaya SET statement_timeout = '30s';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
