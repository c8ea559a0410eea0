"""HTTPS probes of a proxy published on loopback, with the site's name as SNI and Host (the proxy answers
for a domain that does not resolve here): the certificate it serves, and a request's status and headers."""

from __future__ import annotations

import socket
import ssl


def context(cadata: str | None) -> ssl.SSLContext:
    """Verifying against cadata (a CA's PEM), or not verifying at all (None: to read a self-signed one)."""
    if cadata is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cadata=cadata)


def served(port: int, domain: str, cadata: str | None = None, host: str = "127.0.0.1"):
    """The leaf certificate the server presents for domain (verified against cadata when given)."""
    from cryptography import x509

    with socket.create_connection((host, port), timeout=5) as sock, context(cadata).wrap_socket(sock, server_hostname=domain) as tls:
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def get(port: int, path: str, domain: str, cadata: str | None = None, tls: bool = True, host: str = "127.0.0.1",
        timeout: float = 5) -> tuple[int, dict[str, str]]:
    """One GET on a new connection (no redirect followed): the status and the response headers, lowercased."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        sock = context(cadata).wrap_socket(raw, server_hostname=domain) if tls else raw
        try:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {domain}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        finally:
            if tls:
                sock.close()
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
    return status, headers
