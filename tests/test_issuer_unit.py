"""The acme service's decisions without a CA: acme/issuer.py of a rendered layout, imported with its state in a
temporary folder. What it publishes (modes, the one-rename switch) and when it orders (test_acme runs it
against Pebble)."""

from __future__ import annotations

import datetime
import importlib.util
import os
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from hardstack.cli import app

DOMAIN = "shop.example.com"
STAGING, PRODUCTION = "https://acme-staging-v02.api.letsencrypt.org/directory", "https://acme-v02.api.letsencrypt.org/directory"


@pytest.fixture(scope="module")
def issuer_source(tmp_path_factory):
    out = tmp_path_factory.mktemp("acme-layout")
    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(out), "tls_mode=acme", f"domain={DOMAIN}"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out / "hardstack_demo" / "acme" / "issuer.py"


@pytest.fixture
def issuer(issuer_source, tmp_path, monkeypatch):
    monkeypatch.setenv("ACME_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("ACME_DOMAIN", DOMAIN)
    monkeypatch.setenv("ACME_DIRECTORY_URL", STAGING)
    (tmp_path / "state").mkdir()
    spec = importlib.util.spec_from_file_location("issuer", issuer_source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def issued(name: str = DOMAIN, days: int = 90) -> tuple[bytes, bytes]:
    """A certificate for name signed by a CA of its own (not self-signed: what an ACME CA hands out)."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), pem


def served(issuer):
    return issuer.load(issuer.LIVE / "fullchain.pem")


def test_the_stand_in_is_published_with_a_0600_key_and_asks_for_an_order(issuer):
    assert issuer.due(served(issuer)) == "no certificate yet"
    issuer.publish(*issuer.placeholder())
    assert stat.S_IMODE(os.stat(issuer.LIVE / "privkey.pem").st_mode) == 0o600
    assert issuer.due(served(issuer)) == "the proxy serves the self-signed stand-in"


def test_a_fresh_certificate_is_kept_and_one_near_expiry_or_for_another_name_is_renewed(issuer):
    issuer.publish(*issued(), directory=STAGING)
    assert issuer.due(served(issuer)) == ""
    issuer.publish(*issued(days=issuer.RENEW_DAYS - 1), directory=STAGING)
    assert "fewer than 30" in issuer.due(served(issuer))
    issuer.publish(*issued(name="old.example.com"), directory=STAGING)
    assert "not shop.example.com" in issuer.due(served(issuer))


def test_switching_the_directory_from_staging_to_production_orders_again(issuer, monkeypatch):
    issuer.publish(*issued(), directory=STAGING)
    monkeypatch.setattr(issuer, "DIRECTORY", PRODUCTION)
    reason = issuer.due(served(issuer))
    assert STAGING in reason and PRODUCTION in reason


def test_publishing_switches_live_in_one_rename_and_keeps_one_generation(issuer):
    issuer.publish(*issuer.placeholder())
    first = os.readlink(issuer.LIVE)
    cert, key = issued()
    issuer.publish(cert, key, directory=STAGING)
    assert os.readlink(issuer.LIVE) != first and (issuer.LIVE / "fullchain.pem").read_bytes() == cert
    assert [p.name for p in issuer.STATE.glob("gen-*")] == [os.readlink(issuer.LIVE)]
