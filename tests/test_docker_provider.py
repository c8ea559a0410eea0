"""The official pulumi-docker SDK on the resource plugin that scripts/docker-provider builds here.

Deploy tier: the real Pulumi CLI, the built `pulumi-resource-docker`, the local engine. A hardened
container (read-only, no capabilities, numeric user, limits, healthcheck-gated) on an internal
network with a volume: up, a second up with no changes, a container removed by hand is seen by
refresh and restored, destroy leaves nothing. The plugin in isolation; tests/test_deploy.py runs the
deploy program on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from pulumi import automation as auto

from hardstack.deploy import run

pytestmark = pytest.mark.deploy
PASSPHRASE = "hardstack-test-passphrase"


def plugin_installed() -> None:
    proc = subprocess.run([run.pulumi_command().command, "plugin", "ls", "--json"], capture_output=True, text=True,
                          env={**os.environ, **run.pulumi_env()})
    plugins = json.loads(proc.stdout or "[]")
    if not any(p["name"] == "docker" and p["kind"] == "resource" and p["version"] == "5.2.0" for p in plugins):
        pytest.fail("pulumi-resource-docker 5.2.0 is not installed: run scripts/docker-provider "
                    "(scripts/test runs it after the Pulumi CLI)", pytrace=False)


def image_for_test() -> str:
    """A small local image with curl (the nginx stand-in, or the real one where a registry answers)."""
    proc = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "hardstack-standin/nginx-unprivileged"],
                          capture_output=True, text=True)
    tags = proc.stdout.split()
    if not tags:
        pytest.fail("no hardstack-standin/nginx-unprivileged image: run scripts/stand-in-images", pytrace=False)
    return tags[0]


def program(name: str, image: str):
    def declare():
        import pulumi
        import pulumi_docker as docker

        network = docker.Network(f"{name}-net", name=f"{name}-net", internal=True)
        volume = docker.Volume(f"{name}-data", name=f"{name}-data", labels=[docker.VolumeLabelArgs(label="hardstack.test", value=name)])
        pulled = docker.RemoteImage(f"{name}-image", name=image, keep_locally=True)
        web = docker.Container(
            f"{name}-web", name=f"{name}-web", image=pulled.image_id,
            command=["nginx", "-g", "daemon off;"],
            user="101:101", read_only=True, capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            security_opts=["no-new-privileges:true"], memory=64, memory_swap=64, cpus="0.25",  # swap = memory: no swap
            # kreuzwerker's docker_container has no pids limit (the deploy applies it with `docker update`).
            tmpfs={"/tmp": "rw,size=16m"},
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path="/data")],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name)],
            healthcheck=docker.ContainerHealthcheckArgs(tests=["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/"],
                                                        interval="2s", timeout="2s", retries=10),
            wait=True, wait_timeout=60, must_run=True, restart="unless-stopped",
            labels=[docker.ContainerLabelArgs(label="hardstack.test", value=name)])
        pulumi.export("container", web.name)

    return declare


def inspect(name: str) -> dict | None:
    proc = subprocess.run(["docker", "inspect", name], capture_output=True, text=True)
    return json.loads(proc.stdout)[0] if proc.returncode == 0 else None


def test_official_sdk_on_the_built_plugin(tmp_path):
    from test_stack import require_engine

    require_engine()
    plugin_installed()
    name = f"hs-prov-{uuid.uuid4().hex[:6]}"
    env = {"PULUMI_BACKEND_URL": f"file://{tmp_path}", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, **run.pulumi_env()}
    opts = auto.LocalWorkspaceOptions(work_dir=str(tmp_path), pulumi_command=run.pulumi_command(), env_vars=env,
                                      project_settings=auto.ProjectSettings(name="provider-smoke", runtime="python"))
    stack = auto.create_or_select_stack(stack_name="test", project_name="provider-smoke",
                                        program=program(name, image_for_test()), opts=opts)
    try:
        first = stack.up(on_output=print)
        assert first.summary.resource_changes.get("create") == 5
        live = inspect(f"{name}-web")
        host = live["HostConfig"]
        assert live["State"]["Health"]["Status"] == "healthy"
        assert live["Config"]["User"] == "101:101" and host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"] and "no-new-privileges:true" in host["SecurityOpt"]
        assert host["Memory"] == 64 * 1024**2 and host["NanoCpus"] == 250_000_000

        again = stack.up(on_output=print)
        assert set(again.summary.resource_changes) == {"same"}, again.summary.resource_changes

        subprocess.run(["docker", "rm", "-f", f"{name}-web"], check=True, capture_output=True)
        drift = stack.preview(refresh=True, on_output=print)
        assert drift.change_summary.get("create") == 1, drift.change_summary
        stack.up(refresh=True, on_output=print)
        assert inspect(f"{name}-web")["State"]["Health"]["Status"] == "healthy"
    finally:
        stack.destroy(on_output=print)
    assert inspect(f"{name}-web") is None and inspect(f"{name}-net") is None
    assert subprocess.run(["docker", "volume", "inspect", f"{name}-data"], capture_output=True).returncode != 0
