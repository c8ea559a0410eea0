"""Facts the generated layout is built on, each defined once.

The answers model (answers/) exposes them to the templates; the hooks, the rows of
`hardstack check` and the Pulumi program import them from here. Nothing here depends on answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Fixed by the images the layout uses by default; the stand-in images honour the same numbers.
UIDS: dict[str, int] = {
    "app": 10001,  # backend, migrate, worker, beat and superuser processes
    "db": 70,  # postgres user of the timescale/timescaledb (alpine) image: db, db-setup, backup, the exporter
    "nginx": 101,  # nginxinc/nginx-unprivileged
    "prometheus": 65534,  # nobody, as in prom/prometheus
    "alertmanager": 65534,  # nobody, as in prom/alertmanager
    "redis": 999,  # redis user of the official redis (Debian) image
}
APP_UID, DB_UID = UIDS["app"], UIDS["db"]

# The cluster's superuser (POSTGRES_USER): initialises the volume and runs db-setup, nothing else. The
# app's roles are named after the db_user answer (the app role itself) with these suffixes.
DB_SUPERUSER = "postgres"
DB_ROLE_SUFFIXES = {"owner": "_owner", "backup": "_backup", "exporter": "_exporter"}


@dataclass(frozen=True)
class Health:
    """A service's healthcheck, written once for compose.yaml and stack.yaml. `test` is the exec form;
    {port}, {superuser} and {db} are filled from the answers."""
    test: tuple[str, ...]
    interval: str
    timeout: str
    retries: int
    start_period: str
    swarm_start_period: str | None = None  # a swarm task also waits for its image and its node: longer
    note: str = ""  # said above the test in compose.yaml


def _get(path: str, timeout: str = "3s", start: str = "10s", tool: str = "wget") -> Health:
    """An HTTP probe of the service's own port."""
    fetch = ("curl", "-fsS", "-o", "/dev/null") if tool == "curl" else ("wget", "-q", "-O", "/dev/null")
    return Health(("CMD", *fetch, f"http://127.0.0.1:{{port}}{path}"), "3s", timeout, 5, start)


# The Celery processes run `celery` through celery_run.py, which keeps a liveness beacon in /tmp: the worker's at each
# of its heartbeats (every 2 s, sent only while its event loop runs on a live broker connection), beat's every 5 s
# once the broker takes a connection. The probe reads the beacon's age: a file stat, where importing the app and
# asking the broker cost 0.3 s of CPU every 5 s in each container (measured: worker and beat were the two costliest
# containers of an idle stack).
CELERY_RUN = ("python", "/opt/hardstack/celery_run.py", "-A", "{celery_app}")
COMMANDS: dict[str, tuple[str, ...]] = {
    "worker": (*CELERY_RUN, "worker", "--loglevel=INFO", "--concurrency={worker_concurrency}", "--without-mingle"),
    "beat": (*CELERY_RUN, "beat", "--loglevel=INFO", "--schedule=/tmp/celerybeat-schedule", "--pidfile="),
}
# Seconds between two writes of each beacon (the worker's: Celery's own heartbeat interval), and the age past which
# the probe fails: a few missed writes, so one slow write under load is not a failure.
CELERY_BEACON_EVERY = {"worker": 2, "beat": 5}
CELERY_BEACON_MAX_AGE = {"worker": 10, "beat": 15}
CELERY_HEALTH = ("CMD", "python", "/opt/hardstack/celery_health.py")
HEALTH: dict[str, Health | None] = {  # None: a job, which runs to completion (healthcheck disabled)
    "db": Health(("CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-U", "{superuser}", "-d", "{db}"), "2s", "5s", 15, "30s"),
    "db-setup": None,
    "migrate": None,
    "backend": Health(("CMD", "python", "/opt/hardstack/healthcheck.py"), "3s", "5s", 5, "20s", "120s"),
    "redis": Health(("CMD", "sh", "/etc/hardstack/redis/start.sh", "health"), "2s", "3s", 5, "10s",
                    note="Authenticates (redis/start.sh health): a server that refuses our password is not healthy."),
    "worker": Health((*CELERY_HEALTH, "worker"), "5s", "10s", 5, "30s", "120s",
                     note="This worker's heartbeat is fresh (celery_run.py's beacon: its event loop runs, its broker connection is up)."),
    "beat": Health((*CELERY_HEALTH, "beat"), "5s", "10s", 5, "30s", "120s",
                   note=f"This container's beat runs and the broker took its connection within {CELERY_BEACON_MAX_AGE['beat']} s (celery_run.py's beacon)."),
    "frontend": _get("/healthz", start="5s", tool="curl"),
    "proxy": _get("/healthz", start="5s", tool="curl"),
    # With TLS, plain HTTP only redirects (and serves ACME challenges): the probe asks the HTTPS server,
    # on loopback, without judging the certificate (the self-signed stand-in counts as up).
    "proxy-tls": Health(("CMD", "curl", "-fsSk", "-o", "/dev/null", "https://127.0.0.1:{port}/healthz"), "3s", "3s", 5, "5s"),
    "backup": Health(("CMD", "sh", "/etc/hardstack/backup/backup.sh", "health"), "3s", "3s", 3, "5s"),
    "acme": Health(("CMD", "python3", "/opt/hardstack/issuer.py", "health"), "3s", "5s", 5, "20s", "120s",
                   note="A certificate the proxy can start on is published (the self-signed stand-in until the first issuance)."),
    "superuser": None,
    "prometheus": _get("/-/ready"),
    "postgres-exporter": _get("/metrics", timeout="5s"),
    "alertmanager": _get("/-/ready"),
    "redis-exporter": _get("/metrics", timeout="5s"),
}


@dataclass(frozen=True)
class Service:
    uid: str  # key of UIDS
    port: int | None  # what it listens on inside the network (None: listens on nothing)
    limits: str  # key of LIMITS
    monitoring: bool = False  # exists only with enable_monitoring
    one_shot: bool = False  # runs to completion (migrate) or by hand (superuser)
    manual: bool = False  # never started by `up` (compose profile manual)
    single_writer: bool = False  # owns a data directory one process at a time (a deploy stops it before replacing)
    celery: bool = False  # exists only with a celery_app answer (workers, their scheduler and broker)
    singleton: bool = False  # exactly one may run at any time (no data directory, but a deploy stops it before replacing)
    publishes: bool = False  # holds the host ports: a new one cannot bind them while the old one runs
    networks: tuple[str, ...] = ("data",)  # the compose networks it joins (compose.yaml and stack.yaml)
    scraped: bool = False  # Prometheus scrapes it: it joins monitoring too when monitoring is on
    egress: bool = False  # joins the egress network when the backend_egress answer is on
    acme: bool = False  # exists only with tls_mode=acme (the certificate issuer)
    challenges: bool = False  # serves the ACME HTTP-01 challenges: joins the acme network with tls_mode=acme, where
    # the issuer fetches a file of its own through it before asking the CA (no validation spent on a proxy not up yet)

    @property
    def stop_first(self) -> bool:
        """A deploy stops the old one before it starts the new one (every target: compose under Pulumi,
        stack.yaml's update_config, the Pulumi swarm target)."""
        return self.single_writer or self.singleton or self.publishes

    @property
    def roll(self) -> str:
        """stack.yaml's anchor for the service's update_config: stop-first, or rolling (start-first)."""
        return "stop-first" if self.stop_first else "rolling"


# Compose services, in the order compose.yaml lists them.
SERVICES: dict[str, Service] = {
    "db": Service("db", 5432, "db", single_writer=True),
    # The database's roles and grants (db/setup.sh), before migrate: the only user of the superuser.
    "db-setup": Service("db", None, "db_setup", one_shot=True),
    "migrate": Service("app", None, "migrate", one_shot=True),
    "backend": Service("app", 8000, "backend", networks=("app", "data"), scraped=True, egress=True),
    # The broker: the only copy of queued tasks, so one process owns its append-only file.
    "redis": Service("redis", 6379, "redis", single_writer=True, celery=True),
    "worker": Service("app", None, "worker", celery=True, egress=True),
    # Exactly one scheduler, everywhere: two would send every scheduled task twice.
    "beat": Service("app", None, "beat", singleton=True, celery=True),
    "frontend": Service("nginx", 8080, "frontend", networks=("app",)),
    "proxy": Service("nginx", 8080, "proxy", publishes=True, networks=("edge", "app"), challenges=True),
    # Certificates by ACME (tls_mode=acme): certbot, run by acme/issuer.py, as the proxy's UID so the key
    # can stay 0600 and still be read by nginx. Exactly one: two would each order certificates.
    "acme": Service("nginx", 9108, "acme", singleton=True, acme=True, networks=("acme",), scraped=True),
    # Runs as the database's UID from the database image (pg_dump of the server's own version). One at a
    # time: two would dump on the same schedule and prune each other's files.
    "backup": Service("db", None, "backup", singleton=True),
    "superuser": Service("app", None, "superuser", one_shot=True, manual=True),
    "prometheus": Service("prometheus", 9090, "prometheus", monitoring=True, single_writer=True, networks=("monitoring",)),
    "postgres-exporter": Service("db", 9187, "postgres_exporter", monitoring=True, networks=("data", "monitoring")),
    "alertmanager": Service("alertmanager", 9093, "alertmanager", monitoring=True, single_writer=True, networks=("monitoring", "alerting")),
    "redis-exporter": Service("redis", 9121, "redis_exporter", monitoring=True, celery=True, networks=("data", "monitoring")),
}


@dataclass(frozen=True)
class Volume:
    user_data: bool  # what users made, or the only copy of it: kept when a stack is removed, on every target
    needs: str | None = None  # an Answers attribute that must be true for the layout to have it


# Named volumes, in the order compose.yaml and stack.yaml list them.
VOLUMES: dict[str, Volume] = {
    "db-data": Volume(True),
    "media": Volume(True),  # uploads
    "backups": Volume(True),
    "redis-data": Volume(True, "uses_redis"),  # queued tasks, the only copy
    # The ACME account and certificates: a new one is only an order away, but the public CA limits how
    # many duplicates a week it issues (5 at Let's Encrypt), so a removed stack does not take them along.
    "certs": Volume(True, "uses_acme"),
    "prometheus-data": Volume(False, "enable_monitoring"),  # metrics history: rebuilt by scraping
    "alertmanager-data": Volume(False, "enable_monitoring"),  # silences and notification log
}
PROTECTED_VOLUMES: tuple[str, ...] = tuple(name for name, v in VOLUMES.items() if v.user_data)


@dataclass(frozen=True)
class Secret:
    uid: str  # key of UIDS: the owner of the file, so only that container user can read it
    value: str  # which generated value it holds (two files may hold the same value)
    config_key: str | None  # the Pulumi config key that sets it on deploy (None: derived)
    services: tuple[str, ...]  # the services that mount it
    needs: str | None = None  # an Answers attribute that must be true for the layout to have it


# Runtime secrets: files in the layout's secrets/ (0600), mounted at /run/secrets/<name>.
SECRETS: dict[str, Secret] = {
    # The database's roles (db/setup.sh): the superuser only initialises the cluster and runs db-setup;
    # the owner role runs migrations; the app role has rows only; the exporter pg_monitor; the backup
    # role reads everything. db-setup runs as the db's UID and sets each role's password from a copy of
    # its value it can read (the *_setup files).
    "postgres_password": Secret("db", "postgres_password", "dbSuperuserPassword", ("db", "db-setup")),
    "db_password": Secret("app", "db_password", "dbPassword", ("backend", "worker", "beat", "superuser")),
    "db_password_setup": Secret("db", "db_password", None, ("db-setup",)),
    "db_owner_password": Secret("app", "db_owner_password", "dbOwnerPassword", ("migrate",)),
    "db_owner_password_setup": Secret("db", "db_owner_password", None, ("db-setup",)),
    "db_backup_password": Secret("db", "db_backup_password", "dbBackupPassword", ("backup", "db-setup")),
    "db_exporter_password": Secret("db", "db_exporter_password", "dbExporterPassword", ("postgres-exporter", "db-setup"),
                                   "enable_monitoring"),
    "django_secret_key": Secret("app", "django_secret_key", "djangoSecretKey", ("migrate", "backend", "worker", "beat", "superuser")),
    # The broker's password: redis reads it through a config file its start script writes (never argv
    # or env); the app's processes get it composed into the redis_url_vars URLs by the entrypoint.
    "redis_password": Secret("redis", "redis_password", "redisPassword", ("redis", "redis-exporter"), "uses_redis"),
    "redis_url_password": Secret("app", "redis_password", None, ("migrate", "backend", "worker", "beat", "superuser"), "uses_redis"),
    "superuser_password": Secret("app", "superuser_password", "superuserPassword", ("superuser",)),
    # Where Alertmanager delivers (a chat or incident webhook carries its token in the URL).
    "alert_webhook_url": Secret("alertmanager", "alert_webhook_url", "alertWebhookUrl", ("alertmanager",), "alerts_by_webhook"),
    "alert_smtp_password": Secret("alertmanager", "alert_smtp_password", "alertSmtpPassword", ("alertmanager",), "alerts_by_email"),
}

# The values `hardstack new` generates (secrets.token_urlsafe of this many bytes: URL-safe, so they can
# sit in a DATABASE_URL unescaped), each in every file of SECRETS that holds it.
RANDOM_VALUES: dict[str, int] = {"postgres_password": 32, "db_password": 32, "db_owner_password": 32, "db_backup_password": 32,
                                 "db_exporter_password": 32, "django_secret_key": 50, "superuser_password": 24, "redis_password": 32}

# The stand-in images scripts/stand-in-images builds (lookalikes of the defaults from Debian packages,
# for machines without a registry): never production's. `hardstack up` records them in this file of the
# layout, which compose reads only when asked (--env-file); check warns and deploy refuses them.
STANDIN_PREFIX = "hardstack-standin/"
STANDINS_ENV = ".standins.env"

# What a secret file holds until the user sets the real value (generated values are random).
PLACEHOLDERS: dict[str, str] = {
    # .invalid never resolves (RFC 2606): delivery fails loudly in Alertmanager's log until it is set.
    "alert_webhook_url": "https://alerts.invalid/set-secrets-alert_webhook_url",
    "alert_smtp_password": "set-secrets-alert_smtp_password",
}

# Variable names that hold credentials: they must come from a *_FILE secret, never a literal.
CREDENTIAL_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)
# Values anyone tries first: documentation defaults of images and tutorials (compared lowercased).
KNOWN_DEFAULT_CREDENTIALS = frozenset({
    "changeme", "change_me", "change-me", "changeit", "admin", "admin123", "administrator", "password", "password1",
    "password123", "passw0rd", "pass", "secret", "supersecret", "mysecretpassword", "postgres", "root", "toor", "guest",
    "default", "example", "test", "testing", "123456", "12345678", "qwerty", "letmein", "minioadmin", "rabbitmq"})


# The backend's Python: python:<version>-slim-<PYTHON_DEBIAN>. With nothing declared by the app, the
# python3 of Debian's current stable release (trixie: 3.13), which the stand-in can run too.
PYTHON_DEBIAN = "trixie"
DEFAULT_PYTHON = "3.13"
# The versions a declared requires-python may pick from, newest first (python.org's maintained ones).
PYTHON_VERSIONS = ("3.14", "3.13", "3.12", "3.11", "3.10")

# How the build stage installs the app's dependencies (answer backend_installer), each pinned, from PyPI,
# into a throwaway tools venv of the build stage: the runtime image gets the app's venv only.
INSTALLERS: dict[str, str] = {"uv": "uv==0.13.9", "poetry": "poetry==2.5.1", "pip": ""}
# The lockfile that makes `auto` pick an installer, in the order they are looked for.
LOCKFILES: dict[str, str] = {"uv.lock": "uv", "poetry.lock": "poetry"}
# What the layout's server adds to the app's dependencies (answer server): gunicorn runs the app,
# whitenoise serves its static files when it has nothing of its own; uvicorn's worker for ASGI apps.
WHITENOISE = "whitenoise>=6.7,<7"  # also the example app's own requirement (backend/requirements.txt)
SERVER_PACKAGES: dict[str, tuple[str, ...]] = {
    "gunicorn": ("gunicorn==23.0.0", WHITENOISE),
    "uvicorn": ("gunicorn==23.0.0", WHITENOISE, "uvicorn-worker==0.4.0"),
}

# Images: answer key -> (compose/env variable, default reference).
IMAGES: dict[str, tuple[str, str]] = {
    "python_image": ("PYTHON_IMAGE", f"python:{DEFAULT_PYTHON}-slim-{PYTHON_DEBIAN}"),
    "node_image": ("NODE_IMAGE", "node:22-bookworm-slim"),
    "nginx_image": ("NGINX_IMAGE", "nginxinc/nginx-unprivileged:1.27-bookworm"),
    "db_image": ("DB_IMAGE", "timescale/timescaledb:2.17.2-pg17"),
    "prometheus_image": ("PROMETHEUS_IMAGE", "prom/prometheus:v2.55.1"),
    "postgres_exporter_image": ("POSTGRES_EXPORTER_IMAGE", "quay.io/prometheuscommunity/postgres-exporter:v0.16.0"),
    "alertmanager_image": ("ALERTMANAGER_IMAGE", "prom/alertmanager:v0.28.1"),
    "redis_image": ("REDIS_IMAGE", "redis:7.4.2-bookworm"),
    # The alpine variant: the scratch one has no shell for the start script that reads the password file.
    "redis_exporter_image": ("REDIS_EXPORTER_IMAGE", "oliver006/redis_exporter:v1.67.0-alpine"),
    # The ACME client of tls_mode=acme: the layout's acme/Dockerfile adds the issuer script to it.
    "certbot_image": ("CERTBOT_IMAGE", "certbot/certbot:v5.8.0"),
}

# tls_mode=acme: where certificates come from by default, where they live in the acme and proxy
# containers, and when they are renewed (Let's Encrypt's own advice: a third of a 90-day life left).
ACME_DIRECTORIES = {"production": "https://acme-v02.api.letsencrypt.org/directory",
                    "staging": "https://acme-staging-v02.api.letsencrypt.org/directory"}
ACME_STATE = "/var/lib/hardstack-acme"
# nginx snippets that only some layouts have: file -> the Answers attribute that must be true (hooks
# remove the others; stack.yaml's configs list the rest).
NGINX_SNIPPET_NEEDS = {"tls.conf": "tls_on", "acme-challenge.conf": "uses_acme"}
ACME_RENEW_DAYS = 30
# Names no public CA issues for (RFC 2606, RFC 6761, mDNS): refused with tls_mode=acme.
NON_PUBLIC_SUFFIXES = ("localhost", "invalid", "test", "example", "local", "internal", "home.arpa", "lan")

# GitHub Actions the generated workflows use, pinned by commit SHA (the tag is a comment).
ACTIONS: dict[str, tuple[str, str]] = {
    "checkout": ("actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "setup_python": ("actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "setup_node": ("actions/setup-node@39370e3970a6d050c480ffad4ff0ed4d3fdee5af", "v4.1.0"),
    "upload_artifact": ("actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "docker_login": ("docker/login-action@9780b0c442fbb1117ed29e0efdff1e18412f7567", "v3.3.0"),
    # The images workflow's attestations of what `hardstack images` pushed (pins seen across many public workflows).
    "sbom": ("anchore/sbom-action@17ae1740179002c89186b61233e0f892c3118b11", "v0.23.0"),
    "attest_provenance": ("actions/attest-build-provenance@e8998f949152b193b063cb0ec769d69d929409be", "v2.4.0"),
    "attest_sbom": ("actions/attest-sbom@bd218ad0dbcb3e146bd073d1d9c6d78e08aa8a0b", "v2.4.0"),
    # The newest commit of pulumi/actions this project could verify offline (main, after v5.5.1).
    "pulumi": ("pulumi/actions@4ddd4329226d5f7fdca0bc1fe3a0a659f4de25fe", "v5.5.1"),
}
PULUMI_VERSION = "3.274.1"

# Resource limits per service (memory, cpus, pids), used by compose and by the Pulumi program.
LIMITS: dict[str, tuple[str, str, int]] = {
    "db": ("1g", "1.0", 200),
    "db_setup": ("128m", "0.25", 32),
    "migrate": ("256m", "0.5", 64),
    "backend": ("512m", "1.0", 128),
    "frontend": ("64m", "0.25", 64),
    "proxy": ("128m", "0.5", 64),
    "prometheus": ("512m", "0.5", 64),
    "postgres_exporter": ("64m", "0.25", 32),
    "superuser": ("256m", "0.5", 64),
    "alertmanager": ("128m", "0.25", 64),
    "backup": ("256m", "0.5", 64),
    "redis": ("256m", "0.5", 64),
    "worker": ("512m", "1.0", 128),
    "beat": ("192m", "0.25", 32),
    "redis_exporter": ("64m", "0.25", 32),
    "acme": ("192m", "0.25", 32),
}

# Redis keeps at most this much data, well under its memory limit (forks for AOF rewrites need room);
# at the limit it refuses writes (noeviction) instead of dropping queued tasks.
REDIS_MAXMEMORY = "160mb"
# Seconds a stopping worker gets to finish the tasks it runs (warm shutdown) before it is killed.
WORKER_STOP_GRACE = 120
# Seconds gunicorn gives its workers to finish the requests they serve once told to stop (graceful_timeout).
GUNICORN_GRACEFUL = 20
# Seconds between a service's stop signal and its SIGKILL (stop_grace_period), the same on every target: compose.yaml,
# stack.yaml, and the Pulumi targets, which read them; unlisted, ENGINE_STOP_GRACE. The backend outlasts gunicorn's
# graceful stop, so a request under way is answered, not cut; the database and the broker get time to write what
# they hold (a checkpoint, the append-only file) and need no recovery at their next start.
STOP_GRACE: dict[str, int] = {"db": 30, "backend": GUNICORN_GRACEFUL + 5, "redis": 20, "worker": WORKER_STOP_GRACE}
# The engine's own stop grace, which compose and `docker stack deploy` give a service with none. The Pulumi targets
# say it explicitly: pulumi-docker's swarm service otherwise gets 0 s, a SIGKILL right after the stop signal.
ENGINE_STOP_GRACE = 10
# A swarm job (db-setup, migrate) whose current spec failed this many times will not pass: `up --swarm` and the Pulumi
# swarm target stop waiting on it and say why (swarm would retry it up to its max_attempts).
JOB_FAILURES = 3


# What a build context must never send, relative to the app's root (Docker's .dockerignore syntax).
# The generated .dockerignore files list these; in sibling mode they are prefixed with the app folder.
DOCKERIGNORE: dict[str, list[str]] = {
    "common": [".git", ".gitignore", ".env", ".env.*", "**/.env", "**/.env.*", "secrets", "**/secrets",
               "node_modules", "**/node_modules", "tests", "**/tests", "Dockerfile*", ".dockerignore",
               "docker-compose*", "compose*.y*ml", ".devcontainer", ".github"],
    "backend": ["**/__pycache__", "**/*.pyc", ".venv", "venv", ".pytest_cache", ".coverage", "htmlcov",
                "staticfiles", "media", "*.sqlite3"],
    "frontend": ["dist", "build", "coverage", "**/*.test.*", "**/*.spec.*"],
}

# Capabilities a service may add back after `cap_drop: [ALL]`, each with the need that justifies it
# (row C5). Anything else (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, ALL, ...) is refused.
CAP_ADD_ALLOWED: dict[str, str] = {
    "NET_BIND_SERVICE": "listen on a port below 1024",
    "CHOWN": "an image that fixes file owners at start, before dropping to its user",
    "SETUID": "an image that starts as root and switches to its user",
    "SETGID": "an image that starts as root and switches to its group",
    "FOWNER": "an image that adjusts modes of files it does not own at start",
    "DAC_OVERRIDE": "an image that reads root-owned files at start",
}

# Ranges `hardstack check` holds values to: outside them a limit is no limit (or breaks the stack).
BOUNDS: dict[str, tuple[float, float]] = {
    # compose, per service (row C7)
    "mem_limit": (4 * 1024**2, 64 * 1024**3),  # bytes
    "cpus": (0.01, 64),
    "pids_limit": (1, 4096),
    # nginx (rows N6, N7): sizes in bytes, times in seconds, rates in requests per second
    "client_max_body_size": (1, 100 * 1024**2),
    "proxy_connect_timeout": (1, 10),
    "proxy_read_timeout": (1, 300),
    "proxy_send_timeout": (1, 300),
    "client_body_timeout": (1, 60),
    "client_header_timeout": (1, 60),
    "send_timeout": (1, 300),
    "keepalive_timeout": (0, 75),
    "limit_req_zone rate": (0.001, 100),
    "auth rate": (0.001, 1),
    "limit_req burst": (0, 100),
}

# Values an app's debug variable may take in production (row C16): anything else turns debug on
# in common settings code (Django's `DEBUG = os.environ.get(...) == "1"` or env.bool()).
DEBUG_OFF = ("0", "false", "False", "FALSE", "no", "off", "")

SIZE_BOUNDS = ("mem_limit", "client_max_body_size")


def bounds_text(name: str) -> str:
    """A bound as a person writes it: 4m..64g for sizes, 1..300 otherwise."""
    def size(n: float) -> str:
        for unit, factor in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
            if n >= factor and n % factor == 0:
                return f"{int(n // factor)}{unit}"
        return f"{n:g}"

    low, high = BOUNDS[name]
    return f"{size(low)}..{size(high)}" if name in SIZE_BOUNDS else f"{low:g}..{high:g}"
