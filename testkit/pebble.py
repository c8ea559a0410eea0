"""A tls_mode=acme layout against Pebble, Let's Encrypt's test ACME server, on this machine's engine: shared by
tests/test_acme.py and scripts/bench-acme.

Pebble runs before `up`, as a public CA is always there, on a network of its own (joined through
compose.internet.yaml, an override written into the layout) where the proxy answers as the site's name (so
Pebble's HTTP-01 validation reaches the proxy's port 80 as the public CA would) and the issuer finds the CA as
`pebble`.
"""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from testkit import tls

ROOT = Path(__file__).resolve().parents[1]
DIRECTORY = "https://pebble:14000/dir"
INTERNET = """\
services:
  proxy:
    networks:
      public:
        aliases: ["{domain}"]
  acme:
    networks:
      public: {{}}
networks:
  public:
    name: {net}
    external: true
"""


def pebble_image() -> tuple[str, Path]:
    """scripts/pebble: the image, and the folder holding pebble.minica.pem (the CA of Pebble's own HTTPS)."""
    proc = subprocess.run([str(ROOT / "scripts" / "pebble")], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/pebble failed: {proc.stderr[-2000:]}")
    image, certs = proc.stdout.split()
    return image, Path(certs)


def answers(domain: str, certs: Path, http_port: int, https_port: int) -> dict[str, str]:
    """A small acme layout (no SPA, no workers) whose issuer asks Pebble and trusts its HTTPS."""
    return {"tls_mode": "acme", "domain": domain, "acme_email": "ops@example.org", "acme_directory_url": DIRECTORY,
            "acme_ca_bundle": str(certs / "pebble.minica.pem"), "frontend_context": "", "celery_app": "",
            "http_port": str(http_port), "https_port": str(https_port)}


@dataclass
class Internet:
    """Pebble on a network of its own; `compose_file` makes the layout's proxy and issuer join it."""
    project: str
    domain: str
    image: str
    certs: Path
    management_port: int
    net: str = field(init=False)
    pebble: str = field(init=False)

    def __post_init__(self) -> None:
        self.net, self.pebble = f"{self.project}-public", f"{self.project}-pebble"

    def compose_file(self, layout: Path) -> str:
        """Writes the override into layout; returns COMPOSE_FILE for the Stack's environment."""
        (layout / "compose.internet.yaml").write_text(INTERNET.format(domain=self.domain, net=self.net))
        return "compose.yaml:compose.internet.yaml"

    def start(self, hosts: dict[str, str] | None = None, join: str | None = None, timeout: float = 30) -> str:
        """Pebble started and answering; returns the root it issues under (a new one at every start).
        hosts: /etc/hosts lines (name -> address) for Pebble's validations; join: a network of the deployment
        where the issuer finds Pebble as `pebble` (the deployment's own network, when no override can add one)."""
        subprocess.run(["docker", "network", "create", self.net], check=True, capture_output=True)
        subprocess.run(["docker", "run", "-d", "--name", self.pebble, "--network", self.net, "--network-alias", "pebble",
                        *(f"--add-host={name}:{address}" for name, address in (hosts or {}).items()),
                        "-p", f"127.0.0.1:{self.management_port}:15000", "-e", "PEBBLE_VA_NOSLEEP=1", "-e", "PEBBLE_WFE_NONCEREJECT=0",
                        "--read-only", "--cap-drop", "ALL", self.image], check=True, capture_output=True)
        if join:
            subprocess.run(["docker", "network", "connect", "--alias", "pebble", join, self.pebble], check=True, capture_output=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.root()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def root(self) -> str:
        ctx = tls.context((self.certs / "pebble.minica.pem").read_text())
        with urllib.request.urlopen(f"https://127.0.0.1:{self.management_port}/roots/0", context=ctx, timeout=10) as resp:
            return resp.read().decode()

    def stop(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.pebble], capture_output=True)
        subprocess.run(["docker", "network", "rm", self.net], capture_output=True)


class CertificateWatch(threading.Thread):
    """Every distinct certificate served on a published HTTPS port, in order, polled 5 times a second."""

    def __init__(self, port: int, domain: str) -> None:
        super().__init__(daemon=True)
        self.port, self.domain, self.seen, self.done = port, domain, [], threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                cert = tls.served(self.port, self.domain)
                if not self.seen or cert.serial_number != self.seen[-1].serial_number:
                    self.seen.append(cert)
            except OSError:
                pass
            time.sleep(0.2)


def issued_by(port: int, domain: str, root: str):
    """The certificate served for domain if it verifies against root, else None."""
    try:
        return tls.served(port, domain, cadata=root)
    except OSError:
        return None
