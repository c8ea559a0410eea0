"""The rules answers must follow, each refusal naming the answer and the fix: single-field rules in two
groups (names and paths; values), then the rules across fields."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pydantic import field_validator, model_validator

from hardstack.answers.inputs import (DEBIAN_PACKAGE_RE, DOTTED_RE, EMAIL_RE, ENV_NAME_RE, HOSTNAME_RE, IMAGE_RE, ORIGIN_RE, SIBLING_RE, SLUG_RE,
                                      Inputs, _names, _relative_path, _shell_syntax_error, example_celery_app)
from hardstack.catalog import ACME_DIRECTORIES, NON_PUBLIC_SUFFIXES, CREDENTIAL_NAME, DB_ROLE_SUFFIXES, DB_SUPERUSER, IMAGES, LOCKFILES, SERVICES



def non_public_name(domain: str) -> str:
    """Why no public ACME CA issues a certificate for this name ('' when one may)."""
    try:
        ipaddress.ip_address(domain)
        return f"{domain} is an IP address"
    except ValueError:
        pass
    if "." not in domain:
        return f"{domain} is a single label, not a name in public DNS"
    suffix = next((s for s in NON_PUBLIC_SUFFIXES if domain == s or domain.endswith("." + s)), None)
    if suffix:
        return f"{domain} ends in .{suffix}, which is reserved and never in public DNS"
    return ""

class NamingRules(Inputs):
    """Names, paths, commands and variable names."""

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


class ValueRules(NamingRules):
    """URLs, addresses, ports, counts, images and packages."""

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

    @field_validator("acme_directory_url")
    @classmethod
    def _acme_directory(cls, v: str) -> str:
        v = v.strip()
        if not re.match(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9/_.~-]*)?$", v):
            raise ValueError(f"must be the https:// URL of an ACME directory, e.g. {ACME_DIRECTORIES['staging']}, got {v!r}")
        return v

    @field_validator("acme_ca_bundle")
    @classmethod
    def _acme_ca_bundle(cls, v: str) -> str:
        if any(ch in v for ch in "\n\r\"'$`{}:") or v != v.strip():
            raise ValueError(f"must be a plain file path without quotes, ':' or '$' (or empty), got {v!r}")
        return v

    @field_validator("alert_email_to", "alert_smtp_from", "acme_email")
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


class Rules(ValueRules):
    """Rules across fields: each answer alone may be fine and the combination not."""

    @model_validator(mode="after")
    def _across(self) -> "Rules":
        if self.tls_mode == "off" and self.enable_tls:
            object.__setattr__(self, "tls_mode", "files")  # the older spelling: the same layout as before
        if self.tls_mode == "acme":
            if problem := non_public_name(self.domain):
                raise ValueError(f"domain: tls_mode=acme needs the public name the site is reached by: {problem}; set domain=shop.example.org "
                                 "(a name whose DNS points at this host), or use tls_mode=files with a certificate of your own")
            if self.proxy_replicas > 1:
                raise ValueError(f"proxy_replicas: tls_mode=acme runs one proxy beside the issuer (the certificates volume lives on one "
                                 f"node); set proxy_replicas=1, or tls_mode=files to serve the same certificate from {self.proxy_replicas} proxies")
        if self.tls_on:
            if self.http_port == self.https_port:
                raise ValueError(f"https_port: clashes with http_port ({self.http_port}); choose two different ports, e.g. http_port=8080 https_port=8443")
            for key in ("tls_certificate", "tls_certificate_key") if self.tls_mode == "files" else ():
                value = getattr(self, key)
                if not value:
                    raise ValueError(f"{key}: required with tls_mode=files (or enable_tls); give the host path of the PEM file, e.g. /etc/letsencrypt/live/{self.domain}/{'fullchain' if key == 'tls_certificate' else 'privkey'}.pem")
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
