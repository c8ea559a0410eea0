"""Shared fixtures: render layouts through the real CLI and cookiecutter."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardstack.cli import app

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # testkit/: probes and forwarders shared with scripts/bench-* (not installed)

# `-m fast`: the modules that need nothing but the venv and run in under 2 min together (CONTRIBUTING.md).
FAST_MODULES = {"test_answers", "test_names", "test_backend_project", "test_background_unit", "test_swarm_unit",
                "test_deploy_unit", "test_shell_argv", "test_checks", "test_issuer_unit"}


# With pytest-xdist (HARDSTACK_TEST_WORKERS=2 scripts/test), a module's tests stay on one worker (its module-scoped
# stack is built once), and the modules that share the engine's one swarm run one after the other.
XDIST_GROUPS = {"test_swarm": "swarm", "test_deploy_swarm": "swarm", "test_swarm_acme": "swarm"}
# The longest groups start first, so the two workers finish close together (the time per group that pytest prints at
# the end; two workers, warm, 2026-12-02: lab 801 s, swarm 537, deploy 280, stack 279, sibling 191, mutations 151).
# xdist gives each worker two groups at the start: lab then swarm on one, mutations (checkers, no engine) then stack on
# the other (measured in this order: 22 min 32 s for every tier).
LONGEST_FIRST = ["test_lab", "test_mutations", "swarm", "test_stack", "test_deploy", "test_sibling", "test_projects", "test_deploy_acme",
                 "test_acme", "test_render_property", "test_wheel", "test_generate", "test_docker_provider", "test_standins", "test_update"]


SWARM_HELD = pytest.StashKey()


def pytest_configure(config):
    """With workers, the engine holds one swarm from start to end (testkit.swarm.hold_for_run): the swarm modules'
    fixture then finds it and neither makes nor leaves one while another worker's compose stack runs."""
    if os.environ.get("PYTEST_XDIST_WORKER") or not config.getoption("numprocesses", default=None):
        return
    from testkit.swarm import hold_for_run

    config.stash[SWARM_HELD] = hold_for_run()


def pytest_unconfigure(config):
    leave = config.stash.get(SWARM_HELD, None)
    if leave:
        leave()


def group_of(module: str) -> str:
    return XDIST_GROUPS.get(module, module)


def pytest_xdist_make_scheduler(config, log):
    """Whole groups to a worker. Not xdist_group marks: pytest 9.2 keeps a node's id in `_id`, so the
    `@group` suffix xdist 3.8 writes to `_nodeid` never reaches the scheduler (every test was scheduled
    on its own, and a module's stack was built on both workers at once)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(Path(nodeid.split("::")[0]).stem)

    return ByGroup(config, log)


# The modules that run the Pulumi CLI and its docker plugin: scripts/test builds them in the background, so in one
# process these come last and wait for the build (HARDSTACK_TOOLCHAIN_RC, written when it ends).
TOOLCHAIN_MODULES = {"test_deploy", "test_deploy_acme", "test_deploy_swarm", "test_docker_provider", "test_lab", "test_wheel"}


def needs_toolchain(group: str) -> bool:
    return any(group_of(module) == group for module in TOOLCHAIN_MODULES)


# The tiers that run images (stand-in base images, Pebble): scripts/test builds those in the background too, and their
# modules wait for HARDSTACK_IMAGES_RC.
IMAGE_MARKS = ("stack", "deploy", "lab", "wheel")


def needs_images(item) -> bool:
    return any(item.get_closest_marker(mark) for mark in IMAGE_MARKS)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__ in FAST_MODULES:
            item.add_marker(pytest.mark.fast)
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        # One process: the modules in file order, those that need images after the others, those that need the
        # toolchain last (stable within each).
        items.sort(key=lambda item: (item.module.__name__ in TOOLCHAIN_MODULES, needs_images(item)))
        return
    # Each worker collects the same list; the controller hands out whole groups in this order: the longest first,
    # within a group the modules that need the toolchain last. While the toolchain is still being built
    # (scripts/test sets HARDSTACK_TOOLCHAIN_LATE, the same for every worker), the groups that need it come after
    # the others, so the workers test instead of waiting for it.
    late = os.environ.get("HARDSTACK_TOOLCHAIN_LATE") == "1"
    images_late = os.environ.get("HARDSTACK_IMAGES_LATE") == "1"
    image_groups = {group_of(item.module.__name__) for item in items if needs_images(item)}
    rank = {group: i for i, group in enumerate(LONGEST_FIRST)}

    def order(item):
        module = item.module.__name__
        group = group_of(module)
        return (late and needs_toolchain(group), images_late and group in image_groups, rank.get(group, len(rank)),
                module in TOOLCHAIN_MODULES)

    items.sort(key=order)  # stable within a module


# Time per group of modules, printed at the end (issue 24's per-tier table; LONGEST_FIRST is ordered by it).
GROUP_SECONDS: dict[str, float] = {}
GROUP_TESTS: dict[str, set] = {}


def pytest_runtest_logreport(report):
    group = group_of(Path(report.nodeid.split("::")[0]).stem)
    GROUP_SECONDS[group] = GROUP_SECONDS.get(group, 0.0) + report.duration
    GROUP_TESTS.setdefault(group, set()).add(report.nodeid)


def pytest_terminal_summary(terminalreporter):
    if os.environ.get("PYTEST_XDIST_WORKER") or not GROUP_SECONDS:
        return
    terminalreporter.section("time per group of modules (setup + call + teardown)")
    for group, seconds in sorted(GROUP_SECONDS.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{seconds:8.1f} s  {len(GROUP_TESTS[group]):4d} tests  {group}")
    terminalreporter.write_line(f"{sum(GROUP_SECONDS.values()):8.1f} s  in all")


# Every supported combination of the switchable parts, with a readable id.
COMBINATIONS = {
    "defaults": {},
    "tls": {"enable_tls": "yes", "tls_certificate": "/etc/letsencrypt/live/shop.example.com/fullchain.pem",
            "tls_certificate_key": "/etc/letsencrypt/live/shop.example.com/privkey.pem", "domain": "shop.example.com"},
    "no-monitoring": {"enable_monitoring": "no"},
    "no-ci-no-devcontainer-plain-overlays": {"enable_ci_workflows": "no", "enable_devcontainer": "no", "swarm_overlay_encryption": "no"},
    "sibling-repos": {"include_example_app": "no", "backend_context": "../api", "frontend_context": "../web",
                      "django_settings_module": "shop.settings.production", "wsgi_app": "shop.wsgi:application",
                      "frontend_dist_dir": "build", "frontend_build_command": "npm run build:prod"},
    "database-url-tls-no-monitoring": {"env_database_url": "DATABASE_URL", "enable_tls": "yes", "enable_monitoring": "no",
                                       "tls_certificate": "certs/fullchain.pem", "tls_certificate_key": "certs/privkey.pem",
                                       "https_port": "443", "http_port": "80", "bind_address": "0.0.0.0"},
    "app-settings-egress-no-beat": {"enable_beat": "no", "worker_concurrency": "4", "backend_egress": "yes",
                                    "backend_secrets": "SENTRY_DSN SMTP_PASSWORD", "backend_env": '{"ADMIN_URL": "manage/", "FEATURE_X": "on"}',
                                    "redis_url_vars": "CELERY_BROKER_URL"},
    "no-spa-uvicorn-behind-load-balancers": {"frontend_context": "", "server": "uvicorn", "trusted_proxies": "10.0.0.0/8 2001:db8::/32",
                                             "backend_build_packages": "gcc libpq-dev", "backend_runtime_packages": "libpq5"},
    "acme": {"tls_mode": "acme", "domain": "shop.example.com", "acme_email": "ops@shop.example.com",
             "acme_directory_url": "https://pebble:14000/dir", "acme_ca_bundle": "/etc/ssl/pebble.minica.pem"},
    "renamed-env-and-digests": {"env_secret_key": "SECRET_KEY", "env_db_password": "POSTGRES_PASSWORD", "project_name": "Acme Web",
                                "db_image": "timescale/timescaledb:2.17.2-pg17@sha256:" + "a" * 64},
}


@pytest.fixture(scope="module")
def swarm_engine():
    """The engine in a swarm for a module's tests (testkit.swarm: made a one-node swarm and left afterwards if
    it was in none)."""
    from test_stack import require_engine
    from testkit.swarm import one_node_swarm

    require_engine()
    with one_node_swarm():
        yield


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


def assignments(answers: dict[str, str]) -> list[str]:
    return [f"{k}={v}" for k, v in answers.items()]


@pytest.fixture(scope="session")
def default_layout(tmp_path_factory) -> Path:
    """One default layout for read-only tests (session scoped: rendering it once is enough)."""
    out = tmp_path_factory.mktemp("default")
    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out / "hardstack_demo"


@pytest.fixture
def layout_copy(default_layout, tmp_path) -> Path:
    """A private copy of the default layout that a test may break."""
    dest = tmp_path / "hardstack_demo"
    shutil.copytree(default_layout, dest, symlinks=True)
    return dest


def wait_for_build(what: str, rc_var: str, log_var: str, scripts: str) -> None:
    """Until one of scripts/test's background builds has ended; fails, with its log, if it failed. Without its rc
    variable (pytest run directly) what it builds is taken as there."""
    import time

    rc_file = os.environ.get(rc_var)
    if not rc_file:
        return
    log = Path(os.environ.get(log_var, ""))
    deadline = time.monotonic() + 3600
    while not Path(rc_file).exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not build within 60 min; see {log}", pytrace=False)
        time.sleep(2)
    rc = Path(rc_file).read_text().strip()
    if rc != "0":
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.is_file() else ""
        pytest.fail(f"{what} ({scripts}) did not build (exit {rc}); see {log}:\n{tail}", pytrace=False)


@pytest.hookimpl(tryfirst=True)  # before the module's fixtures (a stack deployed with Pulumi) are set up
def pytest_runtest_setup(item):
    if needs_images(item):
        wait_for_build("the stand-in base images", "HARDSTACK_IMAGES_RC", "HARDSTACK_IMAGES_LOG", "scripts/stand-in-images")
    if item.module.__name__ in TOOLCHAIN_MODULES:
        wait_for_build("the Pulumi toolchain", "HARDSTACK_TOOLCHAIN_RC", "HARDSTACK_TOOLCHAIN_LOG",
                       "scripts/pulumi-toolchain, scripts/docker-provider")
