"""The answers as a user gives them: every field with its default and description (the prompt and
`--help`), what `hardstack new` asks and when, and the shapes the rules check values against."""

from __future__ import annotations

import functools
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hardstack import __version__ as VERSION
from hardstack.catalog import ACME_DIRECTORIES, IMAGES

SIBLING_RE = re.compile(r"^\.\./(?!\.\.?(/|$))[^/]+(/(?!\.\.?(/|$))[^/]+)*$")
ORIGIN_RE = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9/_.-]*)?$")
DEBIAN_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9.+-]+(=[A-Za-z0-9.+~:-]+)?$")
SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
DOTTED_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# Docker image reference: [registry[:port]/]path[:tag][@sha256:digest], lowercase path.
IMAGE_RE = re.compile(
    r"^(?P<name>(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)

# What `hardstack new` asks interactively (the rest keep their defaults unless given as KEY=VALUE
# or in a config file): key -> the condition, on the answers so far, under which it is asked.
PROMPTED: dict[str, Any] = {
    "project_name": None,
    "project_slug": None,
    "domain": None,
    "include_example_app": None,
    "backend_context": lambda v: not v.get("include_example_app", True),
    "django_settings_module": lambda v: not v.get("include_example_app", True),
    "wsgi_app": lambda v: not v.get("include_example_app", True),
    "frontend_context": lambda v: not v.get("include_example_app", True),
    "frontend_build_command": lambda v: not v.get("include_example_app", True) and v.get("frontend_context", "x") != "",
    "frontend_dist_dir": lambda v: not v.get("include_example_app", True) and v.get("frontend_context", "x") != "",
    "backend_runtime_packages": lambda v: not v.get("include_example_app", True),
    "asgi_app": lambda v: v.get("server") == "uvicorn",
    "api_url": lambda v: not v.get("include_example_app", True) and v.get("frontend_context", "x") != "",
    "celery_app": None,
    "enable_beat": lambda v: bool(v.get("celery_app")),
    "worker_concurrency": lambda v: bool(v.get("celery_app")),
    "tls_mode": None,
    "tls_certificate": lambda v: v.get("tls_mode") == "files",
    "tls_certificate_key": lambda v: v.get("tls_mode") == "files",
    "acme_email": lambda v: v.get("tls_mode") == "acme",
    "enable_monitoring": None,
    "enable_ci_workflows": None,
    "enable_devcontainer": None,
    "backend_egress": None,
    "alert_receiver": lambda v: v.get("enable_monitoring", True),
    "alert_email_to": lambda v: v.get("enable_monitoring", True) and v.get("alert_receiver") == "email",
    "alert_smtp_smarthost": lambda v: v.get("enable_monitoring", True) and v.get("alert_receiver") == "email",
    "alert_smtp_from": lambda v: v.get("enable_monitoring", True) and v.get("alert_receiver") == "email",
    "alert_smtp_username": lambda v: v.get("enable_monitoring", True) and v.get("alert_receiver") == "email",
    "bind_address": None,
    "http_port": None,
    "https_port": lambda v: v.get("tls_mode") in ("files", "acme"),
}


# Defaults that follow earlier answers when prompting: key -> default computed from the answers so far.
FOLLOWING_DEFAULTS: dict[str, Any] = {
    "backend_context": lambda v: "backend" if v.get("include_example_app", True) else "../api",
    "frontend_context": lambda v: "frontend" if v.get("include_example_app", True) else "../web",
    "tls_certificate": lambda v: f"/etc/letsencrypt/live/{v.get('domain', 'localhost')}/fullchain.pem",
    "tls_certificate_key": lambda v: f"/etc/letsencrypt/live/{v.get('domain', 'localhost')}/privkey.pem",
    "alert_smtp_from": lambda v: f"alertmanager@{v.get('domain', 'localhost')}",
    "celery_app": lambda v: example_celery_app(v),
    # The ACME CA asks port 80 of the domain: a layout that obtains its own certificate faces the internet.
    "bind_address": lambda v: "0.0.0.0" if v.get("tls_mode") == "acme" else "127.0.0.1",
    "http_port": lambda v: 80 if v.get("tls_mode") == "acme" else 8080,
    "https_port": lambda v: 443 if v.get("tls_mode") == "acme" else 8443,
}


def example_celery_app(values: dict[str, Any]) -> str:
    """celery_app's default: the example app's Celery app when the layout ships it, none otherwise."""
    include = values.get("include_example_app", True)
    return "config" if str(include).lower() in ("true", "1", "yes", "y", "on") else ""


class AnswersError(ValueError):
    """Bad answers, with one line per problem naming the key and the fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@functools.lru_cache(maxsize=64)  # every validation asks again; one `sh -n` per distinct command
def _shell_syntax_error(command: str) -> str:
    """The POSIX shell's own verdict on a command line (`sh -n`: parse only, nothing runs)."""
    import subprocess

    proc = subprocess.run(["sh", "-n", "-c", command], capture_output=True, text=True)
    return proc.stderr.strip().split("\n")[-1].removeprefix("sh: ") if proc.returncode else ""


def _names(value: str | list[str], pattern: re.Pattern, what: str) -> list[str]:
    """A list given as words (spaces or commas) or as a YAML list, each word matching pattern."""
    names = value.replace(",", " ").split() if isinstance(value, str) else [str(n) for n in value]
    bad = [n for n in names if not pattern.match(n)]
    if bad:
        raise ValueError(f"must be {what}; not {', '.join(map(repr, bad))}")
    return names


def _relative_path(value: str, key: str, allow_parent: bool) -> str:
    if not value or value.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", value):
        raise ValueError(f"must be a relative path (got {value!r}); write it relative to the layout, e.g. ../my-{key.split('_')[0]}")
    parts = value.replace("\\", "/").split("/")
    if not allow_parent and ".." in parts:
        raise ValueError(f"must stay inside its folder (got {value!r}); remove the '..'")
    if any(ch in value for ch in "\n\r\"'$`{}"):
        raise ValueError(f"must not contain quotes, '$', braces or newlines (got {value!r})")
    shell = sorted({ch for ch in value if ch in ";|&<>()*?[]!#~\\" or ch.isspace()})
    if shell:
        raise ValueError(f"must be a plain path: {' '.join(repr(ch) for ch in shell)} would be read by a shell in the CI steps and "
                         f"the dev container (got {value!r}); rename the folder or file")
    return value.rstrip("/") or "."


class Inputs(BaseModel):
    """Every answer of the template, with defaults that produce a runnable layout."""


    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    project_name: str = Field("Hardstack Demo", description="Human-readable name of the project")
    project_slug: str = Field("hardstack_demo", description="Lowercase identifier: folder name and compose project name")
    domain: str = Field("localhost", description="Public host name the proxy answers to")

    include_example_app: bool = Field(True, description="Ship a small example Django backend and Vite frontend so the stack runs at once")
    backend_context: str = Field("backend", description="Backend build context, relative to the layout (e.g. ../api)")
    backend_installer: Literal["auto", "uv", "poetry", "pip"] = Field("auto", description="How the build installs the app's dependencies: "
                                                                      "uv (uv.lock), poetry (poetry.lock), pip (backend_requirements); "
                                                                      "auto picks by the lockfile in backend_context and says which")
    backend_requirements: str = Field("requirements.txt", description="With pip: the requirements file inside the backend context")
    backend_dockerfile: str = Field("", description="Empty: build with the layout's hardened backend/Dockerfile. Otherwise the Dockerfile, relative to backend_context, that you chose to build instead (hardstack check then checks that one)")
    backend_build_packages: str = Field("", description="Debian packages the build stage needs to install the app's dependencies, space separated "
                                        "(e.g. gcc libpq-dev for psycopg[c]); never in the runtime image")
    backend_runtime_packages: str = Field("", description="Debian packages the app's wheels need at run time, space separated, optionally pinned as name=version (e.g. libodbc2 for pyodbc); installed in the runtime stage only")
    django_settings_module: str = Field("config.settings", description="DJANGO_SETTINGS_MODULE of the backend")
    wsgi_app: str = Field("config.wsgi:application", description="WSGI application gunicorn serves, module:attribute")
    server: Literal["gunicorn", "uvicorn"] = Field("gunicorn", description="gunicorn (WSGI, wsgi_app) or uvicorn workers under gunicorn "
                                                   "(ASGI, asgi_app: async views, websockets)")
    asgi_app: str = Field("config.asgi:application", description="With server=uvicorn: the ASGI application, module:attribute")
    backend_port: int = Field(8000, description="Port gunicorn listens on inside the backend container")
    gunicorn_workers: int = Field(3, description="Number of gunicorn workers")
    gunicorn_preload: bool = Field(True, description="Import the app once in gunicorn's master, before it listens: a release whose app "
                                   "does not import never accepts a connection, and the workers share its memory. "
                                   "no: for an app that starts threads or opens connections at import; each worker "
                                   "then imports it, after a trial import in a child process before gunicorn listens")
    health_path: str = Field("/api/health/", description="Backend path that answers 200 when the app and its database are up")
    static_url: str = Field("/static/", description="Django's STATIC_URL: the proxy sends it to the backend, which serves the collected files (WhiteNoise when the app has none)")
    api_path: str = Field("/api", description="URL path prefix the proxy sends to the backend (with /admin and static_url)")
    metrics_path: str = Field("/metrics", description="Path of the backend's Prometheus metrics (django-prometheus)")
    media_root: str = Field("/srv/media", description="Folder in the backend where the app writes uploads (Django MEDIA_ROOT): a volume")
    media_url: str = Field("/media/", description="URL path the proxy serves uploads under (Django MEDIA_URL), as files: never run, never sniffed")

    celery_app: str = Field("config", description="Celery app of the backend, the value of `celery -A` (e.g. config or shop.celery:app): "
                            "adds worker and beat services and a Redis broker. Empty: no background work. Default: the example app's, "
                            "or empty without the example app")
    enable_beat: bool = Field(True, description="With celery_app: run exactly one Celery beat for the app's periodic tasks")
    worker_concurrency: int = Field(2, description="With celery_app: processes each worker runs tasks in (celery worker --concurrency)")
    worker_replicas: int = Field(2, description="Swarm (stack.yaml): worker tasks; rolling updates start the new one before the old one stops, and the old one finishes its tasks")
    redis_url_vars: str = Field("CELERY_BROKER_URL REDIS_URL", description="With celery_app: environment variables that receive the Redis URL "
                                "(redis://:PASSWORD@redis:6379/0, composed at start from the secret file), space separated")
    backend_env: dict[str, str] = Field(default_factory=dict, description="The app's own non-secret settings, NAME: value, given to the backend, "
                                        "migrate, workers and beat alike. In --config-file YAML as a mapping; on the command line as JSON: "
                                        "backend_env='{\"ADMIN_URL\": \"manage/\"}'")
    backend_secrets: list[str] = Field(default_factory=list, description="The app's own secrets, by variable NAME: each is a file "
                                       "secrets/app_<name> delivered as NAME_FILE and exported as NAME for the app process only. "
                                       "In --config-file YAML as a list; on the command line space separated: backend_secrets='SENTRY_DSN SMTP_PASSWORD'")

    frontend_context: str = Field("frontend", description="Frontend build context, relative to the layout (e.g. ../web); empty: no SPA, "
                                  "the proxy sends / to the backend, which serves its own pages")
    frontend_build_command: str = Field("npm run build", description="Command that builds the frontend")
    frontend_dist_dir: str = Field("dist", description="Folder the build writes, relative to the frontend context")
    frontend_dockerfile: str = Field("", description="Empty: build with the layout's hardened frontend/Dockerfile. Otherwise the Dockerfile, relative to frontend_context, that you chose to build instead")
    frontend_api_url_var: str = Field("VITE_API_URL", description="Build-time variable the frontend reads for the API base URL")
    api_url: str = Field("/api", description="API base the frontend is built with: a path (/api), an origin (https://api.example.com) or empty (same origin, for apps that append /api/... themselves)")

    env_db_host: str = Field("DB_HOST", description="Environment variable the app reads for the database host")
    env_db_port: str = Field("DB_PORT", description="... database port")
    env_db_name: str = Field("DB_NAME", description="... database name")
    env_db_user: str = Field("DB_USER", description="... database user")
    env_db_password: str = Field("DB_PASSWORD", description="... database password (delivered as a *_FILE secret)")
    env_database_url: str = Field("", description="If set, the app reads one DATABASE_URL-style variable of this name instead of the five above")
    env_secret_key: str = Field("DJANGO_SECRET_KEY", description="... Django secret key (delivered as a *_FILE secret)")
    env_allowed_hosts: str = Field("DJANGO_ALLOWED_HOSTS", description="... allowed hosts (comma separated)")
    env_csrf_trusted_origins: str = Field("DJANGO_CSRF_TRUSTED_ORIGINS", description="... CSRF trusted origins (comma separated; the layout sets https:// ones only when TLS is on)")
    env_debug: str = Field("DJANGO_DEBUG", description="... debug flag (always off)")

    db_name: str = Field("app", description="Database name")
    db_user: str = Field("app", description="Database user")
    superuser_username: str = Field("admin", description="Username of the superuser the deliberate superuser step ensures")

    tls_mode: Literal["off", "files", "acme"] = Field("off", description="HTTPS in the proxy: off (plain HTTP), files (a certificate and key "
                                                      "you obtain and renew: tls_certificate, tls_certificate_key) or acme (the acme service "
                                                      "obtains and renews them from an ACME CA, Let's Encrypt by default, over HTTP-01 on port 80)")
    enable_tls: bool = Field(False, description="The older spelling of tls_mode=files (kept so existing layouts render the same)")
    tls_certificate: str = Field("", description="With tls_mode=files: host path of the TLS certificate (PEM)")
    tls_certificate_key: str = Field("", description="With tls_mode=files: host path of the TLS private key (PEM)")
    acme_email: str = Field("", description="With tls_mode=acme: the ACME account's contact address (empty: an account without one)")
    acme_directory_url: str = Field(ACME_DIRECTORIES["production"], description="With tls_mode=acme: the ACME CA's directory: Let's Encrypt "
                                    f"production by default; try {ACME_DIRECTORIES['staging']} (staging, untrusted certificates, generous "
                                    "rate limits) first")
    acme_ca_bundle: str = Field("", description="With tls_mode=acme: host path of a CA bundle (PEM) to trust for a private ACME server "
                                "(empty: the image's public roots)")
    enable_monitoring: bool = Field(True, description="Prometheus, alert rules and the postgres exporter")
    enable_ci_workflows: bool = Field(True, description="GitHub workflows: backend, frontend, images, deploy")
    enable_devcontainer: bool = Field(True, description="A dev container that uses the layout's compose services and secrets")
    alert_receiver: Literal["webhook", "email"] = Field("webhook", description="Where Alertmanager delivers alerts: webhook (a URL you write into secrets/alert_webhook_url: Slack, Mattermost, an incident tool) or email (SMTP; the password goes into secrets/alert_smtp_password)")
    alert_email_to: str = Field("", description="Email: the address alerts go to")
    alert_smtp_smarthost: str = Field("", description="Email: the SMTP server as host:port, e.g. smtp.example.com:587 (STARTTLS required)")
    alert_smtp_from: str = Field("alertmanager@localhost", description="Email: the sender address")
    alert_smtp_username: str = Field("", description="Email: the SMTP login (empty: no authentication)")
    backup_interval_hours: int = Field(24, description="Hours between the backup service's database dumps (pg_dump, custom format) into the backups volume")
    backup_keep: int = Field(7, description="How many dumps the backups volume keeps (the oldest are removed)")
    backend_replicas: int = Field(2, description="Swarm (stack.yaml): backend tasks; rolling updates replace one at a time, started before the old one stops")
    frontend_replicas: int = Field(1, description="Swarm (stack.yaml): frontend tasks")
    proxy_replicas: int = Field(1, description="Swarm (stack.yaml): proxy tasks, at most one per node (its ports are published on the node itself)")
    swarm_overlay_encryption: bool = Field(True, description="Swarm (stack.yaml): encrypt the overlay networks between nodes (IPsec ESP, "
                                           "IP protocol 50); `hardstack up --swarm` and `hardstack deploy` prove with a probe that it passes "
                                           "between the nodes before deploying. false: traffic between nodes in clear, only on a network you "
                                           "trust (a private VLAN, a VPN such as WireGuard); `hardstack check` reports it (W4)")
    backend_egress: bool = Field(False, description="A network from the backend to the internet (mail, S3, Sentry); off: only the proxy's network is not internal")
    openapi_command: str = Field("python manage.py spectacular --file openapi.yaml --validate", description="Backend command that writes openapi.yaml (CI validates and publishes it)")
    frontend_client_command: str = Field("npx --yes openapi-typescript@7.4.4 schema/openapi.yaml -o src/api/schema.d.ts", description="Frontend command that generates the API client from schema/openapi.yaml")
    hardstack_package: str = Field(f"hardstack=={VERSION}", description="pip requirement of hardstack for the deploy workflow, pinned (or a git URL at a commit)")

    trusted_proxies: str = Field("", description="Load balancers in front of the proxy, as addresses or CIDR ranges separated by spaces: "
                                 "the proxy takes the client address (rate limits, logs) from their X-Forwarded-For. Empty: the connecting address")
    bind_address: str = Field("127.0.0.1", description="Host address the proxy publishes on")
    http_port: int = Field(8080, description="Host port for HTTP")
    https_port: int = Field(8443, description="Host port for HTTPS (TLS on)")

    python_image: str = Field(IMAGES["python_image"][1], description="Python base image of the backend (tag, optional @digest); "
                              "not given: the version the app declares (.python-version, else requires-python), on Debian trixie")
    node_image: str = Field(IMAGES["node_image"][1], description="Node image of the frontend build stage")
    nginx_image: str = Field(IMAGES["nginx_image"][1], description="Unprivileged nginx image (frontend and proxy)")
    db_image: str = Field(IMAGES["db_image"][1], description="TimescaleDB image")
    prometheus_image: str = Field(IMAGES["prometheus_image"][1], description="Prometheus image")
    postgres_exporter_image: str = Field(IMAGES["postgres_exporter_image"][1], description="postgres_exporter image")
    alertmanager_image: str = Field(IMAGES["alertmanager_image"][1], description="Alertmanager image")
    redis_image: str = Field(IMAGES["redis_image"][1], description="Redis image (the Celery broker)")
    redis_exporter_image: str = Field(IMAGES["redis_exporter_image"][1], description="redis_exporter image (with a shell: the alpine variant)")
    certbot_image: str = Field(IMAGES["certbot_image"][1], description="With tls_mode=acme: the certbot image the acme service is built on")
