"""ACME tier (issue 26): a layout with tls_mode=acme, run on a real engine against Pebble, Let's Encrypt's
test ACME server (scripts/pebble builds it from the Go module proxy).

Pebble and the layout's way to it: testkit/pebble.py (shared with scripts/bench-acme). The certificate is read
as a browser would: HTTPS on the published port, with the site's name as SNI, verified against the root Pebble
made at its start.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest
from typer.testing import CliRunner

from hardstack.catalog import IMAGES
from hardstack.cli import app
from hardstack.runtime.compose import Stack, registry_reachable, standin_env
from conftest import assignments
from testkit import pebble, tls
from testkit.probes import RequestLoop
from test_stack import down_leaving_nothing, free_port, require_engine, wait_for

pytestmark = pytest.mark.stack

DOMAIN = "shop.example.com"


def issuer_logs(stack: Stack) -> str:
    return stack.compose("logs", "--no-color", "acme").stdout


def renew_now(stack: Stack) -> None:
    stack.compose("kill", "-s", "USR1", "acme")


def metrics(stack: Stack) -> dict[str, float]:
    """The acme service's /metrics as Prometheus reads it: over the monitoring network, from its container."""
    out = stack.compose("exec", "-T", "prometheus", "wget", "-qO-", f"http://acme:{stack.acme_port}/metrics").stdout
    return {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in out.splitlines() if line.startswith("hardstack_acme_")}


@pytest.fixture(scope="module")
def acme(tmp_path_factory):
    require_engine()
    image, certs = pebble.pebble_image()
    out = tmp_path_factory.mktemp("acme")
    http_port, https_port = free_port(), free_port()
    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(out), *assignments(pebble.answers(DOMAIN, certs, http_port, https_port))],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    env = {} if registry_reachable(IMAGES["python_image"][1]) else standin_env(out / "standins.env")
    project = f"hsacme{uuid.uuid4().hex[:8]}"
    internet = pebble.Internet(project, DOMAIN, image, certs, free_port())
    layout = out / "hardstack_demo"
    s = Stack(layout, project, {**env, "APP_VERSION": project, "COMPOSE_FILE": internet.compose_file(layout)})
    s.http_port, s.https_port, s.acme_port, s.internet = http_port, https_port, 9108, internet
    watch = pebble.CertificateWatch(https_port, DOMAIN)
    try:
        print(f"\n[acme] build: {s.build():.1f}s")
        s.root = internet.start()
        watch.start()
        started = time.monotonic()
        print(f"[acme] up: every service healthy in {s.up():.1f}s")
        # No signal, no retry: the issuer's first order waits until the proxy serves the challenge path.
        try:
            s.issued = wait_for(lambda: pebble.issued_by(https_port, DOMAIN, s.root), 120, "a certificate from Pebble served by the proxy")
        except AssertionError:
            print(issuer_logs(s)[-4000:])
            raise
        s.time_to_certificate = time.monotonic() - started
        time.sleep(0.5)
        s.seen, s.first_metrics = list(watch.seen), metrics(s)
        print(f"[acme] from `up` to a served certificate from Pebble: {s.time_to_certificate:.1f}s")
        yield s
    finally:
        watch.done.set()
        try:
            down_leaving_nothing(s)
        finally:
            internet.stop()


def test_first_issuance_chains_to_pebbles_root_after_a_self_signed_start(acme):
    first, last = acme.seen[0], acme.seen[-1]
    assert first.issuer == first.subject, "before the CA answered, the proxy served the self-signed stand-in"
    cert = tls.served(acme.https_port, DOMAIN, cadata=acme.root)  # raises unless it chains to Pebble's root for DOMAIN
    assert cert.issuer != cert.subject and cert.serial_number == last.serial_number != first.serial_number
    # The first order waited for the proxy (it starts after the issuer) instead of failing a validation.
    logs = issuer_logs(acme)
    assert "order waits" in logs and "does not answer yet" in logs
    assert logs.index("order waits") < logs.index("order: the proxy serves the self-signed stand-in")
    assert acme.first_metrics["hardstack_acme_orders_failed_total"] == 0 and acme.first_metrics["hardstack_acme_orders_total"] == 1
    status, headers = tls.get(acme.https_port, "/healthz", DOMAIN, cadata=acme.root)
    assert status == 200 and headers["strict-transport-security"].startswith("max-age=63072000")


def test_plain_http_serves_only_the_challenge_location_and_the_redirect(acme):
    # A token that is not there: served by the challenge location (404 from the webroot), not redirected.
    status, _ = tls.get(acme.http_port, "/.well-known/acme-challenge/no-such-token", DOMAIN, tls=False)
    assert status == 404
    for path in ("/", "/healthz", "/api/health/", "/admin/", "/.well-known/security.txt"):
        status, headers = tls.get(acme.http_port, path, DOMAIN, tls=False)
        assert (status, headers.get("location")) == (301, f"https://{DOMAIN}:{acme.https_port}{path}"), path


def test_the_key_is_0600_owned_by_the_proxys_uid_and_in_no_log_or_image(acme):
    stat = acme.compose("exec", "-T", "acme", "python3", "-c", "import os; st = os.stat('/var/lib/hardstack-acme/live/privkey.pem'); "
                        "print(oct(st.st_mode & 0o777), st.st_uid, st.st_gid)").stdout.split()
    assert stat == ["0o600", "101", "101"]
    logs = acme.compose("logs", "--no-color", "acme", "proxy").stdout
    assert "PRIVATE KEY" not in logs and "published a certificate" in logs
    image = acme.inspect(acme.container_id("acme"))["Config"]["Image"]
    files = subprocess.run(["docker", "run", "--rm", "--entrypoint", "sh", image, "-c", "find / -xdev -name '*.pem' -path '*hardstack*'"],
                           capture_output=True, text=True).stdout
    assert files.strip() == "", f"certificates or keys inside the image: {files}"


def test_forced_renewal_is_served_without_a_failed_https_request(acme):
    before = tls.served(acme.https_port, DOMAIN, cadata=acme.root)
    fetch = lambda: tls.get(acme.https_port, "/healthz", DOMAIN, cadata=acme.root)[0]  # noqa: E731 (a new TLS connection each time)
    with RequestLoop("", interval=0.1, fetch=fetch) as loop:
        renew_now(acme)
        after = wait_for(lambda: (c := tls.served(acme.https_port, DOMAIN, cadata=acme.root)).serial_number != before.serial_number and c,
                         90, "the renewed certificate served")
        time.sleep(2)
    print(f"[acme] renewal under load: {loop.total} HTTPS requests, {loop.failed} failed")
    assert loop.failed == 0, loop.failures[:10]
    assert loop.total > 20
    assert after.issuer != after.subject
    # Reloaded, not restarted: the proxy container is the same one.
    assert "reloading nginx" in acme.compose("logs", "--no-color", "proxy").stdout
    assert acme.inspect(acme.container_id("proxy"))["RestartCount"] == 0


def test_an_unreachable_ca_keeps_the_old_certificate_and_shows_in_metrics_and_logs(acme):
    before = tls.served(acme.https_port, DOMAIN, cadata=acme.root)
    failed_before = metrics(acme)["hardstack_acme_orders_failed_total"]
    issuer = acme.container_id("acme")
    subprocess.run(["docker", "network", "disconnect", acme.internet.net, issuer], check=True, capture_output=True)
    try:
        renew_now(acme)
        wait_for(lambda: metrics(acme)["hardstack_acme_orders_failed_total"] > failed_before, 120, "the failed order counted")
        m = metrics(acme)
        assert m["hardstack_acme_last_attempt_success"] == 0 and m["hardstack_acme_certificate_self_signed"] == 0
        assert "the order failed" in issuer_logs(acme)
        assert tls.served(acme.https_port, DOMAIN, cadata=acme.root).serial_number == before.serial_number
        # Prometheus scrapes it (the CertificateRenewalFailing alert's input).
        query = "http://localhost:9090/api/v1/query?query=hardstack_acme_last_attempt_success"
        def scraped():
            out = acme.compose("exec", "-T", "prometheus", "wget", "-qO-", query).stdout
            result = json.loads(out)["data"]["result"]
            return result and result[0]["value"][1] == "0"
        wait_for(scraped, 60, "Prometheus to scrape the failed attempt")
    finally:
        subprocess.run(["docker", "network", "connect", acme.internet.net, issuer], capture_output=True)
