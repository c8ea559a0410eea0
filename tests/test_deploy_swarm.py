"""Deploy tier, swarm target (hardstack:target = swarm): the real Pulumi CLI and pulumi-docker's
Service, Secret, ServiceConfig and overlay Network resources on a one-node swarm of the local engine.

hardstack:publishProxy is false (swarm would publish on every interface): the edge network is
attachable and a forwarder on 127.0.0.1 reaches the proxy, as a load balancer of the user's would.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from pulumi import automation as auto
from test_deploy import fresh_secrets, pulumi_stack, require_tools
from test_stack import free_port
from test_swarm import daemon_sets_no_new_privileges, wait_answering
from typer.testing import CliRunner

from hardstack.catalog import ENGINE_STOP_GRACE, IMAGES, STOP_GRACE
from hardstack import engine
from hardstack.cli import app
from hardstack.deploy import run
from hardstack.deploy.watch import created_at, engine_time
from hardstack.deploy.plan import LABEL
from hardstack.runtime.compose import read_env_file, registry_reachable, standin_env
from hardstack.runtime.swarm import label_db_node
from testkit.probes import RequestLoop, http
from testkit.loopback import loopback_forwarder

pytestmark = pytest.mark.deploy

PREFIX = "hsdeploysw-swarm"


def labelled(kind: list[str]) -> list[str]:
    return subprocess.run(["docker", *kind, "--filter", f"label={LABEL}={PREFIX}"], capture_output=True, text=True).stdout.split()


@pytest.fixture(scope="module")
def deployment(swarm_engine, tmp_path_factory):
    require_tools()
    root = tmp_path_factory.mktemp("deployswarm")
    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(root), "project_slug=hsdeploysw"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    layout = root / "hsdeploysw"
    env_file = layout / ".env"
    if not registry_reachable(IMAGES["python_image"][1]):
        standin_env(env_file)
    nginx = (read_env_file(env_file) if env_file.exists() else {}).get("NGINX_IMAGE", IMAGES["nginx_image"][1])
    label_db_node("hsdeploysw.db")  # what `hardstack up --swarm` does; a Pulumi deploy expects it done
    stack, _, _ = pulumi_stack(root, "swarm")
    secrets = fresh_secrets()
    stack.set_all_config({f"hardstack:{key}": auto.ConfigValue(value, secret=secret) for key, value, secret in (
        ("layoutDir", str(layout), False), ("target", "swarm", False), ("publishProxy", "false", False),
        ("allowStandins", "true", False), ("allowUnsetAlerts", "true", False), *((key, value, True) for key, value in secrets.items()))})
    d = type("Deployment", (), {})()
    d.stack, d.layout, d.secrets, d.port, d.forwarder = stack, layout, secrets, free_port(), f"{PREFIX}-forwarder"
    d.url, d.nginx, d.root = f"http://127.0.0.1:{d.port}", nginx, root
    try:
        yield d
    finally:
        subprocess.run(["docker", "rm", "-f", d.forwarder], capture_output=True)
        try:
            run.destroy(stack, on_output=lambda _: None)
        finally:
            for kind, rm in ((["service", "ls", "-q"], ["service", "rm"]), (["secret", "ls", "-q"], ["secret", "rm"]),
                             (["config", "ls", "-q"], ["config", "rm"]), (["network", "ls", "-q"], ["network", "rm"]),
                             (["volume", "ls", "-q"], ["volume", "rm", "-f"])):
                ids = labelled(kind)
                if ids:
                    subprocess.run(["docker", *rm, *ids], capture_output=True)


def services(d) -> dict[str, str]:
    return d.stack.outputs()["services"].value


def containers_of(service: str) -> list[dict]:
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}"],
                         capture_output=True, text=True).stdout.split()
    return json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True).stdout) if ids else []


def job_then_dependent(names: dict[str, str], job: str, dependent: str, since: float) -> tuple[float, float]:
    """When the job's first run since `since` completed, and when the dependent's first task since then was created
    (engine timestamps; the engine is this machine's)."""
    api = engine.api()

    def tasks(service: str) -> list[dict]:
        return [t for t in api.tasks(filters={"service": names[service]}) if created_at(t) >= since]

    done = [t for t in tasks(job) if t["Status"]["State"] == "complete"]
    assert done and tasks(dependent), (job, dependent)
    return engine_time(min(done, key=created_at)["Status"]["Timestamp"]), min(map(created_at, tasks(dependent)))


def test_swarm_up_converges_every_service_hardened_and_the_api_answers(deployment):
    since = time.time()
    result = run.up(deployment.stack, on_output=print)
    names = result.outputs["services"].value
    # Each job ran to completion before what needs it was created (deploy/watch.wait_for_job).
    for job, dependent in (("db-setup", "migrate"), ("migrate", "backend"), ("migrate", "worker")):
        completed, created = job_then_dependent(names, job, dependent, since)
        assert completed <= created, f"{dependent} was created {completed - created:.1f}s before {job} completed"
    assert set(names) == {"db", "db-setup", "migrate", "backend", "redis", "worker", "beat", "frontend", "proxy", "backup", "prometheus",
                          "postgres-exporter", "alertmanager", "redis-exporter"}
    loopback_forwarder(deployment.forwarder, f"{PREFIX}-edge", deployment.port, deployment.nginx, deployment.root)
    wait_answering(deployment.url + "/api/health/", timeout=120)
    assert http(deployment.url + "/api/health/").json()["database"] == "ok"
    nnp = "1" if daemon_sets_no_new_privileges() else "0"
    for service, name in names.items():
        running = containers_of(name)
        if service in result.outputs["jobs"].value:  # db-setup, migrate: completed, no running container
            continue
        assert running, service
        for c in running:
            host = c["HostConfig"]
            assert host["ReadonlyRootfs"] and host["CapDrop"] == ["ALL"] and host["PidsLimit"] > 0 and host["Memory"] > 0, service
            status = subprocess.run(["docker", "exec", c["Id"], "grep", "NoNewPrivs", "/proc/1/status"], capture_output=True, text=True).stdout
            assert status.split()[-1] == nnp, (service, status)
    # Every service stops within stack.yaml's grace period, or the engine's 10 s where it gives none (the provider's own
    # default was 0 s: beat was SIGKILLed 0.02-0.14 s after each stop signal).
    for service, name in names.items():
        grace = subprocess.run(["docker", "service", "inspect", "-f", "{{json .Spec.TaskTemplate.ContainerSpec.StopGracePeriod}}", name],
                               capture_output=True, text=True, check=True).stdout.strip()
        assert grace == str(STOP_GRACE.get(service, ENGINE_STOP_GRACE) * 10**9), (service, grace)
    backend = containers_of(names["backend"])
    assert len(backend) == 2
    assert len(containers_of(names["worker"])) == 2 and len(containers_of(names["beat"])) == 1  # worker replicas; one scheduler
    env = json.dumps([c["Config"]["Env"] for c in backend])
    assert not any(v in env for v in deployment.secrets.values())


def test_swarm_second_up_reports_no_changes(deployment):
    result = run.up(deployment.stack, on_output=lambda _: None)
    assert set(result.summary.resource_changes) == {"same"}, result.summary.resource_changes


def test_swarm_a_new_backend_image_rolls_with_zero_failed_requests(deployment):
    views = deployment.layout / "backend" / "demo" / "views.py"
    views.write_text(views.read_text() + "\n# release 2\n")
    before = {c["Id"] for c in containers_of(services(deployment)["backend"])}
    since = time.time()
    with RequestLoop(deployment.url + "/api/health/") as loop:
        result = run.up(deployment.stack, on_output=print)
    completed, rolled = job_then_dependent(services(deployment), "migrate", "backend", since)
    assert completed <= rolled, f"the backend rolled {completed - rolled:.1f}s before the new release's migrate completed"
    after = {c["Id"] for c in containers_of(services(deployment)["backend"])}
    changes = result.summary.resource_changes
    assert changes.get("update", 0) >= 2 and not changes.get("replace"), changes  # migrate and backend roll in place
    assert not before & after and len(after) == 2
    assert loop.total >= 20 and loop.failed == 0, loop.failures[:5]


def test_swarm_destroy_keeps_only_the_volumes(deployment):
    subprocess.run(["docker", "rm", "-f", deployment.forwarder], capture_output=True)
    run.destroy(deployment.stack, on_output=lambda _: None)
    for kind in (["service", "ls", "-q"], ["secret", "ls", "-q"], ["network", "ls", "-q"]):
        assert labelled(kind) == [], kind
    volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"name={PREFIX}-"], capture_output=True, text=True).stdout.split()
    assert f"{PREFIX}-db-data" in volumes
