"""Healthcheck of a Celery worker or beat, run through the entrypoint (which exports the app's settings).

    celery_health.py worker   this container's worker answers a ping over the broker
    celery_health.py beat     the container runs celery beat, and the broker takes a connection
"""
import os
import socket
import sys
from pathlib import Path

from celery.app.utils import find_app

role = sys.argv[1] if len(sys.argv) > 1 else "worker"
app = find_app(os.environ["HARDSTACK_CELERY_APP"])
try:
    if role == "worker":
        node = f"celery@{socket.gethostname()}"
        replies = app.control.ping(destination=[node], timeout=3.0)
        if not any(node in reply for reply in replies):
            sys.exit(f"unhealthy: {node} did not answer a ping over the broker")
    else:
        command = Path("/proc/1/cmdline").read_bytes().split(b"\0")
        if b"beat" not in command:
            sys.exit(f"unhealthy: the container's process is not celery beat ({command!r})")
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
    sys.exit(f"unhealthy: {exc.__class__.__name__}: {exc}")
