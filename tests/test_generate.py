"""Rendering: every supported combination renders completely and passes the static bar."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardstack import hooks
import yaml

from hardstack.catalog import GUNICORN_GRACEFUL, PROTECTED_VOLUMES, SECRETS, SERVICES, STOP_GRACE, VOLUMES
from hardstack.answers import validate
from hardstack.checks import FAIL, NA, PASS, WARN, run_checks

from conftest import COMBINATIONS, ROOT, assignments

LEFTOVER = re.compile(r"\{\{|\{%|cookiecutter\.")


def rendered_files(layout: Path) -> list[Path]:
    return [p for p in layout.rglob("*") if p.is_file() and "secrets" not in p.relative_to(layout).parts]


def assert_fully_rendered(layout: Path) -> None:
    for path in rendered_files(layout):
        text = path.read_text(errors="replace")
        # Prometheus annotations hold {{ $labels.x }} and GitHub workflows ${{ expr }}: both are meant.
        text = re.sub(r"\{\{ \$(labels\.\w+|value)( \| \w+)? \}\}", "", text)
        text = re.sub(r"\$\{\{[^}]*\}\}", "", text)
        assert not LEFTOVER.search(text), f"unrendered template syntax in {path.relative_to(layout)}"


def assert_deploy_dir_declared_where_first_used(layout: Path) -> None:
    """A sibling layout's DEPLOY_DIR build arg names the layout's folder. Every RUN after an ARG sees its value, so
    no RUN may come between `ARG DEPLOY_DIR` and its first use: a layout folder named anew (the tests' random
    names, a second checkout) would otherwise install and compile the app's dependencies again, uncached."""
    from hardstack.checks.dockerfiles import parse

    for dockerfile in sorted(layout.glob("*/Dockerfile")):
        for stage in parse(dockerfile)[1]:
            names = [instr for instr, _ in stage.instructions]
            declared = [i for i, (instr, args) in enumerate(stage.instructions) if instr == "ARG" and args.startswith("DEPLOY_DIR")]
            if declared:
                first_use = next(i for i, (_, args) in enumerate(stage.instructions) if "${DEPLOY_DIR}" in args)
                between = names[declared[0] + 1:first_use]
                assert "RUN" not in between, f"{dockerfile.relative_to(layout)} stage {stage.name}: RUN between ARG DEPLOY_DIR and its use"


@pytest.mark.parametrize("answers", COMBINATIONS.values(), ids=COMBINATIONS.keys())
def test_combination_renders_and_passes_the_static_bar(cli, tmp_path, answers):
    for key in ("backend_context", "frontend_context"):
        if answers.get(key, "").startswith("../"):
            repo = tmp_path / answers[key].removeprefix("../")
            repo.mkdir(parents=True)  # the sibling repos (C14)
            (repo / "requirements.txt").write_text("Django>=5.2,<5.3\n")
    result = cli("new", "--no-input", "-o", str(tmp_path), *assignments(answers))
    assert result.exit_code == 0, result.output
    layout = next(p for p in tmp_path.iterdir() if (p / "compose.yaml").exists())
    assert_fully_rendered(layout)
    results = run_checks(layout)
    failed = [r for r in results if r.status == FAIL]
    assert not failed, failed
    applicable = {r.id for r in results if r.status != NA}
    assert {"D1", "C1", "C13", "N1", "N10", "S2"} <= applicable
    # Switched-off parts are gone, switched-on parts are there.
    a = validate(json.loads((layout / ".hardstack-answers.json").read_text()))
    assert (layout / "prometheus").exists() == a.enable_monitoring
    assert (layout / "nginx/snippets/tls.conf").exists() == a.tls_on
    assert (layout / "acme/Dockerfile").exists() == (layout / "nginx/snippets/acme-challenge.conf").exists() == a.uses_acme
    assert (layout / "backend/manage.py").exists() == a.include_example_app
    assert (layout / ".github/workflows/backend.yml").exists() == a.enable_ci_workflows
    assert (layout / ".devcontainer/devcontainer.json").exists() == a.enable_devcontainer
    assert ("S3" in applicable) == a.enable_ci_workflows and ("S4" in applicable) == a.enable_devcontainer
    # Overlays encrypted as answered; off is a warning of its own (W4), never silent.
    nets = yaml.safe_load((layout / "stack.yaml").read_text())["networks"]
    assert {n: (net.get("driver_opts") or {}).get("encrypted") for n, net in nets.items()} == \
        {n: ("true" if a.swarm_overlay_encryption else None) for n in nets}
    w4 = next(r for r in results if r.id == "W4")
    assert w4.status == (PASS if a.swarm_overlay_encryption else WARN), w4

    assert (layout / "backend/Dockerfile").exists() and (layout / "frontend/Dockerfile").exists() == a.has_frontend
    assert ("../" in (layout / "compose.yaml").read_text()) == (not a.include_example_app)
    assert_deploy_dir_declared_where_first_used(layout)
    assert_facts_come_from_the_catalog(layout, a)


def assert_facts_come_from_the_catalog(layout: Path, a) -> None:
    """The rendered files say what catalog.SERVICES and catalog.VOLUMES say: each service's networks, its
    roll order on swarm, its port in healthchecks, scrape targets and proxy passes, the volumes."""
    compose = yaml.safe_load((layout / "compose.yaml").read_text())
    stack = yaml.safe_load((layout / "stack.yaml").read_text())
    assert list(compose["volumes"]) == list(stack["volumes"]) == a.volumes
    for name, svc in stack["services"].items():
        spec = SERVICES[name]
        order = ((svc.get("deploy") or {}).get("update_config") or {}).get("order", "stop-first")
        if not spec.one_shot:
            assert order == ("stop-first" if spec.stop_first else "start-first"), name
    for file in (compose, stack):
        for name, svc in file["services"].items():
            assert svc["networks"] == a.service_networks[name], name
            assert svc.get("stop_grace_period") == (f"{STOP_GRACE[name]}s" if name in STOP_GRACE else None), name
            test = " ".join((svc.get("healthcheck") or {}).get("test") or [])
            for url_port in re.findall(r"http://127\.0\.0\.1:(\d+)", test):
                assert int(url_port) == a.ports[name], (name, test)
    proxy = next(p for p in stack["services"]["proxy"]["ports"])
    assert proxy["target"] == a.ports["proxy"]
    if a.enable_monitoring:
        targets = re.findall(r'"([a-z-]+):(\d+)"', (layout / "prometheus/prometheus.yml").read_text())
        assert targets and all(int(port) == a.ports[host] for host, port in targets if host in a.ports), targets
    # The images workflow runs `hardstack images` and attests every image the layout builds (the deploy needs a digest
    # for each; `hardstack images` pushes what compose builds).
    if a.enable_ci_workflows:
        steps = yaml.safe_load((layout / ".github/workflows/images.yml").read_text())["jobs"]["build"]["steps"]
        push = next(step for step in steps if step.get("id") == "push")
        assert 'hardstack images "$LAYOUT"' in push["run"]
        built = sorted({a.image_part(svc["image"]) for svc in compose["services"].values() if "build" in svc})
        attested = sorted(step["with"]["subject-name"].rsplit("/", 1)[1] for step in steps if "attest-build-provenance" in step.get("uses", ""))
        assert attested == built == sorted(a.image_parts)
    # Every nginx file the proxy reads reaches swarm as a config (a new snippet needs no list of its own).
    configs = {spec["file"].removeprefix("./") for spec in stack["configs"].values()}
    assert {str(p.relative_to(layout)) for p in (layout / "nginx").rglob("*.conf")} <= configs


PORTS_WRITTEN_ONCE = ["compose.yaml", "stack.yaml", "prometheus/prometheus.yml", "nginx/nginx.conf", "redis/redis.conf", "redis/start.sh"]


@pytest.mark.parametrize("file", PORTS_WRITTEN_ONCE)
def test_service_ports_are_written_only_in_the_catalog(file):
    """The template's files that name services' ports take them from catalog.SERVICES (a.ports): no
    literal port of a service in their source."""
    source = (ROOT / "{{cookiecutter.project_slug}}" / file).read_text()
    ports = {str(s.port) for s in SERVICES.values() if s.port}
    literal = [m.group(0) for m in re.finditer(r"(?<![\d.])(\d{4,5})(?![\d.])", source) if m.group(1) in ports]
    assert not literal, f"{file} writes {literal}: use {{{{ a.ports['<service>'] }}}}"


@pytest.mark.parametrize("file", ["compose.yaml", "stack.yaml"])
def test_stop_grace_periods_are_written_only_in_the_catalog(file):
    """Every stop_grace_period of the template's source is catalog.STOP_GRACE's, so compose, swarm and both Pulumi
    targets (which read the files) give a service the same time to stop; the backend's outlasts gunicorn's own."""
    source = (ROOT / "{{cookiecutter.project_slug}}" / file).read_text()
    periods = re.findall(r"\n    stop_grace_period: (.*)", source)
    assert periods and all(re.fullmatch(r"\{\{ a\.stop_grace\['[a-z-]+'\] \}\}s", p) for p in periods), periods
    gunicorn = (ROOT / "{{cookiecutter.project_slug}}/backend/deploy/gunicorn.conf.py").read_text()
    assert re.search(r"^graceful_timeout = \{\{ a\.gunicorn_graceful \}\}", gunicorn, re.M)
    assert GUNICORN_GRACEFUL < STOP_GRACE["backend"]


@pytest.mark.parametrize("file", ["compose.yaml", "stack.yaml"])
def test_healthchecks_are_written_only_in_the_catalog(file, default_layout):
    """Every healthcheck block of the template's source is catalog.HEALTH's (a.healthcheck), and the
    rendered one has the catalog's test and timings (a swarm task's longer start period in stack.yaml)."""
    from hardstack.catalog import HEALTH

    source = (ROOT / "{{cookiecutter.project_slug}}" / file).read_text()
    blocks = re.findall(r"\n    healthcheck:\n(.*)", source)
    assert blocks and all(re.fullmatch(r"\{\{ a\.healthcheck\('[a-z-]+'(, swarm=True)?\) \}\}", b) for b in blocks), blocks
    rendered = yaml.safe_load((default_layout / file).read_text())["services"]
    for name, svc in rendered.items():
        health = HEALTH[name]
        if health is None:
            assert svc["healthcheck"] == {"disable": True}, name
            continue
        assert svc["healthcheck"]["test"][:2] == list(health.test[:2]) and svc["healthcheck"]["retries"] == health.retries, name
        swarm = file == "stack.yaml" and health.swarm_start_period
        assert svc["healthcheck"]["start_period"] == (health.swarm_start_period if swarm else health.start_period), name


def test_volumes_of_user_data_are_kept_the_same_way_on_every_target():
    """One list (catalog.PROTECTED_VOLUMES): the swarm removal and both Pulumi targets keep exactly it."""
    from types import SimpleNamespace

    from hardstack.runtime import swarm
    from hardstack.deploy.plan import volume_options

    assert set(PROTECTED_VOLUMES) == {"db-data", "media", "backups", "redis-data", "certs"}
    assert swarm.PROTECTED_VOLUMES is PROTECTED_VOLUMES
    kept = {name for name in VOLUMES if volume_options(SimpleNamespace(protect_volumes=True), name).retain_on_delete}
    assert kept == set(PROTECTED_VOLUMES)
    assert not any(volume_options(SimpleNamespace(protect_volumes=False), name).retain_on_delete for name in VOLUMES)


def test_secrets_are_fresh_private_and_owned_by_their_reader(default_layout, tmp_path, cli):
    secrets_dir = default_layout / "secrets"
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    values = {}
    answers = validate(json.loads((default_layout / ".hardstack-answers.json").read_text()))
    layout_secrets = answers.secrets
    assert sorted(p.name for p in secrets_dir.iterdir()) == sorted([*layout_secrets, "build_ca_bundle.pem"])
    for name in layout_secrets:
        secret = answers.secret_specs[name]
        uid = hooks.UIDS[secret.uid]
        path = secrets_dir / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        if os.geteuid() == 0:
            assert path.stat().st_uid == uid
        values[name] = path.read_text()
        assert len(values[name]) >= 24
    # Each role a password of its own; db-setup's copies hold the same values as the app's files.
    assert values["db_password"] == values["db_password_setup"] and values["db_owner_password"] == values["db_owner_password_setup"]
    assert values["redis_password"] == values["redis_url_password"]
    own = ["postgres_password", "db_password", "db_owner_password", "db_backup_password", "db_exporter_password", "django_secret_key",
           "superuser_password", "redis_password"]
    assert len({values[name] for name in own}) == len(own)
    # A second layout gets different values.
    assert cli("new", "--no-input", "-o", str(tmp_path)).exit_code == 0
    assert (tmp_path / "hardstack_demo/secrets/db_password").read_text() != values["db_password"]
    assert "secrets/" in (default_layout / ".gitignore").read_text().split()


def test_the_dev_container_has_secrets_of_its_own(default_layout):
    """Dev-only values in .devcontainer/secrets/ (gitignored, 0700): none is a production value, the copies
    db-setup reads hold their role's value, and the dev compose file names no production file."""
    dev, prod = default_layout / ".devcontainer" / "secrets", default_layout / "secrets"
    assert stat.S_IMODE(dev.stat().st_mode) == 0o700
    names = sorted(p.name for p in dev.iterdir())
    assert names == sorted(p.name for p in prod.iterdir() if p.name != "build_ca_bundle.pem")
    generated = [n for n in names if not n.startswith("alert_")]
    assert not {(dev / n).read_text() for n in generated} & {(prod / n).read_text() for n in generated}
    assert (dev / "db_owner_password").read_text() == (dev / "db_owner_password_setup").read_text()
    assert "./secrets/" not in (default_layout / ".devcontainer/compose.dev.yaml").read_text()
    from hardstack.checks.misc import not_ignored

    assert not_ignored(default_layout, (".devcontainer/secrets/db_owner_password",)) == []


def test_no_secret_value_outside_secrets(default_layout):
    values = [(default_layout / "secrets" / n).read_text() for n in SECRETS
              if n not in hooks.PLACEHOLDERS and (default_layout / "secrets" / n).exists()]
    assert len(values) == 11
    for path in rendered_files(default_layout):
        text = path.read_text(errors="replace")
        assert not any(v in text for v in values), path


def test_env_var_names_are_answers(tmp_path, cli):
    answers = {"env_secret_key": "SECRET_KEY", "env_db_password": "POSTGRES_PASSWORD", "env_database_url": "DATABASE_URL"}
    assert cli("new", "--no-input", "-o", str(tmp_path), *assignments(answers)).exit_code == 0
    compose = (tmp_path / "hardstack_demo/compose.yaml").read_text()
    assert "SECRET_KEY_FILE: /run/secrets/django_secret_key" in compose
    assert "POSTGRES_PASSWORD_FILE: /run/secrets/db_password" in compose
    assert 'HARDSTACK_FILE_VARS: "POSTGRES_PASSWORD SECRET_KEY"' in compose
    assert "HARDSTACK_DATABASE_URL_VAR: DATABASE_URL" in compose
    settings_py = (tmp_path / "hardstack_demo/backend/config/settings.py").read_text()
    assert 'env("SECRET_KEY")' in settings_py


def test_image_variables_default_to_the_answers(tmp_path, cli):
    ref = "registry.example.com:5000/base/python:3.12-slim@sha256:" + "b" * 64
    assert cli("new", "--no-input", "-o", str(tmp_path), f"python_image={ref}").exit_code == 0
    layout = tmp_path / "hardstack_demo"
    assert f"PYTHON_IMAGE:-{ref}" in (layout / "compose.yaml").read_text()
    assert f"ARG PYTHON_IMAGE={ref}" in (layout / "backend/Dockerfile").read_text()
    assert f"PYTHON_IMAGE={ref}" in (layout / ".env.example").read_text()


def test_cli_prints_where_and_what_next(tmp_path, cli):
    result = cli("new", "--no-input", "-o", str(tmp_path), "project_name=Acme Shop")
    assert result.exit_code == 0
    assert str(tmp_path / "acme_shop") in "".join(result.output.split())  # rich folds a long path at the console's width
    assert "docker compose up -d --wait" in result.output
    assert "hardstack check" in result.output


def test_config_file_and_overrides(tmp_path, cli):
    config = tmp_path / "answers.yaml"
    config.write_text("default_context:\n  project_name: From File\n  http_port: 9000\n")
    out = tmp_path / "out"
    assert cli("new", "--no-input", "--config-file", str(config), "-o", str(out), "http_port=9100").exit_code == 0
    recorded = json.loads((out / "from_file/.hardstack-answers.json").read_text())
    assert recorded["project_name"] == "From File" and recorded["http_port"] == 9100


BAD_CLI = {
    "slug-path": (["project_slug=../x"], "project_slug"),
    "slug-absolute": (["project_slug=/tmp/x"], "project_slug"),
    "port-range": (["http_port=70000"], "http_port"),
    "port-clash": (["enable_tls=yes", "tls_certificate=a.pem", "tls_certificate_key=b.pem", "https_port=8080"], "https_port: clashes"),
    "bad-image": (["db_image=Timescale:latest"], "db_image"),
    "bad-domain": (["domain=http://shop"], "domain"),
    "tls-without-cert": (["enable_tls=yes"], "tls_certificate"),
    "unknown-key": (["colour=blue"], "colour"),
    "not-key-value": (["project_name"], "KEY=VALUE"),
    "bad-bool": (["enable_tls=perhaps"], "enable_tls"),
}


@pytest.mark.parametrize("args,key", BAD_CLI.values(), ids=BAD_CLI.keys())
def test_bad_input_is_refused_and_nothing_is_written(tmp_path, cli, args, key):
    out = tmp_path / "out"
    result = cli("new", "--no-input", "-o", str(out), *args)
    assert result.exit_code != 0
    assert key in result.output and "nothing was written" in result.output
    assert not out.exists() or not any(out.iterdir())
    assert not (tmp_path / "x").exists()


def test_existing_target_is_never_overwritten_unless_asked(tmp_path, cli):
    assert cli("new", "--no-input", "-o", str(tmp_path)).exit_code == 0
    layout = tmp_path / "hardstack_demo"
    (layout / "compose.yaml").write_text("# my edit\n")
    secret = (layout / "secrets/db_password").read_text()
    (layout / ".env").write_text("HTTP_PORT=9999\n")  # the user's (or hardstack up's stand-in) variables
    result = cli("new", "--no-input", "-o", str(tmp_path))
    assert result.exit_code != 0 and "already exists" in result.output and "--overwrite" in result.output
    assert (layout / "compose.yaml").read_text() == "# my edit\n"
    result = cli("new", "--no-input", "-o", str(tmp_path), "--overwrite")
    assert result.exit_code == 0
    assert (layout / "compose.yaml").read_text() != "# my edit\n"
    assert (layout / "secrets/db_password").read_text() == secret  # secrets kept, not rotated
    assert (layout / ".env").read_text() == "HTTP_PORT=9999\n"  # and the layout's own .env
    assert [p.name for p in tmp_path.iterdir()] == ["hardstack_demo"]  # no staging folder left


def test_failure_while_rendering_leaves_nothing(tmp_path, cli, monkeypatch):
    import hardstack.generate as generate

    real = generate.render

    def half_then_fail(answers, output_dir):
        real(answers, output_dir)  # a complete render in the staging folder...
        raise OSError("disk full")  # ...then a failure before it is moved into place

    monkeypatch.setattr(generate, "render", half_then_fail)
    result = cli("new", "--no-input", "-o", str(tmp_path))
    assert result.exit_code != 0 and "nothing was written" in result.output and "disk full" in result.output
    assert list(tmp_path.iterdir()) == []


# ---- hardstack's in-process render and cookiecutter's generate_files agree -------------

def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(root).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("answers", COMBINATIONS.values(), ids=COMBINATIONS.keys())
def test_in_process_render_writes_what_cookiecutter_writes(tmp_path, monkeypatch, answers):
    """`hardstack new` renders with Jinja directly (no cookiecutter import); `cookiecutter <repo>` and
    cruft render with cookiecutter. Both must write the same bytes and modes, before the hooks."""
    from cookiecutter.generate import generate_files

    import hardstack.template_ext
    from hardstack.generate import render_template, template_context, template_dir

    # A compiled-template cache of its own for each renderer: a shared one would hand one
    # environment's compiled code to the other and hide a difference in their settings.
    monkeypatch.setattr(hardstack.template_ext, "CACHE", tmp_path / "cache-ours")
    validated = validate(answers)
    ours = render_template(validated, tmp_path / "ours")
    monkeypatch.setattr(hardstack.template_ext, "CACHE", tmp_path / "cache-cc")
    context = {"cookiecutter": template_context(validated, tmp_path / "ours")}
    theirs = Path(generate_files(repo_dir=str(template_dir()), context=context, output_dir=str(tmp_path / "cc"), accept_hooks=False))
    assert ours.name == theirs.name
    mine, cookiecutters = tree(ours), tree(theirs)
    assert sorted(mine) == sorted(cookiecutters)
    differing = [name for name in mine if mine[name] != cookiecutters[name]]
    assert differing == [], f"rendered differently from cookiecutter: {differing}"


# ---- hooks, directly and through a real cookiecutter run -------------------------------

def test_pre_generate_hook_refuses_bad_answers(capsys):
    assert hooks.pre_generate({"project_slug": "../x", "_template": "."}) == 1
    assert "project_slug" in capsys.readouterr().err
    assert hooks.pre_generate({"_template": "."}) == 0


def test_remove_functions(tmp_path):
    for rel in ["backend/manage.py", "backend/config/settings.py", "backend/Dockerfile", "frontend/src/main.js",
                "frontend/package.json", "frontend/Dockerfile", "prometheus/prometheus.yml", "nginx/snippets/tls.conf"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    hooks.remove_example_backend(tmp_path)
    hooks.remove_example_frontend(tmp_path)
    hooks.remove_monitoring(tmp_path)
    hooks.remove_tls(tmp_path)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["backend/Dockerfile", "frontend/Dockerfile"]


def test_write_secrets_never_rotates(tmp_path):
    hooks.write_secrets(tmp_path, validate({}))
    before = (tmp_path / "secrets/django_secret_key").read_text()
    hooks.write_secrets(tmp_path, validate({}))
    assert (tmp_path / "secrets/django_secret_key").read_text() == before


@pytest.mark.parametrize("answers, present, absent", [
    ({}, {"alert_webhook_url"}, {"alert_smtp_password"}),
    ({"alert_receiver": "email", "alert_email_to": "ops@example.com", "alert_smtp_smarthost": "smtp.example.com:587"},
     {"alert_smtp_password"}, {"alert_webhook_url"}),
    ({"enable_monitoring": False}, set(), {"alert_webhook_url", "alert_smtp_password"}),
], ids=["webhook", "email", "no-monitoring"])
def test_write_secrets_writes_only_what_the_layout_mounts(tmp_path, answers, present, absent):
    hooks.write_secrets(tmp_path, validate(answers))
    names = {p.name for p in (tmp_path / "secrets").iterdir()}
    assert present <= names and not absent & names
    if "alert_webhook_url" in present:
        # A placeholder that can never deliver anywhere (.invalid), not a made-up endpoint.
        assert (tmp_path / "secrets/alert_webhook_url").read_text().startswith("https://alerts.invalid/")


def test_real_cookiecutter_run_with_pytest_cookies(cookies):
    result = cookies.bake(extra_context={"project_name": "Baked Shop", "enable_monitoring": False})
    assert result.exit_code == 0, result.exception
    assert result.project_path.name == "baked_shop"
    assert not (result.project_path / "prometheus").exists()
    assert (result.project_path / "secrets/db_password").exists()


def test_real_cookiecutter_run_refuses_bad_answers(cookies):
    result = cookies.bake(extra_context={"http_port": "0"})
    assert result.exit_code != 0
    assert result.project_path is None or not Path(result.project_path).exists()


# ---- property: any answers render a passing layout or are refused cleanly --------------

@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(values=st.fixed_dictionaries({}, optional={
    "project_name": st.sampled_from(["Shop", "Acme Web", "x" * 90, "Bad'Quote", "a-b c"]),
    "http_port": st.integers(0, 70000),
    "enable_tls": st.booleans(),
    "tls_mode": st.sampled_from(["off", "files", "acme"]),
    "enable_monitoring": st.booleans(),
    "tls_certificate": st.sampled_from(["certs/c.pem", ""]),
    "tls_certificate_key": st.sampled_from(["certs/k.pem", ""]),
    "domain": st.sampled_from(["shop.example.com", "localhost", "Bad Domain"]),
}))
def test_any_answers_render_a_passing_layout_or_are_refused(tmp_path_factory, values):
    from typer.testing import CliRunner

    from hardstack.cli import app

    out = tmp_path_factory.mktemp("prop")
    args = [f"{k}={'yes' if v is True else 'no' if v is False else v}" for k, v in values.items()]
    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(out), *args])
    if result.exit_code != 0:
        assert "nothing was written" in result.output
        assert list(out.iterdir()) == []
        return
    layout = next(out.iterdir())
    assert_fully_rendered(layout)
    assert not [r for r in run_checks(layout) if r.status == FAIL]


def test_prompts_ask_what_matters_and_retry_bad_answers(tmp_path, monkeypatch):
    import hardstack.cli as cli_module
    from typer.testing import CliRunner

    monkeypatch.setattr(cli_module, "_interactive", lambda: True)
    # name, slug (default), domain (bad, asked again at once; then mixed case, normalised), example app: no,
    # backend_context (its default follows: ../api), settings, wsgi, frontend_context (default ../web), then defaults
    answers = ["Acme Shop", "", "not a domain!", "Shop.Example.COM", "n", "", "acme.settings", "acme.wsgi:application", "",
               "", "", "", "", "", "", "", "", "", "", "", "", ""]  # ..., celery_app, ..., backend_egress, alert_receiver, bind_address, http_port
    result = CliRunner().invoke(cli_module.app, ["new", "-o", str(tmp_path)], input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "backend_context" in result.output and "tls_certificate (" not in result.output  # conditional prompts
    refused = result.output.index("domain: must be a host name")
    assert refused < result.output.index("include_example_app (")  # asked again before the next question
    assert "[../api]" in result.output and "[../web]" in result.output  # defaults that follow include_example_app=no
    recorded = json.loads((tmp_path / "acme_shop/.hardstack-answers.json").read_text())
    assert recorded["domain"] == "shop.example.com" and recorded["backend_context"] == "../api"
    assert recorded["frontend_context"] == "../web" and recorded["include_example_app"] is False
