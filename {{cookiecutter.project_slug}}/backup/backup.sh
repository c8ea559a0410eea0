#!/bin/sh
# Database backups, run by the backup service (the database image, as the postgres UID):
#   backup.sh schedule     a dump whenever the newest is older than BACKUP_INTERVAL_HOURS (checked every 5 min)
#   backup.sh once         one dump now; prints its name
#   backup.sh list         the dumps, newest first
#   backup.sh cat NAME     a dump to stdout;  backup.sh import NAME: a dump from stdin (checked first)
#   backup.sh check NAME   fails unless NAME is a readable pg_dump archive
#   backup.sh restore NAME replace the database with a dump (the other services stopped first; run by
#                          db/setup.sh as the superuser, which then gives the tables to the owner role)
#   backup.sh health       the healthcheck: fails while the last scheduled dump failed
# Dumps are pg_dump's custom format (compressed, restored table by table) in the backups volume,
# the newest BACKUP_KEEP kept. `hardstack backup` and `hardstack restore` call this script.
set -eu
umask 077  # a dump holds every row, password hashes included: readable by the postgres UID only

DIR=/var/lib/postgresql/backups
FAILED=/tmp/backup-failed
: "${PGDATABASE:?}" "${BACKUP_INTERVAL_HOURS:=24}" "${BACKUP_KEEP:=7}"
# The backup role (read-only) for dumps; db/setup.sh runs `restore` as the superuser.
PGPASSWORD=$(cat "${PGPASSWORD_FILE:-/run/secrets/db_backup_password}")
export PGPASSWORD
export PGOPTIONS="-c client_min_messages=warning"  # no NOTICE chatter (IF EXISTS ... skipping)

say() { printf 'backup: %s\n' "$*" >&2; }

dump() {
  mkdir -p "$DIR"
  name="$PGDATABASE-$(date -u +%Y%m%dT%H%M%SZ).dump"
  # Written under a temporary name: a dump cut short is never listed, kept or restored.
  # pg_dump warns about TimescaleDB's catalog on every run (circular foreign keys it restores itself):
  # its messages are shown only when it fails.
  if ! pg_dump --format=custom --file="$DIR/$name.partial" 2>/tmp/pg_dump.log; then
    cat /tmp/pg_dump.log >&2
    rm -f "$DIR/$name.partial"
    return 1
  fi
  mv "$DIR/$name.partial" "$DIR/$name"
  prune
  echo "$name"
}

prune() {
  # Names sort by their UTC timestamps: the first ones are the oldest.
  set -- "$DIR"/*.dump
  [ -e "$1" ] || return 0
  excess=$(($# - BACKUP_KEEP))
  while [ "$excess" -gt 0 ]; do
    rm -f "$1"
    shift
    excess=$((excess - 1))
  done
}

list() {
  set -- "$DIR"/*.dump
  [ -e "$1" ] || return 0
  for f in "$@"; do echo "${f##*/}"; done | sort -r
}

path_of() {
  case $1 in
    */* | .*) say "a dump is named by its file name only, e.g. $PGDATABASE-20260101T000000Z.dump"; exit 2 ;;
  esac
  echo "$DIR/$1"
}

schedule() {
  rm -f "$FAILED"
  # This shell is the container's PID 1, which ignores any signal it has no handler for: without this trap a stop
  # (the image's STOPSIGNAL, SIGINT, or SIGTERM) waited out the stop timeout and ended in SIGKILL. A dump under
  # way finishes first (a stop signal only ends the sleeps), then the loop ends.
  stopping=''
  sleeper=''
  trap 'stopping=1; [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null || true' INT TERM
  # Swarm orders nothing after db-setup: wait (at most 2 min) until this role can log in, so the first
  # dump does not fail on a role not made yet.
  tries=0
  until [ -n "$stopping" ] || psql -X -q -d "$PGDATABASE" -c "SELECT 1" >/dev/null 2>&1 || [ "$tries" -ge 60 ]; do
    tries=$((tries + 1))
    pause 2
  done
  while [ -z "$stopping" ]; do
    if [ -z "$(find "$DIR" -name '*.dump' -mmin "-$((BACKUP_INTERVAL_HOURS * 60))" 2>/dev/null)" ]; then
      if name=$(dump); then
        rm -f "$FAILED"
        say "wrote $name"
      else
        touch "$FAILED"
        say "pg_dump failed; trying again in 5 minutes"
      fi
    fi
    pause 300
  done
  say "stopped"
}

pause() {  # sleep SECONDS in the background: sh runs a trap only once its foreground command ends, and the trap ends it
  [ -z "$stopping" ] || return 0
  sleep "$1" &
  sleeper=$!
  wait "$sleeper" || true
  sleeper=
}

sql() {  # sql DATABASE STATEMENT...: each statement on its own, stop at the first error
  db=$1
  shift
  for statement in "$@"; do
    psql -q -X -v ON_ERROR_STOP=1 -d "$db" -c "$statement" >/dev/null
  done
}

restore() {
  file=$(path_of "$1")
  [ -f "$file" ] || { say "no dump named $1 (backup.sh list shows them)"; exit 2; }
  pg_restore --list "$file" >/dev/null || { say "$1 is not a readable pg_dump archive; nothing was changed"; exit 2; }
  # Restored into a new database, which replaces the current one only once it is complete: a failed
  # restore leaves the database as it was.
  new="${PGDATABASE}_new"
  old="${PGDATABASE}_prev"
  say "restoring $1 into $new"
  sql postgres "DROP DATABASE IF EXISTS \"$new\" WITH (FORCE)" "CREATE DATABASE \"$new\""
  # TimescaleDB: hypertables restore only between pre_restore and post_restore.
  sql "$new" "CREATE EXTENSION IF NOT EXISTS timescaledb" "SELECT timescaledb_pre_restore()"
  if ! pg_restore --exit-on-error --no-owner --dbname="$new" "$file"; then
    sql postgres "DROP DATABASE \"$new\" WITH (FORCE)"
    say "pg_restore failed: database $PGDATABASE is unchanged"
    exit 1
  fi
  sql "$new" "SELECT timescaledb_post_restore()" "ANALYZE"
  sql postgres "DROP DATABASE IF EXISTS \"$old\" WITH (FORCE)"
  if [ "$(psql -X -tA -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'")" = 1 ]; then
    sql postgres "ALTER DATABASE \"$PGDATABASE\" RENAME TO \"$old\""
    say "the database it replaced is kept as $old until the next restore (DROP DATABASE $old to free its space)"
  fi
  sql postgres "ALTER DATABASE \"$new\" RENAME TO \"$PGDATABASE\""
  say "restored $1"
}

case ${1:-} in
  schedule) schedule ;;
  once) dump ;;
  list) list ;;
  cat) cat "$(path_of "${2:?NAME}")" ;;
  import)
    file=$(path_of "${2:?NAME}")
    mkdir -p "$DIR"
    cat >"$file.partial"
    pg_restore --list "$file.partial" >/dev/null || { rm -f "$file.partial"; say "${2} is not a readable pg_dump archive; not imported"; exit 2; }
    mv "$file.partial" "$file"
    ;;
  check) pg_restore --list "$(path_of "${2:?NAME}")" >/dev/null || { say "${2} is not a readable pg_dump archive"; exit 2; } ;;
  restore) restore "${2:?NAME}" ;;
  health) [ ! -e "$FAILED" ] ;;
  *) say "usage: backup.sh schedule|once|list|cat NAME|import NAME|check NAME|restore NAME|health"; exit 2 ;;
esac
