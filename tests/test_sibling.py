"""Stack tier, sibling mode: two real-looking repos (tests/sibling_repos.py) built and run as they are.

The user's path, end to end: `hardstack new` in sibling mode beside the repos, then `hardstack up`
(the real CLI, as a subprocess). Every service healthy; the SPA, the API, the admin page and its CSS
answer through the proxy; the images are built from the layout's Dockerfiles, never the repos' own
dev Dockerfiles; the repos are left exactly as they were; and the SPA, driven in headless Chromium
under the layout's CSP, logs in through its own form. Bad answers stop with a message naming the
answer, with nothing left running.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sibling_repos import ANSWERS, MIGRATIONS, make_repos, status
from test_stack import down_leaving_nothing, free_port, require_engine

from hardstack.answers import validate
from hardstack.runtime.compose import Stack, read_env_file
from testkit.images import uncompiled_modules
from testkit.probes import http

pytestmark = pytest.mark.stack

HARDSTACK = [sys.executable, "-m", "hardstack.cli"]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def render(root: Path, **overrides: str) -> Path:
    """`hardstack new` in sibling mode beside the repos in root; returns the layout."""
    slug = f"shop_{uuid.uuid4().hex[:8]}"
    answers = {**ANSWERS, "project_name": slug, "http_port": str(free_port()), **overrides}
    config = root / f"{slug}.json"
    config.write_text(json.dumps(answers))
    proc = subprocess.run([*HARDSTACK, "new", "--no-input", "-o", str(root), "--config-file", str(config)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root / slug


def hardstack_up(layout: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*HARDSTACK, "up", str(layout), "--quiet", *extra], capture_output=True, text=True, timeout=1800)


def stack_of(layout: Path) -> Stack:
    answers = validate(json.loads((layout / ".hardstack-answers.json").read_text()))
    # The layout's .env, then the stand-ins `hardstack up` recorded apart (.standins.env), as compose gets them.
    env = {k: v for name in (".env", ".standins.env") if (layout / name).exists() for k, v in read_env_file(layout / name).items()}
    stack = Stack(layout, answers.compose_project, env)
    stack.url = f"http://127.0.0.1:{answers.http_port}"
    return stack


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    require_engine()
    root = tmp_path_factory.mktemp("sibling")
    api, web = make_repos(root)
    return root, api, web


@pytest.fixture(scope="module")
def shop(repos):
    root, api, web = repos
    layout = render(root)
    start = time.monotonic()
    proc = hardstack_up(layout)
    stack = stack_of(layout)
    try:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        stack.up_seconds = time.monotonic() - start
        stack.up_output = proc.stdout
        print(f"\n[sibling] hardstack up (build + start): {stack.up_seconds:.1f}s")
        yield stack
    finally:
        down_leaving_nothing(stack)


def test_every_service_healthy_and_migrations_applied(shop):
    for service in ("db", "backend", "redis", "worker", "beat", "frontend", "proxy"):
        assert shop.health(service) == "healthy", service
    migrate = shop.inspect(shop.compose("ps", "-a", "-q", "migrate").stdout.strip())
    assert migrate["State"]["ExitCode"] == 0 and migrate["State"]["Status"] == "exited"
    assert "Health" not in migrate["State"]  # a one-shot has no healthcheck of its own
    logs = shop.compose("logs", "--no-color", "migrate").stdout
    assert f"Applying inventory.{MIGRATIONS:04d}_audit_{MIGRATIONS:04d}... OK" in logs
    # `hardstack up` showed the migrations as they ran.
    assert "migrate | " in shop.up_output and "Applying inventory.0002_audit_0002" in shop.up_output


def test_spa_api_admin_and_its_css_through_the_proxy(shop):
    index = http(shop.url + "/")
    assert index.status == 200 and b"<title>Shop</title>" in index.body
    asset = re.search(rb'src="(/assets/[^"]+\.js)"', index.body).group(1).decode()
    assert http(shop.url + asset).headers["cache-control"] == "public, max-age=31536000, immutable"
    items = http(shop.url + "/api/items/")
    assert items.status == 200 and items.json()["count"] == 0
    admin = http(shop.url + "/admin/login/")
    assert admin.status == 200 and b"/static/admin/css/base.css" in admin.body
    css = http(shop.url + "/static/admin/css/base.css")
    assert css.status == 200 and css.headers["content-type"].startswith("text/css"), css.status
    # The API base is the same origin (api_url empty): the CSP allows exactly that.
    assert "connect-src 'self';" in index.headers["content-security-policy"]


def history(image: str) -> str:
    return subprocess.run(["docker", "history", "--no-trunc", "--format", "{{.CreatedBy}}", image],
                          capture_output=True, text=True, check=True).stdout


def test_images_are_built_from_the_generated_dockerfiles(shop):
    backend = shop.inspect(shop.container_id("backend"))["Config"]["Image"]
    frontend = shop.inspect(shop.container_id("frontend"))["Config"]["Image"]
    backend_steps, frontend_steps = history(backend), history(frontend)
    assert "apt-get install -y --no-install-recommends libodbc2" in backend_steps  # backend_runtime_packages
    assert "COPY /opt/venv /opt/venv" in backend_steps and "USER 10001:10001" in backend_steps and "HEALTHCHECK" in backend_steps
    assert "runserver" not in backend_steps and "npm run dev" not in frontend_steps  # the repos' dev Dockerfiles
    assert "COPY /src/dist/public/ /usr/share/nginx/html/" in frontend_steps  # frontend_dist_dir
    assert f"COPY {shop.layout.name}/frontend/deploy/nginx.conf" in frontend_steps  # the layout's deploy files
    assert "HEALTHCHECK" in frontend_steps and "USER 101:101" in frontend_steps
    listing = subprocess.run(["docker", "run", "--rm", "--entrypoint", "python", backend, "-c",
                              "import os; print(sorted(os.listdir('/app'))); print(os.path.isdir('/opt/hardstack/static/admin'))"],
                             capture_output=True, text=True, check=True).stdout
    assert ".env" not in listing and "Dockerfile" not in listing and ".git" not in listing
    assert "shopcore" in listing and listing.strip().endswith("True")
    # pip's venv, the repo's modules and the layout's: all compiled (the root filesystem is read-only at run time).
    assert not (missing := uncompiled_modules(backend)), {root: (len(files), files[:5]) for root, files in missing.items()}


def test_background_work_runs_in_the_repos_own_names(shop):
    """A write's signal enqueues a recount (the repo's task, de-duplicated in Redis through SHOP_CACHE), the worker
    runs it, and beat's tick (every SHOP_TICK_SECONDS=2, answer backend_env) keeps counting."""
    shop.compose("exec", "-T", "backend", "/opt/hardstack/entrypoint.sh", "python", "manage.py", "shell", "-c",
                 "from inventory.models import Item\nfor n in range(3): Item.objects.create(name=f'bolt {n}')")
    deadline = time.monotonic() + 30
    while (body := http(shop.url + "/api/items/").json())["counted"] != body["count"]:
        assert time.monotonic() < deadline, f"the worker never recounted: {body}"
        time.sleep(1)
    assert body["count"] >= 3
    first = body["ticks"]
    time.sleep(6)
    assert 2 <= http(shop.url + "/api/items/").json()["ticks"] - first <= 5
    env = shop.inspect(shop.container_id("worker"))["Config"]["Env"]
    assert "HARDSTACK_REDIS_URL_VARS=SHOP_BROKER SHOP_CACHE" in env and not any(e.startswith("SHOP_BROKER=") for e in env)


def test_the_sibling_repos_are_left_unchanged(shop, repos):
    _, api, web = repos
    assert status(api) == "" and status(web) == ""


def test_spa_logs_in_through_its_own_form_in_a_real_browser(shop):
    from playwright.sync_api import expect, sync_playwright

    created = shop.compose("run", "--rm", "superuser")
    assert "superuser 'admin'" in created.stdout, created.stdout + created.stderr
    password = (shop.layout / "secrets" / "superuser_password").read_text().strip()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.goto(shop.url + "/")
            expect(page.locator("h1")).to_have_text("Shop")
            page.fill("#username", "admin")
            page.fill("#password", password)
            page.click("button[type=submit]")
            expect(page.locator("#status")).to_have_text(re.compile("Logged in|failed|Error"), timeout=15000)
            assert page.text_content("#status") == "Logged in as admin", (page.text_content("#status"), console)
            assert not console, console  # no CSP violation, no failed request, no script error
        finally:
            browser.close()


# ---- bad input: each stops naming the answer, and leaves nothing running ----------------

def assert_nothing_running(layout: Path) -> None:
    left = stack_of(layout).leftovers()
    assert not left["containers"], left


@pytest.mark.parametrize("overrides,answer,fix", [
    ({"backend_context": "../no-such-api"}, "backend_context=../no-such-api", "does not exist"),
    ({"django_settings_module": "shopcore.settings.prod"}, "django_settings_module=shopcore.settings.prod", "does not import"),
    ({"frontend_build_command": "npm run build:release"}, "frontend_build_command=npm run build:release", "failed"),
    ({"frontend_dist_dir": "dist"}, "frontend_dist_dir=dist", "no index.html"),
    ({"celery_app": "shopcore.celery"}, "celery_app=shopcore.celery", "cannot load it"),
], ids=["missing-context", "settings-do-not-import", "build-command-fails", "dist-dir-wrong", "celery-app-not-importable"])
def test_bad_answers_stop_naming_the_answer(repos, overrides, answer, fix):
    root, _, _ = repos
    layout = render(root, **overrides)
    try:
        proc = hardstack_up(layout)
        assert proc.returncode != 0
        message = proc.stderr
        assert answer in message and fix in message, proc.stdout[-3000:] + message
        assert "Traceback" not in proc.stdout + message
        assert_nothing_running(layout)
    finally:
        stack_of(layout).down()


def test_a_stack_that_never_gets_healthy_is_stopped_again(repos):
    root, _, _ = repos
    layout = render(root, health_path="/status/missing/")
    try:
        proc = hardstack_up(layout, "--wait-timeout", "120")
        assert proc.returncode != 0
        assert "backend" in proc.stderr and "unhealthy" in proc.stderr, proc.stderr
        assert_nothing_running(layout)
        volumes = stack_of(layout).leftovers()["volumes"]
        assert volumes, "the data volumes are kept"
    finally:
        stack_of(layout).down()
