"""Deploy settings: the Pulumi config of the `hardstack` namespace, validated once, before any resource.

    pulumi config set hardstack:layoutDir ../out/hardstack_demo
    pulumi config set --secret hardstack:dbPassword "$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"

A pydantic-settings source reads the Pulumi config; secret keys set without `--secret` are refused
with the command that sets them right.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Literal, Optional

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from hardstack.catalog import PLACEHOLDERS, SECRETS

NAMESPACE = "hardstack"
# backendSecrets: the app's own secrets (the layout's backend_secrets answer) as one secret JSON object.
SECRET_KEYS = tuple(dict.fromkeys(s.config_key for s in SECRETS.values() if s.config_key)) + ("backendSecrets", "registryPassword")
URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")
ALLOW_ENV = {"allowStandins": "HARDSTACK_ALLOW_STANDINS", "allowUnsetAlerts": "HARDSTACK_ALLOW_UNSET_ALERTS"}


def _json_object(value: Any, example: str) -> dict | None:
    """A config value that is a non-empty JSON object (given as text or already parsed), or None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"must be JSON such as {example}") from None
    if not isinstance(value, dict) or not value:
        raise ValueError(f"must be a JSON object such as {example}")
    return value


class SettingsError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid hardstack deploy settings:\n" + "\n".join(f"  - {p}" for p in problems))


class PulumiConfigSource(PydanticBaseSettingsSource):
    """Values from `pulumi config` (or any mapping, for tests), by camelCase key."""

    def __init__(self, settings_cls, values: dict[str, str], is_secret: Callable[[str], bool]):
        super().__init__(settings_cls)
        self.values = values
        self.is_secret = is_secret

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        key = field.alias or field_name
        return self.values.get(key), key, False

    def __call__(self) -> dict[str, Any]:
        problems = [f"{NAMESPACE}:{key} is set in plain text; set it as a secret: "
                    f"pulumi config set --secret {NAMESPACE}:{key} <value>"
                    for key in SECRET_KEYS if key in self.values and not self.is_secret(key)]
        if problems:
            raise SettingsError(problems)
        return {key: value for key, value in self.values.items() if value is not None}


class DeploySettings(BaseSettings):
    """The `hardstack:*` Pulumi config keys."""

    model_config = SettingsConfigDict(extra="forbid", populate_by_name=True)

    layout_dir: Path = Field(alias="layoutDir", description="Folder written by `hardstack new` (required)")
    public_port: Optional[int] = Field(None, alias="publicPort", description="Host port of the proxy (default: the layout's http_port)")
    bind_address: Optional[str] = Field(None, alias="bindAddress", description="Host address of the proxy (default: the layout's bind_address)")
    image_registry: Optional[str] = Field(None, alias="imageRegistry", description="Registry prefix to pull the app images from; unset: build locally")
    image_digests: Optional[dict[str, str]] = Field(None, alias="imageDigests",
                                                    description='With imageRegistry: JSON {"backend": "sha256:...", "frontend": "sha256:..."}, the digests the images workflow pushed')
    db_superuser_password: SecretStr = Field(alias="dbSuperuserPassword",
                                             description="The database cluster's superuser password, used only by db-setup (secret); read by PostgreSQL when its volume is first initialised")
    db_password: SecretStr = Field(alias="dbPassword", description="Password of the app's database role: rows only (secret)")
    db_owner_password: SecretStr = Field(alias="dbOwnerPassword", description="Password of the database owner role that migrate runs as (secret)")
    db_backup_password: SecretStr = Field(alias="dbBackupPassword", description="Password of the read-only backup role (secret)")
    db_exporter_password: Optional[SecretStr] = Field(None, alias="dbExporterPassword",
                                                      description="Password of the exporter's pg_monitor role (secret); required when the layout has monitoring")
    django_secret_key: SecretStr = Field(alias="djangoSecretKey", description="Django secret key (secret)")
    superuser_password: Optional[SecretStr] = Field(None, alias="superuserPassword", description="Superuser password for the manual superuser step (secret)")
    alert_webhook_url: SecretStr = Field(SecretStr(PLACEHOLDERS["alert_webhook_url"]), alias="alertWebhookUrl",
                                         description="Where Alertmanager posts alerts (secret: a webhook URL carries its token); the layout's alert_receiver=webhook")
    alert_smtp_password: SecretStr = Field(SecretStr(PLACEHOLDERS["alert_smtp_password"]), alias="alertSmtpPassword",
                                           description="SMTP password for alert email (secret); the layout's alert_receiver=email")
    redis_password: Optional[SecretStr] = Field(None, alias="redisPassword",
                                                description="Password of the Celery broker (secret, URL-safe); required when the layout has a celery_app")
    backend_secrets: Optional[dict[str, SecretStr]] = Field(None, alias="backendSecrets",
                                                            description='The app\'s own secrets, one per name of the layout\'s backend_secrets answer (secret JSON): '
                                                                        'pulumi config set --secret hardstack:backendSecrets \'{"SENTRY_DSN": "..."}\'')
    wait_timeout: int = Field(300, alias="waitTimeout", ge=10, le=3600,
                              description="Seconds a new container may take to become healthy before `up` fails (the old one keeps serving)")
    target: Literal["compose", "swarm"] = Field("compose", alias="target",
                                               description="compose: containers on one Docker host (compose.yaml); swarm: services on the engine's Docker Swarm (stack.yaml), deployed from a manager")
    publish_proxy: bool = Field(True, alias="publishProxy",
                                description="swarm: false publishes no port (swarm publishes on every interface) and makes the edge network attachable, for a load balancer container of your own on it")
    allow_standins: bool = Field(False, alias="allowStandins",
                                 description="Deploy even when the layout names stand-in images (hardstack-standin/..., lookalikes for machines without a registry); "
                                             "also `hardstack deploy up --allow-standins`")
    allow_unset_alerts: bool = Field(False, alias="allowUnsetAlerts",
                                     description="Deploy even when the alert receiver is the placeholder (alerts go nowhere); also `hardstack deploy up --allow-unset-alerts`")
    docker_host: Optional[str] = Field(None, alias="dockerHost",
                                       description="The engine to deploy to: ssh://user@host (its host key must already be in your known_hosts: "
                                                   "an unknown or changed key is refused before any change), tcp://host:2376 or unix:///path; "
                                                   "unset: DOCKER_HOST, else the local engine")
    registry_username: Optional[str] = Field(None, alias="registryUsername",
                                             description="With imageRegistry: the user the target's engine pulls the images with")
    registry_password: Optional[SecretStr] = Field(None, alias="registryPassword",
                                                   description="With registryUsername: its password or token (secret); kept in the config store, "
                                                               "given to the docker provider, never written to a file")
    protect_volumes: bool = Field(True, alias="protectVolumes",
                                  description="Keep the volumes of user data (database, uploads, backups, queued tasks) on `destroy`; false lets destroy remove them")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        return (init_settings,)  # the Pulumi config arrives as init kwargs through from_config()

    @field_validator("layout_dir")
    @classmethod
    def _layout(cls, v: Path) -> Path:
        try:
            v = v.expanduser().resolve()
        except RuntimeError:  # ~user of a user that does not exist
            raise ValueError(f"{v}: no such home folder; give the layout's path") from None
        if not (v / "compose.yaml").is_file() or not (v / ".hardstack-answers.json").is_file():
            raise ValueError(f"{v} is not a layout written by `hardstack new` (no compose.yaml/.hardstack-answers.json)")
        return v

    @field_validator("public_port")
    @classmethod
    def _port(cls, v: Optional[int]) -> Optional[int]:
        if v is not None and not 1 <= v <= 65535:
            raise ValueError(f"must be a port between 1 and 65535, got {v}")
        return v

    @field_validator("bind_address")
    @classmethod
    def _ip(cls, v: Optional[str]) -> Optional[str]:
        if v is not None:
            try:
                ipaddress.ip_address(v)
            except ValueError:
                raise ValueError(f"must be an IP address such as 127.0.0.1, got {v!r}") from None
        return v

    @field_validator("image_registry")
    @classmethod
    def _registry(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and (not v or v.startswith(("http://", "https://")) or " " in v):
            raise ValueError(f"must be a registry prefix such as registry.example.com/team (no scheme), got {v!r}")
        return v.rstrip("/") if v else v

    @field_validator("docker_host")
    @classmethod
    def _docker_host(cls, v: Optional[str]) -> Optional[str]:
        if v is None:
            return v
        from urllib.parse import urlsplit

        url = urlsplit(v)
        if url.scheme not in ("ssh", "tcp", "unix") or (url.scheme != "unix" and not url.hostname):
            raise ValueError(f"must be ssh://user@host, tcp://host:2376 or unix:///var/run/docker.sock, got {v!r}")
        return v

    @field_validator("image_digests", mode="before")
    @classmethod
    def _digests(cls, v: Any) -> Any:
        v = _json_object(v, '{"backend": "sha256:<64 hex>"}')
        bad = [f"{k}={d}" for k, d in (v or {}).items() if not re.fullmatch(r"sha256:[0-9a-f]{64}", str(d))]
        if bad:
            raise ValueError(f"not sha256:<64 hex> digests: {', '.join(bad)}")
        return v

    @field_validator("backend_secrets", mode="before")
    @classmethod
    def _app_secrets(cls, v: Any) -> Any:
        v = _json_object(v, '{"SENTRY_DSN": "https://..."}')
        if v is not None and not all(isinstance(x, str) and x for x in v.values()):
            raise ValueError('must hold non-empty strings, such as {"SENTRY_DSN": "https://..."}')
        return v

    @field_validator("redis_password")
    @classmethod
    def _redis(cls, v: Optional[SecretStr]) -> Optional[SecretStr]:
        if v is not None and (len(v.get_secret_value()) < 16 or not URL_SAFE.match(v.get_secret_value())):
            raise ValueError("must be at least 16 URL-safe characters (it sits in redis:// URLs); generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        return v

    @field_validator("db_superuser_password", "db_password", "db_owner_password", "db_backup_password", "db_exporter_password",
                     "django_secret_key", "superuser_password")
    @classmethod
    def _strong(cls, v: Optional[SecretStr]) -> Optional[SecretStr]:
        if v is not None and len(v.get_secret_value()) < 16:
            raise ValueError("is shorter than 16 characters; generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        return v

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook(cls, v: SecretStr) -> SecretStr:
        if not re.fullmatch(r"https?://\S+", v.get_secret_value().strip()):
            raise ValueError("must be an http(s) URL, e.g. https://hooks.example.com/services/T000/B000/XXXX")
        return SecretStr(v.get_secret_value().strip())

    @model_validator(mode="after")
    def _digests_need_registry(self) -> "DeploySettings":
        if self.image_digests and not self.image_registry:
            raise ValueError("imageDigests needs imageRegistry (where the digests were pushed)")
        return self

    @model_validator(mode="after")
    def _registry_login(self) -> "DeploySettings":
        if (self.registry_username is None) != (self.registry_password is None):
            raise ValueError("registryUsername and registryPassword go together: set both, or neither for a registry without a login")
        if self.registry_username is not None and not self.image_registry:
            raise ValueError("registryUsername needs imageRegistry (the registry it logs in to)")
        return self

    @property
    def registry_address(self) -> str | None:
        """The registry host of imageRegistry (registry.example.com:5000 of registry.example.com:5000/team)."""
        return self.image_registry.split("/")[0] if self.image_registry else None

    @model_validator(mode="after")
    def _swarm_has_no_bind_address(self) -> "DeploySettings":
        if self.target == "swarm" and self.bind_address:
            raise ValueError("bindAddress: swarm publishes on every interface of the proxy's node and has no bind address; "
                             "remove hardstack:bindAddress, firewall the port, or set hardstack:publishProxy false")
        return self

    @model_validator(mode="after")
    def _distinct(self) -> "DeploySettings":
        values = {"dbSuperuserPassword": self.db_superuser_password, "dbPassword": self.db_password, "dbOwnerPassword": self.db_owner_password,
                  "dbBackupPassword": self.db_backup_password, "dbExporterPassword": self.db_exporter_password,
                  "djangoSecretKey": self.django_secret_key}
        seen: dict[str, str] = {}
        for key, value in values.items():
            if value is None:
                continue
            if value.get_secret_value() in seen:
                raise ValueError(f"{seen[value.get_secret_value()]} and {key} must differ (each role has a secret of its own)")
            seen[value.get_secret_value()] = key
        return self


def _key(loc: tuple) -> str:
    name = str(loc[0]) if loc else ""
    field = DeploySettings.model_fields.get(name)
    return f"{NAMESPACE}:{field.alias if field and field.alias else name}" if name else NAMESPACE


def from_values(values: dict[str, str], is_secret: Callable[[str], bool]) -> DeploySettings:
    """Validate config values; raise SettingsError naming each bad key and its fix."""
    aliases = [f.alias for f in DeploySettings.model_fields.values()]
    unknown = [k for k in values if k not in aliases]
    problems = [f"{NAMESPACE}:{k}: unknown key; known keys: {', '.join(aliases)}" for k in unknown]
    try:
        data = PulumiConfigSource(DeploySettings, {k: v for k, v in values.items() if k not in unknown}, is_secret)()
    except SettingsError as err:
        raise SettingsError(problems + err.problems) from None
    try:
        settings = DeploySettings(**data)
    except ValidationError as err:
        for e in err.errors():
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] == "missing":
                alias = _key(e["loc"]).split(":", 1)[1]
                secret = " --secret" if alias in SECRET_KEYS else ""
                msg = f"required; set it: pulumi config set{secret} {NAMESPACE}:{alias} <value>"
            problems.append(f"{_key(e['loc'])}: {msg}")
        raise SettingsError(problems) from None
    if problems:
        raise SettingsError(problems)
    return settings


def from_pulumi_config() -> DeploySettings:
    """Read the running program's `hardstack:*` config (called before any resource is declared)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    present = {k.split(":", 1)[1] for k in keys if k.startswith(f"{NAMESPACE}:")}
    config = pulumi.Config(NAMESPACE)
    values = {key: config.get(key) for key in present}
    # `hardstack deploy up --allow-standins / --allow-unset-alerts`: for this run only, not stored in the stack.
    values |= {key: "true" for key, var in ALLOW_ENV.items() if os.environ.get(var) == "1"}
    return from_values({k: v for k, v in values.items() if v is not None},
                       lambda key: runtime_config.is_config_secret(f"{NAMESPACE}:{key}"))
