{%- set a = cookiecutter | answers -%}
"""Healthcheck of a Celery worker or beat: the liveness beacon celery_run.py keeps for this container's process is
fresh. Reads one file's age: no import of the app, no connection of its own.

    celery_health.py worker   this container's worker sent a heartbeat within {{ a.celery_beacon.worker.max_age }} s (event loop and broker up)
    celery_health.py beat     this container's beat connected to the broker within {{ a.celery_beacon.beat.max_age }} s
"""
import os
import sys
import time

MAX_AGE = {"worker": {{ a.celery_beacon.worker.max_age }}, "beat": {{ a.celery_beacon.beat.max_age }}}  # seconds
role = sys.argv[1] if len(sys.argv) > 1 else "worker"
beacon = f"/tmp/hardstack-celery-{role}"
try:
    age = time.time() - os.stat(beacon).st_mtime
except FileNotFoundError:
    sys.exit(f"unhealthy: no {role} beacon ({beacon}): no celery {role} started through /opt/hardstack/celery_run.py "
             f"has reached its broker in this container")
if age > MAX_AGE[role]:
    sys.exit(f"unhealthy: the celery {role}'s beacon is {age:.0f} s old (more than {MAX_AGE[role]} s): "
             + ("no heartbeat: its event loop is stuck or its broker connection is down" if role == "worker"
                else "the broker has not taken its connection; see its log"))
