"""Stack tier, today's Python projects: a uv project and a Poetry project, each a real-looking repo with
server-rendered pages and no SPA, built and run as they are.

uv-notes: pyproject.toml + uv.lock, `.python-version` 3.13, psycopg[c] (compiled against libpq with
gcc and libpq-dev from backend_build_packages, libpq5 at run time), served over ASGI (server=uvicorn).
poetry-notes: Poetry's pyproject.toml (python = "^3.11") + poetry.lock, psycopg[binary], WSGI.

The user's path: `hardstack new` beside the repo (which detects the installer and the Python), then
`hardstack up` (the real CLI). Through the proxy: pages 200, the admin's CSS as text/css. In the runtime
image: the app's Python, the lock's versions, no compiler, no uv, Poetry or pip, no dev group. And the
refusals: a stale lock names the answer with the installer's own message, nothing started; a Python no
stand-in runs names the version and the answer, nothing built.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest
from test_stack import down_leaving_nothing, free_port, require_engine

from hardstack.answers import validate
from hardstack.runtime.compose import Stack, read_env_file
from testkit.images import connections_before_exit, uncompiled_modules
from testkit.probes import http

pytestmark = pytest.mark.stack

HARDSTACK = [sys.executable, "-m", "hardstack.cli"]
FIXTURES = Path(__file__).parent / "fixtures"

COMMON = {"include_example_app": "no", "backend_context": "../notes", "frontend_context": "", "django_settings_module": "notes.settings",
          "wsgi_app": "notes.wsgi:application", "health_path": "/health/", "db_name": "notes", "db_user": "notes",
          "enable_monitoring": "no"}
PROJECTS = {
    "uv": ("uv-notes", {**COMMON, "server": "uvicorn", "asgi_app": "notes.asgi:application",
                        "backend_build_packages": "gcc libpq-dev", "backend_runtime_packages": "libpq5"}),
    # Without gunicorn_preload: each worker imports the app, after a trial import before gunicorn listens.
    "poetry": ("poetry-notes", {**COMMON, "gunicorn_preload": "no"}),
}


def copy_project(root: Path, fixture: str) -> Path:
    repo = root / "notes"
    shutil.copytree(FIXTURES / fixture, repo, ignore=shutil.ignore_patterns("__pycache__"))
    return repo


def new(root: Path, answers: dict[str, str]) -> subprocess.CompletedProcess:
    slug = f"notes_{uuid.uuid4().hex[:8]}"
    config = root / f"{slug}.json"
    config.write_text(json.dumps({"project_name": slug, "http_port": str(free_port()), **answers}))
    proc = subprocess.run([*HARDSTACK, "new", "--no-input", "-o", str(root), "--config-file", str(config)], capture_output=True, text=True)
    proc.layout = root / slug
    return proc


def up(layout: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*HARDSTACK, "up", str(layout), "--quiet", "--standins", "yes", *extra], capture_output=True, text=True, timeout=1800)


def stack_of(layout: Path) -> Stack:
    answers = validate(json.loads((layout / ".hardstack-answers.json").read_text()))
    # The layout's .env, then the stand-ins `hardstack up` recorded apart (.standins.env), as compose gets them.
    env = {k: v for name in (".env", ".standins.env") if (layout / name).exists() for k, v in read_env_file(layout / name).items()}
    stack = Stack(layout, answers.compose_project, env)
    stack.url = f"http://127.0.0.1:{answers.http_port}"
    stack.answers = answers
    return stack


def backend_image(stack: Stack) -> str:
    return f"{stack.answers.compose_project}-backend:local"


def in_image(stack: Stack, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "run", "--rm", "--entrypoint", "sh", backend_image(stack), "-c", script],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module", params=list(PROJECTS), ids=list(PROJECTS))
def project(request, tmp_path_factory):
    require_engine()
    kind = request.param
    fixture, answers = PROJECTS[kind]
    root = tmp_path_factory.mktemp(kind)
    repo = copy_project(root, fixture)
    created = new(root, answers)
    assert created.returncode == 0, created.stdout + created.stderr
    proc = up(created.layout)
    stack = stack_of(created.layout)
    stack.kind, stack.repo, stack.new_output, stack.up_output = kind, repo, created.stdout, proc.stdout + proc.stderr
    try:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        yield stack
    finally:
        down_leaving_nothing(stack)


def test_standins_are_loud_and_kept_out_of_env(project):
    """`up --standins yes` says so, records the stand-ins in .standins.env only, and check warns (S5)."""
    assert "using STAND-IN images as asked" in " ".join(project.up_output.split())
    assert "hardstack-standin/" in (project.layout / ".standins.env").read_text()
    assert not (project.layout / ".env").exists() or "hardstack-standin/" not in (project.layout / ".env").read_text()
    from hardstack.checks import WARN, run_checks

    (row,) = run_checks(project.layout, only=["S5"])
    assert row.status == WARN and "stand-in images in .standins.env" in row.detail


def test_new_says_what_it_found(project):
    out = " ".join(project.new_output.split())
    lock = {"uv": "uv.lock", "poetry": "poetry.lock"}[project.kind]
    assert f"backend_installer=auto: found {lock} in ../notes, so {project.kind}" in out
    source = ".python-version" if project.kind == "uv" else "requires-python >=3.11,<4.0"
    assert f"declares Python 3.13 ({source}), so python:3.13-slim-trixie" in out
    assert project.answers.backend_installer == project.kind and project.answers.python_image == "python:3.13-slim-trixie"
    dockerfile = (project.layout / "backend" / "Dockerfile").read_text()
    # One RUN for the chosen installer, chosen at render time: the others are not in the file.
    assert {"uv": "uv sync --project /tmp/project --locked", "poetry": "poetry install --directory /tmp/project --only main"}[project.kind] in dockerfile
    assert ("poetry" in dockerfile) == (project.kind == "poetry") and ("uv sync" in dockerfile) == (project.kind == "uv")


def test_pages_admin_css_and_no_frontend_through_the_proxy(project):
    page = http(project.url + "/")
    assert page.status == 200 and b"<h1>Notes</h1>" in page.body, page.status
    assert re.search(rb'id="python">3\.13\.\d+<', page.body)
    impl = {"uv": b"c", "poetry": b"binary"}[project.kind]
    assert b'id="psycopg-impl">' + impl + b"<" in page.body  # uv: psycopg compiled against libpq in the build stage
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    admin = http(project.url + "/admin/login/")
    assert admin.status == 200 and b"/static/admin/css/base.css" in admin.body
    css = http(project.url + "/static/admin/css/base.css")
    assert css.status == 200 and css.headers["content-type"].startswith("text/css")
    assert http(project.url + "/.env").status == 404 or http(project.url + "/.env").status == 403
    services = project.compose("config", "--services").stdout.split()
    assert "frontend" not in services and not (project.layout / "frontend").exists()
    assert not (project.layout / ".github" / "workflows" / "frontend.yml").exists()
    server = project.compose("logs", "--no-color", "backend").stdout
    assert ("uvicorn_worker.UvicornWorker" in server) == (project.kind == "uv")


def test_runtime_image_has_the_apps_python_and_lock_and_nothing_that_builds_or_installs(project):
    lock = project.repo / {"uv": "uv.lock", "poetry": "poetry.lock"}[project.kind]
    django = next(p["version"] for p in tomllib.loads(lock.read_text())["package"] if p["name"].lower() == "django")
    out = in_image(project, "python -c 'import sys, django; print(\"%d.%d\" % sys.version_info[:2], django.__version__)'; "
                            "for tool in gcc cc uv poetry pip pip3; do command -v $tool && echo FOUND $tool; done; "
                            "ls /opt/venv/bin; test -e /opt/tools && echo FOUND /opt/tools; "
                            "python -c 'import debug_toolbar' 2>/dev/null && echo FOUND dev group; "
                            "dpkg-query -W -f='${Package}\\n' libpq-dev gcc 2>/dev/null | sed 's/^/FOUND /'; "
                            "dpkg-query -W -f='${Package}\\n' libpq5 2>/dev/null")
    lines = out.stdout.splitlines()
    assert lines[0] == f"3.13 {django}", out.stdout + out.stderr
    assert not [line for line in lines if line.startswith("FOUND")], out.stdout
    assert not [line for line in lines if line.startswith("pip")], out.stdout  # no pip in the venv
    assert ("libpq5" in lines) == (project.kind == "uv")  # backend_runtime_packages


def test_every_module_in_the_image_is_compiled(project):
    """The root filesystem is read-only at run time, so a module without bytecode is compiled again by every process
    at each start (each gunicorn worker, migrate, worker, beat). `poetry install` compiles nothing unless asked: the
    Poetry venv had none, and importing this app's Django took 1025 ms of CPU per process against 343 ms with uv."""
    missing = uncompiled_modules(backend_image(project))
    assert not missing, {root: (len(files), files[:5]) for root, files in missing.items()}


def test_a_release_whose_app_does_not_import_exits_without_accepting_a_connection(project):
    """A typo in the app's module: gunicorn exits naming it, and never listens meanwhile. uv: the master imports the app
    before it listens (gunicorn_preload, the default); poetry: without it, a trial import in a child process comes
    first. A socket that listens while its workers fail holds each request the proxy sends there until gunicorn halts:
    past proxy_next_upstream_timeout that request is a 502 (seen in a refused broken release under load)."""
    preload = {"uv": True, "poetry": False}[project.kind]
    assert project.answers.gunicorn_preload is preload
    assert f"preload_app = {preload}" in (project.layout / "backend" / "deploy" / "gunicorn.conf.py").read_text()
    typo = "notes.wsgi_typo:application"
    run = connections_before_exit(backend_image(project), {project.answers.app_entry[0]: typo}, project.answers.backend_port)
    assert run["exit_code"] != 0 and "No module named 'notes.wsgi_typo'" in run["logs"], run
    assert run["tries"] >= 3 and run["accepted"] == 0, {k: v for k, v in run.items() if k != "logs"}


def test_rows_d11_d12_pass_and_fail_when_broken(project):
    def rows() -> dict[str, str]:
        proc = subprocess.run([*HARDSTACK, "check", str(project.layout), "--only", "D11,D12", "--json"], capture_output=True, text=True)
        return {r["id"]: r for r in json.loads(proc.stdout)}

    good = rows()
    assert good["D11"]["status"] == "pass" and good["D12"]["status"] == "pass", good
    # A careless edit: the app moves to another Python and the layout is not re-rendered.
    version_file = project.repo / ".python-version"
    original = version_file.read_text() if version_file.exists() else None
    version_file.write_text("3.12\n")
    try:
        bad = rows()["D11"]
        assert bad["status"] == "fail" and "runs Python 3.13, the app declares 3.12 (.python-version)" in bad["detail"], bad
    finally:
        version_file.unlink() if original is None else version_file.write_text(original)


@pytest.mark.parametrize("kind", list(PROJECTS))
def test_stale_lock_is_refused_with_the_installers_message_nothing_started(tmp_path, kind):
    require_engine()
    fixture, answers = PROJECTS[kind]
    repo = copy_project(tmp_path, fixture)
    pyproject = repo / "pyproject.toml"
    if kind == "uv":  # a dependency added by hand, the lock not updated
        pyproject.write_text(pyproject.read_text().replace('"django>=5.2,<5.3",', '"django>=5.2,<5.3",\n    "sqlparse>=0.5",'))
    else:
        pyproject.write_text(pyproject.read_text().replace('django = ">=5.2,<5.3"', 'django = ">=5.2,<5.3"\nsqlparse = ">=0.5"'))
    created = new(tmp_path, {**answers, "backend_build_packages": "", "backend_runtime_packages": ""})
    assert created.returncode == 0, created.stdout + created.stderr
    stack = stack_of(created.layout)
    try:
        proc = up(created.layout)
        said = " ".join((proc.stdout + proc.stderr).split())
        assert proc.returncode == 2, said[-3000:]
        assert "the build failed on an answer; nothing was started" in said
        own = {"uv": "needs to be updated", "poetry": "pyproject.toml changed significantly since poetry.lock was last generated"}[kind]
        assert f"backend_installer={kind}:" in said and own in said, said[-3000:]
        assert stack.containers(all_=True) == []
    finally:
        stack.down()


def test_python_no_stand_in_runs_is_refused_nothing_built(tmp_path):
    require_engine()
    created = new(tmp_path, {"python_image": "python:3.12-slim-trixie", "celery_app": ""})
    assert created.returncode == 0, created.stdout + created.stderr
    stack = stack_of(created.layout)
    proc = up(created.layout)
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2, said[-3000:]
    assert "python_image=python:3.12-slim-trixie: no stand-in runs Python 3.12 here" in said
    assert "nothing was built or started" in said and not (created.layout / ".env").exists()
    image = subprocess.run(["docker", "image", "inspect", f"{stack.answers.compose_project}-backend:local"], capture_output=True)
    assert image.returncode != 0 and stack.containers(all_=True) == []
