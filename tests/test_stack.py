"""Stack tier (bar R1-R8): a freshly generated layout, built and run on a real Docker engine.

Needs a Docker engine and Compose v2 (scripts/bootstrap installs and starts them). Without them
these tests fail and say so; they never skip. Default images come from the registry when it is
reachable, else from the local stand-ins (scripts/stand-in-images).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hardstack.answers import Answers
from hardstack.catalog import DB_UID, IMAGES
from hardstack.cli import app
from hardstack.runtime.compose import Stack, registry_reachable, standin_env
from testkit.probes import http

pytestmark = pytest.mark.stack

SERVICES = ["db", "backend", "redis", "worker", "beat", "frontend", "proxy", "backup", "prometheus", "postgres-exporter", "alertmanager",
            "redis-exporter"]
# The app's own settings and secret (answers backend_env, backend_secrets), as a team's config file gives them:
# beat's example entry every 2 s, and a visibility timeout short enough to see a killed worker's task run again.
APP_CONFIG = {"backend_env": {"DEMO_HEARTBEAT_SECONDS": "2", "CELERY_VISIBILITY_TIMEOUT": "10"}, "backend_secrets": ["DEMO_API_TOKEN"]}
# A webhook receiver for Alertmanager: prints each POST body on a line (read back with `docker logs`).
SINK = """
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        print(body.decode(), flush=True)
        self.send_response(200)
        self.end_headers()
http.server.HTTPServer(("0.0.0.0", 8080), Sink).serve_forever()
"""
SECURITY_HEADERS = ["x-content-type-options", "referrer-policy", "content-security-policy", "permissions-policy"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_engine() -> None:
    problems = []
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        problems.append("no Docker engine answers `docker info`")
    elif subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        problems.append("no Compose v2 plugin (`docker compose version` fails)")
    if problems:
        pytest.fail("; ".join(problems) + ": run scripts/bootstrap (as root on Debian) first", pytrace=False)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_engine()
    out = tmp_path_factory.mktemp("stack")
    port = free_port()
    config = out / "answers.yaml"
    config.write_text(yaml.safe_dump(APP_CONFIG))
    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(out), "--config-file", str(config), f"http_port={port}"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    env = {}
    if not registry_reachable(IMAGES["python_image"][1]):
        env = standin_env(out / "standins.env")
    project = f"hstest{uuid.uuid4().hex[:8]}"
    # Images of this stack's own: another module building the default layout (tagged :local) at the same
    # time, on another xdist worker, must not replace what this stack recreates a container from.
    env = {**env, "APP_VERSION": project}
    s = Stack(out / "hardstack_demo", project, env)
    s.url = f"http://127.0.0.1:{port}"
    # Alerts go to a sink on Alertmanager's own way out (the alerting network), as a chat webhook would.
    (s.layout / "secrets" / "alert_webhook_url").write_text("http://alert-sink:8080/hooks/team\n")
    s.api_token = f"tok-{uuid.uuid4().hex}{uuid.uuid4().hex}"
    (s.layout / "secrets" / "app_demo_api_token").write_text(s.api_token + "\n")
    s.sink = f"{s.project}-alert-sink"
    try:
        print(f"\n[stack] build: {s.build():.1f}s")
        s.time_to_healthy = s.up()
        print(f"[stack] docker compose up -d --wait: every service healthy in {s.time_to_healthy:.1f}s")
        backend_image = s.inspect(s.container_id("backend"))["Config"]["Image"]
        subprocess.run(["docker", "run", "-d", "--name", s.sink, "--network", f"{s.project}_alerting", "--network-alias", "alert-sink",
                        "--read-only", "--cap-drop", "ALL", "--user", "10001:10001", "--entrypoint", "python", backend_image, "-c", SINK],
                       check=True, capture_output=True)
        yield s
    finally:
        subprocess.run(["docker", "rm", "-f", s.sink], capture_output=True)
        down_leaving_nothing(s)


def down_leaving_nothing(stack: Stack) -> None:
    stack.down()
    left = stack.leftovers()
    assert not any(left.values()), f"left behind after down: {left}"


def secret_values(stack: Stack) -> list[str]:
    return [p.read_text().strip() for p in (stack.layout / "secrets").iterdir() if p.name != "build_ca_bundle.pem"]


# ---- R1 ---------------------------------------------------------------------------------

def test_r1_every_service_healthy(stack):
    by_service = {c["Service"]: c for c in stack.containers(all_=True)}
    for service in SERVICES:
        assert stack.health(service) == "healthy", service
    migrate = by_service["migrate"]
    assert migrate["State"] == "exited" and "(0)" in migrate["Status"], migrate
    assert stack.time_to_healthy > 0


# ---- R2 ---------------------------------------------------------------------------------

def test_r2_spa_index_and_hashed_asset_through_the_proxy(stack):
    index = http(stack.url + "/")
    assert index.status == 200 and b"<title>Hardstack Demo</title>" in index.body
    assert index.headers["cache-control"] == "no-cache"
    for header in SECURITY_HEADERS:
        assert header in index.headers, header
    assert "frame-ancestors 'none'" in index.headers["content-security-policy"]
    assert "server" not in index.headers or "/" not in index.headers["server"]  # server_tokens off
    asset = re.search(rb'src="(/assets/[^"]+\.js)"', index.body).group(1).decode()
    resp = http(stack.url + asset)
    assert resp.status == 200
    assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
    # A client-side route falls back to index.html, uncached.
    route = http(stack.url + "/some/client/route")
    assert route.status == 200 and route.headers["cache-control"] == "no-cache"
    assert http(stack.url + "/.env").status == 403


def test_r2_api_health_queries_the_database(stack):
    resp = http(stack.url + "/api/health/")
    assert resp.status == 200, resp.body
    body = resp.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["timescaledb"]
    for header in SECURITY_HEADERS:
        assert header in resp.headers, header


def signed_in(stack):
    """(opener, csrf token) of a session as a browser gets it from /admin/login/, for a superuser the manual
    step creates (`writer`, so R8 still sees `admin` created by its own first run). Once per stack: the
    login route is rate limited to 5 requests a minute."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    if getattr(stack, "session", None):
        return stack.session
    stack.compose("run", "--rm", "-T", "-e", "SUPERUSER_USERNAME=writer", "superuser")
    password = (stack.layout / "secrets" / "superuser_password").read_text().strip()
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(stack.url + "/admin/login/", timeout=10).read()
    token = next(c.value for c in jar if c.name == "csrftoken")
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "writer", "password": password, "next": "/admin/"})
    # As a browser posts it: with its Origin, which carries the published port that the Host the proxy
    # passes on does not (the layout's CSRF trusted origins name it).
    opener.open(urllib.request.Request(stack.url + "/admin/login/?next=/admin/", data=form.encode(),
                                       headers={"Referer": stack.url + "/admin/login/", "Origin": stack.url}), timeout=10).read()
    assert any(c.name == "sessionid" for c in jar), "the login did not start a session"
    stack.session = (opener, next(c.value for c in jar if c.name == "csrftoken"))  # rotated at login
    return stack.session


def post_reading(stack, value: float, session=None):
    """POST a reading, signed in (session) or not; returns (status, body)."""
    import urllib.error
    import urllib.request

    opener, token = session or (urllib.request.build_opener(), None)
    headers = {"Content-Type": "application/json", **({"X-CSRFToken": token} if token else {})}
    req = urllib.request.Request(stack.url + "/api/readings/", data=json.dumps({"value": value}).encode(), headers=headers, method="POST")
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_r2_writes_need_a_signed_in_session_and_the_csrf_token(stack):
    marker = 1111.5 + (uuid.uuid4().int % 1000)
    assert post_reading(stack, marker)[0] == 403  # no CSRF token: refused before the view
    opener, token = signed_in(stack)
    import urllib.request

    anonymous = urllib.request.build_opener()
    anonymous.addheaders = [("Cookie", f"csrftoken={token}")]
    assert post_reading(stack, marker, (anonymous, token))[0] == 401  # a token but no session
    assert marker not in [r["value"] for r in http(stack.url + "/api/readings/").json()["readings"]]


def test_r2_write_then_read_and_no_body_in_logs(stack):
    marker = 4242.125 + (uuid.uuid4().int % 1000)
    status, body = post_reading(stack, marker, signed_in(stack))
    assert status == 201, body
    listed = http(stack.url + "/api/readings/").json()
    assert marker in [r["value"] for r in listed["readings"]]
    logs = stack.compose("logs", "--no-color", "proxy", "backend").stdout
    assert "POST /api/readings/" in logs  # the request is logged...
    assert str(marker) not in logs  # ...its body is not
    # The table is a TimescaleDB hypertable: the extension is proven, not assumed.
    hypertables = stack.compose("exec", "-T", "db", "psql", "-U", "app", "-d", "app", "-tAc",
                                "SELECT hypertable_name FROM timescaledb_information.hypertables").stdout
    assert "demo_reading" in hypertables


def test_r2_metrics_not_public(stack):
    assert http(stack.url + "/metrics").status == 404


# ---- R3 ---------------------------------------------------------------------------------

def test_r3_every_container_hardened(stack):
    for c in stack.containers():
        info = stack.inspect(c["ID"])
        name, host = c["Service"], info["HostConfig"]
        assert host["ReadonlyRootfs"] is True, name
        assert host["CapDrop"] == ["ALL"], name
        assert not host.get("CapAdd"), name
        assert "no-new-privileges:true" in host["SecurityOpt"], name
        assert not host["Privileged"], name
        assert host["Memory"] > 0 and host["NanoCpus"] > 0 and host["PidsLimit"] > 0, name
        assert host["LogConfig"]["Config"].get("max-size"), name
        # Every process of the container runs as a non-root UID (read on the host).
        pid = info["State"]["Pid"]
        uids = {line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:")}
        assert uids and "0" not in uids, (name, uids)
        user = info["Config"]["User"] or stack.inspect(info["Image"])["Config"]["User"]
        assert user.split(":")[0].isdigit() and user.split(":")[0] != "0", (name, user)
        assert info["State"]["Health"]["Status"] == "healthy", name
    published = [c["Service"] for c in stack.containers() if stack.inspect(c["ID"])["HostConfig"]["PortBindings"]]
    assert published == ["proxy"]


# ---- R4 ---------------------------------------------------------------------------------

def test_r4_no_secret_in_inspect_labels_or_history(stack):
    values = secret_values(stack)
    assert len(values) >= 3 and all(len(v) >= 24 for v in values)
    images = set()
    for c in stack.containers(all_=True):
        info = json.dumps(stack.inspect(c["ID"]))
        assert not any(v in info for v in values), c["Service"]
        images.add(stack.inspect(c["ID"])["Image"])
    for image in images:
        image_info = json.dumps(stack.inspect(image))
        history = subprocess.run(["docker", "history", "--no-trunc", image], capture_output=True, text=True).stdout
        assert not any(v in image_info or v in history for v in values), image
    # The secret reaches the app process, and only it: env has the file path, not the value.
    env = stack.inspect(stack.container_id("backend"))["Config"]["Env"]
    assert "DB_PASSWORD_FILE=/run/secrets/db_password" in env
    assert not any(e.startswith("DB_PASSWORD=") for e in env)


# ---- R7 ---------------------------------------------------------------------------------
# TargetDown (`for: 1m`) fires about 90 s after a target stops. The module's other tests run meanwhile: the target
# stopped here is the postgres exporter, which the tests in between do not use, and the second half (the module's end) waits out
# what is left, then starts it again (before the restore drill, which stops and starts the whole stack).
R7_STOPPED = "postgres-exporter"  # Prometheus's job "postgres"


def prometheus_api(stack: Stack, path: str) -> dict:
    out = stack.compose("exec", "-T", "prometheus", "wget", "-q", "-O", "-", f"http://127.0.0.1:9090/api/v1/{path}").stdout
    return json.loads(out)["data"]


def test_r7_every_target_up_then_one_stops(stack):
    deadline = time.monotonic() + 90
    while True:
        targets = prometheus_api(stack, "targets")["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        if set(health) == {"prometheus", "backend", "postgres", "alertmanager", "redis"} and set(health.values()) == {"up"}:
            break
        assert time.monotonic() < deadline, f"targets not all up: {health}"
        time.sleep(3)
    stack.compose("stop", R7_STOPPED)
    stack.r7_stopped = time.monotonic()


def test_uploads_are_written_by_the_backend_and_served_as_files(stack):
    name = f"upload-{uuid.uuid4().hex[:8]}"
    script = ("import os, sys; root = os.environ['MEDIA_ROOT']; "
              f"open(os.path.join(root, '{name}.png'), 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n'); "
              f"open(os.path.join(root, '{name}.svg'), 'w').write('<svg xmlns=\\'http://www.w3.org/2000/svg\\'><script>alert(1)</script></svg>')")
    stack.compose("exec", "-T", "backend", "python", "-c", script)
    image = http(f"{stack.url}/media/{name}.png")
    assert image.status == 200 and image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"] == "inline" and image.headers["x-content-type-options"] == "nosniff"
    svg = http(f"{stack.url}/media/{name}.svg")
    assert svg.status == 200 and svg.headers["content-type"] == "application/octet-stream"
    assert svg.headers["content-disposition"] == "attachment" and "sandbox" in svg.headers["content-security-policy"]
    assert http(f"{stack.url}/media/").status in (403, 404)  # no listing
    # The proxy reads the volume, it cannot change it.
    assert stack.compose("exec", "-T", "proxy", "touch", "/srv/media/x", check=False).returncode != 0


def test_check_deploy_is_clean_in_the_running_backend_and_with_https_on(stack):
    """Django's deployment checklist, on the settings the layout runs: plain HTTP (this stack) and HTTPS
    (the same image as a TLS layout runs it: DJANGO_HTTPS=1), with no warnings in either."""
    plain = stack.compose("exec", "-T", "backend", "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING", check=False)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    image = stack.inspect(stack.container_id("backend"))["Image"]
    show = "import django; django.setup(); from django.conf import settings as s; " \
           "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS)"

    def run(https: str, *args: str, **more: str) -> subprocess.CompletedProcess:
        env = more | {"DJANGO_HTTPS": https, "DJANGO_SECRET_KEY": uuid.uuid4().hex * 2, "DB_PASSWORD": "unused",
               "DJANGO_ALLOWED_HOSTS": "shop.example.com,testserver", "DJANGO_SETTINGS_MODULE": "config.settings"}
        flags = [f for k, v in env.items() for f in ("-e", f"{k}={v}")]
        return subprocess.run(["docker", "run", "--rm", "--read-only", "--network", "none", "--tmpfs", "/tmp",
                               "--entrypoint", "python", *flags, image, *args], capture_output=True, text=True, timeout=120)

    https = run("1", "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert https.returncode == 0, https.stdout + https.stderr
    assert run("1", "-c", show).stdout.split() == ["True", "True", "True", "63072000"]
    assert run("0", "-c", show).stdout.split() == ["False", "False", "False", "0"]
    # Django's origin check on a form posted over https, with the origins a TLS layout names: the published
    # port passes, plain http is refused even with the right host.
    origins = "import django; django.setup(); from django.middleware.csrf import CsrfViewMiddleware as M; " \
              "from django.test import RequestFactory as F; m = M(lambda r: None); print(*(m._origin_verified(" \
              "F().post('/', secure=True, HTTP_HOST='shop.example.com', HTTP_ORIGIN=o)) for o in " \
              "('https://shop.example.com:8443', 'https://shop.example.com', 'http://shop.example.com:8443', 'http://shop.example.com')))"
    tls = Answers(domain="shop.example.com", enable_tls=True, tls_certificate="/c.pem", tls_certificate_key="/k.pem")
    assert run("1", "-c", origins, DJANGO_CSRF_TRUSTED_ORIGINS=tls.csrf_trusted_origins).stdout.split() == ["True", "True", "False", "False"]
    # With HTTPS on, plain HTTP is redirected, except the metrics scrape (and the health probe).
    probe = "import django; django.setup(); from django.test import Client; c = Client(); " \
            "print(c.get('/metrics').status_code, c.get('/admin/login/').status_code)"
    assert run("1", "-c", probe).stdout.split() == ["200", "301"]


# ---- R8 ---------------------------------------------------------------------------------

def test_r8_superuser_step_is_idempotent_and_refuses_weak_passwords(stack):
    first = stack.compose("run", "--rm", "-T", "superuser")
    assert "created superuser 'admin'" in first.stdout
    second = stack.compose("run", "--rm", "-T", "superuser")
    assert "already exists" in second.stdout
    count = stack.compose("exec", "-T", "db", "psql", "-U", "app", "-d", "app", "-tAc",
                          "SELECT count(*) FROM auth_user WHERE username = 'admin' AND is_superuser").stdout.strip()
    assert count == "1"
    weak = stack.compose("run", "--rm", "-T", "-e", "SUPERUSER_PASSWORD_FILE=", "-e", "SUPERUSER_PASSWORD=admin123",
                         "superuser", check=False)
    assert weak.returncode != 0 and "refused" in weak.stderr
    # `up` never runs it: it is in the manual profile.
    assert "superuser" not in [c["Service"] for c in stack.containers()]


# ---- R6 ---------------------------------------------------------------------------------

def test_r6_database_restart_keeps_data_and_backend_recovers(stack):
    marker = 777.5 + (uuid.uuid4().int % 1000)
    assert post_reading(stack, marker, signed_in(stack))[0] == 201
    backend_started = stack.inspect(stack.container_id("backend"))["State"]["StartedAt"]
    stack.compose("restart", "db")
    stack.wait_healthy("db", 120)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and http(stack.url + "/api/health/").status != 200:
        time.sleep(1)
    assert http(stack.url + "/api/health/").status == 200
    assert marker in [r["value"] for r in http(stack.url + "/api/readings/").json()["readings"]]
    # Recovered without a manual step: the backend container was not restarted.
    assert stack.inspect(stack.container_id("backend"))["State"]["StartedAt"] == backend_started


# ---- database roles: least privilege ------------------------------------------------------

def as_role(stack: Stack, role: str, password_file: str, sql: str) -> subprocess.CompletedProcess:
    """psql over TCP (as the app would log in), password from the layout's secret file. A role's CONNECTION LIMIT
    (the exporter's is 3, two of them its own) counts a session that is still ending: a refusal for that is tried
    again, never taken for the answer (CI once saw "too many connections" instead of "permission denied")."""
    password = (stack.layout / "secrets" / password_file).read_text().strip()
    deadline = time.monotonic() + 15
    while True:
        proc = stack.compose("exec", "-T", "-e", f"PGPASSWORD={password}", "db", "psql", "-X", "-h", "127.0.0.1", "-U", role, "-d", "app",
                             "-v", "ON_ERROR_STOP=1", "-tAc", sql, check=False)
        if "too many connections for role" not in proc.stderr or time.monotonic() > deadline:
            return proc
        time.sleep(1)


def test_the_app_role_has_rows_only(stack):
    for sql, refusal in (("CREATE TABLE intruder (i int)", "permission denied for schema public"),
                         ("COPY (SELECT 1) TO PROGRAM 'id'", "pg_execute_server_program"),
                         ("SELECT pg_read_file('/etc/passwd')", "permission denied for function pg_read_file"),
                         ("DROP TABLE demo_reading", "must be owner"),
                         ("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", "permission denied"),
                         ("ALTER ROLE app SUPERUSER", "permission denied")):
        proc = as_role(stack, "app", "db_password", sql)
        assert proc.returncode != 0 and refusal in proc.stderr, (sql, proc.stdout, proc.stderr)
    # Rows in the app's tables, including a TimescaleDB chunk it makes by inserting far in the past.
    made = as_role(stack, "app", "db_password", "INSERT INTO demo_reading (time, value) VALUES (now() - interval '900 days', 4.5) RETURNING value")
    assert made.returncode == 0 and made.stdout.split()[0] == "4.5", made.stderr
    attributes = stack.compose("exec", "-T", "db", "psql", "-U", "postgres", "-d", "app", "-tAc",
                               "SELECT string_agg(rolname || ':' || rolsuper, ',' ORDER BY rolname) FROM pg_roles WHERE rolcanlogin").stdout.strip()
    assert attributes == "app:false,app_backup:false,app_exporter:false,app_owner:false,postgres:true"


def test_migrations_ran_as_the_owner_and_the_others_read_or_monitor(stack):
    owners = stack.compose("exec", "-T", "db", "psql", "-U", "postgres", "-d", "app", "-tAc",
                           "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'").stdout.split()
    assert owners == ["app_owner"]
    migrate = stack.inspect(stack.compose("ps", "-a", "-q", "migrate").stdout.strip())
    assert migrate["State"]["ExitCode"] == 0 and "DB_USER=app_owner" in migrate["Config"]["Env"]
    assert as_role(stack, "app_backup", "db_backup_password", "SELECT count(*) >= 0 FROM demo_reading").stdout.strip() == "t"
    refused = as_role(stack, "app_backup", "db_backup_password", "DELETE FROM demo_reading")
    assert refused.returncode != 0 and "permission denied" in refused.stderr
    assert as_role(stack, "app_exporter", "db_exporter_password", "SELECT pg_has_role('pg_monitor', 'member')").stdout.strip() == "t"
    refused = as_role(stack, "app_exporter", "db_exporter_password", "SELECT count(*) FROM demo_reading")
    assert refused.returncode != 0 and "permission denied" in refused.stderr


def test_rotating_the_app_role_password_keeps_the_site_up_and_retires_the_old_one(stack, monkeypatch):
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    old = (stack.layout / "secrets" / "db_password").read_text()
    done = CliRunner().invoke(app, ["rotate", str(stack.layout), "app", "-p", stack.project], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    new = (stack.layout / "secrets" / "db_password").read_text()
    assert new != old and (stack.layout / "secrets" / "db_password_setup").read_text() == new
    assert http(stack.url + "/api/health/").json()["database"] == "ok"
    for service in ("backend", "worker", "beat"):
        assert stack.health(service) == "healthy", service
    refused = stack.compose("exec", "-T", "-e", f"PGPASSWORD={old}", "db", "psql", "-X", "-h", "127.0.0.1", "-U", "app", "-d", "app",
                            "-tAc", "SELECT 1", check=False)
    assert refused.returncode != 0 and "password authentication failed" in refused.stderr


def test_an_old_volume_whose_superuser_is_the_app_is_upgraded_in_place(stack, tmp_path):
    """Layouts before db-setup initialised the volume with POSTGRES_USER=app (a superuser) and ran the
    migrations as it. db-setup, run on such a volume twice, leaves the roles of a new one."""
    image = stack.env.get("DB_IMAGE", IMAGES["db_image"][1])
    name = f"{stack.project}-oldvol"
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for file in ("postgres_password", "db_password_setup", "db_owner_password_setup", "db_backup_password", "db_exporter_password"):
        (secrets / file).write_text(f"{file}-{uuid.uuid4().hex}")
    legacy = (secrets / "db_password_setup").read_text()
    (secrets / "postgres_password").write_text(legacy)  # before db-setup the two files held one value
    for path in [secrets, *secrets.iterdir()]:
        os.chown(path, DB_UID, DB_UID)
    env = stack.compose("config", "--format", "json").stdout
    setup_env = json.loads(env)["services"]["db-setup"]["environment"]
    subprocess.run(["docker", "network", "create", name], check=True, capture_output=True)
    try:
        subprocess.run(["docker", "run", "-d", "--name", f"{name}-db", "--network", name, "--network-alias", "db", "--user", f"{DB_UID}:{DB_UID}",
                        "-e", "POSTGRES_USER=app", "-e", "POSTGRES_DB=app", "-e", f"POSTGRES_PASSWORD={legacy}", image],
                       check=True, capture_output=True)
        old_migrations = ("CREATE EXTENSION IF NOT EXISTS timescaledb; CREATE TABLE demo_reading (id serial, time timestamptz NOT NULL, value float);"
                          "SELECT create_hypertable('demo_reading', 'time'); INSERT INTO demo_reading (time, value) VALUES (now(), 1.5)")
        # Ready once it listens on TCP: during initialisation it takes local connections only, and a
        # CREATE EXTENSION then would race the image's own init script.
        deadline = time.monotonic() + 90
        while subprocess.run(["docker", "exec", f"{name}-db", "pg_isready", "-q", "-h", "127.0.0.1"], capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "the old-style database did not start"
            time.sleep(1)
        subprocess.run(["docker", "exec", f"{name}-db", "psql", "-v", "ON_ERROR_STOP=1", "-U", "app", "-d", "app", "-c", old_migrations],
                       check=True, capture_output=True)
        setup = ["docker", "run", "--rm", "--network", name, "--user", f"{DB_UID}:{DB_UID}", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
                 "-v", f"{secrets}:/run/secrets:ro", "-v", f"{stack.layout / 'db'}:/etc/hardstack/db:ro",
                 *[f"-e{k}={v}" for k, v in setup_env.items()], "--entrypoint", "sh", image, "/etc/hardstack/db/setup.sh"]
        first = subprocess.run(setup, capture_output=True, text=True)
        assert first.returncode == 0 and "upgrading this volume in place" in first.stderr, first.stderr
        again = subprocess.run(setup, capture_output=True, text=True)
        assert again.returncode == 0 and "upgrading" not in again.stderr, again.stderr
        query = lambda sql: subprocess.run(["docker", "exec", f"{name}-db", "psql", "-U", "postgres", "-d", "app", "-tAc", sql],  # noqa: E731
                                           capture_output=True, text=True, check=True).stdout.strip()
        assert query("SELECT rolname FROM pg_roles WHERE rolsuper AND rolcanlogin") == "postgres"
        assert query("SELECT tableowner FROM pg_tables WHERE tablename = 'demo_reading'") == "app_owner"
        assert query("SELECT has_table_privilege('app', 'demo_reading', 'INSERT'), has_table_privilege('app', 'demo_reading', 'TRUNCATE')") == "t|f"
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", f"{name}-db"], capture_output=True)
        subprocess.run(["docker", "network", "rm", name], capture_output=True)


FORWARDED_PROBE = """
import socket, sys
sys.path.insert(0, "/opt/hardstack")
from hardstack_forwarded import wsgi
seen = {}
app = wsgi(lambda environ, start_response: seen.update(environ) or [])
worker = socket.gethostbyname("worker")  # a peer on the data network, as a compromised container would be
for peer in (socket.gethostbyname("proxy"), worker):
    seen.clear()
    app({"REMOTE_ADDR": peer, "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_FOR": "203.0.113.9", "wsgi.url_scheme": "https"}, None)
    print(seen.get("HTTP_X_FORWARDED_PROTO"), seen.get("HTTP_X_FORWARDED_FOR"), seen["wsgi.url_scheme"])
"""


def test_forwarded_headers_count_from_the_proxy_only(stack):
    """In the running backend, with the names its networks resolve: the proxy's headers reach the app,
    a worker's (same data network) are dropped. gunicorn itself trusts no peer."""
    lines = stack.compose("exec", "-T", "backend", "python", "-c", FORWARDED_PROBE).stdout.split("\n")
    assert lines[0] == "https 203.0.113.9 https" and lines[1] == "None None http", lines
    conf = stack.compose("exec", "-T", "backend", "cat", "/opt/hardstack/gunicorn.conf.py").stdout
    assert 'forwarded_allow_ips = "127.0.0.1"' in conf


def test_a_stop_during_a_dump_lets_it_finish_then_the_schedule_exits(stack, tmp_path):
    """The layout's backup.sh, in the stack's backup image, with a pg_dump that writes its file then takes 3 s more
    (psql and pg_dump stubbed on PATH): stopped mid-dump, it renames the dump to its own name, then exits 0 before the
    stop timeout."""
    stubs, backups = tmp_path / "stubs", tmp_path / "backups"
    stubs.mkdir()
    backups.mkdir()
    os.chown(backups, DB_UID, DB_UID)
    (stubs / "psql").write_text("#!/bin/sh\nexit 0\n")
    (stubs / "pg_dump").write_text('#!/bin/sh\nfor a; do case $a in --file=*) echo PGDMP > "${a#--file=}";; esac; done\nsleep 3\n')
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    image = stack.inspect(stack.container_id("backup"))["Config"]["Image"]
    name = f"{stack.project}-backup-stop"
    subprocess.run(["docker", "run", "-d", "--name", name, "--user", f"{DB_UID}:{DB_UID}", "--network", "none", "-e", "PGDATABASE=drill",
                    "-e", "PGPASSWORD_FILE=/etc/hostname", "-e", "PATH=/stubs:/usr/local/bin:/usr/bin:/bin",
                    "-v", f"{stubs}:/stubs:ro", "-v", f"{backups}:/var/lib/postgresql/backups",
                    "-v", f"{stack.layout / 'backup' / 'backup.sh'}:/backup.sh:ro", "--entrypoint", "sh", image, "/backup.sh", "schedule"],
                   check=True, capture_output=True)
    try:
        deadline = time.monotonic() + 10
        while not list(backups.glob("*.partial")):  # the dump is under way
            assert time.monotonic() < deadline, "no dump started"
            time.sleep(0.1)
        started = time.monotonic()
        subprocess.run(["docker", "stop", "-t", "10", name], check=True, capture_output=True)
        took = time.monotonic() - started
        state = stack.inspect(name)["State"]
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    assert state["ExitCode"] == 0 and took < 8, f"exit {state['ExitCode']} after {took:.1f}s:\n{logs}"
    assert [p.name for p in backups.iterdir()] == [re.search(r"wrote (\S+)", logs).group(1)], list(backups.iterdir())
    assert logs.rstrip().endswith("backup: stopped"), logs


# ---- R5 ---------------------------------------------------------------------------------

def test_a_release_whose_app_does_not_import_exits_without_accepting_a_connection(stack):
    """gunicorn_preload (the default): the master imports the app before it listens, so a release whose app does not
    import exits without accepting a connection, and the proxy's retry goes to the serving release at once."""
    from testkit.images import connections_before_exit

    answers = Answers.model_validate(APP_CONFIG)
    assert answers.gunicorn_preload
    image = stack.inspect(stack.container_id("backend"))["Config"]["Image"]
    run = connections_before_exit(image, {answers.app_entry[0]: "config.wsgi_typo:application"}, answers.backend_port)
    assert run["exit_code"] != 0 and "No module named 'config.wsgi_typo'" in run["logs"], run
    assert run["tries"] >= 3 and run["accepted"] == 0, {k: v for k, v in run.items() if k != "logs"}


def test_r5_killed_backend_comes_back_and_proxy_fails_fast(stack):
    info = stack.inspect(stack.container_id("backend"))
    restarts = info["RestartCount"]
    pid = info["State"]["Pid"]
    os.kill(pid, signal.SIGKILL)  # a crash, not a `docker stop`
    # A worker may answer for a few ms until the kernel tears the PID namespace down: probe after that.
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    during = http(stack.url + "/api/health/", timeout=15)
    assert during.status in (502, 503, 504), during.status
    assert during.seconds < 10, f"proxy took {during.seconds:.1f}s to answer"
    killed = time.monotonic()
    # The engine records the exit a moment after the kernel ends the process (later on a busy machine): until then
    # the container still reads as running and healthy, so health alone would pass at once (seen in CI: "0.0s").
    wait_for(lambda: stack.inspect(stack.container_id("backend"))["RestartCount"] > restarts, 30, "the engine restarted the killed backend")
    stack.wait_healthy("backend", 120)
    print(f"\n[stack] backend healthy again {time.monotonic() - killed:.1f}s after SIGKILL")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and http(stack.url + "/api/health/").status != 200:
        time.sleep(1)
    assert http(stack.url + "/api/health/").status == 200


def delivered_alerts(stack: Stack, name: str, status: str) -> list[dict]:
    """The alerts the webhook sink received, as Alertmanager's webhook payloads carry them."""
    logs = subprocess.run(["docker", "logs", stack.sink], capture_output=True, text=True).stdout
    payloads = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    return [a for p in payloads for a in p["alerts"] if a["labels"]["alertname"] == name and a["status"] == status]


# ---- background work: worker, beat, the Redis broker, the app's own settings ---------------

def tasks(stack: Stack) -> dict:
    return http(stack.url + "/api/tasks/").json()["tasks"]


def wait_for(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f}s"
        time.sleep(interval)


def in_app(stack: Stack, code: str, service: str = "backend") -> str:
    """Python run in an app container through its entrypoint (the settings and Redis URL it gives the app)."""
    out = stack.compose("exec", "-T", service, "/opt/hardstack/entrypoint.sh", "python", "manage.py", "shell", "-c", code)
    return out.stdout


def redis_cli(stack: Stack, *args: str, password: bool = True) -> str:
    auth = 'REDISCLI_AUTH=$(cat /run/secrets/redis_password) ' if password else ""
    command = auth + "redis-cli --no-auth-warning -h 127.0.0.1 " + " ".join(args)
    return stack.compose("exec", "-T", "redis", "sh", "-c", command, check=False).stdout.strip()


def exporter_metric(stack: Stack, name: str) -> float:
    text = stack.compose("exec", "-T", "prometheus", "wget", "-q", "-O", "-", "http://redis-exporter:9121/metrics").stdout
    return float(re.search(rf"^{re.escape(name)} (\S+)$", text, re.M).group(1))


def test_a_write_enqueues_a_task_the_worker_runs_and_its_effect_shows_in_the_api(stack):
    marker = 777.25 + (uuid.uuid4().int % 1000)
    status, _ = post_reading(stack, marker, signed_in(stack))
    assert status == 201
    count = http(stack.url + "/api/readings/").json()["count"]
    summary = wait_for(lambda: (t := tasks(stack).get("summary")) and t["result"]["count"] == count and t, 30,
                       "the worker did not summarize the new reading")
    assert summary["finished"]
    logs = stack.compose("logs", "--no-color", "worker").stdout
    assert "demo.tasks.summarize" in logs and "succeeded" in logs


def test_beat_fires_within_its_interval_and_only_once_per_tick(stack):
    first = wait_for(lambda: tasks(stack).get("heartbeat"), 20, "beat never fired")["attempts"]
    time.sleep(7)
    later = tasks(stack)["heartbeat"]["attempts"]
    # Every 2 s (backend_env DEMO_HEARTBEAT_SECONDS=2): about 3 ticks in 7 s; one scheduler, so never double.
    assert 2 <= later - first <= 5, (first, later)


def test_redis_refuses_a_client_without_the_password_and_shows_it_nowhere(stack):
    assert "NOAUTH" in redis_cli(stack, "ping", password=False)
    wrong = stack.compose("exec", "-T", "redis", "redis-cli", "--no-auth-warning", "-h", "127.0.0.1", "-a", "not-the-password", "ping", check=False)
    assert "WRONGPASS" in wrong.stdout + wrong.stderr and "PONG" not in wrong.stdout
    assert redis_cli(stack, "ping") == "PONG"
    assert redis_cli(stack, "config", "get", "maxmemory-policy").splitlines()[-1] == "noeviction"
    assert redis_cli(stack, "config", "get", "appendonly").splitlines()[-1] == "yes"
    password = (stack.layout / "secrets" / "redis_password").read_text().strip()
    for service in ("redis", "redis-exporter"):
        info = stack.inspect(stack.container_id(service))
        pid = info["State"]["Pid"]
        assert password not in json.dumps(info), service
        assert password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes(), service


def test_a_name_no_service_answers_fails_within_seconds_in_the_app_containers(stack):
    """On the layout's internal networks the engine's DNS cannot forward a name it does not know, and glibc waited
    10 s for each such lookup: every reconnect to a stopping or restarting service (a worker at `docker stack rm`
    took 41 s to stop). The backend image's RES_OPTIONS makes it 2 s."""
    lookup = ("import socket, time\nstarted = time.monotonic()\ntry:\n    socket.getaddrinfo('hardstack-absent', 6379)\n"
              "except socket.gaierror:\n    print(time.monotonic() - started)")
    for service in ("backend", "worker"):
        took = float(stack.compose("exec", "-T", service, "python", "-c", lookup).stdout)
        assert took < 5, f"{service}: a lookup of a name no service answers took {took:.1f}s"


def test_the_worker_healthcheck_reads_this_workers_heartbeat_and_fails_without_its_broker(stack):
    probe = ["python", "/opt/hardstack/celery_health.py", "worker"]
    assert stack.compose("exec", "-T", "worker", *probe, check=False).returncode == 0
    # The same probe in a container that runs no worker fails: the beacon is this container's own worker's.
    elsewhere = stack.compose("exec", "-T", "backend", *probe, check=False)
    assert elsewhere.returncode != 0 and "no worker beacon" in elsewhere.stderr
    # Without its broker the worker stops its heartbeats: the beacon goes stale and the probe says so.
    stack.compose("stop", "redis")
    try:
        stale = wait_for(lambda: (r := stack.compose("exec", "-T", "worker", *probe, check=False)).returncode and r, 30,
                         "the worker's probe still passed with redis stopped", interval=2)
        assert "no heartbeat" in stale.stderr, stale.stderr
    finally:
        stack.compose("start", "redis")
    stack.wait_healthy("redis", 60)
    wait_for(lambda: stack.compose("exec", "-T", "worker", *probe, check=False).returncode == 0, 90,
             "the worker's heartbeats did not resume once redis was back", interval=2)
    for service in ("worker", "beat"):
        stack.wait_healthy(service, 120)


def test_a_worker_killed_mid_task_leads_to_the_task_running_again_and_completing(stack):
    key = f"killed-{uuid.uuid4().hex[:8]}"
    in_app(stack, f"from demo.tasks import slow; slow.delay({key!r}, 6)")
    wait_for(lambda: (tasks(stack).get(key) or {}).get("attempts") == 1, 30, "the worker never started the task")
    info = stack.inspect(stack.container_id("worker"))
    os.kill(info["State"]["Pid"], signal.SIGKILL)  # the whole worker, mid-task: no warm shutdown, no ack
    killed = time.monotonic()
    done = wait_for(lambda: (t := tasks(stack).get(key)) and t["finished"] and t, 90,
                    "the killed worker's task did not run again (acks_late + visibility timeout)", interval=2)
    print(f"\n[stack] a killed worker's task ran again and finished {time.monotonic() - killed:.0f}s after SIGKILL")
    assert done["attempts"] == 2 and done["result"] == {"slept": 6}
    stack.wait_healthy("worker", 120)


def test_redis_killed_with_tasks_queued_loses_none(stack):
    stack.compose("stop", "worker")  # warm shutdown: nothing consumes, the tasks stay queued
    try:
        assert wait_for(lambda: exporter_metric(stack, "redis_pubsub_patterns") == 0, 20, "a worker is still subscribed")
        prefix = f"queued-{uuid.uuid4().hex[:6]}"
        in_app(stack, f"from demo.tasks import slow\nfor i in range(20): slow.delay('{prefix}-%d' % i, 0)")
        def ours() -> int:  # our tasks in the queue (beat keeps adding its own meanwhile)
            return sum(prefix in line for line in redis_cli(stack, "lrange", "celery", "0", "-1").splitlines())

        assert ours() == 20
        time.sleep(2)  # appendfsync everysec: what was written a second ago is on disk
        redis = stack.inspect(stack.container_id("redis"))
        os.kill(redis["State"]["Pid"], signal.SIGKILL)  # no clean shutdown: only the AOF can bring them back
        wait_for(lambda: stack.inspect(stack.container_id("redis"))["RestartCount"] > redis["RestartCount"], 30, "redis did not restart")
        stack.wait_healthy("redis", 60)
        assert ours() == 20
    finally:
        stack.compose("start", "worker")
    wait_for(lambda: sum(1 for k, t in tasks(stack).items() if k.startswith(prefix) and t["finished"]) == 20, 90,
             "not every queued task ran after the restart", interval=2)
    assert exporter_metric(stack, "redis_pubsub_patterns") >= 1  # a live worker is seen (CeleryWorkersGone's premise)


def test_backend_env_and_backend_secrets_reach_the_app_and_the_secret_is_not_in_inspect(stack):
    for service in ("backend", "worker", "beat"):
        info = stack.inspect(stack.container_id(service))
        env = info["Config"]["Env"]
        assert "DEMO_HEARTBEAT_SECONDS=2" in env and "DEMO_API_TOKEN_FILE=/run/secrets/app_demo_api_token" in env, service
        assert stack.api_token not in json.dumps(info), service
        # The app's process (PID 1 after the entrypoint's exec) has the value itself.
        environ = Path(f"/proc/{info['State']['Pid']}/environ").read_bytes().split(b"\0")
        assert f"DEMO_API_TOKEN={stack.api_token}".encode() in environ, service
        assert not any(e.startswith(b"DEMO_API_TOKEN_FILE=") for e in environ), service


# ---- the example app's own CI commands, against the real TimescaleDB --------------------

def test_example_app_ci_commands_pass_in_the_production_image(stack):
    # The owner role (migrate's) may not create databases: the test database is made for it first, as
    # a least-privilege environment would, and Django keeps it (--keepdb) instead of creating its own.
    for sql in ("DROP DATABASE IF EXISTS test_app", "CREATE DATABASE test_app OWNER app_owner"):
        stack.compose("exec", "-T", "db", "psql", "-U", "postgres", "-d", "postgres", "-c", sql)
    stack.compose("exec", "-T", "db", "psql", "-U", "postgres", "-d", "test_app", "-c", "CREATE EXTENSION IF NOT EXISTS timescaledb")
    tests = stack.compose("run", "--rm", "-T", "migrate", "python", "manage.py", "test", "--noinput", "--keepdb", check=False)
    assert tests.returncode == 0, tests.stdout[-2000:] + tests.stderr[-2000:]
    assert "OK" in tests.stderr
    schema = stack.compose("run", "--rm", "-T", "migrate", "python", "manage.py", "spectacular",
                           "--file", "/tmp/openapi.yaml", "--validate", check=False)
    assert schema.returncode == 0, schema.stderr[-2000:]


# ---- last: TargetDown's wait overlaps the tests above; the restore drill stops and starts the whole stack ----

def test_r7_target_down_fires_and_reaches_the_webhook(stack):
    assert getattr(stack, "r7_stopped", None), "test_r7_every_target_up_then_one_stops did not stop a target"
    try:
        deadline = time.monotonic() + 180
        while True:
            alerts = prometheus_api(stack, "alerts")["alerts"]
            firing = [a for a in alerts if a["labels"]["alertname"] == "TargetDown" and a["state"] == "firing"]
            if firing:
                break
            assert time.monotonic() < deadline, f"TargetDown did not fire: {alerts}"
            time.sleep(5)
        assert firing[0]["labels"]["job"] == "postgres" and firing[0]["labels"]["severity"] == "critical"
        # ...and Alertmanager delivers it to the webhook the secret names (its first group waits 10 s).
        deadline = time.monotonic() + 90
        while not (delivered := delivered_alerts(stack, "TargetDown", "firing")):
            assert time.monotonic() < deadline, f"TargetDown never reached the webhook; alertmanager says: " \
                f"{stack.compose('logs', '--tail=20', 'alertmanager').stdout[-1500:]}"
            time.sleep(3)
        assert delivered[0]["labels"]["job"] == "postgres" and delivered[0]["annotations"]["runbook_url"] == "RUNBOOK.md#targetdown"
        print(f"\n[stack] TargetDown delivered to the webhook {time.monotonic() - stack.r7_stopped:.0f}s after {R7_STOPPED} stopped")
    finally:
        stack.compose("start", R7_STOPPED)
    stack.wait_healthy(R7_STOPPED, 120)


def test_restore_drill_rows_come_back_after_the_database_volume_is_destroyed(stack, tmp_path, monkeypatch):
    for name, value in stack.env.items():  # the stand-in images, for the compose runs of the CLI
        monkeypatch.setenv(name, value)
    cli = lambda command, *args: CliRunner().invoke(app, [command, str(stack.layout), *args, "-p", stack.project], catch_exceptions=False)  # noqa: E731
    markers = [900000.25 + i + (uuid.uuid4().int % 1000) for i in range(3)]
    for marker in markers:
        assert post_reading(stack, marker, signed_in(stack))[0] == 201
    # The scheduled backup ran at start: the volume holds a dump, owned by the postgres UID, private.
    assert stack.compose("exec", "-T", "backup", "sh", "-c", "stat -c '%u %a' /var/lib/postgresql/backups/*.dump | sort -u").stdout.split("\n")[0] == "70 600"
    taken = cli("backup", "--copy-to", str(tmp_path))
    assert taken.exit_code == 0, taken.output
    name = re.search(r"Backed up: (\S+\.dump)", taken.output).group(1)
    assert (tmp_path / name).stat().st_size > 0 and (tmp_path / name).read_bytes()[:5] == b"PGDMP"

    # Lose the database: every service stopped, the db container and its volume removed, a fresh start.
    stack.compose("stop")
    # The backup stopped on its stop signal, not killed at the stop timeout (exit 137): its shell is PID 1, which ignores
    # a signal it has no handler for, and every stop of it took 10 s. Asserted once the stack is back (no cascade).
    backup_stopped = stack.inspect(stack.compose("ps", "-a", "-q", "backup").stdout.strip())["State"]
    stack.compose("rm", "-f", "db")
    subprocess.run(["docker", "volume", "rm", f"{stack.project}_db-data"], check=True, capture_output=True)
    stack.up()
    listed = [r["value"] for r in http(stack.url + "/api/readings/").json()["readings"]]
    assert not set(markers) & set(listed), "the database was not really lost"

    restored = cli("restore", "latest", "--yes")
    assert restored.exit_code == 0, restored.output
    assert f"Restored {name}" in restored.output  # the newest dump, not the one taken at start
    listed = [r["value"] for r in http(stack.url + "/api/readings/").json()["readings"]]
    assert set(markers) <= set(listed)
    for service in SERVICES:
        assert stack.health(service) == "healthy", service
    hypertables = stack.compose("exec", "-T", "db", "psql", "-U", "app", "-d", "app", "-tAc",
                                "SELECT hypertable_name FROM timescaledb_information.hypertables").stdout
    assert "demo_reading" in hypertables  # restored as a hypertable, not a plain table

    assert backup_stopped["ExitCode"] == 0, f"the backup did not stop on its signal: {backup_stopped}"

    # A file that is not a dump is refused before anything is stopped or dropped.
    bogus = tmp_path / "app-20000101T000000Z.dump"
    bogus.write_text("not a dump")
    refused = cli("restore", str(bogus), "--yes")
    assert refused.exit_code != 0 and "not a readable pg_dump archive" in refused.output
    assert set(markers) <= {r["value"] for r in http(stack.url + "/api/readings/").json()["readings"]}
