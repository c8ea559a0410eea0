"""Sibling-repo workflow: template updates (cruft) and rendering one part into an existing repo."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import hardstack.generate as generate
from hardstack.answers import validate
from hardstack.update import conflicts

from conftest import ROOT

GIT = ["git", "-c", "user.email=test@example.com", "-c", "user.name=test"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def template(tmp_path, monkeypatch) -> Path:
    """A fixture copy of the template as its own git repository, used by `hardstack new`."""
    repo = tmp_path / "template"
    repo.mkdir()
    for name in ("cookiecutter.json", "hooks", "{{cookiecutter.project_slug}}"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, repo / name)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "template v1")
    monkeypatch.setattr(generate, "template_dir", lambda: repo)
    return repo


@pytest.fixture
def layout(template, tmp_path, cli) -> Path:
    out = tmp_path / "out"
    assert cli("new", "--no-input", "-o", str(out)).exit_code == 0
    path = out / "hardstack_demo"
    git(path, "init", "-q")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "generated")
    return path


def change_template(template: Path, rel: str, old: str, new: str) -> None:
    path = template / "{{cookiecutter.project_slug}}" / rel
    path.write_text(path.read_text().replace(old, new, 1))
    git(template, "commit", "-qam", f"change {rel}")


def test_layout_records_template_and_answers(layout, template):
    import json

    state = json.loads((layout / ".cruft.json").read_text())
    assert state["template"] == str(template)
    assert state["commit"] == git(template, "rev-parse", "HEAD").strip()
    assert validate(state["context"]["cookiecutter"]).project_slug == "hardstack_demo"
    assert "secrets" in state["skip"]


def test_update_brings_template_change_and_keeps_local_edit(layout, template, cli):
    # A local edit in one file...
    edit = layout / "nginx/snippets/limits.conf"
    edit.write_text(edit.read_text().replace("client_max_body_size 10m;", "client_max_body_size 25m;"))
    git(layout, "commit", "-qam", "bigger uploads")
    assert cli("update", "--check", str(layout)).exit_code == 0
    # ...and a template change in another.
    change_template(template, "nginx/snippets/gzip.conf", "gzip_comp_level 5;", "gzip_comp_level 6;")
    behind = cli("update", "--check", str(layout))
    assert behind.exit_code == 1 and "behind" in behind.output

    result = cli("update", str(layout))
    assert result.exit_code == 0, result.output
    assert "gzip_comp_level 6;" in (layout / "nginx/snippets/gzip.conf").read_text()
    assert "client_max_body_size 25m;" in edit.read_text()
    assert conflicts(layout) == []
    git(layout, "add", "-A")
    git(layout, "commit", "-qm", "template update")
    assert cli("update", "--check", str(layout)).exit_code == 0
    # Secrets are never touched by an update.
    assert (layout / "secrets/db_password").exists()


def test_update_writes_the_secret_files_a_new_template_needs(layout, template, cli):
    """A layout from before the database roles lacks their files: the update writes them (fresh values, or
    the value a copy shares: db-setup's db_password_setup is db_password's) and touches none it has."""
    secrets = layout / "secrets"
    kept = {name: (secrets / name).read_text() for name in ("db_password", "postgres_password", "django_secret_key")}
    for name in ("db_password_setup", "db_owner_password", "db_owner_password_setup", "db_backup_password"):
        (secrets / name).unlink()
    # ...and its record predates the dev container's own secrets (and their place in cruft's skip list).
    import json

    shutil.rmtree(layout / ".devcontainer/secrets")
    state = json.loads((layout / ".cruft.json").read_text())
    state["skip"] = ["secrets"]
    (layout / ".cruft.json").write_text(json.dumps(state, indent=2) + "\n")
    git(layout, "commit", "-qam", "an older record")
    change_template(template, "nginx/snippets/gzip.conf", "gzip_comp_level 5;", "gzip_comp_level 6;")
    result = cli("update", str(layout))
    assert result.exit_code == 0, result.output
    assert "secrets/db_owner_password" in result.output
    assert {name: (secrets / name).read_text() for name in kept} == kept
    assert (secrets / "db_password_setup").read_text() == kept["db_password"]
    assert (secrets / "db_owner_password_setup").read_text() == (secrets / "db_owner_password").read_text() != kept["db_password"]
    assert oct((secrets / "db_backup_password").stat().st_mode & 0o777) == "0o600"
    assert conflicts(layout) == [] and "gzip_comp_level 6;" in (layout / "nginx/snippets/gzip.conf").read_text()
    assert (layout / ".devcontainer/secrets/db_owner_password").is_file()
    assert ".devcontainer/secrets" in json.loads((layout / ".cruft.json").read_text())["skip"]  # the next update skips them
    git(layout, "add", "-A")
    git(layout, "commit", "-qm", "template update")
    change_template(template, "nginx/snippets/gzip.conf", "gzip_comp_level 6;", "gzip_comp_level 7;")
    again = cli("update", str(layout))
    assert again.exit_code == 0 and conflicts(layout) == [], again.output


def test_conflicting_edit_is_reported(layout, template, cli):
    edit = layout / "nginx/snippets/gzip.conf"
    edit.write_text(edit.read_text().replace("gzip_comp_level 5;", "gzip_comp_level 9;"))
    git(layout, "commit", "-qam", "local compression level")
    change_template(template, "nginx/snippets/gzip.conf", "gzip_comp_level 5;", "gzip_comp_level 6;")
    result = cli("update", str(layout))
    assert result.exit_code == 1
    assert "Conflicts" in result.output and "nginx/snippets/gzip.conf" in result.output
    text = edit.read_text()
    assert "gzip_comp_level 9;" in text and "gzip_comp_level 6;" in text  # nothing silently lost


def test_update_refuses_without_record(tmp_path, cli):
    result = cli("update", "--check", str(tmp_path))
    assert result.exit_code == 2 and ".cruft.json" in result.output


SIBLING = ["include_example_app=no", "backend_context=../api", "frontend_context=../web"]


def test_render_one_part_into_an_existing_repo(tmp_path, cli):
    repo = tmp_path / "web"
    (repo / "src").mkdir(parents=True)
    (repo / "package.json").write_text('{"name": "web"}\n')
    (repo / "src/main.js").write_text("console.log(1)\n")
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    result = cli("new", "--no-input", "--part", "frontend", "-o", str(repo), *SIBLING)
    assert result.exit_code == 0, result.output
    assert {p.name for p in repo.iterdir()} == {"package.json", "src", "Dockerfile", ".dockerignore", "deploy"}
    assert (repo / "deploy/nginx.conf").exists()
    assert all(p.read_bytes() == data for p, data in before.items())  # the repo's own files untouched
    again = cli("new", "--no-input", "--part", "frontend", "-o", str(repo), *SIBLING)
    assert again.exit_code != 0 and "already exist" in again.output and "--overwrite" in again.output


def test_render_ci_part_into_backend_repo(tmp_path, cli):
    repo = tmp_path / "api"
    repo.mkdir()
    (repo / "requirements.txt").write_text("Django>=5.2,<5.3\n")
    result = cli("new", "--no-input", "--part", "backend-ci", "-o", str(repo), *SIBLING)
    assert result.exit_code == 0, result.output
    workflow = (repo / ".github/workflows/backend.yml").read_text()
    assert "working-directory: ." in workflow
    assert sorted(p.name for p in repo.rglob("*") if p.is_file()) == ["backend.yml", "requirements.txt"]  # only the workflow added


def test_unknown_part_is_refused(tmp_path, cli):
    result = cli("new", "--no-input", "--part", "database", "-o", str(tmp_path))
    assert result.exit_code != 0 and "unknown part" in result.output and "frontend" in result.output
