{%- set a = cookiecutter | answers -%}
#!/bin/sh
# The proxy with ACME certificates: nginx in the foreground, reloaded with SIGHUP when the acme service
# publishes a renewed certificate (new workers take it, the old ones finish their open connections: no
# request is dropped). A reload that fails (a half-written pair) leaves the old configuration serving,
# and the next check tries again.
set -u
cert={{ a.tls_files.certificate }}
key={{ a.tls_files.key }}
every=${CERTIFICATE_CHECK_SECONDS:-2}  # two small files read: cheap, and a new certificate served within seconds
stamp() { cat "$cert" "$key" 2>/dev/null | cksum; }

# compose starts the proxy once acme is healthy (a certificate is there); a swarm task may start first.
waited=0
while [ ! -s "$cert" ] || [ ! -s "$key" ]; do
  if [ "$waited" -ge 120 ]; then
    echo "watch-certificate: no certificate at $cert after 120 s: is the acme service running? (docker service logs <stack>_acme)" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done

nginx -c /etc/nginx/hardstack/nginx.conf -g "daemon off;" &
nginx=$!
# docker stop sends the image's STOPSIGNAL (SIGQUIT for nginx): a graceful stop, passed on to nginx.
stop() { kill -QUIT "$nginx" 2>/dev/null; wait "$nginx"; exit 0; }
trap stop TERM INT QUIT

last=$(stamp)
while kill -0 "$nginx" 2>/dev/null; do
  sleep "$every" &
  wait $!
  now=$(stamp)
  if [ "$now" != "$last" ]; then
    echo "watch-certificate: $cert changed, reloading nginx" >&2
    kill -HUP "$nginx"
    last=$now
  fi
done
wait "$nginx"
