"""Docker resources for Pulumi, as dynamic providers driving the `docker` CLI.

Why not pulumi-docker: its resource plugin is a Go program that nothing reachable here ships
prebuilt, and its Go modules are not served by the module proxy these machines reach, so it cannot
be built either (scripts/pulumi-toolchain). The `docker` CLI is on every machine that runs the
stack, honours DOCKER_HOST (local socket or ssh://) and builds with the layout's compose file, so
these few providers cover what the deploy needs: networks, volumes (plain, or filled with files
such as configs and secrets), images, and hardened containers that are waited for until healthy.

Secrets reach containers only as files in a volume filled through stdin of a short-lived helper
container: never in argv, env or labels; their inputs stay Pulumi secrets (encrypted in state).
"""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import tarfile
import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

LABEL = "io.hardstack.stack"


class DockerError(RuntimeError):
    pass


def docker(*args: str, stdin: bytes | None = None, timeout: int = 1800, env: dict | None = None, cwd: str | None = None) -> str:
    proc = subprocess.run(["docker", *args], input=stdin, capture_output=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd)
    if proc.returncode != 0:
        raise DockerError(f"docker {' '.join(args[:3])} ...: {proc.stderr.decode(errors='replace').strip()[-1500:]}")
    return proc.stdout.decode(errors="replace").strip()


def exists(kind: str, name: str) -> bool:
    return subprocess.run(["docker", kind, "inspect", name], capture_output=True).returncode == 0


def remove(kind: str, ident: str) -> None:
    """Remove a network, volume or container if it is still there (deletes are idempotent)."""
    if exists(kind, ident):
        docker(*{"network": ["network", "rm"], "volume": ["volume", "rm", "-f"], "container": ["rm", "-f", "-v"]}[kind], ident)


class _Replacing(ResourceProvider):
    """Providers whose resources are replaced on any input change (no in-place updates)."""

    ignored: tuple[str, ...] = ()

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        keys = {k for k in set(olds) | set(news) if not k.startswith("__") and k not in self.ignored}
        changed = sorted(k for k in keys if olds.get(k) != news.get(k))
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)


# ---- networks and volumes ---------------------------------------------------------------

class NetworkProvider(_Replacing):
    def create(self, props: dict) -> CreateResult:
        args = ["network", "create", "--label", f"{LABEL}={props['stack']}"]
        if props.get("internal"):
            args.append("--internal")
        if not exists("network", props["name"]):
            docker(*args, props["name"])
        return CreateResult(props["name"], props)

    def delete(self, _id: str, props: dict) -> None:
        remove("network", _id)


class Network(Resource):
    name: pulumi.Output[str]

    def __init__(self, resource_name: str, name: str, stack: str, internal: bool, opts=None):
        super().__init__(NetworkProvider(), resource_name, {"name": name, "stack": stack, "internal": internal}, opts)


class VolumeProvider(_Replacing):
    def create(self, props: dict) -> CreateResult:
        if not exists("volume", props["name"]):
            docker("volume", "create", "--label", f"{LABEL}={props['stack']}", props["name"])
        return CreateResult(props["name"], props)

    def delete(self, _id: str, props: dict) -> None:
        remove("volume", _id)


class Volume(Resource):
    name: pulumi.Output[str]

    def __init__(self, resource_name: str, name: str, stack: str, opts=None):
        super().__init__(VolumeProvider(), resource_name, {"name": name, "stack": stack}, opts)


def _tar(files: dict[str, str], uid: int, mode: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        dirs = sorted({os.path.dirname(p) for p in files if os.path.dirname(p)})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o755, uid, uid
            tar.addfile(info)
        for path, content in sorted(files.items()):
            data = content.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.uid, info.gid = len(data), mode, uid, uid
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class FilesVolumeProvider(ResourceProvider):
    """A volume holding the given files, owned by `uid`, with `mode` (0400 for secrets, 0444 configs)."""

    def create(self, props: dict) -> CreateResult:
        name = f"{props['base']}-{props['digest'][:12]}"
        if not exists("volume", name):
            docker("volume", "create", "--label", f"{LABEL}={props['stack']}", name)
        # The helper extracts the archive from stdin as root (it must chown), with no network.
        docker("run", "--rm", "-i", "--network", "none", "--user", "0", "--entrypoint", "tar",
               "-v", f"{name}:/dst", props["helper_image"], "-x", "-p", "--same-owner", "-C", "/dst",
               stdin=_tar(props["files"], int(props["uid"]), int(props["mode"], 8)))
        return CreateResult(name, {"name": name, "digest": props["digest"], "stack": props["stack"], "base": props["base"],
                                   "uid": props["uid"], "mode": props["mode"], "helper_image": props["helper_image"]})

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        changed = [k for k in ("digest", "uid", "mode", "base") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=False)

    def delete(self, _id: str, props: dict) -> None:
        remove("volume", _id)


class FilesVolume(Resource):
    name: pulumi.Output[str]
    digest: pulumi.Output[str]

    def __init__(self, resource_name: str, base: str, stack: str, files: Any, digest: str, uid: int, mode: str,
                 helper_image: Any, secret: bool = False, opts=None):
        if secret:
            files = pulumi.Output.secret(files)
        props = {"base": base, "stack": stack, "files": files, "digest": digest, "uid": uid, "mode": mode,
                 "helper_image": helper_image, "name": None}
        super().__init__(FilesVolumeProvider(), resource_name, props, opts)


# ---- images -----------------------------------------------------------------------------

class BuiltImageProvider(ResourceProvider):
    """An image built by `docker compose build SERVICE` in the layout (BuildKit secrets, CA bundle)."""

    def _build(self, props: dict) -> dict:
        docker("compose", "-p", props["project"], "build", props["service"], cwd=props["layout"], timeout=3600)
        image_id = docker("image", "inspect", "-f", "{{.Id}}", props["tag"])
        return {**props, "image_id": image_id}

    def create(self, props: dict) -> CreateResult:
        return CreateResult(props["tag"], self._build(props))

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        changed = [k for k in ("context_digest", "tag", "service") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], stables=["tag"])

    def update(self, _id: str, olds: dict, news: dict) -> UpdateResult:
        return UpdateResult(self._build(news))

    def delete(self, _id: str, props: dict) -> None:
        pass  # images stay in the engine's cache; `docker image prune` reclaims them


class BuiltImage(Resource):
    image_id: pulumi.Output[str]

    def __init__(self, resource_name: str, layout: str, project: str, service: str, tag: str, context_digest: str, opts=None):
        props = {"layout": layout, "project": project, "service": service, "tag": tag,
                 "context_digest": context_digest, "image_id": None}
        super().__init__(BuiltImageProvider(), resource_name, props, opts)


class PulledImageProvider(_Replacing):
    ignored = ("image_id",)

    def create(self, props: dict) -> CreateResult:
        if not exists("image", props["ref"]):
            docker("pull", "-q", props["ref"])
        return CreateResult(props["ref"], {**props, "image_id": docker("image", "inspect", "-f", "{{.Id}}", props["ref"])})

    def delete(self, _id: str, props: dict) -> None:
        pass


class PulledImage(Resource):
    image_id: pulumi.Output[str]

    def __init__(self, resource_name: str, ref: str, opts=None):
        super().__init__(PulledImageProvider(), resource_name, {"ref": ref, "image_id": None}, opts)


# ---- containers -------------------------------------------------------------------------

def _healthcheck_args(hc: dict | None) -> list[str]:
    if not hc:
        return []
    test = hc["test"]
    # The docker CLI takes one shell command (CMD-SHELL); quote an exec-form CMD into it.
    cmd = shlex.join(test[1:]) if test[0] == "CMD" else test[1]
    args = ["--health-cmd", cmd]
    for key, flag in (("interval", "--health-interval"), ("timeout", "--health-timeout"),
                      ("start_period", "--health-start-period"), ("retries", "--health-retries")):
        if hc.get(key) is not None:
            value = hc[key]
            args += [flag, str(int(value) if isinstance(value, float) else value)]
    return args


class ContainerProvider(_Replacing):
    """A container created with the layout's hardening, started, and waited for.

    Long-running containers must become healthy; one-shot jobs (migrate) must exit 0.
    """

    ignored = ("container_id",)

    def create(self, props: dict) -> CreateResult:
        name = props["name"]
        remove("container", name)
        networks = props["networks"]
        args = ["create", "--name", name, "--label", f"{LABEL}={props['stack']}",
                "--user", props["user"], "--restart", props["restart"],
                # Numbers arrive as floats through the engine's protobuf structs.
                "--memory", str(int(props["memory"])), "--cpus", str(props["cpus"]), "--pids-limit", str(int(props["pids"])),
                "--network", networks[0], "--network-alias", props["alias"]]
        if props["read_only"]:
            args.append("--read-only")
        for cap in props["cap_drop"]:
            args += ["--cap-drop", cap]
        for opt in props["security_opt"]:
            args += ["--security-opt", opt]
        args += ["--log-driver", props["logging"]["driver"]]
        for key, value in sorted(props["logging"].get("options", {}).items()):
            args += ["--log-opt", f"{key}={value}"]
        for path in props["tmpfs"]:
            args += ["--tmpfs", path]
        for key, value in sorted(props["env"].items()):
            args += ["--env", f"{key}={value}"]
        for mount in props["mounts"]:
            args += ["--mount", f"type=volume,source={mount['source']},target={mount['target']}" + (",readonly" if mount["read_only"] else "")]
        for port in props["ports"]:
            args += ["--publish", f"{port['host_ip']}:{int(port['published'])}:{int(port['target'])}"]
        if props.get("shm_size"):
            args += ["--shm-size", str(props["shm_size"])]
        args += _healthcheck_args(props.get("healthcheck"))
        if props.get("entrypoint"):
            args += ["--entrypoint", props["entrypoint"][0]]
        args.append(props["image"])
        args += (props["entrypoint"][1:] if props.get("entrypoint") else []) + list(props.get("command") or [])
        container_id = docker(*args)
        for net in networks[1:]:
            docker("network", "connect", "--alias", props["alias"], net, container_id)
        try:
            docker("start", container_id)
            if props["one_shot"]:
                code = docker("wait", container_id, timeout=int(props["wait_timeout"]))
                if code != "0":
                    raise DockerError(f"{name} exited {code}:\n{self._logs(container_id)}")
            else:
                self._wait_healthy(container_id, name, int(props["wait_timeout"]))
        except Exception:
            # A failed create leaves nothing behind (the state will not know this container).
            subprocess.run(["docker", "rm", "-f", "-v", container_id], capture_output=True)
            raise
        return CreateResult(name, {**props, "container_id": container_id})

    @staticmethod
    def _logs(container_id: str) -> str:
        proc = subprocess.run(["docker", "logs", "--tail", "30", container_id], capture_output=True, text=True)
        return (proc.stdout + proc.stderr)[-3000:]

    def _wait_healthy(self, container_id: str, name: str, timeout: int) -> None:
        deadline = time.monotonic() + timeout
        status = "starting"
        while time.monotonic() < deadline:
            state = json.loads(docker("inspect", "-f", "{{json .State}}", container_id))
            status = state.get("Health", {}).get("Status", state["Status"])
            if status == "healthy":
                return
            time.sleep(1)
        raise DockerError(f"{name} not healthy after {timeout}s (last: {status}):\n{self._logs(container_id)}")

    def delete(self, _id: str, props: dict) -> None:
        remove("container", _id)


class Container(Resource):
    container_id: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict, opts=None):
        super().__init__(ContainerProvider(), resource_name, {**props, "container_id": None}, opts)


def stack_leftovers(stack: str) -> dict[str, list[str]]:
    """Containers, networks and volumes labelled for this stack (empty after `pulumi destroy`)."""
    label = f"label={LABEL}={stack}"
    return {kind: subprocess.run(cmd + ["--filter", label], capture_output=True, text=True).stdout.split()
            for kind, cmd in (("containers", ["docker", "ps", "-aq"]), ("networks", ["docker", "network", "ls", "-q"]),
                              ("volumes", ["docker", "volume", "ls", "-q"]))}
