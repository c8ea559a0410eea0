{%- set a = cookiecutter | answers -%}
"""Runs `celery` as its own script does, and keeps a liveness beacon in /tmp for the healthcheck (celery_health.py):

    worker  the beacon is touched at each worker heartbeat (every {{ a.celery_beacon.worker.every }} s). The worker sends them from its event loop
            and stops them when its broker connection drops, so a fresh beacon means a live loop on a live broker.
    beat    a thread of beat's own process connects to the broker every {{ a.celery_beacon.beat.every }} s and touches the beacon when it can.

The probe only reads the beacon's age. Asking the app instead (import it, ping over the broker) cost 0.3 s of CPU
every few seconds in each container: the two costliest containers of an idle stack.
"""
import sys

del sys.path[0]  # /opt/hardstack, where this script lives: its other scripts must not shadow the app's modules

import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from celery.__main__ import main  # noqa: E402
from celery.signals import beat_init, heartbeat_sent  # noqa: E402

WORKER_BEACON, BEAT_BEACON = Path("/tmp/hardstack-celery-worker"), Path("/tmp/hardstack-celery-beat")
BEAT_EVERY = {{ a.celery_beacon.beat.every }}  # seconds


@heartbeat_sent.connect
def worker_beats(**_) -> None:
    WORKER_BEACON.touch()


@beat_init.connect
def beat_started(sender, **_) -> None:
    app = sender.app

    def beacon() -> None:
        said = None
        while True:
            try:
                with app.connection_for_write() as conn:
                    conn.ensure_connection(max_retries=1, timeout=3)
                BEAT_BEACON.touch()
                said = None
            except Exception as exc:  # noqa: BLE001 - any failure leaves the beacon to go stale
                if repr(exc) != said:
                    print(f"hardstack: beat's broker connection failed ({exc.__class__.__name__}: {exc}); healthy again once it connects",
                          file=sys.stderr, flush=True)
                    said = repr(exc)
            time.sleep(BEAT_EVERY)

    threading.Thread(target=beacon, name="hardstack-beacon", daemon=True).start()


if __name__ == "__main__":
    sys.argv[0] = "celery"
    sys.exit(main())
