"""Stack tier, swarm, tls_mode=acme: the layout's stack.yaml on a one-node swarm of the real engine, its issuer
against Pebble (Let's Encrypt's test CA, scripts/pebble).

As in test_swarm, the proxy's host-mode ports are left out (a copy of stack.yaml: testkit.loopback). The copy
also makes the acme overlay attachable, so that Pebble joins it as `pebble` (the issuer's way to the CA); Pebble
reaches the proxy there under the site's name (an /etc/hosts line for the proxy's address on that overlay), as
the public CA reaches port 80. HTTPS is read inside the proxy's task, against Pebble's root, with the site's
name as SNI.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid

import pytest
import yaml
from test_stack import free_port, wait_for
from typer.testing import CliRunner

from conftest import assignments
from hardstack.answers import validate
from hardstack.catalog import IMAGES
from hardstack.cli import app
from hardstack.runtime.compose import Stack, registry_reachable, standin_env
from hardstack.runtime.swarm import SwarmStack, label_db_node, task_state
from testkit import pebble
from testkit.loopback import loopback_copy

pytestmark = pytest.mark.stack

DOMAIN = "shop.example.com"


def https_through_pebbles_root(swarm) -> bool:
    """GET https://DOMAIN/healthz inside the proxy's task, verified against Pebble's root (curl: the chain, the name)."""
    (proxy,) = swarm.containers("proxy")
    script = (f"cat > /tmp/pebble-root.pem && curl -fsS -o /dev/null --cacert /tmp/pebble-root.pem "
              f"--resolve {DOMAIN}:8443:127.0.0.1 https://{DOMAIN}:8443/healthz")
    return subprocess.run(["docker", "exec", "-i", proxy["Id"], "sh", "-c", script], input=swarm.root, text=True,
                          capture_output=True).returncode == 0


def issuer_logs(swarm) -> str:
    return subprocess.run(["docker", "service", "logs", "--raw", f"{swarm.name}_acme"], capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def swarm(swarm_engine, tmp_path_factory):
    image, certs = pebble.pebble_image()
    out = tmp_path_factory.mktemp("swarm-acme")
    answers = {**pebble.answers(DOMAIN, certs, free_port(), free_port()), "project_slug": "hsswacme"}
    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(out), *assignments(answers)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    layout = out / "hsswacme"
    env = {} if registry_reachable(IMAGES["python_image"][1]) else standin_env(out / "standins.env")
    name = f"hswa{uuid.uuid4().hex[:6]}"
    print(f"\n[swarm-acme] build: {Stack(layout, name, env).build():.1f}s")
    stack_file = loopback_copy(layout)
    doc = yaml.safe_load((layout / stack_file).read_text())
    doc["networks"]["acme"]["attachable"] = True
    (layout / stack_file).write_text(yaml.safe_dump(doc, sort_keys=False))
    s = SwarmStack(layout, name, env, stack_file=stack_file)
    validated = validate(json.loads((layout / ".hardstack-answers.json").read_text()))
    label_db_node(validated.swarm_db_label)
    s.env = {**env, **s.versions(validated)}
    internet = pebble.Internet(name, DOMAIN, image, certs, free_port())
    try:
        print(f"[swarm-acme] docker stack deploy: every service converged healthy in {s.deploy(timeout=600):.1f}s")
        (proxy,) = s.containers("proxy")
        address = proxy["NetworkSettings"]["Networks"][f"{name}_acme"]["IPAddress"]
        s.root = internet.start(hosts={DOMAIN: address}, join=f"{name}_acme")
        # The CA came after the issuer's first order (which failed): renew now, as a user would after fixing DNS.
        (issuer,) = s.containers("acme")
        started = time.monotonic()
        subprocess.run(["docker", "kill", "-s", "USR1", issuer["Id"]], check=True, capture_output=True)
        try:
            wait_for(lambda: https_through_pebbles_root(s), 120, "the proxy serving a certificate from Pebble")
        except AssertionError:
            print(issuer_logs(s)[-4000:])
            raise
        print(f"[swarm-acme] signal to a certificate from Pebble served: {time.monotonic() - started:.1f}s")
        yield s
    finally:
        internet.stop()
        s.remove(keep_data=False)


def test_the_issuer_on_swarm_gets_a_certificate_the_proxy_serves(swarm):
    assert swarm.lagging() == []
    assert https_through_pebbles_root(swarm)
    logs = issuer_logs(swarm)
    assert "published a certificate for shop.example.com" in logs and "PRIVATE KEY" not in logs


def test_exactly_one_issuer_runs_even_while_it_rolls(swarm):
    spec = swarm.services()["acme"]["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 1 and spec["UpdateConfig"]["Order"] == "stop-first"
    most, done = [0], threading.Event()

    def count():
        while not done.is_set():
            most[0] = max(most[0], len([t for t in swarm.tasks("acme") if task_state(t) in ("running", "starting")]))
            time.sleep(0.2)

    counter = threading.Thread(target=count, daemon=True)
    counter.start()
    try:
        subprocess.run(["docker", "service", "update", "--detach", "--force", f"{swarm.name}_acme"], check=True, capture_output=True)
        assert swarm.wait_update("acme", timeout=180) == "completed"
    finally:
        done.set()
        counter.join()
    assert most[0] == 1, f"{most[0]} issuers ran at once during the roll"
    # The new issuer kept the certificate (the volume), so the proxy still serves Pebble's.
    assert https_through_pebbles_root(swarm)
