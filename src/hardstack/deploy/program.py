"""The Pulumi program: deploy a layout written by `hardstack new` to a Docker host, on pulumi-docker.

Resources mirror the layout's compose.yaml, read through `docker compose config` so that no
hardening rule is written twice: the same users, read-only root filesystems, tmpfs, dropped
capabilities, no-new-privileges, limits, healthchecks, networks and start order. What differs:

- secrets come from the Pulumi config and configs from the layout's bind-mounted folders; both
  reach a service as files in a volume of its own, uploaded by a "files" container that is created
  and never started (the service's root filesystem is read-only, so nothing can be uploaded into
  it). Never env, argv or labels; names never derive from values.
- a service without published ports or a single-writer data directory (backend, frontend, the exporter) is replaced
  start-before-stop: the new container is created with an automatic name and must become healthy
  before the old one is removed, while the proxy finds both through Docker's DNS. A new version that
  never gets healthy fails `up` and the old one keeps serving. The proxy, the db and Prometheus
  (a host port, a data directory one process may own) are stopped first.
- the data volumes are kept on `destroy` unless hardstack:protectVolumes is false.
- kreuzwerker's docker_container has no pids limit: the limits are exported (`pidsLimits`) and
  `hardstack deploy up` applies them with `docker update` after each up (run.apply_pids_limits).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_docker as docker

from hardstack.answers import Answers, validate
from hardstack.catalog import PLACEHOLDERS, SERVICES, STANDIN_PREFIX
from hardstack.checks.compose import duration_seconds
from hardstack.deploy.settings import DeploySettings

LABEL = "io.hardstack.stack"
SKIP_DIRS = {".git", "node_modules", "dist", "build", "__pycache__", "secrets", ".venv"}


class ProgramError(RuntimeError):
    pass


def compose_config(layout: Path) -> dict:
    """The layout's compose model, fully resolved (the layout's .env is read by compose)."""
    out = subprocess.run(["docker", "compose", "--profile", "manual", "config", "--format", "json"], cwd=layout,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def read_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file() and not SKIP_DIRS & set(p.relative_to(root).parts)}


def local_image_id(ref: str) -> str | None:
    proc = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", ref], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


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
        for name in ("tls_certificate", "tls_certificate_key"):
            spec = self.compose.get("secrets", {}).get(name)
            if spec:
                out[name] = pulumi.Output.secret(Path(spec["file"]).read_text())
        return out


def make_plan(settings: DeploySettings, stack: str) -> Plan:
    answers = validate(json.loads((settings.layout_dir / ".hardstack-answers.json").read_text()))
    missing_secrets(settings, answers)
    plan = Plan(settings, answers, compose_config(settings.layout_dir), f"{answers.compose_project}-{stack}")
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


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


def _mb(value: Any) -> int:
    return max(1, int(value or 0) // 2**20)


def _tmpfs(entries: list[str]) -> dict[str, str]:
    return {path: options for path, _, options in (e.partition(":") for e in entries)}


def _healthcheck(hc: dict | None) -> docker.ContainerHealthcheckArgs | None:
    if not hc or hc.get("disable"):
        return None
    return docker.ContainerHealthcheckArgs(tests=hc["test"], interval=hc.get("interval"), timeout=hc.get("timeout"),
                                           start_period=hc.get("start_period"), retries=hc.get("retries"))


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
            part = svc["image"].split(":")[0].removeprefix(f"{plan.answers.compose_project}-")
            if part in digests:
                refs[svc["image"]] = f"{registry}/{part}@{digests[part]}"
            else:
                missing.append(part)
    if missing:
        raise ProgramError(f"hardstack:imageDigests has no digest for {', '.join(sorted(set(missing)))}; set the digests "
                           'the images workflow pushed: pulumi config set hardstack:imageDigests \'{"backend": "sha256:..."}\'')
    return refs


def image_of(plan: Plan, name: str, svc: dict, pulled: dict[str, str]) -> docker.RemoteImage:
    ref = svc["image"]
    if ref in pulled:
        return docker.RemoteImage(f"image-{name}", name=pulled[ref], keep_locally=True)
    if "build" in svc:
        # A local build: a new image id (same tag) replaces the resource, and so the containers using it.
        return docker.RemoteImage(f"image-{name}", name=ref, keep_locally=True,
                                  triggers={"imageId": local_image_id(ref) or "not built yet"})
    return docker.RemoteImage(f"image-{name}", name=ref, keep_locally=True)


@dataclass
class Files:
    """A service's config folders and secrets, each in a volume of its own, filled by one files container."""

    mounts: list[docker.ContainerVolumeArgs]
    filler: docker.Container | None


def files_for(plan: Plan, name: str, svc: dict, image: docker.RemoteImage, secrets: dict[str, pulumi.Output]) -> Files:
    prefix = plan.prefix
    labels = [docker.VolumeLabelArgs(label=LABEL, value=prefix)]
    mounts, staging, uploads = [], [], []
    for vol in (v for v in svc.get("volumes", []) if v["type"] == "bind"):
        slug = _slug(vol["target"])
        volume = docker.Volume(f"files-{name}-{slug}", name=f"{prefix}-{name}-{slug}", labels=labels)
        staging.append(docker.ContainerVolumeArgs(volume_name=volume.name, container_path=f"/hardstack/{slug}"))
        mounts.append(docker.ContainerVolumeArgs(volume_name=volume.name, container_path=vol["target"], read_only=True))
        uploads += [docker.ContainerUploadArgs(file=f"/hardstack/{slug}/{rel}", content=content, permissions="0444")
                    for rel, content in read_tree(Path(vol["source"])).items()]
    wanted = [s["source"] for s in svc.get("secrets", []) if s["source"] in secrets]
    owner = ""
    if wanted:
        volume = docker.Volume(f"secrets-{name}", name=f"{prefix}-{name}-secrets", labels=labels)
        staging.append(docker.ContainerVolumeArgs(volume_name=volume.name, container_path="/hardstack/secrets"))
        mounts.append(docker.ContainerVolumeArgs(volume_name=volume.name, container_path="/run/secrets", read_only=True))
        # 0400 and owned by the service's user, as compose and swarm deliver them: the files container
        # (root, no network) hands them over; upload owners would need the user in the image's passwd.
        uploads += [docker.ContainerUploadArgs(file=f"/hardstack/secrets/{source}", content=secrets[source], permissions="0400")
                    for source in wanted]
        owner = str(svc.get("user") or "0:0")
    if not uploads:
        return Files(mounts, None)
    hand_over = [f"chown -R {owner} /hardstack/secrets && chmod 0500 /hardstack/secrets && chmod 0400 /hardstack/secrets/*"] if owner else None
    filler = docker.Container(
        f"{prefix}-{name}-files", image=image.image_id, start=bool(owner), attach=bool(owner), logs=bool(owner), must_run=False,
        network_mode="none", user="0:0", entrypoints=["/bin/sh", "-c"] if owner else ["/bin/false"], command=hand_over,
        volumes=staging, uploads=uploads, labels=[docker.ContainerLabelArgs(label=LABEL, value=prefix)],
        opts=pulumi.ResourceOptions(delete_before_replace=False, additional_secret_outputs=["uploads"]))
    return Files(mounts, filler)


def one_shot_succeeded(name: str, container: docker.Container) -> pulumi.Output[str]:
    """The container's id once it exited 0; fails the update (and so everything after it) otherwise."""

    def verdict(args: list) -> str:
        ident, code, logs = args
        if code not in (0, None):
            raise ProgramError(f"{name} exited {code}; its last output:\n{(logs or '')[-2000:]}\n"
                               f"Fix the cause, then run `pulumi up --replace <urn of {name}>` or deploy a new image.")
        return ident

    return pulumi.Output.all(container.id, container.exit_code, container.container_logs).apply(verdict)


def deploy(plan: Plan) -> dict[str, Any]:
    """Declare every resource; return the stack outputs."""
    settings, compose, prefix = plan.settings, plan.compose, plan.prefix
    services = plan.services
    pulled = registry_refs(plan)  # before any resource: a missing digest creates nothing
    labels = [docker.ContainerLabelArgs(label=LABEL, value=prefix)]

    networks = {name: docker.Network(f"net-{name}", name=f"{prefix}-{name}", internal=bool(spec.get("internal")),
                                     labels=[docker.NetworkLabelArgs(label=LABEL, value=prefix)])
                for name, spec in compose.get("networks", {}).items() if name != "default"}
    keep = pulumi.ResourceOptions(retain_on_delete=settings.protect_volumes)
    volumes = {name: docker.Volume(f"vol-{name}", name=f"{prefix}-{name}",
                                   labels=[docker.VolumeLabelArgs(label=LABEL, value=prefix)], opts=keep)
               for name in compose.get("volumes", {})}

    images: dict[str, docker.RemoteImage] = {}
    for name, svc in services.items():
        if svc["image"] not in images:
            images[svc["image"]] = image_of(plan, name, svc, pulled)

    secrets = plan.secret_values()
    containers: dict[str, docker.Container] = {}
    after: dict[str, pulumi.Output] = {}  # one-shot steps that must have exited 0
    for name in start_order(services):
        svc = services[name]
        image = images[svc["image"]]
        files = files_for(plan, name, svc, image, secrets)
        mounts = [docker.ContainerVolumeArgs(volume_name=volumes[v["source"]].name, container_path=v["target"],
                                             read_only=bool(v.get("read_only")))
                  for v in svc.get("volumes", []) if v["type"] == "volume"] + files.mounts
        one_shot = str(svc.get("restart", "no")) == "no"
        ports = [docker.ContainerPortArgs(internal=int(p["target"]), external=settings.public_port or int(p["published"]),
                                          ip=settings.bind_address or p.get("host_ip", "127.0.0.1"))
                 for p in svc.get("ports", [])]
        # Start-before-stop is safe only without a host port or a data directory one process may own.
        stop_first = bool(ports) or (name in SERVICES and SERVICES[name].stop_first)
        required = needs(services, name)
        deps = [containers[d] for d in required if d in containers]
        marks = labels + [docker.ContainerLabelArgs(label=f"io.hardstack.after.{d}", value=after[d]) for d in required if d in after]
        # New files restart the service, except a data service's secrets: PostgreSQL reads its password
        # file only when the volume is first initialised (rotation: run.refuse_superuser_password_change).
        only_secrets = not any(v["type"] == "bind" for v in svc.get("volumes", []))
        if files.filler is not None and not (stop_first and only_secrets):
            # The filler's id once it handed the secrets over (exit 0): a failed hand-over fails the update here.
            marks.append(docker.ContainerLabelArgs(label="io.hardstack.files", value=one_shot_succeeded(f"{name} files", files.filler)))
        memory = _mb(svc.get("mem_limit"))
        container = docker.Container(
            f"{prefix}-{name}", image=image.image_id, user=str(svc["user"]),
            read_only=bool(svc.get("read_only")),
            capabilities=docker.ContainerCapabilitiesArgs(drops=list(svc.get("cap_drop") or []), adds=list(svc.get("cap_add") or [])),
            security_opts=list(svc.get("security_opt") or []),
            memory=memory, memory_swap=memory, cpus=str(float(svc.get('cpus') or 0)),  # as the provider reads it back ("1.0"); swap = memory
            shm_size=_mb(svc["shm_size"]) if svc.get("shm_size") else None,
            restart="no" if one_shot else str(svc["restart"]),
            log_driver=(svc.get("logging") or {}).get("driver", "json-file"),
            log_opts={k: str(v) for k, v in ((svc.get("logging") or {}).get("options") or {}).items()},
            tmpfs=_tmpfs(svc.get("tmpfs") or []),
            envs=[f"{k}={v}" for k, v in sorted((svc.get("environment") or {}).items())],
            command=svc.get("command"), entrypoints=svc.get("entrypoint"),
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=networks[n].name, aliases=[name])
                               for n in (svc.get("networks") or {})],
            volumes=mounts, ports=ports, healthcheck=_healthcheck(svc.get("healthcheck")),
            wait=not one_shot, wait_timeout=settings.wait_timeout, must_run=not one_shot,
            attach=one_shot, logs=one_shot, destroy_grace_seconds=int(duration_seconds(svc.get("stop_grace_period"))), labels=marks,
            opts=pulumi.ResourceOptions(depends_on=deps + ([files.filler] if files.filler else []),
                                        delete_before_replace=stop_first))
        containers[name] = container
        if one_shot:
            after[name] = one_shot_succeeded(name, container)

    proxy_port = next(iter(services["proxy"].get("ports", [])), {})
    host = settings.bind_address or proxy_port.get("host_ip", "127.0.0.1")
    port = settings.public_port or int(proxy_port.get("published", plan.answers.http_port))
    return {
        "url": f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/",
        "imageDigests": {ref: img.image_id for ref, img in images.items()},
        "containers": {name: c.name for name, c in containers.items()},
        "pidsLimits": {name: int(svc["pids_limit"]) for name, svc in services.items() if svc.get("pids_limit")},
        # Compared by `hardstack deploy up` before the next up: PostgreSQL keeps the superuser password
        # it was initialised with (the roles' passwords db-setup sets on each run).
        "dbSuperuserPassword": secrets["postgres_password"],
    }


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


def program() -> None:
    """Entry point for `pulumi up` (pulumi/__main__.py) and the inline Automation API run."""
    from hardstack.deploy.settings import from_pulumi_config

    settings = from_pulumi_config()  # fails here, before any resource, on bad config
    plan = make_plan(settings, pulumi.get_stack())
    build_images(plan)
    if settings.target == "swarm":
        from hardstack.deploy.swarm import deploy_swarm

        outputs = deploy_swarm(plan)
    else:
        outputs = deploy(plan)
    for key, value in outputs.items():
        pulumi.export(key, value)
