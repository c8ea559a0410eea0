"""gunicorn settings for the production backend (read-only rootfs, behind the proxy)."""
import os

bind = f"0.0.0.0:{os.environ.get('BACKEND_PORT', '8000')}"
{%- set a = cookiecutter | answers %}
{%- if a.server == "uvicorn" %}
# The app's ASGI_APP ({{ a.asgi_app }}) in uvicorn workers, wrapped to serve its static files (see hardstack_asgi.py).
wsgi_app = "hardstack_asgi:application"
worker_class = "uvicorn_worker.UvicornWorker"
{%- else %}
# The app's WSGI_APP ({{ a.wsgi_app }}), wrapped to serve its static files (see hardstack_wsgi.py).
wsgi_app = "hardstack_wsgi:application"
{%- endif %}
pythonpath = "/opt/hardstack"
# The master imports the app before it listens (answer gunicorn_preload), and the workers share its memory. Either way
# a release whose app does not import exits without accepting a connection (see on_starting), so the proxy's retry goes
# to the serving release at once instead of waiting on a socket nobody accepts from.
preload_app = {{ a.gunicorn_preload }}
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
worker_tmp_dir = "/tmp"  # the root filesystem is read-only; /tmp is a tmpfs
timeout = 30
graceful_timeout = {{ a.gunicorn_graceful }}  # the container's stop_grace_period is longer (catalog.STOP_GRACE)
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
# Method, path, status, size and timing only: never bodies, never query strings with tokens.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
# Forwarded headers count only from the proxy, which hardstack_forwarded.py checks per request by the
# proxy's service name (its address changes with each restart): gunicorn and uvicorn trust no peer.
forwarded_allow_ips = "127.0.0.1"
proxy_allow_ips = "127.0.0.1"


def on_starting(server):
    """Without preload_app (an app that starts threads or opens connections at import), each worker imports the app
    after the master listens: import it once in a child process first, and exit before listening if it fails."""
    if preload_app:
        return
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [pythonpath, os.environ.get("PYTHONPATH")]))}
    if subprocess.run([sys.executable, "-c", f"import {wsgi_app.partition(':')[0]}"], env=env).returncode != 0:
        sys.exit(f"gunicorn: the app does not import (see above): {{ a.app_entry[0] }}={os.environ.get('{{ a.app_entry[0] }}')}")
