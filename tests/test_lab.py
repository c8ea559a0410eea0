"""Lab tier: hosts that behave like real servers (scripts/lab, testkit/lab.py), reached as a user reaches them.

Each lab host is a Docker engine of its own in a network namespace, with sshd; the registry wants TLS (the lab's
CA) and a password. Asserted here: the ssh path with a checked host key, a registry that serves by digest and
refuses strangers, and the encrypted-overlay probe that `hardstack up --swarm` runs on a swarm of two nodes (this
kernel has no IPsec ESP, as some real hosts and firewalls do not: the probe must stop the deploy and say so).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.lab
LAB_SCRIPT = ROOT / "scripts" / "lab"


def sh(*args: str, env: dict | None = None, check: bool = True, timeout: int = 600, cwd=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The lab, up for this module: three hosts and the registry; a client config logged in to the registry."""
    sh(str(LAB_SCRIPT), "up", timeout=180)
    try:
        info = json.loads(sh(str(LAB_SCRIPT), "status", "--json").stdout)
        client = tmp_path_factory.mktemp("docker-config")
        env = {**os.environ, "PATH": f"{info['ssh_bin']}:{os.environ['PATH']}", "DOCKER_CONFIG": str(client)}
        env.pop("DOCKER_HOST", None)
        reg = info["registry"]
        subprocess.run(["docker", "login", "--username", reg["username"], "--password-stdin", reg["address"]],
                       input=Path(reg["password_file"]).read_text(), text=True, env=env, check=True, capture_output=True)
        yield {**info, "env": env}
    finally:
        sh(str(LAB_SCRIPT), "down", timeout=180)


@pytest.fixture(scope="module")
def python_image(lab, tmp_path_factory):
    """The Python stand-in, pushed to the lab registry from this machine's engine: name@digest."""
    from hardstack.runtime.compose import standin_env

    local = standin_env(tmp_path_factory.mktemp("standins") / "standins.env")["PYTHON_IMAGE"]
    ref = f"{lab['registry']['address']}/lab/python:1"
    env = lab["env"]
    sh("docker", "tag", local, ref, env=env)
    pushed = sh("docker", "push", ref, env=env, timeout=900).stdout
    digest = next(word for word in pushed.split() if word.startswith("sha256:"))
    return f"{ref.rsplit(':', 1)[0]}@{digest}"


def on(host: dict, env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("docker", "-H", host["docker_host"], *args, env=env, check=check)


def test_status_names_every_host_and_each_answers_over_ssh(lab):
    assert [h["name"] for h in lab["hosts"]] == ["node1", "node2", "node3"]
    assert len({h["address"] for h in lab["hosts"]}) == 3
    for host in lab["hosts"]:
        assert host["docker_host"] == f"ssh://root@{host['address']}" and host["running"]
        assert Path(host["ssh_key"]).exists() and Path(host["known_hosts"]).exists()
        # Its own engine (its own hostname, no images of its own), reached through ssh as a user would.
        assert on(host, lab["env"], "info", "--format", "{{.Name}} {{.Images}}").stdout.split() == [host["name"], "0"]
    reg = lab["registry"]
    assert reg["running"] and Path(reg["ca_file"]).exists() and reg["username"] and Path(reg["password_file"]).exists()


def test_an_unknown_host_key_is_refused_before_anything_runs(lab, tmp_path):
    """A client whose known_hosts lacks the host (or holds another key for it) never talks to the engine."""
    host, other = lab["hosts"][1], lab["hosts"][2]
    other_key = next(line.split(maxsplit=1)[1] for line in Path(other["known_hosts"]).read_text().splitlines()
                     if line.startswith(other["address"] + " "))
    for name, known in (("unknown", ""), ("changed", f"{host['address']} {other_key}")):
        known_hosts = tmp_path / f"known_hosts-{name}"
        known_hosts.write_text(known + "\n")
        config = tmp_path / f"ssh_config-{name}"
        config.write_text(f"Host *\n  User root\n  IdentityFile {host['ssh_key']}\n  IdentitiesOnly yes\n"
                          f"  UserKnownHostsFile {known_hosts}\n  StrictHostKeyChecking yes\n  BatchMode yes\n")
        bin_dir = tmp_path / f"bin-{name}"
        bin_dir.mkdir()
        (bin_dir / "ssh").write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F "{config}" "$@"\n')
        (bin_dir / "ssh").chmod(0o755)
        env = {**lab["env"], "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        proc = on(host, env, "info", check=False)
        assert proc.returncode != 0
        said = proc.stderr
        assert ("Host key verification failed" in said) or ("REMOTE HOST IDENTIFICATION HAS CHANGED" in said), said


def test_the_registry_wants_its_password_and_a_digest_outlives_a_moved_tag(lab, python_image, tmp_path):
    node1, node2 = lab["hosts"][0], lab["hosts"][1]
    # Without credentials the registry refuses (the pull goes from node2's engine, as a deploy's would).
    stranger = {**lab["env"], "DOCKER_CONFIG": str(tmp_path / "nobody")}
    refused = on(node2, stranger, "pull", python_image, check=False)
    assert refused.returncode != 0 and ("no basic auth credentials" in refused.stderr or "unauthorized" in refused.stderr), refused.stderr
    # Move the tag to another image after the push: the digest still names the first one.
    ref = python_image.split("@")[0] + ":1"
    (tmp_path / "Dockerfile").write_text(f"FROM {python_image}\nLABEL moved=yes\n")
    sh("docker", "build", "-q", "-t", ref, str(tmp_path), env=lab["env"])
    sh("docker", "push", ref, env=lab["env"])
    on(node1, lab["env"], "pull", "-q", python_image)
    on(node1, lab["env"], "pull", "-q", ref)
    by_digest = json.loads(on(node1, lab["env"], "image", "inspect", python_image).stdout)[0]
    by_tag = json.loads(on(node1, lab["env"], "image", "inspect", ref).stdout)[0]
    assert by_digest["Id"] != by_tag["Id"]
    assert (by_digest["Config"].get("Labels") or {}).get("moved") is None and by_tag["Config"]["Labels"]["moved"] == "yes"


@pytest.fixture(scope="module")
def two_node_swarm(lab):
    """node1 manages, node2 works: a swarm across two engines, as two servers would form it."""
    env = lab["env"]
    node1, node2 = lab["hosts"][0], lab["hosts"][1]
    on(node1, env, "swarm", "init", "--advertise-addr", node1["address"])
    token = on(node1, env, "swarm", "join-token", "-q", "worker").stdout.strip()
    on(node2, env, "swarm", "join", "--token", token, f"{node1['address']}:2377")
    return {**env, "DOCKER_HOST": node1["docker_host"]}


def test_up_swarm_stops_before_building_when_encrypted_overlays_carry_nothing(lab, python_image, two_node_swarm, tmp_path):
    """This kernel has no IPsec ESP: the probe's request between node2 and node1 times out, and `hardstack up --swarm`
    stops naming the cause and both ways out, having built and deployed nothing."""
    env = two_node_swarm
    hardstack = [sys.executable, "-m", "hardstack.cli"]
    sh(*hardstack, "new", "--no-input", "-o", str(tmp_path), env=env)
    layout = tmp_path / "hardstack_demo"
    (layout / ".env").write_text(f"PYTHON_IMAGE={python_image}\n")
    started = time.monotonic()
    proc = sh(*hardstack, "up", "--swarm", "--standins", "no", str(layout), env=env, check=False, timeout=600)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 2, said
    assert "nothing was built or started" in said and "over an encrypted overlay got no answer" in said, said
    assert "ESP" in said and "swarm_overlay_encryption=false" in said, said
    assert time.monotonic() - started < 300
    node1 = lab["hosts"][0]
    assert on(node1, env, "service", "ls", "-q").stdout.strip() == ""  # the probe's tasks are gone, no stack
    assert "hardstack_demo" not in on(node1, env, "image", "ls", "--format", "{{.Repository}}").stdout


def test_the_probe_passes_where_the_overlay_carries_traffic_and_needs_two_nodes(lab, python_image, two_node_swarm):
    """The same probe over a plain overlay gets its answer (so a failure above is the encryption, not the probe);
    a one-node swarm is not probed at all."""
    code = ("import json; from hardstack.runtime.overlay import probe_encrypted_overlay as p; "
            f"r = p({python_image!r}, encrypted=False); print(json.dumps(None if r is None else [r.ok, r.detail]))")
    ok, detail = json.loads(sh(sys.executable, "-c", code, env=two_node_swarm).stdout)
    assert ok, detail
    assert "a plain overlay carried a request from node2 to node1" in detail
    node3 = lab["hosts"][2]
    alone = {**two_node_swarm, "DOCKER_HOST": node3["docker_host"]}
    on(node3, alone, "swarm", "init", "--advertise-addr", node3["address"])
    assert json.loads(sh(sys.executable, "-c", code, env=alone).stdout) is None
