#!/bin/sh
# The subset of the official postgres image's docker-entrypoint.sh the layout relies on:
# POSTGRES_USER / POSTGRES_DB / POSTGRES_PASSWORD (or *_FILE) initialise an empty PGDATA,
# /docker-entrypoint-initdb.d/*.sh and *.sql run once, then postgres runs in the foreground.
set -eu

file_env() {  # file_env VAR [DEFAULT]: VAR from VAR or from the file VAR_FILE names
  var=$1 default=${2:-}
  eval "val=\${$var:-}" ; eval "file=\${${var}_FILE:-}"
  if [ -n "$val" ] && [ -n "$file" ]; then echo "error: both $var and ${var}_FILE are set" >&2; exit 1; fi
  if [ -n "$file" ]; then val=$(cat "$file"); fi
  export "$var=${val:-$default}"
  unset "${var}_FILE"
}

if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi

if [ "$1" = postgres ]; then
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "$POSTGRES_PASSWORD" ]; then
      echo "error: database is uninitialized and POSTGRES_PASSWORD(_FILE) is not set" >&2; exit 1
    fi
    mkdir -p "$PGDATA" && chmod 0700 "$PGDATA"
    pwfile=$(mktemp) && printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
    rm -f "$pwfile"
    printf "\nlisten_addresses = '*'\nshared_preload_libraries = 'timescaledb'\n" >>"$PGDATA/postgresql.conf"
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [ "$POSTGRES_DB" != postgres ]; then
      psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -c "CREATE DATABASE \"$POSTGRES_DB\";" >/dev/null
    fi
    for f in /docker-entrypoint-initdb.d/*; do
      case "$f" in
        *.sh) echo "running $f"; . "$f" ;;
        *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f "$f" ;;
      esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "PostgreSQL init process complete; ready for start up."
  fi
  unset POSTGRES_PASSWORD
fi
exec "$@"
