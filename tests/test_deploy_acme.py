"""Deploy tier, tls_mode=acme: the Pulumi compose target (real CLI, pulumi-docker, the local engine) runs the
issuer, and it gets a certificate from Pebble (Let's Encrypt's test CA, scripts/pebble) that the proxy serves.

Pebble joins the deployment's acme network as `pebble` once `up` is done, with an /etc/hosts line that names the
proxy's address there as the site (the public CA reaches port 80 the same way); the issuer is then asked to
renew, as after a DNS fix. The certificate is read on the published HTTPS port, with the site's name as SNI,
verified against Pebble's root.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from pulumi import automation as auto
from typer.testing import CliRunner

from conftest import assignments
from hardstack.catalog import IMAGES
from hardstack.cli import app
from hardstack.deploy import run
from hardstack.deploy.run import stack_leftovers
from hardstack.runtime.compose import registry_reachable, standin_env
from test_deploy import fresh_secrets, require_tools
from test_stack import free_port, wait_for
from testkit import pebble
from testkit.pulumistate import pulumi_stack

pytestmark = pytest.mark.deploy

DOMAIN = "shop.example.com"
NAME = "hsdeployacme-test"  # containers, networks and volumes: <project>-<stack>-<name>


def container(d, service: str) -> dict:
    """`docker inspect` of a service's container, by the name the deployment's outputs give."""
    name = d.stack.outputs()["containers"].value[service]
    return json.loads(subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True).stdout)[0]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    require_tools()
    image, certs = pebble.pebble_image()
    root = tmp_path_factory.mktemp("deploy-acme")
    https_port = free_port()
    answers = {**pebble.answers(DOMAIN, certs, free_port(), https_port), "project_slug": "hsdeployacme"}
    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(root), *assignments(answers)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    layout = root / "hsdeployacme"
    standins = not registry_reachable(IMAGES["python_image"][1])
    if standins:
        standin_env(layout / ".env")
    stack, _, _ = pulumi_stack(root, "test")
    secrets = {k: v for k, v in fresh_secrets().items() if k != "redisPassword"}  # no workers, no broker
    config = {"layoutDir": (str(layout), False), "allowUnsetAlerts": ("true", False), **({"allowStandins": ("true", False)} if standins else {}),
              **{key: (value, True) for key, value in secrets.items()}}
    stack.set_all_config({f"hardstack:{key}": auto.ConfigValue(value, secret=secret) for key, (value, secret) in config.items()})
    internet = pebble.Internet(NAME, DOMAIN, image, certs, free_port())
    d = type("Deployment", (), {})()
    d.stack, d.https_port, d.internet = stack, https_port, internet
    try:
        started = time.monotonic()
        run.up(stack, on_output=lambda _: None)
        print(f"\n[deploy-acme] pulumi up: {time.monotonic() - started:.1f}s")
        address = container(d, "proxy")["NetworkSettings"]["Networks"][f"{NAME}-acme"]["IPAddress"]
        d.root = internet.start(hosts={DOMAIN: address}, join=f"{NAME}-acme")
        subprocess.run(["docker", "kill", "-s", "USR1", container(d, "acme")["Id"]], check=True, capture_output=True)
        d.issued = wait_for(lambda: pebble.issued_by(https_port, DOMAIN, d.root), 120, "a certificate from Pebble on the published HTTPS port")
        yield d
    finally:
        internet.stop()
        try:
            run.destroy(stack, on_output=lambda _: None)
        finally:
            for kind, ids in stack_leftovers(NAME).items():
                for ident in ids:
                    subprocess.run(["docker", {"containers": "rm", "networks": "network", "volumes": "volume"}[kind]]
                                   + ([] if kind == "containers" else ["rm"]) + ["-f", ident], capture_output=True)


def test_the_issuer_deployed_by_pulumi_gets_a_certificate_the_proxy_serves(deployment):
    assert deployment.issued.issuer != deployment.issued.subject
    issuer = container(deployment, "acme")
    assert issuer["HostConfig"]["ReadonlyRootfs"] and issuer["HostConfig"]["CapDrop"] == ["ALL"] and issuer["Config"]["User"] == "101:101"
    logs = subprocess.run(["docker", "logs", issuer["Id"]], capture_output=True, text=True)
    assert "published a certificate for shop.example.com" in logs.stdout + logs.stderr


def test_a_second_up_changes_nothing_and_destroy_keeps_the_certificate(deployment):
    before = pebble.issued_by(deployment.https_port, DOMAIN, deployment.root)
    result = run.up(deployment.stack, on_output=lambda _: None)
    assert set(result.summary.resource_changes) == {"same"}, result.summary.resource_changes
    assert pebble.issued_by(deployment.https_port, DOMAIN, deployment.root).serial_number == before.serial_number
    deployment.internet.stop()  # Pebble leaves the acme network: a network with a foreign container cannot be removed
    run.destroy(deployment.stack, on_output=lambda _: None)
    # The account and the certificate are kept, as the other data volumes are (catalog.PROTECTED_VOLUMES).
    assert subprocess.run(["docker", "volume", "inspect", f"{NAME}-certs"], capture_output=True).returncode == 0
