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
