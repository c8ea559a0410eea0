"""`hardstack audit`: every class of finding has a true positive (planted) and a true negative (its clean
twin); a fresh layout audits without a high finding; bad input is a message, never a traceback; the
repos are only read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import audit_repos
from hardstack.audit import audit
from hardstack.cli import app

CLASSES = ["AU1", "AU2", "AU3", "AU4", "AU5", "AU6", "AU7", "AU8", "AU9", "AU10", "AU11", "AU12", "AU13", "AU14", "AU15", "C11", "D10", "N10", "P1"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    planted = audit(audit_repos.write(tmp_path_factory.mktemp("planted"), planted=True))
    clean = audit(audit_repos.write(tmp_path_factory.mktemp("clean"), planted=False))
    return planted, clean


def ids(report, rid):
    return [f for f in report.findings if f.id == rid]


@pytest.mark.parametrize("rid", CLASSES)
def test_each_class_is_found_where_planted_and_not_in_the_clean_twin(reports, rid):
    planted, clean = reports
    assert ids(planted, rid), f"{rid} not found in the planted repos"
    assert not ids(clean, rid), f"{rid} found in the clean twin: {[f.message for f in ids(clean, rid)]}"


@pytest.mark.parametrize("rid, where, words", [
    ("AU1", "api/.env:2", "DB_PASSWORD"),
    ("AU1", "api/shop/settings.py:2", "secret is committed"),
    ("AU2", "api/docker-compose.yml:6", "runserver"),
    ("AU2", "api/docker-compose.yml:6", "Dockerfile.dev"),
    ("AU2", "api/docker-compose.yml:6", "bind-mounts the source tree"),
    ("AU3", "api/docker-compose.yml:6", "monitoring/prometheus.yml"),
    ("AU3", "api/docker-compose.yml:18", "./ssl"),
    ("AU3", "api/docker-compose.yml:16", "outside this repository"),
    ("AU4", "api/.devcontainer/docker-compose.dev.yml:5 vs api/docker-compose.yml", "POSTGRES_PASSWORD differs"),
    ("AU4", "api/.devcontainer/devcontainer.json", "no package.json"),
    ("AU5", "api/scripts/create_admin.py:3 vs api/.github/workflows/deploy.yml", "deploy.yml runs it"),
    ("AU6", "api/.github/workflows/ci.yml:4", "SQLite"),
    ("AU6", "api/.github/workflows/ci.yml:4", "2 times"),
    ("AU6", "web/.github/workflows/ci.yml:8", "default branch"),
    ("AU7", "web/server.js:3 vs web/.env.production", "API_BACKEND_URL"),
    ("AU7", "web/server.js:6", "payloads"),
    ("AU8", "api/compose.cache.yml:2", "--requirepass"),
    ("AU8", "api/compose.cache.yml:5", "AUTH_TYPE: trust"),
    ("AU8", "api/compose.cache.yml:9", "POSTGRES_HOST_AUTH_METHOD: trust"),
    ("AU9", "api/shop/settings.py:4", "falls back to ALLOWED_HOSTS '*'"),
    ("AU9", "api/shop/settings.py:5", "every origin"),
    ("AU9", "api/shop/settings_prod.py:4", "random SECRET_KEY in each process"),
    ("AU10", "api/compose.admin.yml:2", "every interface of the host (port 5050)"),
    ("AU11", "api/compose.admin.yml:2", "no tag"),
    ("AU11", "api/compose.admin.yml:6", "the moving tag nightly"),
    ("AU11", "api/compose.admin.yml:8", "past its end of life"),
    ("AU12", "api/compose.admin.yml:11", "forwarded_allow_ips"),
    ("AU13", "api/requirements-prod.txt:2", "refs/heads/main.zip"),
    ("AU13", "api/requirements-prod.txt:3", "@master"),
    ("AU14", "api/db/password.txt", "a secret file is committed (password.txt"),
    ("AU15", "api/worker/entrypoint.sh:4 vs api/worker/Dockerfile", "the branch for 'web' never runs"),
    ("AU15", "api/worker/entrypoint.sh:7 vs api/worker/Dockerfile", "starts the image with celery"),
    ("C11", "api/docker-compose.yml:2", "POSTGRES_PASSWORD holds the known default 'postgres'"),
    ("D10", "api/Dockerfile.dev", "no .dockerignore"),
    ("N10", "api/nginx/default.conf", "host_spoofing"),
    ("P1", "api/prometheus/prometheus.yml", "no alert rule files"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None)
def test_each_finding_says_where_and_what(reports, rid, where, words):
    planted, _ = reports
    matches = [f for f in ids(planted, rid) if f.where == where and words in f.message]
    assert matches, [(f.where, f.message) for f in ids(planted, rid)]
    assert all(f.fix for f in matches)


def test_a_fresh_layout_audits_without_a_high_or_medium_finding(default_layout):
    report = audit([default_layout])
    assert not report.at_or_above("medium"), [(f.id, f.where, f.message) for f in report.at_or_above("medium")]


def tree_digest(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_outputs_exit_codes_and_nothing_written(tmp_path):
    roots = audit_repos.write(tmp_path, planted=True)
    before = {str(r): tree_digest(r) for r in roots}
    runner = CliRunner()
    as_json = runner.invoke(app, ["audit", *map(str, roots), "--json"])
    assert as_json.exit_code == 1  # high findings, --fail-on high by default
    findings = json.loads(as_json.output)["findings"]
    assert {"id", "severity", "file", "line", "message", "fix", "fixed_by", "other"} <= set(findings[0])
    markdown = runner.invoke(app, ["audit", *map(str, roots), "--markdown"])
    assert markdown.output.startswith("# Infrastructure review of api, web") and "| AU5 | high |" in markdown.output
    table = runner.invoke(app, ["audit", *map(str, roots)])
    assert "AU4" in table.output and table.exit_code == 1
    assert {str(r): tree_digest(r) for r in roots} == before  # read only
    clean = audit_repos.write(tmp_path / "clean", planted=False)
    assert runner.invoke(app, ["audit", *map(str, clean), "--json", "--fail-on", "high"]).exit_code == 0  # no high left
    assert runner.invoke(app, ["audit", *map(str, clean), "--json", "--fail-on", "medium"]).exit_code == 1  # C5/C15 stay
    assert runner.invoke(app, ["audit", str(clean[1]), "--fail-on", "medium"]).exit_code == 1  # S3: unpinned actions
    bad = runner.invoke(app, ["audit", str(clean[1]), "--fail-on", "urgent"])
    assert bad.exit_code == 2 and "--fail-on must be one of" in bad.output


def test_bad_input_is_a_message_or_a_finding_never_a_traceback(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["audit", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such folder" in missing.output and "Traceback" not in missing.output
    (tmp_path / "file.txt").write_text("x")
    a_file = runner.invoke(app, ["audit", str(tmp_path / "file.txt")])
    assert a_file.exit_code == 2 and "a file, not a folder" in a_file.output
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "docker-compose.yml").write_text("services:\n  web:\n    image: [unclosed\n")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0binary")
    (repo / "dump.sql").write_text("x" * (600 * 1024))
    (repo / "outside").symlink_to(tmp_path / "file.txt")
    (repo / "loop1").symlink_to(repo / "loop2")
    (repo / "loop2").symlink_to(repo / "loop1")
    report = audit([repo])
    assert any("loop1: a symlink loop" in s for s in report.skipped), report.skipped
    assert [f.id for f in report.findings] == ["AU0"] and report.findings[0].line in (3, 4)  # where YAML stops
    assert any("dump.sql: larger than" in s for s in report.skipped)
    assert any("outside: a symlink out of the root" in s for s in report.skipped)
    assert report.files_read == 1  # the compose file; the binary is not read as text


def test_compose_files_are_judged_merged_as_they_run(tmp_path):
    report = audit([audit_repos.write_projects(tmp_path)])
    found = [(f.id, f.where, f.message) for f in report.findings]
    c2 = [f for f in found if f[0] == "C2"]
    # the overlays alone would have no healthchecks: merged, only the one !reset takes away is missing
    assert [(w, m.split(" (in ")[0]) for _, w, m in c2] == [("shop/compose.prod.yml:2", "db: no healthcheck")], c2
    assert "compose.yml + compose.prod.yml (as Makefile runs it)" in c2[0][2]
    assert any(rid == "C8" and w == "shop/compose.prod.yml:4" and "privileged" in m for rid, w, m in found), found
    assert any(rid == "C5" and w == "shop/deploy/compose.swarm.yml:2" and "COMPOSE_FILE in .env" in m for rid, w, m in found), found
    # an anchored service and its alias have lines of their own; a hardening row names them in one finding
    from hardstack.audit.files import TextFile

    assert TextFile(tmp_path, tmp_path / "shop/compose.yml").key_lines == {"db": 8, "web": 12, "worker": 14}
    # web and worker are built from backend/Dockerfile, whose USER is 10001: only db "may be root"
    assert [w for rid, w, m in found if rid == "C15" and m.startswith("db: no user")] == ["shop/compose.yml:8"], found
    assert not [m for rid, w, m in found if rid == "C15" and ("web" in m or "worker" in m)], found
    assert not [f for f in found if f[0] in ("AU0", "D10")], found  # !reset is valid YAML; the root's .dockerignore is read
    assert not [f for f in found if "compose.override.yml" in f[1] or "compose.staging.yml" in f[1]], found


def test_each_file_is_judged_for_what_it_is_for(tmp_path):
    """The same privileged service: high in production files, one step lower in dev, test and example
    files; the class is named on every finding; --only-production keeps the production files alone."""
    report = audit(audit_repos.write_purposes(tmp_path))
    purposes = {"shop/docker-compose.yml": "production",
                "shop/docker-compose.dev.yml": "production",  # the deploy workflow runs it
                "shop/docker-compose.local.yml": "dev",  # the README: for local development
                "shop/tests/compose.yml": "test",
                "samples/django/compose.yaml": "example",  # the README: not meant for production
                "samples/flask/compose.yaml": "example"}
    for rid, lowered in (("C11", "medium"), ("C8", "low")):  # a credential one step down; hardening is low
        found = {f.file: (f.purpose, f.severity) for f in report.findings if f.id == rid}
        assert found == {file: (p, "high" if p == "production" else lowered) for file, p in purposes.items()}, (rid, found)
    assert all(f.purpose == "production" or f.severity != "high" for f in report.findings)
    only = audit(audit_repos.write_purposes(tmp_path), only_production=True)
    assert only.findings and {f.purpose for f in only.findings} == {"production"}
    result = CliRunner().invoke(app, ["audit", str(tmp_path / "shop"), "--markdown"])
    assert "`shop/tests/compose.yml:2 [test]`" in result.output, result.output


def test_a_secret_is_committed_only_if_git_holds_it_or_would_take_it(tmp_path):
    """In a git repository, git's own answer: tracked files and untracked ones no ignore rule covers."""
    import subprocess

    repo = tmp_path / "api"
    (repo / "db").mkdir(parents=True)
    (repo / ".gitignore").write_text(".env\ndb/local_password.txt\n")
    for name in (".env", "db/local_password.txt", "db/password.txt", "db/new_password.txt"):
        (repo / name).write_text("DB_PASSWORD=hunter2-for-real\n" if name == ".env" else "hunter2-for-real\n")
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", ".gitignore", "db/password.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    found = {f.file for f in audit([repo]).findings if f.id in ("AU1", "AU14")}
    assert found == {"api/db/password.txt", "api/db/new_password.txt"}, found  # tracked, and untracked but not ignored


def test_the_report_opens_with_what_to_read_first_and_fits_one_comment(reports, tmp_path):
    from hardstack.audit import Finding, Report, markdown
    from hardstack.audit.ranking import conventions_to_info, grouped

    planted, _ = reports
    first = planted.read_first()
    assert first and all(f.severity == "high" and f.purpose == "production" for f in first)
    assert first[0].id in ("AU14", "AU1"), [f.id for f in first]  # a committed secret before hardening
    review = markdown(planted)
    assert review.index("## Read first") < review.index("## All other findings")
    # conventions of hardstack's own are info; one hardening finding names every service it is about
    conv = [Finding("D2", "high", "api/Dockerfile", 3, "final USER 'app' is not a non-root numeric UID", "fix"),
            Finding("D2", "high", "api/Dockerfile", 3, "final USER 'root' is not a non-root numeric UID", "fix")]
    conventions_to_info(conv)
    assert [f.severity for f in conv] == ["info", "high"]
    many = [Finding("C5", "high", "x/compose.yml", n, f"svc{n}: cap_drop is not [ALL]", "cap_drop: [ALL]") for n in range(1, 4)]
    assert [(f.message, f.line) for f in grouped(many, {"C5"})] == [("svc1, svc2, svc3: cap_drop is not [ALL]", 1)]
    # a huge report is cut to fit one pull-request comment, saying how many were left out
    big = Report([tmp_path], [Finding("C11", "medium", f"r/compose{n}.yml", 2, "db: POSTGRES_PASSWORD is a literal " + "x" * 80,
                                      "read it from a secret file") for n in range(2000)])
    text = markdown(big)
    assert len(text) < 65_536 and "... and " in text and "`hardstack audit --json` lists them all" in text


CORPUS = Path(__file__).parent / "fixtures" / "audit-corpus"


def corpus_scores() -> dict[str, dict]:
    """Per repository of the corpus: the high findings reported, and the labels."""
    import yaml

    labels = yaml.safe_load((CORPUS / "labels.yaml").read_text())
    scores = {}
    for repo, label in labels.items():
        report = audit([CORPUS / repo])
        high = {f"{f.id} {f.where}" for f in report.findings if f.severity == "high"}
        scores[repo] = {"high": high, "true": set(label["real"] or []), "false": set(label["noise"] or []), "seconds": report.seconds}
    return scores


def test_audit_precision_and_recall_on_the_labelled_corpus():
    scores = corpus_scores()
    unlabelled = {repo: s["high"] - s["true"] - s["false"] for repo, s in scores.items() if s["high"] - s["true"] - s["false"]}
    assert not unlabelled, f"label these high findings true or false in {CORPUS / 'labels.yaml'}: {unlabelled}"
    reported = sum(len(s["high"]) for s in scores.values())
    hits = sum(len(s["high"] & s["true"]) for s in scores.values())
    labelled_true = sum(len(s["true"]) for s in scores.values())
    precision, recall = hits / max(reported, 1), hits / max(labelled_true, 1)
    missed = {repo: s["true"] - s["high"] for repo, s in scores.items() if s["true"] - s["high"]}
    assert precision >= 0.9 and recall >= 0.9, (precision, recall, missed)
    assert labelled_true >= 8  # the corpus holds real problems to find, not only noise to avoid


def test_a_row_that_cannot_judge_is_an_error_of_the_tool_never_a_finding(tmp_path, monkeypatch):
    from hardstack.audit import rules
    from hardstack.checks import tools

    real_find = tools.find

    def no_hadolint(tool):
        if tool == "hadolint":
            raise tools.ToolMissing(tool)
        return real_find(tool)

    def broken_rule(tree):
        raise KeyError("services")

    monkeypatch.setattr(tools, "find", no_hadolint)
    monkeypatch.setattr(rules, "RULES", [*rules.RULES, broken_rule])
    report = audit(audit_repos.write(tmp_path, planted=True))
    assert not [f for f in report.findings if f.id == "D1"]
    assert any("D1: hadolint not found" in e for e in report.errors), report.errors
    assert any("BROKEN: KeyError" in e for e in report.errors), report.errors
    assert [f for f in report.findings if f.id == "AU14"]  # the other rules went on


def test_every_compose_form_is_read_without_an_error(tmp_path):
    repo = tmp_path / "forms"
    repo.mkdir()
    (repo / "compose.yaml").write_text(audit_repos.FORMS_COMPOSE)
    (repo / "Dockerfile").write_text('FROM python:3.13-slim\nUSER 10001\nCMD ["gunicorn", "app:app"]\n')
    report = audit([repo])
    assert report.errors == [] and not [f for f in report.findings if f.id == "AU0"], report.errors
    said = [(f.id, f.message) for f in report.findings]
    # job extends web, which runs as 10001 with cap_drop ALL, read-only and no-new-privileges
    assert not [m for rid, m in said if rid in ("C4", "C5", "C6", "C15") and "job" in m], said
    assert not [m for rid, m in said if rid == "AU3"], said  # env_file with required: false
    assert [f.severity for f in report.findings if f.message.startswith("secret db: not file-based")] == ["info"]
