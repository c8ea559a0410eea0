"""Container healthcheck: the app's health endpoint answers 200 (no curl in slim images).

One HTTP/1.0 request on a plain socket: the engine runs this every few seconds for the container's whole life, and
importing urllib (http.client, email, ssl) cost twice the CPU of the request itself."""
import os
import socket
import sys

port = int(os.environ.get("BACKEND_PORT", "8000"))
path = os.environ.get("HEALTH_PATH", "/")
try:
    with socket.create_connection(("127.0.0.1", port), timeout=4) as conn:
        conn.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode("ascii"))
        head = b""
        while b"\r\n" not in head and len(head) < 1024:
            chunk = conn.recv(1024)
            if not chunk:
                break
            head += chunk
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    if status_line.split(" ", 2)[1:2] != ["200"]:
        sys.exit(f"unhealthy: http://127.0.0.1:{port}{path} answered {status_line!r}")
except OSError as exc:
    sys.exit(f"unhealthy: http://127.0.0.1:{port}{path}: {exc}")
