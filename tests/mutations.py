"""Single edits a careless person makes to a generated layout, each with the row that owns it.

`alone=True`: the edit must fail its row and no other (the row is the only guard of that concern).
Otherwise the owning row must fail and others may fail with it (e.g. hadolint also sees it).
Used by tests/test_mutations.py and scripts/mutation-table (the counts in the closing note).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class Mutation:
    id: str
    row: str
    file: str
    old: str
    new: str
    alone: bool = True
    base: str = "default"  # which layout it edits: "default", "tls" or "acme"
    apply: Callable[[Path], None] | None = None  # for edits that are not text replacements

    def __call__(self, layout: Path) -> None:
        if self.apply:
            self.apply(layout)
            return
        path = layout / self.file
        text = path.read_text()
        assert self.old in text, f"{self.id}: {self.old!r} not in {self.file}"
        path.write_text(text.replace(self.old, self.new, 1))


STACK = "stack.yaml"
RECEIVER = "https://hooks.example.com/services/T000/B000/XXXX\n"


def overlays_in_clear(layout: Path) -> None:
    """Encryption turned off consistently (the answer and every network of stack.yaml): a choice only W4 reports."""
    import json

    answers = layout / ".hardstack-answers.json"
    answers.write_text(json.dumps({**json.loads(answers.read_text()), "swarm_overlay_encryption": False}, indent=2, sort_keys=True) + "\n")
    stack = layout / STACK
    stack.write_text(stack.read_text().replace('    driver_opts: {encrypted: "true"}\n', ""))


def M(id: str, row: str, file: str, old: str, new: str, **kw) -> Mutation:
    return Mutation(id, row, file, old, new, **kw)


BE, FE, CO = "backend/Dockerfile", "frontend/Dockerfile", "compose.yaml"
PROXY, SNIP, FRONT_NGINX = "nginx/nginx.conf", "nginx/snippets", "frontend/deploy/nginx.conf"
ALERTS, ALERT_TESTS, PROM = "prometheus/rules/alerts.yml", "prometheus/tests/alerts.test.yml", "prometheus/prometheus.yml"
AM = "alertmanager/alertmanager.yml"
DB_HEALTH = 'test: ["CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "app"]'
BACKEND_HEALTH = 'test: ["CMD", "python", "/opt/hardstack/healthcheck.py"]'
FRONTEND_HEALTH = 'test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]'
REDIS_CONF = "redis/redis.conf"
REDIS_HEALTH = 'test: ["CMD", "sh", "/etc/hardstack/redis/start.sh", "health"]'
WORKER_CMD = 'command: ["python", "/opt/hardstack/celery_run.py", "-A", "config", "worker", "--loglevel=INFO", "--concurrency=2", "--without-mingle"]'
WORKER_HEALTH = 'test: ["CMD", "python", "/opt/hardstack/celery_health.py", "worker"]'
WORKER_DEPS = ("    depends_on:\n      redis:\n        condition: service_healthy\n      migrate:\n"
               "        condition: service_completed_successfully\n    healthcheck:\n      # This worker")
BEAT_CMD = 'command: ["python", "/opt/hardstack/celery_run.py", "-A", "config", "beat", "--loglevel=INFO", "--schedule=/tmp/celerybeat-schedule", "--pidfile="]'
STACK_BEAT = 'celery_health.py", "beat"]\n      interval: 5s\n      timeout: 10s\n      retries: 5\n      start_period: 120s\n    deploy:\n      <<: *stop-first'

MUTATIONS: list[Mutation] = [
    # Dockerfiles
    M("runtime-cd", "D1", BE, "FROM ${PYTHON_IMAGE} AS runtime", "FROM ${PYTHON_IMAGE} AS runtime\nRUN cd /tmp"),
    M("user-by-name", "D2", FE, "USER 101:101", "USER nginx"),
    M("user-root", "D2", BE, "USER ${APP_UID}:${APP_UID}", "USER root", alone=False),
    M("base-latest", "D3", BE, "ARG PYTHON_IMAGE=python:3.13-slim-trixie", "ARG PYTHON_IMAGE=python:latest", alone=False),  # D11 too: no version
    M("node-latest", "D3", FE, "ARG NODE_IMAGE=node:22-bookworm-slim", "ARG NODE_IMAGE=node:latest"),
    M("add-url", "D4", BE, "FROM ${PYTHON_IMAGE} AS runtime", "FROM ${PYTHON_IMAGE} AS runtime\nADD https://example.com/tool.tgz /tmp/tool.tgz"),
    M("pip-in-runtime", "D5", BE, "ARG APP_UID=10001", "ARG APP_UID=10001\nRUN pip install --no-cache-dir gunicorn==23.0.0"),
    M("npm-install", "D6", FE, "npm ci --no-audit", "npm install --no-audit"),
    M("cmd-shell-form", "D7", BE, 'CMD ["gunicorn", "--config", "/opt/hardstack/gunicorn.conf.py"]', "CMD gunicorn --config /opt/hardstack/gunicorn.conf.py", alone=False),
    M("entrypoint-shell-form", "D7", FE, 'CMD ["nginx", "-g", "daemon off;"]', 'ENTRYPOINT nginx -g "daemon off;"', alone=False),
    M("pipe-without-pipefail", "D7", BE, 'SHELL ["/bin/sh", "-eu", "-c"]', 'SHELL ["/bin/sh", "-eu", "-c"]\nRUN pip freeze | sort > /tmp/freeze.txt', alone=False),
    M("cmd-under-shell", "D7", BE, 'CMD ["gunicorn", "--config", "/opt/hardstack/gunicorn.conf.py"]', 'CMD ["sh", "-c", "gunicorn --config /opt/hardstack/gunicorn.conf.py"]'),
    M("token-build-arg", "D8", BE, "ARG APP_UID=10001", "ARG APP_UID=10001\nARG GITHUB_TOKEN", alone=False),
    M("credentials-build-arg", "D8", BE, "ARG APP_UID=10001", "ARG APP_UID=10001\nARG NPM_CREDENTIALS"),
    M("healthcheck-none-image", "D9", BE, 'HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \\\n    CMD ["python", "/opt/hardstack/healthcheck.py"]', "HEALTHCHECK NONE"),
    M("healthcheck-exit0-image", "D9", FE, 'CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]', 'CMD ["sh", "-c", "exit 0"]'),
    M("python-drift", "D11", BE, "ARG PYTHON_IMAGE=python:3.13-slim-trixie", "ARG PYTHON_IMAGE=python:3.11-slim-trixie"),
    M("app-python-moved", "D11", "backend/.python-version", "3.13", "3.12"),
    M("build-stage-copied", "D12", BE, "COPY --from=build /opt/venv /opt/venv", "COPY --from=build /opt/venv /opt/venv\nCOPY --from=build /usr/lib/gcc /usr/lib/gcc"),
    M("dockerignore-secrets", "D10", "backend/.dockerignore", "\nsecrets\n**/secrets\n", "\n"),
    # compose.yaml
    M("trailing-space", "C1", CO, "    pids_limit: 200", "    pids_limit: 200   "),
    M("healthcheck-none", "C2", CO, BACKEND_HEALTH, 'test: ["NONE"]'),
    M("healthcheck-or-exit0", "C2", CO, DB_HEALTH, 'test: ["CMD-SHELL", "pg_isready -q -h 127.0.0.1 || exit 0"]'),
    M("healthcheck-sh-true", "C2", CO, BACKEND_HEALTH, 'test: ["CMD", "sh", "-c", "true"]'),
    M("healthcheck-then-exit0", "C2", CO, DB_HEALTH, 'test: ["CMD-SHELL", "pg_isready -q -h 127.0.0.1; exit 0"]'),
    M("db-started-not-healthy", "C3", CO, "    depends_on:\n      db:\n        condition: service_healthy\n      migrate:",
      "    depends_on:\n      db:\n        condition: service_started\n      migrate:"),
    M("no-new-privileges-false", "C4", CO, 'security_opt: ["no-new-privileges:true"]', 'security_opt: ["no-new-privileges:false"]', alone=False),
    M("no-new-privileges-equals-false", "C4", CO, '    user: "65534:65534"', '    user: "65534:65534"\n    security_opt: ["no-new-privileges=false"]', alone=False),
    M("no-new-privileges-overridden", "C4", CO, '    user: "65534:65534"', '    user: "65534:65534"\n    security_opt: ["no-new-privileges:true", "no-new-privileges:false"]', alone=False),
    # compose-lint (C13) accepts a suppression that gives a reason; C4 accepts none.
    M("no-new-privileges-off-and-silenced", "C4", CO, "", "", apply=lambda l: (
        M("", "", CO, '    user: "65534:65534"', '    user: "65534:65534"\n    security_opt: ["apparmor=docker-default"]')(l),
        M("", "", ".compose-lint.yml", "rules:\n", 'rules:\n  CL-0003:\n    exclude_services:\n      prometheus: "the exporter sidecar needs setuid"\n')(l))),
    M("cap-add-uncommented", "C5", CO, "    user: \"101:101\"\n    build:", "    user: \"101:101\"\n    cap_add: [NET_BIND_SERVICE]\n    build:"),
    M("cap-add-sys-admin", "C5", CO, "    <<: *hardening\n    image: ${DB_IMAGE", "    <<: *hardening\n    # needed for debugging\n    cap_add: [SYS_ADMIN]\n    image: ${DB_IMAGE", alone=False),
    M("tmpfs-removed", "C6", CO, "    tmpfs: [/tmp]\n    networks: [edge, app]", "    networks: [edge, app]"),
    M("pids-unlimited", "C7", CO, "    pids_limit: 128", "    pids_limit: -1"),
    M("memory-zero", "C7", CO, "    mem_limit: 1g", "    mem_limit: 0", alone=False),
    M("cpus-unbounded", "C7", CO, "    cpus: 1.0\n    pids_limit: 200", "    cpus: 512\n    pids_limit: 200"),
    M("containerd-socket", "C8", CO, "      - ./nginx:/etc/nginx/hardstack:ro\n", "      - ./nginx:/etc/nginx/hardstack:ro\n      - /run/containerd/containerd.sock:/run/containerd/containerd.sock\n", alone=False),
    M("host-etc-subfolder", "C8", CO, "      - ./nginx:/etc/nginx/hardstack:ro\n", "      - ./nginx:/etc/nginx/hardstack:ro\n      - /etc/ssl/private:/etc/ssl/private:ro\n", alone=False),
    M("host-proc-sys", "C8", CO, "      - ./nginx:/etc/nginx/hardstack:ro\n", "      - ./nginx:/etc/nginx/hardstack:ro\n      - /proc/sys:/host/proc/sys:ro\n", alone=False),
    M("devices-mem", "C8", CO, "    shm_size: \"128m\"", "    shm_size: \"128m\"\n    devices: [\"/dev/mem:/dev/mem\"]"),
    M("seccomp-unconfined", "C8", CO, "    user: \"65534:65534\"", "    user: \"65534:65534\"\n    security_opt: [\"no-new-privileges:true\", \"seccomp:unconfined\"]", alone=False),
    M("bind-all-interfaces", "C9", CO, "${BIND_ADDRESS:-127.0.0.1}", "${BIND_ADDRESS:-0.0.0.0}", alone=False),
    M("bind-hard-coded", "C9", CO, '"${BIND_ADDRESS:-127.0.0.1}:${HTTP_PORT:-8080}:8080"', '"127.0.0.1:${HTTP_PORT:-8080}:8080"'),
    M("backend-published-locally", "C9", CO, "    networks: [app, data, monitoring]", "    networks: [app, data, monitoring]\n    ports: [\"127.0.0.1:8000:8000\"]"),
    M("restart-no", "C10", CO, "    <<: *hardening\n    image: ${DB_IMAGE", "    <<: *hardening\n    restart: \"no\"\n    image: ${DB_IMAGE"),
    M("env-file", "C11", CO, "    environment: *backend-env\n    secrets: [db_password, django_secret_key, redis_url_password]\n    tmpfs: [/tmp]\n    # Uploads",
      "    environment: *backend-env\n    env_file:\n      - path: .env\n        required: false\n    secrets: [db_password, django_secret_key, redis_url_password]\n    tmpfs: [/tmp]\n    # Uploads"),
    M("log-rotation-gone", "C12", CO, '      max-file: "3"', ""),
    M("lint-suppressions-gone", "C13", ".compose-lint.yml", "", "", apply=lambda l: (l / ".compose-lint.yml").unlink()),
    M("frontend-build-gone", "C14", CO, "    build:\n      context: frontend\n      dockerfile: Dockerfile\n      network: ${BUILD_NETWORK:-default}\n      args:\n        NODE_IMAGE: ${NODE_IMAGE:-node:22-bookworm-slim}\n        NGINX_IMAGE: ${NGINX_IMAGE:-nginxinc/nginx-unprivileged:1.27-bookworm}\n        VITE_API_URL: \"/api\"\n      secrets: [ca_bundle]\n", ""),
    M("db-user-removed", "C15", CO, "    user: \"70:70\"\n", ""),
    M("user-root-compose", "C15", CO, "    user: \"65534:65534\"", "    user: \"0:0\"", alone=False),
    M("user-by-name-compose", "C15", CO, "    user: \"65534:65534\"", "    user: nobody"),
    M("debug-on", "C16", CO, 'DJANGO_DEBUG: "0"', 'DJANGO_DEBUG: "1"'),
    M("data-network-open", "C17", CO, "  data:\n    internal: true\n", "  data: {}\n"),
    M("db-on-edge", "C17", CO, "    networks: [data]\n", "    networks: [data, edge]\n", alone=False),  # W1 too: stack.yaml no longer matches
    M("prometheus-default-network", "C17", CO, "    networks: [monitoring]\n", "", alone=False),  # W1 too: stack.yaml no longer matches
    M("backend-on-alerting", "C17", CO, "    networks: [app, data, monitoring]\n", "    networks: [app, data, monitoring, alerting]\n", alone=False),  # W1 too: stack.yaml no longer matches
    M("db-on-edge-swarm", "W1", STACK, "    networks: [data]\n", "    networks: [data, edge]\n"),
    M("backup-user-removed", "C15", CO, '    user: "70:70"\n    entrypoint:', "    entrypoint:"),
    # nginx
    M("unknown-upstream", "N1", PROXY, "set $backend http://backend:8000;", "set $backend http://backend-old:8000;"),
    M("upstream-wrong-port", "N1", PROXY, "set $frontend http://frontend:8080;", "set $frontend http://frontend:80;"),
    M("resolver-gone", "N1", PROXY, "    resolver 127.0.0.11 valid=1s ipv6=off;\n", "", alone=False),  # gixy too
    M("server-tokens-on", "N2", FRONT_NGINX, "server_tokens off;", "server_tokens on;", alone=False),
    M("server-tokens-gone", "N2", FRONT_NGINX, "server_tokens off;", "", alone=False),
    M("upstream-server-header", "N2", f"{SNIP}/proxy-backend.conf", "proxy_http_version 1.1;", "proxy_http_version 1.1;\nproxy_pass_header Server;"),
    M("real-ip-from-anyone", "N7", f"{SNIP}/limits.conf", "limit_req_status 429;", "limit_req_status 429;\nset_real_ip_from 0.0.0.0/0;\nreal_ip_header X-Forwarded-For;"),
    M("csp-unsafe-inline", "N3", f"{SNIP}/security-headers.conf", "default-src 'self';", "default-src 'self'; script-src 'self' 'unsafe-inline';"),
    M("frame-ancestors-any", "N3", f"{SNIP}/security-headers.conf", "frame-ancestors 'none'", "frame-ancestors *"),
    M("hsts-short", "N4", f"{SNIP}/security-headers.conf", "max-age=63072000", "max-age=300", base="tls", alone=False),
    M("hsts-gone", "N4", f"{SNIP}/security-headers.conf", 'add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;', "", base="tls", alone=False),
    M("hsts-not-always", "N4", f"{SNIP}/security-headers.conf", 'includeSubDomains" always;', 'includeSubDomains";', base="tls"),
    M("tls-1.0", "N5", f"{SNIP}/tls.conf", "TLSv1.2 TLSv1.3", "TLSv1 TLSv1.2 TLSv1.3", base="tls", alone=False),
    M("session-tickets-on", "N5", f"{SNIP}/tls.conf", "ssl_session_tickets off;", "ssl_session_tickets on;", base="tls"),
    M("plain-http-serves-media", "N11", PROXY, "        location / {\n            return 301",
      "        location /media/ {\n            alias /srv/media/;\n        }\n\n        location / {\n            return 301", base="tls"),
    M("redirect-to-plain-http", "N11", PROXY, "return 301 https://$host", "return 301 http://$host", base="acme"),
    M("challenge-include-gone", "N11", PROXY, "        include /etc/nginx/hardstack/snippets/acme-challenge.conf;\n", "", base="acme"),
    M("challenge-root-widened", "N11", f"{SNIP}/acme-challenge.conf", "root /var/lib/hardstack-acme/webroot;", "root /var/lib/hardstack-acme;", base="acme"),
    M("issuer-unhardened", "C6", CO, "  acme:\n    <<: *hardening\n", "  acme:\n", base="acme", alone=False),
    M("issuer-as-root", "C15", CO, '    user: "101:101"\n    build:\n      context: ./acme', '    user: "0:0"\n    build:\n      context: ./acme', base="acme", alone=False),
    M("acme-hsts-gone", "N4", f"{SNIP}/security-headers.conf", 'add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;', "", base="acme", alone=False),
    M("body-size-unlimited", "N6", f"{SNIP}/limits.conf", "client_max_body_size 10m;", "client_max_body_size 0;"),
    M("read-timeout-hour", "N6", f"{SNIP}/proxy-backend.conf", "proxy_read_timeout 30s;", "proxy_read_timeout 3600s;"),
    M("login-rate-loose", "N7", f"{SNIP}/limits.conf", "rate=5r/m", "rate=50r/s"),
    M("api-unlimited", "N7", PROXY, "            limit_req zone=api burst=40 nodelay;\n            include /etc/nginx/hardstack/snippets/proxy-backend.conf;\n            proxy_pass $backend;\n        }\n\n        location /admin/",
      "            include /etc/nginx/hardstack/snippets/proxy-backend.conf;\n            proxy_pass $backend;\n        }\n\n        location /admin/"),
    M("autoindex-on", "N8", PROXY, "    server_tokens off;", "    server_tokens off;\n    autoindex on;"),
    M("metrics-public", "N8", PROXY, "        location = /metrics {\n            return 404;\n        }",
      "        location = /metrics {\n            proxy_pass $backend;\n        }"),
    M("prometheus-proxied", "N8", PROXY, "        location / {", "        location /prometheus/ {\n            proxy_pass http://prometheus:9090;\n        }\n\n        location / {"),
    M("assets-hour", "N9", FRONT_NGINX, "public, max-age=31536000, immutable", "public, max-age=3600"),
    M("header-in-location", "N10", PROXY, "        location /admin/ {", "        location /admin/ {\n            add_header X-Admin yes;"),
    # Prometheus
    M("scrape-interval-typo", "P1", PROM, "scrape_interval: 15s", "scrape_interval: 15x"),
    M("runbook-gone", "P2", ALERTS, '          runbook_url: "RUNBOOK.md#targetdown"\n', "", alone=False),
    M("runbook-section-gone", "P2", "prometheus/RUNBOOK.md", "## TargetDown", "## Target down"),
    M("untested-alert", "P3", ALERT_TESTS, "alertname: DatabaseDiskUsageHigh", "alertname: NoSuchAlert"),
    M("target-wrong-port", "P4", PROM, '"backend:8000"', '"backend:9000"'),
    M("target-gone-service", "P4", PROM, '"postgres-exporter:9187"', '"pgbouncer:9127"'),
    M("alerts-unwired", "P4", PROM, 'alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ["alertmanager:9093"]\n', ""),
    M("alerts-wrong-port", "P4", PROM, '"alertmanager:9093"', '"alertmanager:9094"'),
    M("receiver-undefined", "P5", AM, "  receiver: team\n", "  receiver: oncall\n"),
    M("webhook-url-inline", "P5", AM, "- url_file: /run/secrets/alert_webhook_url", "- url: https://chat.example.com/hooks/T0001/B0001/abcdefghij"),
    # Swarm (stack.yaml)
    M("stack-network-plain", "W1", STACK, '    driver_opts: {encrypted: "true"}\n', ""),
    M("stack-data-open", "W1", STACK, '  data:\n    driver: overlay\n    driver_opts: {encrypted: "true"}\n    internal: true\n',
      '  data:\n    driver: overlay\n    driver_opts: {encrypted: "true"}\n'),
    M("stack-writable", "W2", STACK, "x-hardening: &hardening\n  read_only: true\n", "x-hardening: &hardening\n"),
    M("stack-no-rollback", "W2", STACK, "    failure_action: rollback\n    monitor: 20s\n    max_failure_ratio: 0", "    failure_action: pause\n    monitor: 20s"),
    M("stack-secret-readable", "W2", STACK, "mode: 0400}", "mode: 0444}"),
    M("stack-db-unpinned", "W2", STACK, "      placement: *data-node\n      resources:\n        limits: {memory: 1g", "      resources:\n        limits: {memory: 1g"),
    M("stack-overlays-in-clear", "W4", STACK, "", "", apply=overlays_in_clear),
    M("stack-security-opt", "W3", STACK, "  cap_drop: [ALL]\n  logging:", '  cap_drop: [ALL]\n  security_opt: ["no-new-privileges:true"]\n  logging:'),
    # background work: the broker, the workers, the one scheduler, the app's own secrets
    M("redis-evicting", "C18", REDIS_CONF, "maxmemory-policy noeviction", "maxmemory-policy allkeys-lru"),
    M("redis-no-aof", "C18", REDIS_CONF, "appendonly yes", "appendonly no"),
    M("redis-password-in-conf", "C18", REDIS_CONF, "include /tmp/auth.conf", "requirepass changeme-later", alone=False),
    M("redis-health-without-auth", "C18", CO, REDIS_HEALTH, 'test: ["CMD", "redis-cli", "-h", "127.0.0.1", "ping"]'),
    M("worker-with-beat", "C19", CO, WORKER_CMD, WORKER_CMD.replace('"--without-mingle"', '"--without-mingle", "-B"')),
    M("beat-scaled", "C19", CO, BEAT_CMD, BEAT_CMD + "\n    scale: 2"),
    M("stack-beat-start-first", "C19", STACK, STACK_BEAT, STACK_BEAT.replace("*stop-first", "*rolling"), alone=False),
    M("beat-without-beacon", "C19", CO, BEAT_CMD, BEAT_CMD.replace('"python", "/opt/hardstack/celery_run.py"', '"celery"')),
    M("worker-killed-on-stop", "C20", CO, "    stop_grace_period: 120s\n", "    stop_grace_period: 5s\n"),
    M("worker-health-pgrep", "C20", CO, WORKER_HEALTH, 'test: ["CMD", "pgrep", "-f", "celery"]'),
    M("worker-without-beacon", "C20", CO, WORKER_CMD, WORKER_CMD.replace('"python", "/opt/hardstack/celery_run.py"', '"celery"')),
    M("worker-before-migrate", "C20", CO, WORKER_DEPS, "    depends_on:\n      redis:\n        condition: service_healthy\n    healthcheck:\n      # This worker"),
    M("worker-env-of-its-own", "C20", CO, WORKER_CMD + "\n    environment: *backend-env",
      WORKER_CMD + "\n    environment:\n      <<: *backend-env\n      DB_HOST: db-replica"),
    M("app-secret-as-value", "C21", CO, "  DEMO_FLAG: \"on\"", "  DEMO_FLAG: \"on\"\n  SENTRY_DSN: https://abc@sentry.example/1", base="tls", alone=False),
    M("app-secret-not-exported", "C21", CO, 'HARDSTACK_FILE_VARS: "DB_PASSWORD DJANGO_SECRET_KEY SENTRY_DSN"',
      'HARDSTACK_FILE_VARS: "DB_PASSWORD DJANGO_SECRET_KEY"', base="tls"),
    M("app-secret-in-env-example", "C21", ".env.example", "", "", base="tls", alone=False,
      apply=lambda l: (l / ".env.example").write_text((l / ".env.example").read_text() + "SENTRY_DSN=" + (l / "secrets/app_sentry_dsn").read_text() + "\n")),
    # forwarded headers and database roles
    M("forwarded-trust-all", "C22", "backend/deploy/gunicorn.conf.py", 'forwarded_allow_ips = "127.0.0.1"', 'forwarded_allow_ips = "*"'),
    M("forwarded-filter-unwired", "C22", "backend/deploy/hardstack_wsgi.py", "application = forwarded_only_from_the_proxy(application)", "pass"),
    M("migrate-as-app-role", "C23", CO, "      DB_USER: app_owner\n", ""),
    M("backend-mounts-superuser", "C23", CO, "    secrets: [db_password, django_secret_key, redis_url_password]\n    tmpfs: [/tmp]\n    # Uploads",
      "    secrets: [db_password, django_secret_key, redis_url_password, postgres_password]\n    tmpfs: [/tmp]\n    # Uploads",
      alone=False),  # S4 sees the dev container's secrets differ from the backend's too
    M("exporter-as-superuser", "C23", CO, "DATA_SOURCE_USER: app_exporter", "DATA_SOURCE_USER: postgres"),
    # CSRF origins with TLS
    M("csrf-http-origin", "C24", CO, "DJANGO_CSRF_TRUSTED_ORIGINS: ${CSRF_TRUSTED_ORIGINS:-https://shop.example.com,",
      "DJANGO_CSRF_TRUSTED_ORIGINS: ${CSRF_TRUSTED_ORIGINS:-http://shop.example.com,https://shop.example.com,", base="tls"),
    M("csrf-http-in-env", "C24", ".env", "", "", base="tls",
      apply=lambda l: (l / ".env").write_text("CSRF_TRUSTED_ORIGINS=https://shop.example.com,http://shop.example.com\n")),
    M("csrf-origins-unset", "C24", STACK, "DJANGO_CSRF_TRUSTED_ORIGINS: ${CSRF_TRUSTED_ORIGINS:-https://", "X_UNUSED: ${X:-https://", base="tls"),
    # nothing silent (row S5 warns)
    M("standin-in-env", "S5", ".env", "", "", apply=lambda l: (l / ".env").write_text("DB_IMAGE=hardstack-standin/timescaledb:0123456789ab\n")),
    M("receiver-placeholder", "S5", "secrets/alert_webhook_url", "", "",
      apply=lambda l: (l / "secrets/alert_webhook_url").write_text("https://alerts.invalid/set-secrets-alert_webhook_url")),
    # everything else
    M("unquoted-args", "S1", "backend/deploy/entrypoint.sh", 'exec "$@"', "exec $@"),
    M("gitignore-commented", "S2", ".gitignore", "\nsecrets/\n", "\n# secrets/\n"),
    M("secret-readable", "S2", "secrets/db_password", "", "", apply=lambda l: os.chmod(l / "secrets/db_password", 0o644)),
    M("action-by-tag", "S3", ".github/workflows/backend.yml", "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683", "actions/checkout@v4"),
    M("devcontainer-service", "S4", ".devcontainer/devcontainer.json", '"service": "dev"', '"service": "develop"'),
    M("devcontainer-as-root", "S4", ".devcontainer/compose.dev.yaml", "    user: vscode\n", '    user: "0:0"\n'),
    M("devcontainer-production-secret", "S4", ".devcontainer/compose.dev.yaml", "file: ./.devcontainer/secrets/db_owner_password",
      "file: ./secrets/db_owner_password"),
]


BASE_ANSWERS = {
    "default": [],
    # The tls base also carries the app's own settings and a secret (rows C21).
    "tls": ["backend_secrets=SENTRY_DSN", 'backend_env={"DEMO_FLAG": "on"}', "enable_tls=yes", "domain=shop.example.com", "tls_certificate=/etc/letsencrypt/live/shop.example.com/fullchain.pem",
            "tls_certificate_key=/etc/letsencrypt/live/shop.example.com/privkey.pem"],
    "acme": ["tls_mode=acme", "domain=shop.example.com", "acme_email=ops@shop.example.com"],
}


def render_base(base: str, out: Path) -> Path:
    """A fresh layout of the given base, rendered the way a user renders it."""
    from typer.testing import CliRunner

    from hardstack.cli import app

    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(out), *BASE_ANSWERS[base]], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    layout = out / "hardstack_demo"
    # Where alerts go, as a user sets it before going live (the placeholder is row S5's warning).
    (layout / "secrets" / "alert_webhook_url").write_text(RECEIVER)
    return layout


def failing_rows(layout: Path) -> dict[str, str]:
    """row id -> detail, for every row of `hardstack check` that fails (or warns: S5) on layout."""
    from hardstack.checks import FAIL, WARN, run_checks

    return {r.id: r.detail for r in run_checks(layout) if r.status in (FAIL, WARN)}


def evaluate(mutation: Mutation, bases: dict[str, Path], scratch: Path) -> dict[str, str]:
    """Apply one mutation to a private copy of its base layout; return the rows that fail."""
    import shutil

    layout = scratch / mutation.id / "hardstack_demo"
    shutil.copytree(bases[mutation.base], layout, symlinks=True)
    mutation(layout)
    return failing_rows(layout)
