"""Stack tier, swarm: the layout's stack.yaml on a one-node Docker Swarm of the real engine.

The engine is made a one-node swarm (advertised on 127.0.0.1) if it is not in one, and left again
afterwards. The proxy publishes in host mode on every interface, which tests here must not do: a copy of
stack.yaml without the proxy's ports and with edge attachable (swarm.loopback_copy), and a forwarder
container on 127.0.0.1:<port> into edge (swarm.loopback_forwarder), reach it as a host's load
balancer would. Everything else is the generated file as it is.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from test_stack import free_port
from typer.testing import CliRunner

from hardstack.catalog import IMAGES
from hardstack.cli import app
from hardstack.runtime.compose import Stack, registry_reachable, standin_env
from hardstack.runtime.swarm import PROTECTED_VOLUMES, SwarmStack, label_db_node, task_state
from testkit.probes import RequestLoop, http
from testkit.loopback import loopback_copy, loopback_forwarder

pytestmark = pytest.mark.stack

def daemon_sets_no_new_privileges() -> bool:
    """dockerd's own setting (`docker info` does not report it): its command line or daemon.json."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            args = (proc / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if Path(args[0]).name == "dockerd" and "--no-new-privileges" in args:
            return True
    daemon_json = Path("/etc/docker/daemon.json")
    return daemon_json.exists() and json.loads(daemon_json.read_text() or "{}").get("no-new-privileges") is True


@pytest.fixture(scope="module")
def swarm(swarm_engine, tmp_path_factory):
    out = tmp_path_factory.mktemp("swarm")
    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(out), "project_slug=hsswarm", "backend_replicas=2"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    layout = out / "hsswarm"
    env = {} if registry_reachable(IMAGES["python_image"][1]) else standin_env(out / "standins.env")
    name = f"hsw{uuid.uuid4().hex[:6]}"
    build = Stack(layout, name, env)
    print(f"\n[swarm] build: {build.build():.1f}s")
    s = SwarmStack(layout, name, env, stack_file=loopback_copy(layout))
    from hardstack.answers import validate

    answers = validate(json.loads((layout / ".hardstack-answers.json").read_text()))
    label_db_node(answers.swarm_db_label)
    s.env = {**env, **s.versions(answers)}
    s.forwarder = f"{name}-forwarder"
    port = free_port()
    s.url = f"http://127.0.0.1:{port}"
    try:
        s.time_to_converged = s.deploy(timeout=600)
        print(f"[swarm] docker stack deploy: every service converged healthy in {s.time_to_converged:.1f}s")
        loopback_forwarder(s.forwarder, f"{name}_edge", port, env.get("NGINX_IMAGE", IMAGES["nginx_image"][1]), out)
        wait_answering(s.url + "/healthz")
        yield s
    finally:
        subprocess.run(["docker", "rm", "-f", s.forwarder], capture_output=True)
        s.remove(keep_data=False)


def wait_answering(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if http(url, timeout=3).status == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer 200 in {timeout}s"
        time.sleep(0.5)


def test_w_every_service_converged_healthy_and_the_migrate_job_completed(swarm):
    services = swarm.services()
    assert set(services) == {"db", "db-setup", "migrate", "backend", "redis", "worker", "beat", "frontend", "proxy", "backup", "prometheus", "postgres-exporter", "alertmanager",
                       "redis-exporter"}
    assert swarm.lagging() == []
    assert swarm.healthy("backend") == 2
    assert swarm.healthy("worker") == 2 and swarm.healthy("beat") == 1  # worker_replicas; exactly one scheduler
    for job in ("db-setup", "migrate"):
        assert any(task_state(t) == "complete" for t in swarm.tasks(job, running_only=False)), job


def test_w_spa_and_api_through_the_proxy(swarm):
    index = http(swarm.url + "/")
    assert index.status == 200 and b"<html" in index.body.lower(), index.body[:200]
    health = http(swarm.url + "/api/health/")
    assert health.status == 200, health.body
    assert health.json()["database"] == "ok"


def test_w_every_task_hardened_as_swarm_allows(swarm):
    nnp = "1" if daemon_sets_no_new_privileges() else "0"
    checked = 0
    for service in swarm.services():
        for c in swarm.containers(service):
            host = c["HostConfig"]
            user = c["Config"]["User"]
            assert host["ReadonlyRootfs"] is True, service
            assert host["CapDrop"] == ["ALL"], service
            assert user.split(":")[0].isdigit() and user.split(":")[0] != "0", (service, user)
            assert host["Memory"] > 0 and host["NanoCpus"] > 0 and host["PidsLimit"] > 0, service
            status = subprocess.run(["docker", "exec", c["Id"], "grep", "NoNewPrivs", "/proc/1/status"], capture_output=True, text=True).stdout
            assert status.split()[-1] == nnp, (service, status, "daemon no-new-privileges" if nnp == "1" else "not set by the daemon")
            secrets = subprocess.run(["docker", "exec", c["Id"], "sh", "-c", "ls -ln /run/secrets 2>/dev/null | tail -n +2"],
                                     capture_output=True, text=True).stdout.splitlines()
            for line in secrets:
                mode, _, uid = line.split()[:3]
                assert mode == "-r--------" and uid == user.split(":")[0], (service, line)
            checked += 1
    assert checked >= 9


def test_w_scale_backend_1_3_1_without_a_failed_request(swarm):
    with RequestLoop(swarm.url + "/api/health/") as loop:
        for replicas in (1, 3, 1):
            swarm.scale("backend", replicas)
            swarm.wait_converged(180)
            assert swarm.healthy("backend") == replicas
    print(f"[swarm] scale 2->1->3->1: {loop.total} requests, {loop.failed} failed")
    assert loop.total > 50 and loop.failed == 0, loop.failures[:10]
    swarm.scale("backend", 2)
    swarm.wait_converged(180)


def slow_task_started(swarm, seconds: int) -> str:
    """A long task enqueued from a backend task and running on a worker; returns its key."""
    key = f"roll-{uuid.uuid4().hex[:8]}"
    backend = swarm.containers("backend")[0]["Id"]
    subprocess.run(["docker", "exec", backend, "/opt/hardstack/entrypoint.sh", "python", "manage.py", "shell", "-c",
                    f"from demo.tasks import slow; slow.delay({key!r}, {seconds})"], check=True, capture_output=True)
    wait_task(swarm, key, lambda t: t.get("attempts") == 1, 60, "no worker started the long task")
    return key


def wait_task(swarm, key: str, done, timeout: float, what: str) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while not done(task := http(swarm.url + "/api/tasks/").json()["tasks"].get(key) or {}):
        assert time.monotonic() < deadline, f"{what}: {task}"
        time.sleep(1)
    return task


def test_w_roll_a_new_backend_image_without_a_failed_request_or_a_lost_task(swarm):
    image = swarm.services()["backend"]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0]
    new = image.rsplit(":", 1)[0] + ":v2"
    subprocess.run(["docker", "tag", image, new], check=True)
    key = slow_task_started(swarm, 15)  # the workers roll too: the old one finishes it in its warm shutdown
    swarm.env["APP_VERSION"] = "v2"
    with RequestLoop(swarm.url + "/api/health/") as loop:
        took = swarm.deploy(timeout=300)
    print(f"[swarm] roll to {new}: {took:.1f}s, {loop.total} requests, {loop.failed} failed")
    assert swarm.update_state("backend") == "completed" and swarm.update_state("worker") == "completed"
    assert {c["Config"]["Image"] for c in swarm.containers("backend")} == {new}
    assert {c["Config"]["Image"] for c in swarm.containers("worker")} == {new} and swarm.healthy("beat") == 1
    assert loop.total > 20 and loop.failed == 0, loop.failures[:10]
    task = wait_task(swarm, key, lambda t: t.get("finished"), 60, "the long task never finished")
    assert task["attempts"] == 1, f"the roll cut the task off and it ran again: {task}"


def test_w_a_broken_image_rolls_back_by_itself_and_the_old_tasks_keep_serving(swarm):
    good = swarm.services()["backend"]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0]
    broken = good.rsplit(":", 1)[0] + ":broken"
    cid = subprocess.run(["docker", "create", good], check=True, capture_output=True, text=True).stdout.strip()
    try:
        subprocess.run(["docker", "commit", "--change", 'ENTRYPOINT ["sh", "-c", "echo broken release >&2; exit 3"]', cid, broken],
                       check=True, capture_output=True)
    finally:
        subprocess.run(["docker", "rm", cid], capture_output=True)
    with RequestLoop(swarm.url + "/api/health/") as loop:
        swarm.roll("backend", broken)
        state = swarm.wait_update("backend", timeout=240)
    print(f"[swarm] broken image: update ended {state}; {loop.total} requests, {loop.failed} failed")
    assert state == "rollback_completed"
    swarm.wait_converged(120)
    assert {c["Config"]["Image"] for c in swarm.containers("backend")} == {good}
    assert loop.total > 20 and loop.failed == 0, loop.failures[:10]


def test_w_a_killed_task_is_replaced(swarm):
    before = {c["Id"] for c in swarm.containers("backend")}
    victim = sorted(before)[0]
    subprocess.run(["docker", "kill", victim], check=True, capture_output=True)

    def victim_running() -> bool:  # the manager learns of the kill a moment later: until then it reports converged
        return any(task_state(t) == "running" and (t["Status"].get("ContainerStatus") or {}).get("ContainerID") == victim
                   for t in swarm.tasks("backend"))

    deadline = time.monotonic() + 30
    while victim_running() and time.monotonic() < deadline:
        time.sleep(0.2)
    swarm.wait_converged(120)
    after = {c["Id"] for c in swarm.containers("backend")}
    assert victim not in after and len(after) == 2
    assert http(swarm.url + "/api/health/").status == 200


def test_w_stack_rm_leaves_only_the_protected_volumes(swarm):
    subprocess.run(["docker", "rm", "-f", swarm.forwarder], capture_output=True)
    declared = yaml.safe_load((swarm.layout / swarm.stack_file).read_text())["volumes"]
    left = swarm.remove(keep_data=True)
    assert sorted(left) == sorted(f"{swarm.name}_{v}" for v in PROTECTED_VOLUMES if v in declared)
    label = f"label=com.docker.stack.namespace={swarm.name}"
    for kind in (["ps", "-aq"], ["network", "ls", "-q"], ["secret", "ls", "-q"], ["config", "ls", "-q"]):
        assert subprocess.run(["docker", *kind, "--filter", label], capture_output=True, text=True).stdout.split() == [], kind
