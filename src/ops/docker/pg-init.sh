#!/bin/sh
# Runs once, when the compose `postgres` service initialises an empty data directory: loads every
# sql/pg migration in order (mounted at /smq-sql), then creates/migrates the tasks table, so the
# seed's RPC functions and smq's exist before any worker connects. smq's stores run the same
# idempotent migration on start, so a later sql/pg file is picked up by them too.
set -eu
for f in /smq-sql/*.sql; do
  echo "smq: loading $f"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f "$f"
done
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "SELECT func_smq_migrate('${POSTGRES_TABLE_NAME:-tasks}');"
