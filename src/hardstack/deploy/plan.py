"""What the Pulumi program derives from the settings and the layout before it declares any resource,
shared by both targets (deploy/containers.py, deploy/services.py): the resolved compose model, the
services to run and their start order, the secret values, the images to pull, and every refusal that
must come before a resource exists (missing keys, stand-ins, an alert receiver that sends nowhere).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pulumi

from hardstack.answers import Answers, validate
from hardstack.catalog import PLACEHOLDERS, PROTECTED_VOLUMES, STANDIN_PREFIX
from hardstack.deploy.settings import DeploySettings

LABEL = "io.hardstack.stack"
SKIP_DIRS = {".git", "node_modules", "dist", "build", "__pycache__", "secrets", ".venv"}


class ProgramError(RuntimeError):
    pass


def compose_config(layout: Path) -> dict:
    """The layout's compose model as compose resolves it with the layout's .env (runtime/compose.compose_model, the
    checks' reading too); the run-by-hand services of the manual profile (superuser) included."""
    from hardstack.runtime.compose import StackError, compose_model

    try:
        return compose_model(layout, profiles=("manual",))
    except StackError as exc:
        raise ProgramError(str(exc)) from None


def read_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file() and not SKIP_DIRS & set(p.relative_to(root).parts)}


def local_image_id(ref: str) -> str | None:
    from hardstack import engine

    try:
        return engine.api().inspect_image(ref)["Id"]
    except engine.APIError:  # no such image here (NotFound), or a reference the engine cannot parse
        return None


@dataclass
class Plan:
    """What the program derives from settings + layout before declaring any resource."""

    settings: DeploySettings
    answers: Answers
    compose: dict
    prefix: str

    @property
    def services(self) -> dict[str, dict]:
        """The services to run: every service of `up`, and the superuser step when its password is set."""
        wanted = {"superuser"} if self.settings.superuser_password else set()
        return {name: svc for name, svc in self.compose["services"].items() if not svc.get("profiles") or name in wanted}

    def secret_values(self) -> dict[str, pulumi.Output]:
        s = self.settings
        # Each file holds the value it copies (db_password_setup = db_password: the file db-setup reads).
        by_value = {"postgres_password": s.db_superuser_password, "db_password": s.db_password, "db_owner_password": s.db_owner_password,
                    "db_backup_password": s.db_backup_password, "db_exporter_password": s.db_exporter_password,
                    "django_secret_key": s.django_secret_key, "superuser_password": s.superuser_password,
                    "alert_webhook_url": s.alert_webhook_url, "alert_smtp_password": s.alert_smtp_password,
                    "redis_password": s.redis_password}
        app = s.backend_secrets or {}
        by_value |= {file: app.get(name) for name, file in self.answers.app_secret_files.items()}
        specs = self.answers.secret_specs
        out = {name: pulumi.Output.secret(by_value[specs[name].value].get_secret_value())
               for name in self.answers.secrets if by_value.get(specs[name].value) is not None}
        # Secrets the layout reads from host files (tls_mode=files: the certificate and key; acme: a private CA's bundle).
        for name in ("tls_certificate", "tls_certificate_key", "acme_ca_bundle"):
            spec = self.compose.get("secrets", {}).get(name)
            if spec:
                out[name] = pulumi.Output.secret(Path(spec["file"]).read_text())
        return out


def make_plan(settings: DeploySettings, stack: str) -> Plan:
    answers = validate(json.loads((settings.layout_dir / ".hardstack-answers.json").read_text()))
    missing_secrets(settings, answers)
    plan = Plan(settings, answers, compose_config(settings.layout_dir), answers.stack_prefix(stack))
    nothing_silent(plan)
    return plan


def nothing_silent(plan: Plan) -> None:
    """Before any resource: stand-in images and an alert receiver that sends nowhere are refused unless
    the deploy says it knows (allowStandins, allowUnsetAlerts)."""
    settings, problems = plan.settings, []
    standins = sorted({svc["image"] for svc in plan.services.values() if svc["image"].startswith(STANDIN_PREFIX)})
    if standins and not settings.allow_standins:
        problems.append(f"the layout names stand-in images ({', '.join(standins)}), lookalikes built for machines without a registry, "
                        "not the images the answers name: remove the *_IMAGE lines naming hardstack-standin/ from the layout's .env, "
                        "or deploy them knowingly: hardstack deploy up --allow-standins (pulumi config set hardstack:allowStandins true)")
    receiver = {"webhook": ("alert_webhook_url", "alertWebhookUrl"), "email": ("alert_smtp_password", "alertSmtpPassword")}
    if plan.answers.enable_monitoring and plan.answers.alert_receiver in receiver and not settings.allow_unset_alerts:
        name, key = receiver[plan.answers.alert_receiver]
        if getattr(settings, name).get_secret_value() == PLACEHOLDERS[name]:
            problems.append(f"hardstack:{key} is unset: alerts would go nowhere. Set it: pulumi config set --secret hardstack:{key} <value>, "
                            "or deploy knowingly: hardstack deploy up --allow-unset-alerts (pulumi config set hardstack:allowUnsetAlerts true)")
    if problems:
        raise ProgramError("\n".join(problems))


def missing_secrets(settings: DeploySettings, answers: Answers) -> None:
    """The config keys this layout needs beyond the always-required ones; checked before any resource."""
    problems = []
    if answers.enable_monitoring and settings.db_exporter_password is None:
        problems.append("hardstack:dbExporterPassword: required (the layout's postgres-exporter logs in as a pg_monitor role of its own); set it: "
                        "pulumi config set --secret hardstack:dbExporterPassword \"$(python -c 'import secrets; print(secrets.token_urlsafe(32))')\"")
    if answers.uses_redis and settings.redis_password is None:
        problems.append("hardstack:redisPassword: required (the layout has a celery_app and its Redis broker); set it: "
                        "pulumi config set --secret hardstack:redisPassword \"$(python -c 'import secrets; print(secrets.token_urlsafe(32))')\"")
    given = settings.backend_secrets or {}
    missing = [name for name in answers.backend_secrets if name not in given]
    unknown = [name for name in given if name not in answers.backend_secrets]
    if missing:
        problems.append(f"hardstack:backendSecrets: no value for {', '.join(missing)} (the layout's backend_secrets); set them: "
                        f"pulumi config set --secret hardstack:backendSecrets '{{\"{missing[0]}\": \"...\"}}'")
    if unknown:
        problems.append(f"hardstack:backendSecrets: {', '.join(unknown)} is not in the layout's backend_secrets ({' '.join(answers.backend_secrets) or 'none'}); "
                        "remove it, or add it to the answer and regenerate")
    if problems:
        raise ProgramError("\n".join(problems))


def build_images(plan: Plan) -> None:
    """`docker compose build` of the layout's own images (BuildKit cache: quick when nothing changed).
    Not in preview, which shows the images as they are."""
    built = {svc["image"]: name for name, svc in plan.services.items() if "build" in svc}
    if not built or plan.settings.image_registry or pulumi.runtime.is_dry_run():
        return
    pulumi.log.info(f"building {', '.join(built.values())} (docker compose build)")
    proc = subprocess.run(["docker", "compose", "-p", plan.compose["name"], "build", *built.values()],
                          cwd=plan.settings.layout_dir, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ProgramError(f"docker compose build failed:\n{proc.stderr[-3000:]}")


def registry_refs(plan: Plan) -> dict[str, str]:
    """image -> what to pull instead, with hardstack:imageRegistry: `<registry>/<part>@<digest>`, the name
    and digest the images workflow pushes. Checked before any resource is declared."""
    registry, digests = plan.settings.image_registry, plan.settings.image_digests or {}
    if not registry:
        return {}
    refs, missing = {}, []
    for svc in plan.services.values():
        if "build" in svc:
            part = plan.answers.image_part(svc["image"])
            if part in digests:
                refs[svc["image"]] = f"{registry}/{part}@{digests[part]}"
            else:
                missing.append(part)
    if missing:
        raise ProgramError(f"hardstack:imageDigests has no digest for {', '.join(sorted(set(missing)))}; set the digests "
                           'the images workflow pushed: pulumi config set hardstack:imageDigests \'{"backend": "sha256:..."}\'')
    return refs


def volume_options(settings: DeploySettings, name: str) -> pulumi.ResourceOptions:
    """Volumes of user data (catalog.PROTECTED_VOLUMES) outlive `destroy` unless protectVolumes is false,
    as they outlive `hardstack down` and the swarm removal."""
    return pulumi.ResourceOptions(retain_on_delete=settings.protect_volumes and name in PROTECTED_VOLUMES)


def needs(services: dict[str, dict], name: str) -> list[str]:
    """The services `name` starts after: compose's depends_on, and the superuser step needs the tables."""
    return list(services[name].get("depends_on") or {}) + (["migrate"] if name == "superuser" else [])


def start_order(services: dict[str, dict]) -> list[str]:
    """compose.yaml's services, each after those it needs (the one start order of both deploy targets)."""
    order: list[str] = []

    def visit(name: str, seen: tuple = ()) -> None:
        if name in order or name not in services:
            return
        if name in seen:
            raise ValueError(f"depends_on cycle through {name}")
        for dep in needs(services, name):
            visit(dep, seen + (name,))
        order.append(name)

    for name in services:
        visit(name)
    return order
