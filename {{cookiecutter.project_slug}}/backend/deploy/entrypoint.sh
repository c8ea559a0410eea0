#!/bin/sh
# Turn each NAME listed in HARDSTACK_FILE_VARS into an environment variable read from NAME_FILE,
# for the app process only (the official images' *_FILE convention). docker inspect shows only
# the file path; the value never enters the container configuration.
set -eu

for name in ${HARDSTACK_FILE_VARS:-}; do
  file=$(printenv "${name}_FILE" || true)
  if [ -z "$file" ]; then
    echo "entrypoint: ${name}_FILE is not set; mount the secret and set ${name}_FILE" >&2
    exit 64
  fi
  if [ ! -r "$file" ]; then
    echo "entrypoint: ${name}_FILE=$file is not readable by UID $(id -u); check the secret file's owner" >&2
    exit 66
  fi
  value=$(cat "$file")
  export "$name=$value"
  unset "${name}_FILE"
done

# Optional single DATABASE_URL-style variable for apps that read one (answer env_database_url).
if [ -n "${HARDSTACK_DATABASE_URL_VAR:-}" ]; then
  url="postgres://$(printenv {{ cookiecutter.env_db_user }}):$(printenv {{ cookiecutter.env_db_password }})@$(printenv {{ cookiecutter.env_db_host }}):$(printenv {{ cookiecutter.env_db_port }})/$(printenv {{ cookiecutter.env_db_name }})"
  export "$HARDSTACK_DATABASE_URL_VAR=$url"
fi
# The Redis URL for each variable in HARDSTACK_REDIS_URL_VARS (answer redis_url_vars), composed from the
# password file here, for the app process only.
if [ -n "${HARDSTACK_REDIS_URL_VARS:-}" ]; then
  redis_password=$(cat "${HARDSTACK_REDIS_PASSWORD_FILE:?set HARDSTACK_REDIS_PASSWORD_FILE to the redis password file}")
  case "$redis_password" in
    '' | *[!A-Za-z0-9._~-]*)
      echo "entrypoint: the redis password must be non-empty and URL-safe (letters, digits, . _ ~ -); generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'" >&2
      exit 65 ;;
  esac
  for name in $HARDSTACK_REDIS_URL_VARS; do
    export "$name=redis://:${redis_password}@redis:{{ (cookiecutter | answers).ports['redis'] }}/0"
  done
  unset redis_password
fi
unset HARDSTACK_FILE_VARS HARDSTACK_DATABASE_URL_VAR HARDSTACK_REDIS_URL_VARS HARDSTACK_REDIS_PASSWORD_FILE

# Swarm has no depends_on: stack.yaml gives the backend HARDSTACK_WAIT_FOR_MIGRATIONS (seconds), and
# it starts only once the migrate job has applied every migration this image ships. A rolled image
# whose migrations never apply never turns healthy, and swarm rolls the update back.
# Only the container's own process waits (PID 1): healthchecks that run through this script do not.
if [ -n "${HARDSTACK_WAIT_FOR_MIGRATIONS:-}" ] && [ "$$" = 1 ]; then
  deadline=$(( $(date +%s) + HARDSTACK_WAIT_FOR_MIGRATIONS ))
  until python -m django migrate --check >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "entrypoint: this image's migrations are still not applied after ${HARDSTACK_WAIT_FOR_MIGRATIONS}s; see the migrate service's logs" >&2
      exit 75
    fi
    echo "entrypoint: waiting for the migrate job to apply this image's migrations" >&2
    sleep 2
  done
fi
unset HARDSTACK_WAIT_FOR_MIGRATIONS

exec "$@"
