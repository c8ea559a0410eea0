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
from testkit import labdeploy
from testkit.labdeploy import sh

pytestmark = pytest.mark.lab
LAB_SCRIPT = ROOT / "scripts" / "lab"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The lab, up for this module: three hosts and the registry; a client config logged in to the registry."""
    sh(str(LAB_SCRIPT), "up", timeout=180)
    try:
        info = json.loads(sh(str(LAB_SCRIPT), "status", "--json").stdout)
        yield {**info, "env": labdeploy.client_env(info, tmp_path_factory.mktemp("docker-config"))}
    finally:
        sh(str(LAB_SCRIPT), "down", timeout=180)


@pytest.fixture(scope="module")
def python_image(lab, tmp_path_factory):
    """The Python stand-in, pushed to the lab registry from this machine's engine: name@digest."""
    from hardstack.runtime.compose import standin_env

    local = standin_env(tmp_path_factory.mktemp("standins") / "standins.env")["PYTHON_IMAGE"]
    return labdeploy.push_image(lab["env"], local, f"{lab['registry']['address']}/lab/python:1")


def on(host: dict, env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("docker", "-H", host["docker_host"], *args, env=env, check=check)


def ssh_on_path(folder: Path, key: str, known_hosts: str, strict: bool) -> str:
    """PATH with an `ssh` first that uses the lab key and the given known_hosts lines (a client of another machine)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "known_hosts").write_text(known_hosts + "\n")
    (folder / "ssh_config").write_text(f"Host *\n  User root\n  IdentityFile {key}\n  IdentitiesOnly yes\n"
                                       f"  UserKnownHostsFile {folder / 'known_hosts'}\n"
                                       + ("  StrictHostKeyChecking yes\n  BatchMode yes\n" if strict else ""))
    (folder / "ssh").write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F "{folder / "ssh_config"}" "$@"\n')
    (folder / "ssh").chmod(0o755)
    return f"{folder}:{os.environ['PATH']}"


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
        env = {**lab["env"], "PATH": ssh_on_path(tmp_path / name, host["ssh_key"], known, strict=True)}
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
    return labdeploy.form_swarm(lab, lab["env"], [lab["hosts"][1]])


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


# ---- a deploy to another server: over ssh, images from the registry by digest -------------------------------

@pytest.fixture(scope="module")
def remote(lab, tmp_path_factory):
    """The small layout (no SPA, no monitoring, no background work) whose images are in the lab registry, and a Pulumi
    stack of the layout's own pulumi/ project that deploys it to node1 over ssh, with the registry login in the config
    store: pushed and configured by the layout's generated workflows' own steps (testkit/labdeploy.py)."""
    from test_deploy import require_tools

    from testkit.pulumistate import PASSPHRASE

    require_tools()
    root = tmp_path_factory.mktemp("remote")
    (root / "state").mkdir()
    env = {**lab["env"], "PULUMI_BACKEND_URL": f"file://{root / 'state'}", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE}
    layout = labdeploy.new_layout(root, env)
    labdeploy.registry_layout(layout, lab, env, "lab-remote")
    digests, pushed = labdeploy.push_release(layout, lab, env, root / "digests.json")
    node1 = lab["hosts"][0]
    project = layout / "pulumi"
    stack = labdeploy.configure_as_workflow(layout, "remote", lab, digests, node1["docker_host"], env,
                                            bindAddress=node1["address"], publicPort="18080")
    state = {k: env[k] for k in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")}
    deploy_env = {**labdeploy.deploy_env({**env, **state}), **state}
    d = type("Remote", (), {})()
    d.layout, d.stack, d.project, d.env, d.node, d.digests, d.pushed = layout, stack, project, deploy_env, node1, digests, pushed
    d.deploy = lambda action, env=deploy_env, extra=(): labdeploy.deploy(action, "remote", project, env, *extra)
    wsgi = layout / "backend" / "config" / "wsgi.py"
    d.good_wsgi = wsgi.read_text()
    d.good_wsgi_restore = lambda: wsgi.write_text(d.good_wsgi)
    # No destroy afterwards: the lab goes down with this module, node1's engine and its data with it (destroy is
    # asserted on this machine's engine: test_deploy, test_deploy_swarm).
    yield d


def test_images_builds_pushes_and_says_the_digests(remote, lab):
    registry = f"{lab['registry']['address']}/shop"
    assert set(remote.digests) == {"backend"}  # no SPA: the backend is the layout's only own image
    assert f"{registry}/backend@{remote.digests['backend']}" in remote.pushed
    assert "pulumi config set hardstack:imageDigests" in remote.pushed


def test_deploy_to_an_unknown_host_key_changes_nothing(remote, tmp_path):
    """The deploy checks the host key strictly before Pulumi runs: known_hosts without node1 refuses at once."""
    # The user's own ssh config does not ask for strict checking: hardstack deploy does.
    env = {**remote.env, "PATH": ssh_on_path(tmp_path, remote.node["ssh_key"], "", strict=False)}
    proc = remote.deploy("up", env=env)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 2, said
    assert "not in your known_hosts" in said and "nothing was changed" in said and "ssh-keyscan" in said, said
    assert len(remote.stack.export_stack().deployment.get("resources", []) or []) <= 1


def test_deploy_over_ssh_pulls_by_digest_and_serves_from_the_host(remote, lab):
    from testkit.probes import http

    proc = remote.deploy("up")
    said = proc.stdout + proc.stderr
    assert proc.returncode == 0, said[-4000:]
    assert f"Deploying to {remote.node['docker_host']}" in said
    # Served from node1's address, as a user's traffic reaches it (for the layout's domain, localhost).
    assert http(f"http://{remote.node['address']}:18080/api/health/", headers={"Host": "localhost"}).status == 200
    env = {**remote.env, "DOCKER_HOST": remote.node["docker_host"]}
    names = sh("docker", "ps", "--format", "{{.Names}}", env=env).stdout.split()
    assert any(n.startswith("hardstack-demo-remote-backend") for n in names), names
    assert not [n for n in sh("docker", "ps", "-a", "--format", "{{.Names}}", env={**remote.env}).stdout.split()
                if n.startswith("hardstack-demo-remote")]  # nothing on this machine's engine
    # The backend runs the pushed digest; node1 built nothing.
    backend = next(n for n in names if n.startswith("hardstack-demo-remote-backend"))
    image = sh("docker", "inspect", "--format", "{{.Image}}", backend, env=env).stdout.strip()
    repo_digests = json.loads(sh("docker", "image", "inspect", "--format", "{{json .RepoDigests}}", image, env=env).stdout)
    assert any(d.endswith("@" + remote.digests["backend"]) for d in repo_digests), repo_digests
    assert "hardstack-demo-backend" not in sh("docker", "image", "ls", "--format", "{{.Repository}}", env=env).stdout
    assert any(v.endswith("db-data") for v in sh("docker", "volume", "ls", "--format", "{{.Name}}", env=env).stdout.split())


def release(remote, lab, marker: str) -> dict[str, str]:
    """A new backend release: the app's wsgi.py changed, built and pushed by `hardstack images`; its digests."""
    wsgi = remote.layout / "backend" / "config" / "wsgi.py"
    wsgi.write_text(remote.good_wsgi + marker)
    return labdeploy.push_release(remote.layout, lab, lab["env"], remote.layout.parent / "digests-next.json")[0]


def test_on_the_remote_host_a_roll_drops_nothing_a_crash_is_named_at_once_and_refresh_sees_drift(remote, lab):
    """The local engine's guarantees, on node1 over ssh, measured from this machine through node1's published port."""
    from pulumi import automation as auto
    from testkit.probes import RequestLoop, http

    url, host = f"http://{remote.node['address']}:18080/api/health/", {"Host": "localhost"}
    on_node = {**remote.env, "DOCKER_HOST": remote.node["docker_host"]}

    try:
        up = http(url, headers=host).status == 200
    except OSError:
        up = False
    if not up:  # run alone (-k): deploy first, as the test above does
        assert remote.deploy("up").returncode == 0
    assert http(url, headers=host).status == 200
    db_before = sh("docker", "ps", "-q", "--filter", "name=hardstack-demo-remote-db", env=on_node).stdout.split()
    # 1. A new release rolls with nothing dropped (the swarm on three nodes rolls to it later: remote.next_release).
    remote.next_release = release(remote, lab, "\n# release 2\n")
    remote.stack.set_config("hardstack:imageDigests", auto.ConfigValue(json.dumps(remote.next_release)))
    with RequestLoop(url, headers=host) as loop:
        proc = remote.deploy("up")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    print(f"roll on the remote host: {loop.failed} of {loop.total} requests failed")
    assert loop.total >= 20 and loop.failed == 0, f"{loop.failed} of {loop.total} failed: {loop.failures[:5]}"
    # 2. A release whose process exits at start: named with its last log lines within seconds; the old one serves on.
    broken = release(remote, lab, "\nraise RuntimeError('broken release: the app does not start')\n")
    remote.stack.set_config("hardstack:imageDigests", auto.ConfigValue(json.dumps(broken)))
    started = time.monotonic()
    with RequestLoop(url, headers=host) as loop:
        proc = remote.deploy("up")
    said = proc.stdout + proc.stderr
    print(f"crash on the remote host reported {time.monotonic() - started:.0f}s after `deploy up` started")
    assert proc.returncode == 2, said[-3000:]
    assert "hardstack-demo-remote-backend" in said and "before it was ever healthy" in said, said[-3000:]
    assert "broken release: the app does not start" in said, said[-3000:]
    assert loop.failed == 0, f"{loop.failed} of {loop.total} failed while the broken release was refused: {loop.failures[:5]}"
    # 3. The database's container and volume were never touched.
    assert sh("docker", "ps", "-q", "--filter", "name=hardstack-demo-remote-db", env=on_node).stdout.split() == db_before
    # 4. Drift: the backend removed by hand on the host; `up --refresh` sees it and puts it back.
    remote.good_wsgi_restore()
    remote.stack.set_config("hardstack:imageDigests", auto.ConfigValue(json.dumps(remote.digests)))
    backend = next(n for n in sh("docker", "ps", "--format", "{{.Names}}", env=on_node).stdout.split()
                   if n.startswith("hardstack-demo-remote-backend"))
    sh("docker", "rm", "-f", backend, env=on_node)
    proc = remote.deploy("up", extra=("--refresh",))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert http(url, headers=host).status == 200


# ---- Swarm on three nodes: the Pulumi swarm target against the remote manager -------------------------------

@pytest.fixture(scope="module")
def three_node_swarm(lab, two_node_swarm, remote, tmp_path_factory):
    """node1 manages, node2 and node3 work; the small layout with plain overlays (this kernel has no ESP: the probe
    above proves encrypted ones carry nothing here), deployed by the Pulumi swarm target from node1, images from the
    registry. The database's node is node3 (labelled), so node2 is the one a test may drain or stop."""
    from test_deploy import pulumi_stack

    env = labdeploy.form_swarm(lab, two_node_swarm, lab["hosts"][1:])  # node3 leaves its one-node swarm of the probe test
    root = tmp_path_factory.mktemp("swarm")
    layout = labdeploy.new_layout(root, env, "swarm_overlay_encryption=no", "proxy_replicas=2")
    (layout / ".env").write_text((remote.layout / ".env").read_text())  # the same images, already in the registry
    from hardstack.answers import validate
    label = validate(json.loads((layout / ".hardstack-answers.json").read_text())).swarm_db_label
    sh("docker", "node", "update", "--label-add", f"{label}=true", "node3", env=env)
    stack, _, project = pulumi_stack(root, "swarm")
    labdeploy.configure(stack, lab, layout, remote.digests, lab["hosts"][0]["docker_host"], target="swarm", publicPort="18081")
    deploy_env = labdeploy.deploy_env(lab["env"])
    d = type("Swarm", (), {})()
    d.stack, d.layout, d.env = stack, layout, env
    d.deploy = lambda action: labdeploy.deploy(action, "swarm", project, deploy_env)
    started = time.monotonic()
    proc = d.deploy("up")
    d.deploy_seconds = time.monotonic() - started
    if proc.returncode != 0:
        tasks = sh("sh", "-c", "docker service ps --no-trunc --format '{{.Name}} {{.Node}} {{.CurrentState}} {{.Error}}' "
                   "$(docker service ls -q --filter label=io.hardstack.stack)", env=d.env, check=False)
        raise AssertionError((proc.stdout + proc.stderr)[-6000:] + "\n\nevery task:\n" + tasks.stdout + tasks.stderr)
    return d  # no destroy: the lab goes down with this module (see `remote`)


def tasks_by_node(d, service: str) -> list[str]:
    """Hostnames of the nodes running the service's tasks now."""
    out = sh("docker", "service", "ps", "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}",
             f"hardstack-demo-swarm-{service}", env=d.env).stdout
    return [line.split()[0] for line in out.splitlines() if line.split()[1:2] == ["Running"]]


def wait_for(what: str, ok, timeout: float = 180) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if ok():
            return time.monotonic() - started
        time.sleep(1)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


def test_three_nodes_db_pinned_backends_spread_and_a_drained_worker_drops_nothing(three_node_swarm, lab):
    from testkit.probes import RequestLoop, http

    d = three_node_swarm
    print(f"swarm deploy from scratch over ssh on three nodes: {d.deploy_seconds:.0f}s")
    address = {h["name"]: h["address"] for h in lab["hosts"]}
    assert tasks_by_node(d, "db") == ["node3"]  # pinned by the label
    wait_for("two backend tasks running", lambda: len(tasks_by_node(d, "backend")) == 2)
    backends = tasks_by_node(d, "backend")
    assert len(set(backends)) == 2, backends  # spread
    wait_for("two proxy tasks running", lambda: len(tasks_by_node(d, "proxy")) == 2)
    proxies = tasks_by_node(d, "proxy")
    assert len(set(proxies)) == 2, proxies  # at most one per node (its port is the node's own)
    # Drain a node that runs a backend task but not the database, under a request loop through a proxy on another
    # node (its published port, as a user's traffic or a load balancer reaches it), below the 20 r/s API limit.
    drained = next(n for n in backends if n != "node3")
    proxy_node = next(n for n in proxies if n != drained)
    d.url, d.host = f"http://{address[proxy_node]}:18081/api/health/", {"Host": "localhost"}
    assert http(d.url, headers=d.host).status == 200
    with RequestLoop(d.url, headers=d.host) as loop:
        on_manager = d.env
        sh("docker", "node", "update", "--availability", "drain", drained, env=on_manager)
        took = wait_for("the backend rescheduled off the drained node",
                        lambda: drained not in tasks_by_node(d, "backend") and len(tasks_by_node(d, "backend")) == 2)
        time.sleep(3)
    print(f"drain of {drained}: backend moved in {took:.0f}s; {loop.failed} of {loop.total} requests failed")
    assert loop.total >= 20 and loop.failed == 0, f"{loop.failed} of {loop.total} failed: {loop.failures[:5]}"
    sh("docker", "node", "update", "--availability", "active", drained, env=d.env)


def test_up_swarm_on_three_nodes_wants_registry_names_then_builds_pushes_and_every_node_pulls(three_node_swarm, lab, python_image):
    """`hardstack up --swarm` builds where it runs (node1, the manager). On three nodes a layout whose BACKEND_IMAGE
    names no registry is refused before anything is built, with the way out; named in the lab registry, it builds on
    node1, pushes there, and deploys a stack whose backend tasks on other nodes run the pushed digest."""
    from testkit.probes import http

    d = three_node_swarm
    layout = d.layout.parent / "alone" / "hardstack_demo"
    layout.parent.mkdir()
    labdeploy.new_layout(layout.parent, d.env, "swarm_overlay_encryption=no", "http_port=18090")
    (layout / ".env").write_text((d.layout / ".env").read_text())
    up = (sys.executable, "-m", "hardstack.cli", "up", "--swarm", "--standins", "no", str(layout))
    proc = sh(*up, env=d.env, check=False)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 2, said
    assert "this swarm has 3 nodes (node1, node2, node3)" in said and "BACKEND_IMAGE" in said, said
    assert "nothing was built or started" in said and "docker login" in said, said
    assert "Building images" not in said
    assert "hardstack-demo-backend" not in sh("docker", "image", "ls", "--format", "{{.Repository}}", env=d.env).stdout

    # As the refusal says: name the image in a registry every node pulls from (and the base image node1 builds on).
    repo = f"{lab['registry']['address']}/up/backend"
    with (layout / ".env").open("a") as env_file:
        env_file.write(f"BACKEND_IMAGE={repo}\nAPP_VERSION=up1\nPYTHON_IMAGE={python_image}\n")
    started = time.monotonic()
    proc = sh(*up, env=d.env, check=False, timeout=1200)
    said = proc.stdout + proc.stderr
    try:
        assert proc.returncode == 0, said[-5000:]
        print(f"up --swarm on three nodes (build on node1, push, deploy): {time.monotonic() - started:.0f}s")
        assert f"Pushing {repo}:up1" in said, said[-3000:]
        pushed = json.loads(sh("docker", "image", "inspect", "--format", "{{json .RepoDigests}}", f"{repo}:up1", env=d.env).stdout)
        digest = next(ref for ref in pushed if ref.startswith(repo + "@")).split("@")[1]
        image = sh("docker", "service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
                   "hardstack-demo_backend", env=d.env).stdout.strip()
        assert image == f"{repo}:up1@{digest}", image  # the stack runs what the registry holds, on every node
        out = sh("docker", "service", "ps", "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}",
                 "hardstack-demo_backend", env=d.env).stdout
        nodes = [line.split()[0] for line in out.splitlines() if "Running" in line]
        assert len(nodes) == 2 and set(nodes) - {"node1"}, out  # at least one replica pulled it on another node
        proxy = sh("docker", "service", "ps", "--filter", "desired-state=running", "--format", "{{.Node}}", "hardstack-demo_proxy",
                   env=d.env).stdout.split()[0]
        address = {h["name"]: h["address"] for h in lab["hosts"]}[proxy]
        assert http(f"http://{address}:18090/api/health/", headers={"Host": "localhost"}).status == 200
    finally:
        sh("docker", "stack", "rm", "hardstack-demo", env=d.env, check=False)


def test_a_new_image_rolls_across_nodes_with_nothing_dropped(three_node_swarm, remote, lab):
    from pulumi import automation as auto
    from testkit.probes import RequestLoop

    d = three_node_swarm
    # The release the remote host rolled to above, already in the registry (built here when this test runs alone).
    digests = getattr(remote, "next_release", None) or release(remote, lab, "\n# release 3 (swarm)\n")
    remote.good_wsgi_restore()
    d.stack.set_config("hardstack:imageDigests", auto.ConfigValue(json.dumps(digests)))
    started = time.monotonic()
    with RequestLoop(d.url, headers=d.host) as loop:
        proc = d.deploy("up")
    print(f"roll across nodes: {time.monotonic() - started:.0f}s; {loop.failed} of {loop.total} requests failed")
    tasks = sh("docker", "service", "ps", "--no-trunc", "--format", "{{.Name}} {{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}",
               "hardstack-demo-swarm-backend", env=d.env, check=False).stdout
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:] + "\nbackend tasks:\n" + tasks
    assert loop.total >= 20 and loop.failed == 0, f"{loop.failed} of {loop.total} failed: {loop.failures[:5]}"
    images = sh("docker", "service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
                "hardstack-demo-swarm-backend", env=d.env).stdout.strip()
    assert images.endswith("@" + digests["backend"]), images


def test_a_worker_whose_engine_stops_is_replaced_and_no_row_is_lost(three_node_swarm, lab):
    from testkit import lab as lab_hosts
    from testkit.probes import http

    d = three_node_swarm
    node3 = lab["hosts"][2]
    on3 = {**d.env, "DOCKER_HOST": node3["docker_host"]}
    db = sh("docker", "ps", "-q", "--filter", "name=hardstack-demo-swarm-db.", env=on3).stdout.split()[0]
    sql = 'psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAc "{}"'
    sh("docker", "exec", db, "sh", "-c", sql.format("INSERT INTO demo_reading (time, value) SELECT now() + g * interval '1 millisecond', g FROM generate_series(1, 5) g"),
       env=on3)
    rows = int(sh("docker", "exec", db, "sh", "-c", sql.format("SELECT count(*) FROM demo_reading"), env=on3).stdout.strip())
    # node2, a worker without the database, fails as a server does: its engine stops (its tasks with it). The site
    # answers through a proxy on a live node (a load balancer in front does the same).
    victim = "node2"
    address = {h["name"]: h["address"] for h in lab["hosts"]}

    def serving() -> bool:
        backends, proxies = tasks_by_node(d, "backend"), [n for n in tasks_by_node(d, "proxy") if n != victim]
        if victim in backends or len(backends) != 2 or not proxies:
            return False
        d.url = f"http://{address[proxies[0]]}:18081/api/health/"
        try:
            return http(d.url, headers=d.host, timeout=3).status == 200
        except OSError:
            return False

    # The drain above moved node2's backend away and swarm does not move tasks back: rebalance (a forced, health-gated
    # roll places the new tasks on the least busy nodes) until node2 runs one again.
    for _ in range(3):
        if victim in tasks_by_node(d, "backend"):
            break
        sh("docker", "service", "update", "--force", "--quiet", "hardstack-demo-swarm-backend", env=d.env, timeout=300)
    assert victim in tasks_by_node(d, "backend"), f"no backend task on {victim} to lose: {tasks_by_node(d, 'backend')}"
    lab_hosts.stop_engine(victim)
    try:
        took = wait_for("every backend and proxy task on a live node and the site answering", serving, timeout=240)
        print(f"engine of {victim} stopped: backends rescheduled and the site answering after {took:.0f}s")
        answer = json.loads(http(d.url.replace("/api/health/", "/api/readings/"), headers=d.host).body)
        assert answer["count"] == rows, answer
    finally:
        lab_hosts.start_engine_again(victim)
    wait_for(f"{victim} Ready again", lambda: "Ready" in sh("docker", "node", "inspect", "--format", "{{.Status.State}}", victim,
                                                             env=d.env, check=False).stdout.title())
