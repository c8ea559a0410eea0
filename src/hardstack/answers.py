"""The one model of the template answers.

The pre-generation hook, the CLI and the Pulumi program all validate through `Answers`, and the
templates read derived values (image variables, limits, UIDs) from it rather than repeating rules
in Jinja. `cookiecutter.json` holds the same defaults; a test keeps the two equal.
"""


import functools
import ipaddress
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hardstack import __version__ as VERSION
from hardstack.catalog import (ACTIONS, DB_ROLE_SUFFIXES, DB_SUPERUSER, DOCKERIGNORE, IMAGES, INSTALLERS, LIMITS, LOCKFILES, PULUMI_VERSION, RANDOM_VALUES, REDIS_MAXMEMORY, SECRETS,
                               SERVER_PACKAGES, SERVICES, UIDS, VOLUMES, WORKER_STOP_GRACE, CREDENTIAL_NAME, Secret)

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
    "enable_tls": None,
    "tls_certificate": lambda v: v.get("enable_tls", False),
    "tls_certificate_key": lambda v: v.get("enable_tls", False),
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
}


# Defaults that follow earlier answers when prompting: key -> default computed from the answers so far.
FOLLOWING_DEFAULTS: dict[str, Any] = {
    "backend_context": lambda v: "backend" if v.get("include_example_app", True) else "../api",
    "frontend_context": lambda v: "frontend" if v.get("include_example_app", True) else "../web",
    "tls_certificate": lambda v: f"/etc/letsencrypt/live/{v.get('domain', 'localhost')}/fullchain.pem",
    "tls_certificate_key": lambda v: f"/etc/letsencrypt/live/{v.get('domain', 'localhost')}/privkey.pem",
    "alert_smtp_from": lambda v: f"alertmanager@{v.get('domain', 'localhost')}",
    "celery_app": lambda v: example_celery_app(v),
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


class Answers(BaseModel):
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

    enable_tls: bool = Field(False, description="Terminate TLS in the proxy")
    tls_certificate: str = Field("", description="Host path of the TLS certificate (PEM) when TLS is on")
    tls_certificate_key: str = Field("", description="Host path of the TLS private key (PEM) when TLS is on")
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

    # ---- single-field rules -------------------------------------------------------------
    @model_validator(mode="before")
    @classmethod
    def _following(cls, data: Any) -> Any:
        """Answers whose default follows another answer, when they are not given."""
        if isinstance(data, dict) and "celery_app" not in data:
            data = {**data, "celery_app": example_celery_app(data)}
        return data

    @field_validator("backend_env", mode="before")
    @classmethod
    def _mapping(cls, v: Any) -> Any:
        if isinstance(v, str):
            import yaml

            try:
                v = yaml.safe_load(v) if v.strip() else {}
            except yaml.YAMLError:
                v = None
            if not isinstance(v, dict):
                raise ValueError("must be a mapping NAME: value; on the command line write JSON, e.g. backend_env='{\"ADMIN_URL\": \"manage/\"}'")
        if isinstance(v, dict):
            bad = [f"{k}: {val!r}" for k, val in v.items() if isinstance(val, (dict, list)) or val is None]
            if bad:
                raise ValueError(f"values must be plain text, numbers or booleans (quote them in YAML); not {', '.join(bad)}")
            return {str(k): ("true" if val is True else "false" if val is False else str(val)) for k, val in v.items()}
        return v

    @field_validator("backend_env")
    @classmethod
    def _env_values(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if not ENV_NAME_RE.match(k)]
        if bad:
            raise ValueError(f"names must be environment variable names such as ADMIN_URL (uppercase letters, digits, '_'); not {', '.join(map(repr, bad))}")
        for k, val in v.items():
            if any(ord(ch) < 32 or ord(ch) == 127 for ch in val) or "${" in val:
                raise ValueError(f"{k}: the value must be one line without '${{' (compose would substitute it), got {val!r}")
            if CREDENTIAL_NAME.search(k):
                raise ValueError(f"{k} looks like a credential: list it in backend_secrets instead (a file, never a value in compose)")
        return v

    @field_validator("backend_secrets", mode="before")
    @classmethod
    def _secret_names(cls, v: Any) -> Any:
        if not isinstance(v, (str, list)):
            return v
        v = _names(v, ENV_NAME_RE, "environment variable names such as SENTRY_DSN (uppercase letters, digits, '_')")
        if len(set(v)) != len(v):
            raise ValueError("names a secret twice; list each once")
        return v

    @field_validator("celery_app")
    @classmethod
    def _celery_app(cls, v: str) -> str:
        v = v.strip()
        module, _, attr = v.partition(":")
        if v and (not DOTTED_RE.match(module) or (attr and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", attr))):
            raise ValueError(f"must be empty or what `celery -A` takes: a module such as config, or module:attribute such as shop.celery:app; got {v!r}")
        return v

    @field_validator("redis_url_vars")
    @classmethod
    def _url_vars(cls, v: str) -> str:
        return " ".join(_names(v, ENV_NAME_RE, "environment variable names separated by spaces, e.g. CELERY_BROKER_URL REDIS_URL"))

    @field_validator("project_name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v or len(v) > 80 or any(ord(ch) < 32 or ord(ch) == 127 for ch in v):
            raise ValueError("must be 1-80 characters on one line (any letters, quotes and signs are fine)")
        if "{{" in v or "{%" in v or "\\" in v:
            raise ValueError("must not contain a backslash, '{{' or '{%'; write the name without them")
        return v

    @field_validator("project_slug")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG_RE.match(v):
            raise ValueError(f"must be a lowercase identifier such as my_project (letters, digits, '_'; starts with a letter; no paths), got {v!r}")
        return v

    @field_validator("domain")
    @classmethod
    def _domain(cls, v: str) -> str:
        v = v.strip().lower().rstrip(".")  # host names are case-insensitive: normalise, do not refuse
        if not HOSTNAME_RE.match(v):
            raise ValueError(f"must be a host name such as app.example.com (lowercase, no scheme, port or path), got {v!r}")
        return v

    @field_validator("backend_context", "frontend_context")
    @classmethod
    def _context(cls, v: str, info) -> str:
        if info.field_name == "frontend_context" and not v.strip():
            return ""  # no SPA
        return _relative_path(v, info.field_name, allow_parent=True)

    @field_validator("backend_requirements", "frontend_dist_dir")
    @classmethod
    def _inner_path(cls, v: str, info) -> str:
        v = _relative_path(v, info.field_name, allow_parent=False)
        name = v.rsplit("/", 1)[-1]
        if info.field_name == "backend_requirements" and (name == "pyproject.toml" or name in LOCKFILES):
            installer = LOCKFILES.get(name, "uv or poetry")
            raise ValueError(f"{v} is not a requirements file: set backend_installer={installer if name in LOCKFILES else 'auto'} "
                             "(the build installs from the project's lockfile) and leave backend_requirements as it is")
        return v

    @field_validator("django_settings_module")
    @classmethod
    def _dotted(cls, v: str) -> str:
        if not DOTTED_RE.match(v):
            raise ValueError(f"must be a dotted Python module path such as config.settings, got {v!r}")
        return v

    @field_validator("wsgi_app", "asgi_app")
    @classmethod
    def _wsgi(cls, v: str, info) -> str:
        module, _, attr = v.partition(":")
        if not DOTTED_RE.match(module) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", attr):
            raise ValueError(f"must be module:attribute such as config.{info.field_name[:4]}:application, got {v!r}")
        return v

    @field_validator("frontend_build_command", "openapi_command", "frontend_client_command", "hardstack_package")
    @classmethod
    def _command(cls, v: str, info) -> str:
        v = v.strip()
        if not v or any(ord(ch) < 32 or ord(ch) == 127 for ch in v):
            raise ValueError("must be one command line (no newlines), e.g. npm run build")
        if v.endswith("\\"):
            raise ValueError("must not end with a backslash (it would join the next line)")
        if "${{" in v or "{{" in v or "{%" in v:
            raise ValueError("must not contain '${{', '{{' or '{%' (GitHub expression or template syntax)")
        if info.field_name != "hardstack_package":
            syntax = _shell_syntax_error(v)
            if syntax:
                raise ValueError(f"is not a valid shell command line ({syntax}); quote or complete it, e.g. npm run build")
        return v

    @field_validator(
        "env_db_host", "env_db_port", "env_db_name", "env_db_user", "env_db_password",
        "env_secret_key", "env_allowed_hosts", "env_csrf_trusted_origins", "env_debug", "frontend_api_url_var",
    )
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not ENV_NAME_RE.match(v):
            raise ValueError(f"must be an environment variable name such as DB_PASSWORD (uppercase letters, digits, '_'), got {v!r}")
        return v

    @field_validator("env_database_url")
    @classmethod
    def _optional_env_name(cls, v: str) -> str:
        if v and not ENV_NAME_RE.match(v):
            raise ValueError(f"must be empty or an environment variable name such as DATABASE_URL, got {v!r}")
        return v

    @field_validator("db_name", "db_user", "superuser_username")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not re.match(r"^[a-z_][a-z0-9_]{0,62}$", v):
            raise ValueError(f"must be a lowercase identifier such as app, got {v!r}")
        return v

    @field_validator("db_user")
    @classmethod
    def _app_role(cls, v: str) -> str:
        longest = max(len(suffix) for suffix in DB_ROLE_SUFFIXES.values())
        if v == DB_SUPERUSER or v.startswith("pg_"):
            raise ValueError(f"{v!r} is the cluster superuser's or a reserved name; the app's role needs its own, such as app")
        if len(v) > 63 - longest:
            raise ValueError(f"at most {63 - longest} characters: the owner, backup and exporter roles are named after it ({v}_exporter)")
        return v

    @field_validator("metrics_path", "api_path", "health_path", "static_url", "media_url")
    @classmethod
    def _url_path(cls, v: str, info) -> str:
        if not re.match(r"^/[A-Za-z0-9/_.-]*$", v):
            raise ValueError(f"must be an absolute URL path such as /api, got {v!r}")
        if info.field_name in ("static_url", "media_url"):
            if v.rstrip("/") == "":
                raise ValueError("must be a path below the root such as /media/ (the root serves the frontend)")
            return v.rstrip("/") + "/"
        if info.field_name == "api_path" and v.rstrip("/") == "":
            raise ValueError("must be a path below the root such as /api (the root serves the frontend)")
        return v if info.field_name == "health_path" else (v.rstrip("/") or "/")

    @field_validator("media_root")
    @classmethod
    def _media_root(cls, v: str) -> str:
        v = v.rstrip("/")
        if not re.match(r"^/[A-Za-z0-9/_.-]+$", v) or v.split("/")[1] in ("app", "opt", "etc", "proc", "sys", "dev", "run", "tmp", "usr", "bin"):
            raise ValueError(f"must be an absolute folder of its own such as /srv/media (not under /app, /opt, /tmp or a system folder), got {v!r}")
        return v

    @field_validator("alert_email_to", "alert_smtp_from")
    @classmethod
    def _email(cls, v: str, info) -> str:
        v = v.strip()
        if v and not EMAIL_RE.match(v):
            raise ValueError(f"must be an email address such as ops@example.com, got {v!r}")
        return v

    @field_validator("alert_smtp_smarthost")
    @classmethod
    def _smarthost(cls, v: str) -> str:
        v = v.strip().lower()
        host, _, port = v.rpartition(":")
        if v and not (HOSTNAME_RE.match(host) and port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError(f"must be host:port such as smtp.example.com:587, got {v!r}")
        return v

    @field_validator("alert_smtp_username")
    @classmethod
    def _smtp_user(cls, v: str) -> str:
        if any(ord(ch) < 33 or ch in "\"'`$" for ch in v):
            raise ValueError(f"must be one word without spaces, quotes or '$' (an SMTP login such as alerts@example.com), got {v!r}")
        return v

    @field_validator("backup_interval_hours", "backup_keep")
    @classmethod
    def _backup_count(cls, v: int, info) -> int:
        low, high = (1, 168) if info.field_name == "backup_interval_hours" else (1, 365)
        if not low <= v <= high:
            raise ValueError(f"must be between {low} and {high}, got {v}")
        return v

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        v = v.strip()
        if v == "" or re.match(r"^/[A-Za-z0-9/_.-]*$", v):
            return v.rstrip("/") if v != "/" else ""
        if ORIGIN_RE.match(v.lower()):
            return v.rstrip("/")
        raise ValueError(f"must be a path (/api), an origin (https://api.example.com) or empty for the same origin, got {v!r}")

    @field_validator("backend_dockerfile", "frontend_dockerfile")
    @classmethod
    def _dockerfile(cls, v: str, info) -> str:
        return _relative_path(v, info.field_name, allow_parent=True) if v else ""

    @field_validator("backend_runtime_packages", "backend_build_packages")
    @classmethod
    def _packages(cls, v: str) -> str:
        return " ".join(_names(v, DEBIAN_PACKAGE_RE, "Debian package names separated by spaces, e.g. libodbc2 libpq5 (or pinned: libodbc2=2.3.11-2+deb12u1)"))

    @field_validator("trusted_proxies")
    @classmethod
    def _ranges(cls, v: str) -> str:
        ranges = v.replace(",", " ").split()
        for r in ranges:
            try:
                net = ipaddress.ip_network(r, strict=False)
            except ValueError:
                raise ValueError(f"must be IP addresses or CIDR ranges such as 10.0.0.0/8, got {r!r}") from None
            if net.prefixlen == 0:
                raise ValueError(f"{r} trusts every address: any client could choose its own; name the load balancers' range")
        return " ".join(ranges)

    @field_validator("bind_address")
    @classmethod
    def _ip(cls, v: str) -> str:
        try:
            ipaddress.ip_address(v)
        except ValueError:
            raise ValueError(f"must be an IP address such as 127.0.0.1 (or 0.0.0.0 to publish on every interface), got {v!r}") from None
        return v

    @field_validator("http_port", "https_port", "backend_port")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 1 <= v <= 65535:
            raise ValueError(f"must be a port number between 1 and 65535, got {v}")
        return v

    @field_validator("backend_replicas", "frontend_replicas", "proxy_replicas", "worker_replicas")
    @classmethod
    def _replicas(cls, v: int) -> int:
        if not 1 <= v <= 32:
            raise ValueError(f"must be between 1 and 32, got {v}")
        return v

    @field_validator("gunicorn_workers", "worker_concurrency")
    @classmethod
    def _workers(cls, v: int) -> int:
        if not 1 <= v <= 64:
            raise ValueError(f"must be between 1 and 64, got {v}")
        return v

    @field_validator(*IMAGES)
    @classmethod
    def _image(cls, v: str) -> str:
        m = IMAGE_RE.match(v)
        if not m or len(m.group("name")) > 255:
            raise ValueError(f"must be an image reference such as python:3.12-slim or name:tag@sha256:<64 hex>, got {v!r}")
        if not m.group("tag") and not m.group("digest"):
            raise ValueError(f"must name a tag (never implicit latest), e.g. {v}:1.0, got {v!r}")
        if m.group("tag") == "latest":
            raise ValueError(f"must not use the 'latest' tag; pin a version, got {v!r}")
        return v

    # ---- rules across fields ------------------------------------------------------------
    @model_validator(mode="after")
    def _across(self) -> "Answers":
        if self.enable_tls:
            if self.http_port == self.https_port:
                raise ValueError(f"https_port: clashes with http_port ({self.http_port}); choose two different ports, e.g. http_port=8080 https_port=8443")
            for key in ("tls_certificate", "tls_certificate_key"):
                value = getattr(self, key)
                if not value:
                    raise ValueError(f"{key}: required when enable_tls is on; give the host path of the PEM file, e.g. /etc/letsencrypt/live/{self.domain}/{'fullchain' if key == 'tls_certificate' else 'privkey'}.pem")
                if any(ch in value for ch in "\n\r\"'$`{}") or ":" in value:
                    raise ValueError(f"{key}: must be a plain file path without quotes, ':' or '$', got {value!r}")
        if self.backend_port in {svc.port for name, svc in SERVICES.items() if name != "backend"}:
            raise ValueError(f"backend_port: {self.backend_port} clashes with a port another service of the layout uses inside the network; choose another, e.g. 8000")
        if self.include_example_app:
            for key, default in (("backend_context", "backend"), ("frontend_context", "frontend")):
                if getattr(self, key) not in (default, "" if key == "frontend_context" else default):
                    raise ValueError(f"{key}: the example app is rendered into '{default}'; keep {key}={default} or set include_example_app=no to build your own repo")
            for key in ("backend_dockerfile", "frontend_dockerfile"):
                if getattr(self, key):
                    raise ValueError(f"{key}: the example app builds with the layout's own Dockerfile; leave {key} empty")
            if self.backend_installer not in ("auto", "pip"):
                raise ValueError(f"backend_installer: the example app installs from requirements.txt; leave backend_installer=auto "
                                 "or set include_example_app=no to build your own repo")
        else:
            for key in ("backend_context", "frontend_context"):
                if key == "frontend_context" and not self.has_frontend:
                    continue
                if not SIBLING_RE.match(getattr(self, key)):
                    raise ValueError(f"{key}: without the example app, point it at your repo beside this layout, e.g. ../my-{key.split('_')[0]} (one '../', then the repo folder; or set include_example_app=yes)")
        if self.enable_monitoring and self.alert_receiver == "email":
            for key in ("alert_email_to", "alert_smtp_smarthost"):
                if not getattr(self, key):
                    example = "ops@example.com" if key == "alert_email_to" else "smtp.example.com:587"
                    raise ValueError(f"{key}: required when alert_receiver is email, e.g. {key}={example} (or alert_receiver=webhook)")
        names = self.app_env_names
        if len(set(names)) != len(names):
            raise ValueError("env_*: two answers name the same environment variable; give each a distinct name")
        if self.uses_redis and not self.redis_url_vars:
            raise ValueError("redis_url_vars: give at least one variable for the Redis URL with celery_app set, e.g. CELERY_BROKER_URL")
        layout_set = self.layout_env_names
        for key, names in (("backend_env", list(self.backend_env)), ("backend_secrets", self.backend_secrets)):
            clash = [n for n in names if n in layout_set or n.removesuffix("_FILE") in layout_set]
            if clash:
                raise ValueError(f"{key}: {', '.join(clash)} is set by the layout itself ({layout_set[clash[0].removesuffix('_FILE')] if clash[0].removesuffix('_FILE') in layout_set else layout_set[clash[0]]}); "
                                 "rename it in your app, or change the answer that sets it")
        both = set(self.backend_env) & {n for s in self.backend_secrets for n in (s, f"{s}_FILE")}
        if both:
            raise ValueError(f"backend_env: {', '.join(sorted(both))} is also in backend_secrets; a setting is either a value or a secret")
        return self

    # ---- derived values the templates and the deploy program share ----------------------
    @property
    def ci_python(self) -> str:
        """The Python the backend workflow tests with: the image's."""
        from hardstack.catalog import DEFAULT_PYTHON

        return self.python_version or DEFAULT_PYTHON

    @property
    def has_frontend(self) -> bool:
        """An SPA of its own (frontend_context set); without one the proxy sends / to the backend."""
        return bool(self.frontend_context)

    @property
    def installer(self) -> str:
        """uv, poetry or pip. `hardstack new` turns auto into what the backend context holds; a layout
        rendered without looking (plain cookiecutter) installs with pip from backend_requirements."""
        return "pip" if self.backend_installer == "auto" else self.backend_installer

    @property
    def installer_requirement(self) -> str:
        return INSTALLERS[self.installer]

    @property
    def server_packages(self) -> tuple[str, ...]:
        return SERVER_PACKAGES[self.server]

    @property
    def build_packages(self) -> list[str]:
        return self.backend_build_packages.split()

    @staticmethod
    def unpinned(packages: list[str]) -> bool:
        """Debian packages given without =version (hadolint DL3008, said and suppressed in the Dockerfile)."""
        return any("=" not in p for p in packages)

    @property
    def app_entry(self) -> tuple[str, str]:
        """The variable gunicorn's entry module reads the app from, and the app: WSGI or ASGI (server)."""
        return ("ASGI_APP", self.asgi_app) if self.server == "uvicorn" else ("WSGI_APP", self.wsgi_app)

    @property
    def python_version(self) -> str | None:
        """The X.Y of python_image, when its tag says it (python:3.13-slim-trixie -> 3.13)."""
        from hardstack.backend_project import image_python_version

        return image_python_version(self.python_image)

    @property
    def image_vars(self) -> dict[str, tuple[str, str]]:
        """answer key -> (variable name, reference) for every image."""
        return {key: (var, getattr(self, key)) for key, (var, _) in IMAGES.items()}

    @property
    def builds(self) -> dict[str, dict[str, Any]]:
        """What compose builds for backend and frontend: context, Dockerfile (relative to the context),
        build args that say where the app and the layout's deploy files are inside the context, and the
        ignore file the build uses.

        Example app: the context is the layout's own folder. Sibling repo: the context is the folder that
        holds both the layout and the repo, so the layout's Dockerfile, deploy scripts and
        `Dockerfile.dockerignore` (which sends only the app and those scripts) build the repo as it is.
        An explicit `*_dockerfile` answer builds that Dockerfile in the repo instead.
        """
        result = {}
        for part in ("backend", "frontend") if self.has_frontend else ("backend",):
            context, own = getattr(self, f"{part}_context"), getattr(self, f"{part}_dockerfile")
            if self.include_example_app:
                build = {"context": part, "dockerfile": "Dockerfile", "args": {}, "ignore": f"{part}/.dockerignore"}
            elif own:
                build = {"context": context, "dockerfile": own, "args": {}, "ignore": None}
            else:
                build = {"context": "..", "dockerfile": f"{self.project_slug}/{part}/Dockerfile",
                         "args": {"APP_DIR": context.removeprefix("../"), "DEPLOY_DIR": f"{self.project_slug}/{part}/deploy"},
                         "ignore": f"{part}/Dockerfile.dockerignore"}
            build["app_dir"] = context
            result[part] = build
        return result

    @property
    def ci_builds(self) -> dict[str, dict[str, str]]:
        """The same builds as seen from a CI workspace where the layout (checked out into a folder named
        project_slug) and the sibling repos sit side by side: context, Dockerfile path, build args."""
        result = {}
        for part, b in self.builds.items():
            if self.include_example_app:
                result[part] = {"context": part, "file": f"{part}/Dockerfile", "build_args": ""}
            elif b["args"]:
                args = "\n".join(f"{k}={v}" for k, v in b["args"].items())
                result[part] = {"context": ".", "file": b["dockerfile"], "build_args": args}
            else:
                app = b["app_dir"].removeprefix("../")
                result[part] = {"context": app, "file": f"{app}/{b['dockerfile']}", "build_args": ""}
        return result

    @property
    def sibling_repos(self) -> list[str]:
        """The repo folders beside the layout (empty with the example app)."""
        if self.include_example_app:
            return []
        return list(dict.fromkeys(b["app_dir"].removeprefix("../").split("/")[0] for b in self.builds.values()))

    def dockerignore(self, part: str, sibling: bool = False) -> list[str]:
        """Lines of a part's ignore file: relative to the app's root, or (sibling) to the shared parent."""
        rules = DOCKERIGNORE["common"] + DOCKERIGNORE[part]
        if not sibling:
            return rules
        args = self.builds[part]["args"] if part in self.builds else {}
        if not args:
            return []  # not a sibling build: the hook removes this file
        app, deploy = args["APP_DIR"], args["DEPLOY_DIR"]
        return ["*", f"!{app}", f"!{deploy}"] + [f"{app}/{rule}" for rule in rules]

    @property
    def app_env_names(self) -> list[str]:
        """Every environment variable the app's settings read (given throwaway values at build time)."""
        names = [self.env_db_host, self.env_db_port, self.env_db_name, self.env_db_user, self.env_db_password,
                 self.env_secret_key, self.env_allowed_hosts, self.env_debug]
        return names + ([self.env_database_url] if self.env_database_url else [])

    @property
    def runtime_packages(self) -> list[str]:
        return self.backend_runtime_packages.split()


    @property
    def csp_connect_src(self) -> str:
        """The CSP connect-src that lets the SPA reach its API: same origin, plus the API origin if it has one."""
        if ORIGIN_RE.match(self.api_url.lower()):
            scheme, _, rest = self.api_url.partition("://")
            return f"'self' {scheme}://{rest.split('/')[0]}"
        return "'self'"

    @property
    def uses_redis(self) -> bool:
        """Background work: Celery workers and their Redis broker (celery_app set)."""
        return bool(self.celery_app)

    @property
    def runs_beat(self) -> bool:
        return self.uses_redis and self.enable_beat

    @property
    def services(self) -> list[str]:
        def wanted(name: str, svc) -> bool:
            return ((self.enable_monitoring or not svc.monitoring) and (self.uses_redis or not svc.celery) and (name != "beat" or self.runs_beat)
                    and (name != "frontend" or self.has_frontend))

        return [name for name, svc in SERVICES.items() if wanted(name, svc)]

    @property
    def app_services(self) -> list[str]:
        """The services that run the backend image with the app's environment (one definition for all)."""
        return [name for name in ("migrate", "backend", "worker", "beat", "superuser") if name in self.services]

    @property
    def db_roles(self) -> dict[str, str]:
        """The database's login roles (db/setup.sh makes them): what each is for -> its name."""
        roles = {"superuser": DB_SUPERUSER, "owner": self.db_user + DB_ROLE_SUFFIXES["owner"], "app": self.db_user,
                 "backup": self.db_user + DB_ROLE_SUFFIXES["backup"]}
        if self.enable_monitoring:
            roles["exporter"] = self.db_user + DB_ROLE_SUFFIXES["exporter"]
        return roles

    @property
    def deploy_secret_config(self) -> dict[str, str]:
        """The generated secrets the deploy workflow sets in the Pulumi config: config key -> the repository
        secret (an env name) that holds it. The superuser step's and alerts' keys are set by hand."""
        keys = {s.config_key for name, s in self.secret_specs.items() if s.config_key and s.value in RANDOM_VALUES and s.value != "superuser_password"}
        return {key: re.sub(r"(?<!^)([A-Z])", r"_\1", key).upper() for key in sorted(keys)}

    @property
    def db_setup_env(self) -> dict[str, str]:
        """db-setup's environment (compose.yaml and stack.yaml): where the database is and the roles' names."""
        return {"PGHOST": "db", "PGPORT": f'"{SERVICES["db"].port}"', "PGDATABASE": self.db_name,
                **{f"DB_{purpose.upper()}": name for purpose, name in self.db_roles.items()}}

    @property
    def app_secret_files(self) -> dict[str, str]:
        """backend_secrets: NAME -> its file in secrets/ (and /run/secrets/)."""
        return {name: f"app_{name.lower()}" for name in self.backend_secrets}

    @property
    def secret_specs(self) -> dict[str, Secret]:
        """Every runtime secret of this layout: the catalog's that apply, then the app's own (backend_secrets)."""
        specs = {name: s for name, s in SECRETS.items() if s.needs is None or getattr(self, s.needs)}
        for name, file in self.app_secret_files.items():
            specs[file] = Secret("app", file, None, tuple(self.app_services))
        return specs

    @property
    def redis_url_names(self) -> list[str]:
        return self.redis_url_vars.split() if self.uses_redis else []

    @property
    def layout_env_names(self) -> dict[str, str]:
        """Every variable the layout itself sets in the app's environment -> the answer or reason that sets it."""
        names = {n: "an env_* answer" for n in self.app_env_names}
        names |= {n: "redis_url_vars" for n in self.redis_url_names}
        for name in ("DJANGO_SETTINGS_MODULE", "HARDSTACK_FILE_VARS", "HARDSTACK_DATABASE_URL_VAR", "HARDSTACK_REDIS_URL_VARS",
                     "HARDSTACK_REDIS_PASSWORD_FILE", "HARDSTACK_CELERY_APP", "HARDSTACK_WAIT_FOR_MIGRATIONS", "GUNICORN_WORKERS",
                     "MEDIA_ROOT", "MEDIA_URL", "WSGI_APP", "ASGI_APP", "BACKEND_PORT", "HEALTH_PATH", "PATH", "HOME", "HOSTNAME",
                     "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", self.env_csrf_trusted_origins, *self.https_env):
            names.setdefault(name, "the layout (backend/Dockerfile, compose.yaml)")
        return names

    @property
    def redis_maxmemory(self) -> str:
        return REDIS_MAXMEMORY

    @property
    def worker_stop_grace(self) -> int:
        return WORKER_STOP_GRACE

    @property
    def alerts_by_webhook(self) -> bool:
        return self.enable_monitoring and self.alert_receiver == "webhook"

    @property
    def alerts_by_email(self) -> bool:
        return self.enable_monitoring and self.alert_receiver == "email"

    @property
    def secrets(self) -> dict[str, list[str]]:
        """Runtime secret -> the services of this layout that mount it."""
        return {name: [svc for svc in s.services if svc in self.services] for name, s in self.secret_specs.items()}

    def secrets_of(self, service: str) -> str:
        """The runtime secrets a service mounts, as compose lists them."""
        return ", ".join(name for name, users in self.secrets.items() if service in users)

    @property
    def app_env(self) -> dict[str, str]:
        """The environment of every service that runs the app (backend, migrate, workers, beat, superuser),
        as compose.yaml and stack.yaml write it once: name -> the YAML value, already quoted."""
        from hardstack.template_ext import yaml_str

        env = {"DJANGO_SETTINGS_MODULE": self.django_settings_module, self.env_debug: '"0"',
               self.env_allowed_hosts: f"${{ALLOWED_HOSTS:-{self.allowed_hosts}}}",
               self.env_csrf_trusted_origins: f"${{CSRF_TRUSTED_ORIGINS:-{self.csrf_trusted_origins}}}", self.env_db_host: "db", self.env_db_port: f'"{SERVICES["db"].port}"',
               self.env_db_name: self.db_name, self.env_db_user: self.db_user,
               f"{self.env_db_password}_FILE": "/run/secrets/db_password", f"{self.env_secret_key}_FILE": "/run/secrets/django_secret_key"}
        env |= {f"{name}_FILE": f"/run/secrets/{file}" for name, file in self.app_secret_files.items()}
        # The entrypoint turns exactly these NAME_FILE variables into NAME for the app process.
        env["HARDSTACK_FILE_VARS"] = yaml_str(" ".join([self.env_db_password, self.env_secret_key, *self.backend_secrets]))
        if self.env_database_url:
            env["HARDSTACK_DATABASE_URL_VAR"] = self.env_database_url
        if self.uses_redis:
            # The entrypoint composes redis://:PASSWORD@redis:6379/0 into each of these from the file.
            env["HARDSTACK_REDIS_URL_VARS"] = yaml_str(self.redis_url_vars)
            env["HARDSTACK_REDIS_PASSWORD_FILE"] = "/run/secrets/redis_url_password"
            env["HARDSTACK_CELERY_APP"] = yaml_str(self.celery_app)
        env["GUNICORN_WORKERS"] = f'"{self.gunicorn_workers}"'
        env |= {name: f'"{value}"' for name, value in self.https_env.items()}
        env |= {name: yaml_str(value) for name, value in self.backend_env.items()}
        return env

    def swarm_secrets(self, service: str) -> list[tuple[str, int]]:
        """The runtime secrets a swarm service mounts, each with the UID that owns it (mode 0400)."""
        specs = self.secret_specs
        return [(name, UIDS[specs[name].uid]) for name, users in self.secrets.items() if service in users]

    @property
    def replicas(self) -> dict[str, int]:
        return {"backend": self.backend_replicas, "frontend": self.frontend_replicas, "proxy": self.proxy_replicas, "worker": self.worker_replicas}

    @property
    def swarm_configs(self) -> dict[str, dict[str, Any]]:
        """Swarm config -> its file in the layout, the services that mount it and where: the read-only
        folders compose bind-mounts, as configs every node receives from the managers."""
        nginx = ["nginx.conf"] + [f"snippets/{f}" for f in self.nginx_snippets]
        files = [(("proxy",), f"nginx/{f}", f"/etc/nginx/hardstack/{f}") for f in nginx]
        files.append((("db-setup",), "db/setup.sh", "/etc/hardstack/db/setup.sh"))
        files.append((("backup",), "backup/backup.sh", "/etc/hardstack/backup/backup.sh"))
        if self.uses_redis:
            readers = ("redis", "redis-exporter") if self.enable_monitoring else ("redis",)
            files += [(readers, f"redis/{f}", f"/etc/hardstack/redis/{f}") for f in ("redis.conf", "start.sh")]
        if self.enable_monitoring:
            files += [(("prometheus",), "prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml"),
                      (("prometheus",), "prometheus/rules/alerts.yml", "/etc/prometheus/rules/alerts.yml"),
                      (("alertmanager",), "alertmanager/alertmanager.yml", "/etc/alertmanager/alertmanager.yml")]
        return {re.sub(r"[^a-z0-9]+", "_", path.removesuffix(".conf").removesuffix(".yml").removesuffix(".sh")): {"services": svcs, "file": path, "target": target}
                for svcs, path, target in files}

    def swarm_configs_of(self, service: str) -> dict[str, str]:
        return {name: c["target"] for name, c in self.swarm_configs.items() if service in c["services"]}

    @property
    def swarm_db_label(self) -> str:
        """The node label that places the database (and its volume) on one node."""
        return f"{self.project_slug}.db"

    @property
    def outside_networks(self) -> dict[str, set[str]]:
        """The networks that reach outside, each with the only services that may join it: the proxy's
        edge (published ports), Alertmanager's way to the webhook or mail server, the backend's opt-in
        egress. Row C17 holds a layout to this."""
        nets = {"edge": {"proxy"}}
        if self.enable_monitoring:
            nets["alerting"] = {"alertmanager"}
        if self.backend_egress:
            nets["egress"] = {"backend", "worker"} if self.uses_redis else {"backend"}
        return nets

    @property
    def networks(self) -> dict[str, bool]:
        """Compose network -> internal."""
        nets = {"app": True, "data": True}
        if self.enable_monitoring:
            nets["monitoring"] = True
        return {"edge": False, **nets, **{name: False for name in self.outside_networks if name != "edge"}}

    @property
    def https_env(self) -> dict[str, str]:
        """What the backend is told about HTTPS (secure cookies, HSTS, SSL redirect in its settings):
        compose and the backend CI's `check --deploy` pass the same."""
        return {"DJANGO_HTTPS": "1" if self.enable_tls else "0"}

    @property
    def ports(self) -> dict[str, int | None]:
        return {name: self.backend_port if name == "backend" else svc.port for name, svc in SERVICES.items()}

    @property
    def unpinned_images(self) -> dict[str, str]:
        """Service -> why its image carries no digest (compose-lint CL-0019 suppressions)."""
        built = "built from this layout; APP_VERSION tags the build and a registry push reports its digest"
        pulled = {"db": "db_image", "db-setup": "db_image", "proxy": "nginx_image", "backup": "db_image"}
        if self.enable_monitoring:
            pulled |= {"prometheus": "prometheus_image", "postgres-exporter": "postgres_exporter_image", "alertmanager": "alertmanager_image"}
        if self.uses_redis:
            pulled["redis"] = "redis_image"
            if self.enable_monitoring:
                pulled["redis-exporter"] = "redis_exporter_image"
        reasons = {svc: built for svc in self.app_services + (["frontend"] if self.has_frontend else [])}
        for svc, key in pulled.items():
            if "@sha256:" not in getattr(self, key):
                var = IMAGES[key][0]
                reasons[svc] = f"no digest was known at generation; pin it by setting {var}=name:tag@sha256:... in .env or the {key} answer"
        return reasons

    @property
    def bind_host(self) -> str:
        """The bind address as it is written before `:port` (IPv6 in brackets)."""
        return f"[{self.bind_address}]" if ":" in self.bind_address else self.bind_address

    @property
    def publishes_on_all_interfaces(self) -> bool:
        return ipaddress.ip_address(self.bind_address).is_unspecified

    @property
    def limits(self) -> dict[str, tuple[str, str, int]]:
        return LIMITS

    @property
    def uids(self) -> dict[str, int]:
        return UIDS

    @property
    def server_names(self) -> str:
        return self.domain if self.domain == "localhost" else f"{self.domain} localhost"

    @property
    def allowed_hosts(self) -> str:
        # "backend" lets Prometheus and health probes inside the network reach the app by name.
        hosts = [self.domain, "localhost", "127.0.0.1", "backend"]
        return ",".join(dict.fromkeys(hosts))

    @property
    def nginx_snippets(self) -> list[str]:
        """The proxy's snippets, as the template's nginx/snippets/ holds them (tls.conf with TLS only): a
        new snippet reaches stack.yaml's configs without being listed again."""
        from hardstack.resources import template_dir

        folder = template_dir() / "{{cookiecutter.project_slug}}" / "nginx" / "snippets"
        return sorted(p.name for p in folder.glob("*.conf") if p.name != "tls.conf" or self.enable_tls)

    @property
    def rolls(self) -> dict[str, str]:
        """Service -> stack.yaml's update_config anchor (catalog.Service.roll)."""
        return {name: svc.roll for name, svc in SERVICES.items()}

    @property
    def volumes(self) -> list[str]:
        """The named volumes of this layout (catalog.VOLUMES), as compose.yaml and stack.yaml declare them."""
        return [name for name, v in VOLUMES.items() if v.needs is None or getattr(self, v.needs)]

    @property
    def csrf_trusted_origins(self) -> str:
        """The origins a browser posts from, as it sends them: the scheme the proxy serves (https only
        with TLS, where a form posted over http must be refused) and the published port when it is not
        the scheme's own (the proxy passes Host without the port, so Django's same-origin test misses it).
        Only the domain (and 127.0.0.1 for localhost): other origins (a second name, an SPA elsewhere) go in CSRF_TRUSTED_ORIGINS in .env."""
        scheme, port = ("https", self.https_port) if self.enable_tls else ("http", self.http_port)
        suffixes = [""] + ([] if port == {"https": 443, "http": 80}[scheme] else [f":{port}"])
        hosts = [self.domain] + (["127.0.0.1"] if self.domain == "localhost" else [])
        return ",".join(f"{scheme}://{host}{suffix}" for host in hosts for suffix in suffixes)

    @property
    def actions(self) -> dict[str, str]:
        """`uses:` value for each pinned action, with its tag as a trailing comment."""
        return {key: f"{ref} # {tag}" for key, (ref, tag) in ACTIONS.items()}

    @property
    def pulumi_version(self) -> str:
        return PULUMI_VERSION

    @property
    def ci_dirs(self) -> dict[str, str]:
        """Where the workflows run each part: folders of this repo, or the root of a sibling repo."""
        inside = self.include_example_app
        return {"backend": "backend" if inside else ".", "frontend": "frontend" if inside else "."}

    @property
    def dev_workspace(self) -> dict[str, str]:
        """The dev container's workspace: this layout, or the folder holding the sibling repos."""
        if self.include_example_app:
            return {"mount": "..", "backend": "backend", "frontend": "frontend"}
        return {"mount": "../..", "backend": self.backend_context.split("/")[-1], "frontend": self.frontend_context.split("/")[-1] or ""}

    @property
    def dev_secrets(self) -> list[str]:
        """What the dev container mounts: the backend's secrets, with the owner role's password for the app's."""
        return ["db_owner_password" if name == "db_password" else name for name, users in self.secrets.items() if "backend" in users]

    @property
    def dev_env_files(self) -> dict[str, str]:
        """The dev container's *_FILE variables: the backend's, the database password being the owner role's."""
        files = {name: value for name, value in self.app_env.items() if name.endswith("_FILE")}
        files[f"{self.env_db_password}_FILE"] = "/run/secrets/db_owner_password"
        return files

    @property
    def dev_install(self) -> str:
        """The dev container's postCreateCommand: the app's dependencies as its installer installs them (dev
        group included) into /workspace/.venv, then the SPA's."""
        w = self.dev_workspace
        backend = {
            "uv": f"pip install '{self.installer_requirement}' && (cd {w['backend']} && UV_PROJECT_ENVIRONMENT=/workspace/.venv uv sync --locked)",
            "poetry": f"pip install '{self.installer_requirement}' && python -m venv /workspace/.venv && "
                      f"(cd {w['backend']} && VIRTUAL_ENV=/workspace/.venv poetry install --no-root)",
            "pip": f"python -m venv /workspace/.venv && /workspace/.venv/bin/pip install -r {w['backend']}/{self.backend_requirements}",
        }[self.installer]
        return backend + (f" && (cd {w['frontend']} && npm ci)" if self.has_frontend else "")

    @property
    def compose_project(self) -> str:
        return self.project_slug.replace("_", "-")


def _first_key(loc: tuple) -> str:
    return str(loc[0]) if loc else "answers"


def format_errors(err: ValidationError) -> list[str]:
    """One line per problem: `key: what is wrong and how to fix it`."""
    lines = []
    for e in err.errors():
        key = _first_key(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown answer; check the spelling (see `hardstack new --help` for the keys)")
        elif e["type"].startswith(("bool_", "int_")):
            lines.append(f"{key}: {msg} (got {e.get('input')!r})")
        elif not e["loc"]:
            lines.append(msg)  # model-level messages already start with the key
        else:
            lines.append(f"{key}: {msg}")
    return lines


def problems_for(key: str, values: dict[str, Any]) -> list[str]:
    """The problems with one answer, given the answers so far (the others keep their defaults)."""
    try:
        validate(values)
    except AnswersError as err:
        return [line for line in err.problems if line.split(":", 1)[0] == key]
    return []


def validate(raw: dict[str, Any]) -> Answers:
    """Validate raw answers (cookiecutter context or CLI values); raise AnswersError on problems."""
    data = {k: v for k, v in raw.items() if not k.startswith("_")}
    try:
        return Answers.model_validate(data)
    except ValidationError as err:
        raise AnswersError(format_errors(err)) from None


def _cookiecutter_value(value: Any) -> Any:
    """Booleans and mappings stay (cookiecutter has boolean and dict variables); a list is one space-separated
    string (a list in cookiecutter.json would be a choice); the rest are strings."""
    if isinstance(value, (bool, dict)):
        return value
    return " ".join(value) if isinstance(value, list) else str(value)


def cookiecutter_values(answers: Answers) -> dict[str, Any]:
    """The answers as cookiecutter passes them to templates and cruft records them."""
    return {k: _cookiecutter_value(v) for k, v in answers.model_dump().items()}


def cookiecutter_defaults() -> dict[str, Any]:
    """The answers as cookiecutter.json lists them (the test keeps the file equal to this)."""
    return {k: (" ".join(v) if isinstance(v, list) else v) for k, v in Answers().model_dump().items()}
