#!/bin/sh
# The database's roles, run by the db-setup service (the database image, as the postgres UID) before
# migrate, on every start; idempotent. The cluster's superuser is used here and nowhere else:
#   DB_OWNER     owns the database and its schema; migrate logs in as it (DDL)
#   DB_APP       the app: rows of the app's tables and sequences (now and later), no DDL, no COPY PROGRAM
#   DB_EXPORTER  pg_monitor, for the Prometheus exporter
#   DB_BACKUP    pg_read_all_data: pg_dump reads everything and can change nothing
# Each role's password is set from its secret file on every run: rotating one is writing the file and
# running this again (`hardstack rotate`). Passwords reach psql through \set from the files, never argv.
# A volume initialised before these roles existed (its superuser was named DB_APP) is upgraded in
# place: that superuser becomes DB_SUPERUSER, and the app's tables it owned go to DB_OWNER.
#   setup.sh                the roles, grants and extensions
#   setup.sh restore NAME   backup/backup.sh's restore, as the superuser (`hardstack restore`)
set -eu

: "${PGHOST:?}" "${PGDATABASE:?}" "${DB_SUPERUSER:?}" "${DB_OWNER:?}" "${DB_APP:?}" "${DB_BACKUP:?}"
S=/run/secrets
export PGOPTIONS="-c client_min_messages=warning"
export PGCONNECT_TIMEOUT=5

say() { printf 'db-setup: %s\n' "$*" >&2; }

# psql as USER with the password in FILE (PGPASSFILE would need a writable file; the env var lives
# only in this process and its children).
as() {
  user=$1 file=$2
  shift 2
  PGPASSWORD=$(cat "$file") PGUSER=$user psql -X -q -v ON_ERROR_STOP=1 "$@"
}

can_login() { as "$1" "$2" -d postgres -tAc "SELECT 1" >/dev/null 2>&1; }

upgrade_legacy_superuser() {
  # The volume's superuser is DB_APP (before db-setup existed POSTGRES_USER was the app's user): a
  # second superuser renames it to DB_SUPERUSER (a session cannot rename its own role), then goes.
  say "upgrading this volume in place: its superuser $DB_APP becomes $DB_SUPERUSER"
  pw=$1
  as "$DB_APP" "$pw" -d postgres <<SQL
\set pw \`cat $S/postgres_password\`
DROP ROLE IF EXISTS hardstack_upgrade;
CREATE ROLE hardstack_upgrade LOGIN SUPERUSER PASSWORD :'pw';
SQL
  as hardstack_upgrade "$S/postgres_password" -d postgres <<SQL
\set pw \`cat $S/postgres_password\`
ALTER ROLE "$DB_APP" RENAME TO "$DB_SUPERUSER";
ALTER ROLE "$DB_SUPERUSER" PASSWORD :'pw';
SQL
  as "$DB_SUPERUSER" "$S/postgres_password" -d postgres -c "DROP ROLE hardstack_upgrade"
}

connect() {
  # Retried for at most 90 s while the server starts (swarm starts this job with the db); a refused
  # password ends it at once.
  deadline=$(($(date +%s) + 90))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if error=$(as "$DB_SUPERUSER" "$S/postgres_password" -d postgres -tAc "SELECT 1" 2>&1 >/dev/null); then return 0; fi
    # An upgraded-in-place volume: the old superuser, whose password was db_password's value.
    for pw in "$S/postgres_password" "$S/db_password_setup"; do
      if [ -r "$pw" ] && [ "$DB_APP" != "$DB_SUPERUSER" ] && can_login "$DB_APP" "$pw" \
        && [ "$(as "$DB_APP" "$pw" -d postgres -tAc "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")" = t ]; then
        upgrade_legacy_superuser "$pw"
        return 0
      fi
    done
    case $error in *"password authentication failed"* | *"does not exist"*) break ;; esac
    sleep 1
  done
  say "$error"
  say "cannot log in to $PGHOST as $DB_SUPERUSER with secrets/postgres_password: the db volume was initialised with another password"
  exit 1
}

roles() {
  # A role per line: name, password file, what it may do beyond logging in.
  as "$DB_SUPERUSER" "$S/postgres_password" -d postgres <<SQL
\set owner_pw \`cat $S/db_owner_password_setup\`
\set app_pw \`cat $S/db_password_setup\`
\set backup_pw \`cat $S/db_backup_password\`
SELECT format('CREATE ROLE %I', r) FROM unnest(ARRAY['$DB_OWNER', '$DB_APP', '$DB_BACKUP']) AS r
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) \gexec
ALTER ROLE "$DB_OWNER" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'owner_pw';
ALTER ROLE "$DB_APP" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'app_pw';
ALTER ROLE "$DB_BACKUP" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'backup_pw';
GRANT pg_read_all_data TO "$DB_BACKUP";
SQL
  if [ -n "${DB_EXPORTER:-}" ]; then
    as "$DB_SUPERUSER" "$S/postgres_password" -d postgres <<SQL
\set exporter_pw \`cat $S/db_exporter_password\`
SELECT format('CREATE ROLE %I', '$DB_EXPORTER') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_EXPORTER') \gexec
ALTER ROLE "$DB_EXPORTER" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'exporter_pw' CONNECTION LIMIT 3;
GRANT pg_monitor TO "$DB_EXPORTER";
SQL
  fi
}

database() {
  db=$1
  as "$DB_SUPERUSER" "$S/postgres_password" -d postgres <<SQL
SELECT format('CREATE DATABASE %I OWNER %I', '$db', '$DB_OWNER')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \gexec
ALTER DATABASE "$db" OWNER TO "$DB_OWNER";
REVOKE ALL ON DATABASE "$db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE "$db" TO "$DB_APP", "$DB_BACKUP";
SQL
  [ -z "${DB_EXPORTER:-}" ] || as "$DB_SUPERUSER" "$S/postgres_password" -d postgres -c "GRANT CONNECT ON DATABASE \"$db\" TO \"$DB_EXPORTER\""
  as "$DB_SUPERUSER" "$S/postgres_password" -d "$db" <<SQL
CREATE EXTENSION IF NOT EXISTS timescaledb;
ALTER SCHEMA public OWNER TO "$DB_OWNER";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO "$DB_APP";
SQL
  # The app's tables, views and sequences the superuser holds belong to the owner: those an
  # upgraded-in-place volume's migrations created, and those a restore (pg_restore --no-owner) made.
  as "$DB_SUPERUSER" "$S/postgres_password" -d "$db" <<SQL
SELECT format('ALTER %s %I.%I OWNER TO %I',
              CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
              n.nspname, c.relname, '$DB_OWNER')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
   AND pg_get_userbyid(c.relowner) = '$DB_SUPERUSER'
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
   AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))) \gexec
SQL
  # What the owner creates later is the app's to use (rows only), as is what it owns now.
  as "$DB_SUPERUSER" "$S/postgres_password" -d "$db" <<SQL
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "$DB_APP";
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "$DB_APP";
ALTER DEFAULT PRIVILEGES FOR ROLE "$DB_OWNER" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "$DB_APP";
ALTER DEFAULT PRIVILEGES FOR ROLE "$DB_OWNER" IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO "$DB_APP";
SQL
}

restore() {
  # backup.sh's restore, logged in as the superuser (it creates and renames databases); then the
  # restored objects go to DB_OWNER and the grants are made again.
  connect
  PGUSER=$DB_SUPERUSER PGPASSWORD_FILE=$S/postgres_password sh /etc/hardstack/backup/backup.sh restore "$1"
  database "$PGDATABASE"
}

case ${1:-setup} in
  setup)
    connect
    roles
    database "$PGDATABASE"
    say "roles ready: $DB_OWNER (owner, migrate), $DB_APP (app), $DB_BACKUP (backup)${DB_EXPORTER:+, $DB_EXPORTER (exporter)}"
    ;;
  restore) restore "${2:?NAME}" ;;
  *) say "usage: setup.sh [setup|restore NAME]"; exit 2 ;;
esac
