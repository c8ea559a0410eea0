"""The Pulumi program's compose target (the default): the layout's compose.yaml as pulumi-docker
Container, Network and Volume resources on one Docker host.

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
- the volumes of user data are kept on `destroy` unless hardstack:protectVolumes is false (plan.volume_options).
- kreuzwerker's docker_container has no pids limit: the limits are exported (`pidsLimits`) and
  `hardstack deploy up` applies them with `docker update` after each up (run.apply_pids_limits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_docker as docker

from hardstack.catalog import SERVICES
from hardstack.checks.compose import duration_seconds
from hardstack.deploy.plan import LABEL, Plan, ProgramError, local_image_id, needs, read_tree, registry_refs, start_order, volume_options

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


def deploy_containers(plan: Plan) -> dict[str, Any]:
    """Declare every resource of the compose target; return the stack outputs."""
    settings, compose, prefix = plan.settings, plan.compose, plan.prefix
    services = plan.services
    pulled = registry_refs(plan)  # before any resource: a missing digest creates nothing
    labels = [docker.ContainerLabelArgs(label=LABEL, value=prefix)]

    networks = {name: docker.Network(f"net-{name}", name=f"{prefix}-{name}", internal=bool(spec.get("internal")),
                                     labels=[docker.NetworkLabelArgs(label=LABEL, value=prefix)])
                for name, spec in compose.get("networks", {}).items() if name != "default"}
    volumes = {name: docker.Volume(f"vol-{name}", name=f"{prefix}-{name}",
                                   labels=[docker.VolumeLabelArgs(label=LABEL, value=prefix)], opts=volume_options(settings, name))
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
