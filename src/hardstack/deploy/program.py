"""The Pulumi program: deploy a layout written by `hardstack new` to a Docker host.

Resources mirror the layout's compose.yaml, read through `docker compose config` so that no
hardening rule is written twice: the same users, read-only root filesystems, tmpfs, dropped
capabilities, no-new-privileges, limits, healthchecks, networks and start order. What differs:
secrets come from the Pulumi config (as files in volumes, never env), bind-mounted folders become
volumes filled with their files (so an ssh:// Docker host works too), and the proxy's published
address comes from `publicPort`/`bindAddress`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from hardstack.answers import Answers, validate
from hardstack.catalog import SECRETS
from hardstack.deploy.docker import BuiltImage, Container, FilesVolume, Network, PulledImage, Volume
from hardstack.deploy.settings import DeploySettings

SKIP_DIRS = {".git", "node_modules", "dist", "build", "__pycache__", "secrets", ".venv"}


def compose_config(layout: Path) -> dict:
    """The layout's compose model, fully resolved (the layout's .env is read by compose)."""
    out = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=layout,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not SKIP_DIRS & set(rel.parts):
            h.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def build_digest(build: dict) -> str:
    """What an image is built from: the context, or in sibling mode only the app, the layout's
    Dockerfile folder and deploy files (the context is the parent folder that holds them all)."""
    context, args = Path(build["context"]), build.get("args") or {}
    if "APP_DIR" not in args:
        return tree_digest(context)
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    return digest_of([tree_digest(context / args["APP_DIR"]), tree_digest(dockerfile.parent)])


def digest_of(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def read_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


@dataclass
class Plan:
    """What the program derives from settings + layout before declaring any resource."""

    settings: DeploySettings
    answers: Answers
    compose: dict
    prefix: str

    def secret_values(self) -> dict[str, pulumi.Output]:
        s = self.settings
        # Each file holds the value of the generated secret it copies (postgres_password = db_password).
        by_value = {"db_password": s.db_password, "django_secret_key": s.django_secret_key, "superuser_password": s.superuser_password}
        out = {name: pulumi.Output.secret(by_value[secret.value].get_secret_value())
               for name, secret in SECRETS.items() if by_value[secret.value] is not None}
        for name in ("tls_certificate", "tls_certificate_key"):
            spec = self.compose.get("secrets", {}).get(name)
            if spec:
                out[name] = pulumi.Output.secret(Path(spec["file"]).read_text())
        return out


def make_plan(settings: DeploySettings, stack: str) -> Plan:
    answers = validate(json.loads((settings.layout_dir / ".hardstack-answers.json").read_text()))
    return Plan(settings, answers, compose_config(settings.layout_dir), f"{answers.compose_project}-{stack}")


def _uid(service: dict) -> int:
    return int(str(service["user"]).split(":")[0])  # every service of the layout names its numeric user


def deploy(plan: Plan) -> dict[str, Any]:
    """Declare every resource; return the stack outputs."""
    settings, compose, prefix = plan.settings, plan.compose, plan.prefix
    layout = settings.layout_dir
    services = {name: svc for name, svc in compose["services"].items() if not svc.get("profiles")}
    protect = settings.protect_volumes

    networks = {name: Network(f"net-{name}", f"{prefix}-{name}", prefix, bool(spec.get("internal")))
                for name, spec in compose.get("networks", {}).items() if name != "default"}
    volumes = {name: Volume(f"vol-{name}", f"{prefix}-{name}", prefix, opts=pulumi.ResourceOptions(protect=protect))
               for name in compose.get("volumes", {})}

    images: dict[str, pulumi.Resource] = {}
    for name, svc in services.items():
        ref = svc["image"]
        if ref in images:
            continue
        if "build" in svc and not settings.image_registry:
            images[ref] = BuiltImage(f"image-{name}", str(layout), compose["name"], name, ref, build_digest(svc["build"]))
        else:
            pulled = f"{settings.image_registry}/{ref}" if "build" in svc else ref
            images[ref] = PulledImage(f"image-{name}", pulled)
    helper = images[services["backend"]["image"]].image_id

    secret_values = plan.secret_values()
    containers: dict[str, Container] = {}
    for name in _start_order(services):
        svc = services[name]
        mounts = []
        for vol in svc.get("volumes", []):
            if vol["type"] == "volume":
                mounts.append({"source": volumes[vol["source"]].name, "target": vol["target"], "read_only": bool(vol.get("read_only"))})
            elif vol["type"] == "bind":
                files = read_tree(Path(vol["source"]))
                fv = FilesVolume(f"files-{name}-{Path(vol['target']).name}", f"{prefix}-{name}-{Path(vol['target']).name}",
                                 prefix, files, digest_of(files),
                                 _uid(svc), "0444", helper)
                mounts.append({"source": fv.name, "target": vol["target"], "read_only": True})
        if svc.get("secrets"):
            wanted = {s["source"]: secret_values[s["source"]] for s in svc["secrets"] if s["source"] in secret_values}
            files = pulumi.Output.all(**wanted)
            digest = files.apply(digest_of)
            sv = FilesVolume(f"secrets-{name}", f"{prefix}-{name}-secrets", prefix, files, digest, _uid(svc), "0400", helper, secret=True)
            mounts.append({"source": sv.name, "target": "/run/secrets", "read_only": True})
        ports = []
        for port in svc.get("ports", []):
            ports.append({"host_ip": settings.bind_address or port.get("host_ip", "127.0.0.1"),
                          "published": settings.public_port or int(port["published"]), "target": int(port["target"])})
        deps = [containers[d] for d in (svc.get("depends_on") or {}) if d in containers]
        image = images[svc["image"]]
        one_shot = str(svc.get("restart", "no")) == "no"
        props = {
            "name": f"{prefix}-{name}", "alias": name, "stack": prefix, "image": image.image_id,
            "user": str(svc["user"]), "restart": "no" if one_shot else str(svc["restart"]),
            "read_only": bool(svc.get("read_only")), "cap_drop": list(svc.get("cap_drop") or []),
            "security_opt": list(svc.get("security_opt") or []), "logging": svc.get("logging") or {"driver": "json-file"},
            "env": {k: str(v) for k, v in (svc.get("environment") or {}).items()},
            "command": svc.get("command"), "entrypoint": svc.get("entrypoint"),
            "networks": [networks[n].name for n in (svc.get("networks") or {})],
            "tmpfs": svc.get("tmpfs") or [], "mounts": mounts, "ports": ports,
            "memory": int(svc.get("mem_limit") or 0), "cpus": float(svc.get("cpus") or 0), "pids": int(svc.get("pids_limit") or 0),
            "shm_size": svc.get("shm_size"), "healthcheck": _healthcheck(svc.get("healthcheck")),
            "one_shot": one_shot, "wait_timeout": 300,
        }
        containers[name] = Container(f"container-{name}", props,
                                     opts=pulumi.ResourceOptions(depends_on=deps, delete_before_replace=True))

    proxy_port = next(iter(services["proxy"].get("ports", [])), {})
    host = settings.bind_address or proxy_port.get("host_ip", "127.0.0.1")
    port = settings.public_port or int(proxy_port.get("published", plan.answers.http_port))
    return {
        "url": f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/",
        "imageDigests": {ref: img.image_id for ref, img in images.items()},
        "containers": {name: c.name for name, c in containers.items()},
    }


def _healthcheck(hc: dict | None) -> dict | None:
    if not hc or hc.get("disable"):
        return None
    return {k: hc.get(k) for k in ("test", "interval", "timeout", "start_period", "retries")}


def _start_order(services: dict[str, dict]) -> list[str]:
    order: list[str] = []

    def visit(name: str, seen: tuple = ()) -> None:
        if name in order or name not in services:
            return
        if name in seen:
            raise ValueError(f"depends_on cycle through {name}")
        for dep in services[name].get("depends_on") or {}:
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
    for key, value in deploy(plan).items():
        pulumi.export(key, value)
