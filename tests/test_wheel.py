"""The user's install: `pip install` the built wheel into a fresh venv and use it from another folder.

Nothing here runs from the checkout: the wheel is built from the repository, installed into a new
virtualenv in a temporary folder, and every command runs there with the repository nowhere on its
paths. `cookiecutter <repo>` and `cruft create <repo>` are shown to work on the repository too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from hardstack.deploy.run import TOOLCHAIN_BIN

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "hardstack-wheel-test"


def sh(*cmd, cwd: Path, env: dict | None = None, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, ROOT, cwd=dist)
    (built,) = dist.glob("hardstack-*.whl")
    return built


def install(wheel: Path, tmp: Path, extras: str = "") -> tuple[Path, Path, dict]:
    """(venv bin folder, a work folder outside the repo, the env the user's shell would have)."""
    sh(sys.executable, "-m", "venv", tmp / "venv", cwd=tmp)
    bin_dir = tmp / "venv" / "bin"
    sh(bin_dir / "pip", "install", "-q", f"{wheel}{extras}", cwd=tmp, timeout=1800)
    work = tmp / "work folder"  # a space in the path, as users have
    work.mkdir()
    # The user's PATH: the new venv and system tools; never the checkout's venv or sources.
    path = os.pathsep.join([str(bin_dir), str(TOOLCHAIN_BIN)] + [p for p in os.environ["PATH"].split(os.pathsep)
                                                                if not p.startswith(str(ROOT))])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=path, HOME=os.environ.get("HOME", str(tmp)))
    return bin_dir, work, env


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    return install(wheel, tmp_path_factory.mktemp("wheel"), "[checkers,deploy]")


def test_the_bare_install_runs_new_then_up(wheel, tmp_path):
    """`pip install hardstack` with no extras, as README's first command (scripts/bootstrap without --tests) installs
    it: `new` writes the layout and `up` brings it up healthy. Both query the engine through the docker SDK
    (hardstack.engine), so it is a dependency of the package itself: from 2026-12-01 it was only in the checkers
    extra, and `new` failed with "No module named 'docker'" for a newcomer while every test venv had it."""
    from test_projects import stack_of
    from test_stack import down_leaving_nothing, free_port

    bin_dir, work, env = install(wheel, tmp_path)
    name = f"bare_{uuid.uuid4().hex[:8]}"
    sh(bin_dir / "hardstack", "new", "--no-input", "-o", "out", f"project_name={name}", f"http_port={free_port()}", cwd=work, env=env)
    layout = work / "out" / name
    up = sh(bin_dir / "hardstack", "up", layout, "--quiet", "--standins", "yes", cwd=work, env=env, check=False, timeout=1800)
    stack = stack_of(layout)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        from testkit.probes import http

        assert http(stack.url + "/api/health/").json()["database"] == "ok"
    finally:
        down_leaving_nothing(stack)


def test_wheel_carries_the_template_and_runs_outside_the_checkout(installed):
    bin_dir, work, env = installed
    where = sh(bin_dir / "python", "-c", "import hardstack.resources as r; print(r.data_root())", cwd=work, env=env).stdout.strip()
    assert where.startswith(str(bin_dir.parent)) and str(ROOT) not in where


def test_new_check_update_and_deploy_preview_from_the_installed_wheel(installed):
    bin_dir, work, env = installed
    hardstack = bin_dir / "hardstack"
    sh(hardstack, "new", "--no-input", "-o", "out", "--template-source", ROOT, cwd=work, env=env)
    layout = work / "out" / "hardstack_demo"
    state = json.loads((layout / ".cruft.json").read_text())
    assert state["template"] == str(ROOT) and state["commit"]
    # The same files as a layout written from the checkout: nothing missing from the wheel, and nothing
    # pip added to the installed template (it byte-compiles the template's .py files into __pycache__).
    from_checkout = work / "from-checkout"
    sh(sys.executable, "-m", "hardstack.cli", "new", "--no-input", "-o", from_checkout, cwd=ROOT)
    files = lambda root: sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())  # noqa: E731
    assert files(layout) == files(from_checkout / "hardstack_demo")

    checked = sh(hardstack, "check", layout, "--json", cwd=work, env=env, check=False)
    rows = {r["id"]: r["status"] for r in json.loads(checked.stdout)}
    assert checked.returncode == 0 and "fail" not in rows.values(), checked.stdout[-3000:]

    # `hardstack audit` from the wheel: the layout has no high finding; repos grown from dev tooling do.
    audited = sh(hardstack, "audit", layout, "--json", cwd=work, env=env, check=False)
    assert audited.returncode == 0, audited.stdout[-3000:] + audited.stderr[-2000:]
    import audit_repos

    repos = audit_repos.write(work / "repos", planted=True)
    planted = sh(hardstack, "audit", *repos, "--json", cwd=work, env=env, check=False)
    assert planted.returncode == 1 and {"AU1", "AU5", "C11"} <= {f["id"] for f in json.loads(planted.stdout)["findings"]}

    # The recorded source is a git repository cruft can fetch: the layout is current with it.
    git_env = {**env, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    sh("git", "init", "-q", cwd=layout, env=git_env)
    sh("git", "add", "-A", cwd=layout, env=git_env)
    sh("git", "commit", "-qm", "layout", cwd=layout, env=git_env)
    current = sh(hardstack, "update", "--check", ".", cwd=layout, env=env, check=False)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert state["commit"] == head
    assert current.returncode == 0, current.stdout + current.stderr

    # `hardstack deploy preview` from inside the layout uses the layout's own pulumi/ project.
    backend = work / "state"
    backend.mkdir()
    pulumi_env = {**env, "PULUMI_BACKEND_URL": f"file://{backend}", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
                  "PULUMI_SKIP_UPDATE_CHECK": "true"}
    pulumi = shutil.which("pulumi", path=pulumi_env["PATH"])
    assert pulumi, "the Pulumi CLI is not installed: scripts/pulumi-toolchain builds it"
    project = layout / "pulumi"
    sh(pulumi, "stack", "init", "test", cwd=project, env=pulumi_env)
    for key in ("dbSuperuserPassword", "dbPassword", "dbOwnerPassword", "dbBackupPassword", "dbExporterPassword", "djangoSecretKey", "redisPassword"):
        sh(pulumi, "config", "set", "--secret", f"hardstack:{key}", uuid.uuid4().hex * 2, cwd=project, env=pulumi_env)
    preview = sh(hardstack, "deploy", "preview", "--stack", "test", "--allow-unset-alerts", cwd=layout, env=pulumi_env, check=False, timeout=600)
    assert preview.returncode == 0, preview.stdout[-3000:] + preview.stderr[-3000:]
    assert "+ " in preview.stdout or "create" in preview.stdout  # resources would be created, none exist yet
    config = sh(pulumi, "config", "get", "hardstack:layoutDir", cwd=project, env=pulumi_env).stdout.strip()
    assert Path(config) == layout


def test_cookiecutter_and_cruft_use_the_repository_directly(installed, tmp_path):
    bin_dir, work, env = installed
    sh(bin_dir / "pip", "install", "-q", "cookiecutter", "cruft", cwd=work, env=env)
    out = tmp_path / "cc"
    sh(bin_dir / "cookiecutter", "--no-input", "-o", out, ROOT, "project_name=Cc Shop", cwd=work, env=env)
    assert (out / "cc_shop" / "compose.yaml").is_file() and (out / "cc_shop" / "secrets" / "db_password").is_file()
    out = tmp_path / "cruft"
    sh(bin_dir / "cruft", "create", "--no-input", "--output-dir", out, ROOT, cwd=work, env=env)
    assert (out / "hardstack_demo" / ".cruft.json").is_file()
    # Bad answers through plain cookiecutter are refused by the same model, nothing left behind.
    bad = sh(bin_dir / "cookiecutter", "--no-input", "-o", tmp_path / "bad", ROOT, "http_port=0", cwd=work, env=env, check=False)
    assert bad.returncode != 0 and "http_port" in bad.stderr
    assert not (tmp_path / "bad" / "hardstack_demo").exists()
