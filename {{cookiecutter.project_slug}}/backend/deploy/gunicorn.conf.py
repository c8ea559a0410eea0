"""gunicorn settings for the production backend (read-only rootfs, behind the proxy)."""
import os

bind = f"0.0.0.0:{os.environ.get('BACKEND_PORT', '8000')}"
wsgi_app = os.environ.get("WSGI_APP", "{{ cookiecutter.wsgi_app }}")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
worker_tmp_dir = "/tmp"  # the root filesystem is read-only; /tmp is a tmpfs
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
# Method, path, status, size and timing only: never bodies, never query strings with tokens.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
# Only the proxy on the private network talks to gunicorn.
forwarded_allow_ips = "*"
proxy_allow_ips = "*"
