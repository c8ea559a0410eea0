#!/bin/sh
# As the timescale image: the extension in template1 and in POSTGRES_DB.
set -eu
for db in template1 "$POSTGRES_DB"; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$db" -c "CREATE EXTENSION IF NOT EXISTS timescaledb;"
done
