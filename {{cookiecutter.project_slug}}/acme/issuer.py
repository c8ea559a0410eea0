"""The acme service: the proxy's certificate for ACME_DOMAIN, from the ACME CA at ACME_DIRECTORY_URL, by
certbot over HTTP-01 (certbot writes the challenge into the webroot the proxy serves on port 80).

    issuer.py run      publish a certificate at once (a self-signed stand-in until the first issuance), then
                       order one once the proxy serves the challenge path (a file of our own is fetched
                       through ACME_PROXY_URL first, so no validation is spent on a proxy not up yet), and
                       renew it when fewer than ACME_RENEW_DAYS days are left, checking every
                       ACME_CHECK_SECONDS (12 h); SIGUSR1 renews now. Metrics on :ACME_METRICS_PORT/metrics.
    issuer.py health   exit 0 when a certificate the proxy can start on is published.

The proxy reads STATE/live/fullchain.pem and STATE/live/privkey.pem. `live` is a symlink to one generation
folder, replaced in one rename, so nginx never reads a certificate with the other one's key. Keys are 0600
and owned by this UID, which is the proxy's; no key is ever printed.
"""

from __future__ import annotations

import datetime
import http.client
import http.server
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

STATE = Path(os.environ.get("ACME_STATE", "/var/lib/hardstack-acme"))
LIVE = STATE / "live"
WEBROOT = STATE / "webroot"
CERTBOT_DIR = STATE / "certbot"
DOMAIN = os.environ.get("ACME_DOMAIN", "")
DIRECTORY = os.environ.get("ACME_DIRECTORY_URL", "")
EMAIL = os.environ.get("ACME_EMAIL", "")
CA_BUNDLE = os.environ.get("ACME_CA_BUNDLE", "")
RENEW_DAYS = int(os.environ.get("ACME_RENEW_DAYS", "30"))
CHECK_SECONDS = int(os.environ.get("ACME_CHECK_SECONDS", str(12 * 3600)))
# After a failed order: retry in 15 min, then twice as long each time, at most 6 h (Let's Encrypt allows
# 5 failed validations per hostname an hour).
RETRY_SECONDS = int(os.environ.get("ACME_RETRY_SECONDS", "900"))
RETRY_MAX_SECONDS = 6 * 3600
METRICS_PORT = int(os.environ.get("ACME_METRICS_PORT", "9108"))
PROXY_URL = os.environ.get("ACME_PROXY_URL", "")  # http://proxy:8080, the proxy's plain-HTTP server
PREFLIGHT_SECONDS = 2
PLACEHOLDER_DAYS = 7


def log(message: str) -> None:
    print(f"acme: {message}", flush=True)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def load(path: Path):
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def not_after(cert) -> datetime.datetime:
    value = getattr(cert, "not_valid_after_utc", None)  # cryptography >= 42
    return value if value is not None else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def is_placeholder(cert) -> bool:
    return cert.issuer == cert.subject


def names(cert) -> list[str]:
    from cryptography import x509

    try:
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        return []


def publish(cert_pem: bytes, key_pem: bytes, directory: str = "") -> None:
    """A new generation folder, then `live` pointed at it in one rename; older generations removed. The folder
    also names the CA directory that issued the certificate ('' for the stand-in)."""
    stamp = time.time_ns()
    generation = STATE / f"gen-{stamp}"
    generation.mkdir(mode=0o700)
    for name, data, mode in (("privkey.pem", key_pem, 0o600), ("fullchain.pem", cert_pem, 0o644),
                             ("directory", directory.encode(), 0o644)):
        fd = os.open(generation / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    link = STATE / f".live-{stamp}"
    os.symlink(generation.name, link)
    os.replace(link, LIVE)
    for old in STATE.glob("gen-*"):
        if old != generation:
            shutil.rmtree(old, ignore_errors=True)


def placeholder() -> tuple[bytes, bytes]:
    """A self-signed certificate for DOMAIN, valid PLACEHOLDER_DAYS: the proxy starts on it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now() - datetime.timedelta(minutes=5))
            .not_valid_after(now() + datetime.timedelta(days=PLACEHOLDER_DAYS))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class Metrics:
    """What Prometheus scrapes: the served certificate's expiry, and how the last orders went."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, float] = {"last_attempt_timestamp_seconds": 0, "last_success_timestamp_seconds": 0,
                                         "last_attempt_success": 1, "orders_failed_total": 0, "orders_total": 0,
                                         "challenge_served": 1}

    def set(self, **values: float) -> None:
        with self.lock:
            self.values.update(values)

    def add(self, name: str) -> None:
        with self.lock:
            self.values[name] += 1

    def text(self) -> str:
        cert = load(LIVE / "fullchain.pem")
        with self.lock:
            values = dict(self.values)
        if cert is not None:
            values["certificate_expiry_timestamp_seconds"] = not_after(cert).timestamp()
            values["certificate_self_signed"] = 1 if is_placeholder(cert) else 0
        help_text = {
            "certificate_expiry_timestamp_seconds": "When the certificate the proxy serves expires (Unix time).",
            "certificate_self_signed": "1 while the proxy serves the self-signed stand-in (no certificate issued yet).",
            "last_attempt_timestamp_seconds": "When the last order or renewal was tried.",
            "last_success_timestamp_seconds": "When the last order or renewal succeeded.",
            "last_attempt_success": "1 if the last order or renewal succeeded (or none was tried yet), 0 if it failed.",
            "orders_failed_total": "Orders and renewals that failed.",
            "orders_total": "Orders and renewals tried.",
            "challenge_served": "0 while an order waits because the proxy does not serve the challenge path, else 1.",
        }
        lines = []
        for name, value in values.items():
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [f"# HELP hardstack_acme_{name} {help_text[name]}", f"# TYPE hardstack_acme_{name} {kind}",
                      f"hardstack_acme_{name}" + '{domain="' + DOMAIN + '"} ' + f"{value:.0f}"]
        return "\n".join(lines) + "\n"


def serve_metrics(metrics: Metrics) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            if self.path != "/metrics":
                self.send_error(404)
                return
            body = metrics.text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", METRICS_PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def order() -> bool:
    """certbot certonly for DOMAIN (a new certificate each time: the caller decides when); published on success."""
    command = ["certbot", "certonly", "--non-interactive", "--agree-tos", "--webroot", "--webroot-path", str(WEBROOT),
               "--domain", DOMAIN, "--cert-name", "site", "--server", DIRECTORY, "--key-type", "ecdsa", "--force-renewal",
               "--config-dir", str(CERTBOT_DIR), "--work-dir", "/tmp/certbot/work", "--logs-dir", "/tmp/certbot/logs"]
    command += ["--email", EMAIL] if EMAIL else ["--register-unsafely-without-email"]
    env = dict(os.environ)
    if CA_BUNDLE:
        env["REQUESTS_CA_BUNDLE"] = CA_BUNDLE  # certbot talks to the CA through requests
    log(f"ordering a certificate for {DOMAIN} from {DIRECTORY}")
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    except subprocess.TimeoutExpired:
        log("certbot did not finish within 600 s")
        return False
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.strip():
            log(f"certbot: {line}")
    lineage = CERTBOT_DIR / "live" / "site"
    if proc.returncode != 0:
        log(f"the order failed (certbot exit {proc.returncode}); the proxy keeps serving the certificate it has")
        return False
    publish((lineage / "fullchain.pem").read_bytes(), (lineage / "privkey.pem").read_bytes(), DIRECTORY)
    cert = load(LIVE / "fullchain.pem")
    log(f"published a certificate for {DOMAIN}, serial {cert.serial_number:x}, valid until {not_after(cert).isoformat()}")
    return True


def challenge_unserved() -> str:
    """'' when the proxy serves a file written into the webroot at the challenge path, as the CA will ask for
    it (plain HTTP, Host: DOMAIN, no redirect followed); otherwise why not."""
    if not PROXY_URL:
        return ""
    folder = WEBROOT / ".well-known" / "acme-challenge"
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    token = secrets.token_urlsafe(16)
    probe = folder / f"hardstack-preflight-{token}"
    probe.write_text(token)
    os.chmod(probe, 0o644)
    host, _, port = PROXY_URL.removeprefix("http://").rstrip("/").partition(":")
    try:
        conn = http.client.HTTPConnection(host, int(port or 80), timeout=5)
        conn.request("GET", f"/.well-known/acme-challenge/{probe.name}", headers={"Host": DOMAIN})
        resp = conn.getresponse()
        body = resp.read(200).decode(errors="replace")
        conn.close()
        if resp.status == 200 and body == token:
            return ""
        return f"{PROXY_URL} answered {resp.status} {body[:60]!r} for the challenge path, not the file"
    except OSError as e:
        return f"{PROXY_URL} does not answer yet ({e})"
    finally:
        probe.unlink(missing_ok=True)


def due(cert) -> str:
    """Why a certificate must be ordered now ('' when the one served is good)."""
    if cert is None:
        return "no certificate yet"
    if is_placeholder(cert):
        return "the proxy serves the self-signed stand-in"
    if DOMAIN not in names(cert):
        return f"the certificate names {', '.join(names(cert))}, not {DOMAIN}"
    try:
        issued_by = (LIVE / "directory").read_text()
    except OSError:
        issued_by = DIRECTORY  # published before the issuer recorded it: assume the CA it asks today
    if issued_by != DIRECTORY:
        return f"the certificate is from {issued_by}, the layout now asks {DIRECTORY} (staging, then production)"
    left = not_after(cert) - now()
    if left < datetime.timedelta(days=RENEW_DAYS):
        return f"{left.days} days left, fewer than {RENEW_DAYS}"
    return ""


def run() -> int:
    for folder in (WEBROOT, CERTBOT_DIR):
        folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    metrics = Metrics()
    serve_metrics(metrics)
    forced, stopping = threading.Event(), threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: forced.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())

    retry, last_said, asked = RETRY_SECONDS, -3600.0, False
    while not stopping.is_set():
        cert = load(LIVE / "fullchain.pem")
        if cert is None or (is_placeholder(cert) and not_after(cert) - now() < datetime.timedelta(days=2)):
            publish(*placeholder())
            log(f"published a self-signed stand-in for {DOMAIN} (valid {PLACEHOLDER_DAYS} days) until the first issuance")
            cert = load(LIVE / "fullchain.pem")
        asked = asked or forced.is_set()  # SIGUSR1: kept until an order is made
        forced.clear()
        reason = "renewal asked for (SIGUSR1)" if asked else due(cert)
        wait = CHECK_SECONDS
        unserved = challenge_unserved() if reason else ""
        if unserved:
            # Checked again every few seconds, without asking the CA: the proxy starts after this service.
            metrics.set(challenge_served=0)
            if time.monotonic() - last_said >= 60:
                log(f"order waits ({reason}): {unserved}")
                last_said = time.monotonic()
            wait = PREFLIGHT_SECONDS
        elif reason:
            asked = False
            metrics.set(challenge_served=1)
            log(f"order: {reason}")
            metrics.add("orders_total")
            ok = order()
            metrics.set(last_attempt_timestamp_seconds=time.time(), last_attempt_success=1 if ok else 0)
            if ok:
                metrics.set(last_success_timestamp_seconds=time.time())
                retry = RETRY_SECONDS
                forced.clear()  # a renewal asked for while this order ran is done by it: no second order
            else:
                metrics.add("orders_failed_total")
                wait, retry = retry, min(retry * 2, RETRY_MAX_SECONDS)
                log(f"next try in {wait} s (or now: SIGUSR1)")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not (forced.is_set() or stopping.is_set()):
            time.sleep(1)
    log("stopping")
    return 0


def health() -> int:
    cert = load(LIVE / "fullchain.pem")
    if cert is None or not (LIVE / "privkey.pem").exists():
        print(f"no certificate published at {LIVE}", file=sys.stderr)
        return 1
    if not_after(cert) < now():
        print(f"the published certificate expired at {not_after(cert).isoformat()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    if command not in ("run", "health"):
        sys.exit(f"usage: issuer.py run|health (got {command!r})")
    if not DOMAIN and command == "run":
        sys.exit("ACME_DOMAIN is not set: the layout's compose.yaml sets it from the domain answer")
    sys.exit(run() if command == "run" else health())
