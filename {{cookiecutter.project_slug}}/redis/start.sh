#!/bin/sh
# Redis and its exporter read the password from the secret file: never argv, never the container's env.
#   start.sh server     write /tmp/auth.conf (0600) from the secret, then run redis-server with redis.conf
#   start.sh health     the healthcheck: PING with the password must answer PONG
#   start.sh exporter   run redis_exporter with the password in its own process environment only
set -eu
umask 077
SECRET=/run/secrets/redis_password
HERE=$(dirname "$0")

password() {
  if [ ! -r "$SECRET" ]; then
    echo "redis: $SECRET is not readable by UID $(id -u); check the secret's owner" >&2
    exit 66
  fi
  cat "$SECRET"
}

case "${1:-server}" in
  server)
    printf 'requirepass "%s"\n' "$(password)" >/tmp/auth.conf
    exec redis-server "$HERE/redis.conf"
    ;;
  health)
    REDISCLI_AUTH=$(password)
    export REDISCLI_AUTH
    [ "$(redis-cli --no-auth-warning -h 127.0.0.1 -p {{ (cookiecutter | answers).ports['redis'] }} ping)" = PONG ]
    ;;
  exporter)
    REDIS_PASSWORD=$(password)
    export REDIS_PASSWORD
    exec /redis_exporter
    ;;
  *)
    echo "usage: start.sh server|health|exporter" >&2
    exit 64
    ;;
esac
