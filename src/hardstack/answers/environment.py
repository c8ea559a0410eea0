"""The environment of the app's services and of db-setup, and the names the layout itself sets.
"""

from __future__ import annotations

import re

from hardstack.answers.inputs import ORIGIN_RE
from hardstack.catalog import RANDOM_VALUES, SERVICES
from hardstack.quoting import yaml_str


class Environment:
    """The environment each service gets, written once for compose.yaml and stack.yaml."""

    @property
    def app_env_names(self) -> list[str]:
        """Every environment variable the app's settings read (given throwaway values at build time)."""
        names = [self.env_db_host, self.env_db_port, self.env_db_name, self.env_db_user, self.env_db_password,
                 self.env_secret_key, self.env_allowed_hosts, self.env_debug]
        return names + ([self.env_database_url] if self.env_database_url else [])

    @property
    def csp_connect_src(self) -> str:
        """The CSP connect-src that lets the SPA reach its API: same origin, plus the API origin if it has one."""
        if ORIGIN_RE.match(self.api_url.lower()):
            scheme, _, rest = self.api_url.partition("://")
            return f"'self' {scheme}://{rest.split('/')[0]}"
        return "'self'"

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
    def redis_url_names(self) -> list[str]:
        return self.redis_url_vars.split() if self.uses_redis else []

    @property
    def build_step_env(self) -> dict[str, str]:
        """The environment of the backend build's check step (backend/Dockerfile, deploy/collectstatic.py): the
        settings module and the variables the settings read (given throwaway values there) and, with celery_app,
        the app `celery -A` loads, so an answer that does not fit the app stops the build rather than the stack."""
        env = {"DJANGO_SETTINGS_MODULE": self.django_settings_module, "HARDSTACK_APP_ENV": " ".join(self.app_env_names)}
        if self.uses_redis:
            env |= {"HARDSTACK_REDIS_URL_VARS": " ".join(self.redis_url_names), "HARDSTACK_CELERY_APP": self.celery_app}
        return env

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
    def app_env(self) -> dict[str, str]:
        """The environment of every service that runs the app (backend, migrate, workers, beat, superuser),
        as compose.yaml and stack.yaml write it once: name -> the YAML value, already quoted."""
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

    @property
    def https_env(self) -> dict[str, str]:
        """What the backend is told about HTTPS (secure cookies, HSTS, SSL redirect in its settings):
        compose and the backend CI's `check --deploy` pass the same."""
        return {"DJANGO_HTTPS": "1" if self.tls_on else "0"}

    @property
    def server_names(self) -> str:
        return self.domain if self.domain == "localhost" else f"{self.domain} localhost"

    @property
    def allowed_hosts(self) -> str:
        # "backend" lets Prometheus and health probes inside the network reach the app by name.
        hosts = [self.domain, "localhost", "127.0.0.1", "backend"]
        return ",".join(dict.fromkeys(hosts))

    @property
    def csrf_trusted_origins(self) -> str:
        """The origins a browser posts from, as it sends them: the scheme the proxy serves (https only
        with TLS, where a form posted over http must be refused) and the published port when it is not
        the scheme's own (the proxy passes Host without the port, so Django's same-origin test misses it).
        Only the domain (and 127.0.0.1 for localhost): other origins (a second name, an SPA elsewhere) go in CSRF_TRUSTED_ORIGINS in .env."""
        scheme, port = ("https", self.https_port) if self.tls_on else ("http", self.http_port)
        suffixes = [""] + ([] if port == {"https": 443, "http": 80}[scheme] else [f":{port}"])
        hosts = [self.domain] + (["127.0.0.1"] if self.domain == "localhost" else [])
        return ",".join(f"{scheme}://{host}{suffix}" for host in hosts for suffix in suffixes)
