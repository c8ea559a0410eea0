"""Fast tier: what `hardstack new` reads from the backend repo (installer, Python), the refusals that
name the answer, rows D11/D12 on rendered layouts, and layouts without an SPA or with uvicorn."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from hardstack.answers import AnswersError, validate
from hardstack.backend_project import fit_to_backend, image_python_version, pick_version
from hardstack.checks import run_checks

FIXTURES = Path(__file__).parent / "fixtures"
SIBLING = {"include_example_app": False, "backend_context": "../notes", "frontend_context": "", "django_settings_module": "notes.settings"}


def repo(tmp_path: Path, fixture: str | None = None, **files: str) -> Path:
    path = tmp_path / "notes"
    if fixture:
        shutil.copytree(FIXTURES / fixture, path)
    else:
        path.mkdir()
    for name, text in files.items():
        (path / name.replace("__", ".")).write_text(text)
    return path


@pytest.mark.parametrize("image, version", [
    ("python:3.13-slim-trixie", "3.13"), ("python:3.11.9-slim", "3.11"), ("python:3.12", "3.12"),
    ("registry.example.com:5000/base/python:3.12-slim@sha256:" + "b" * 64, "3.12"),
    ("python:latest", None), ("myorg/base:3.13", None), ("python:slim", None),
])
def test_image_python_version(image, version):
    assert image_python_version(image) == version


@pytest.mark.parametrize("spec, version", [
    (">=3.12", "3.13"), (">=3.11,<3.13", "3.12"), (">=3.10,<3.12", "3.11"), ("==3.12.*", "3.12"), ("~=3.11.0", "3.11"),
    (">=3.14", "3.14"), ("<3.0", None), ("nonsense", None),
])
def test_requires_python_picks_the_default_if_admitted_else_the_newest(spec, version):
    assert pick_version(spec) == version


def test_uv_project_is_detected_with_its_python(tmp_path):
    answers, notes = fit_to_backend(validate(SIBLING), repo(tmp_path, "uv-notes"), set(SIBLING))
    assert answers.backend_installer == "uv" and answers.python_image == "python:3.13-slim-trixie"
    assert notes[0] == "backend_installer=auto: found uv.lock in ../notes, so uv"
    assert "declares Python 3.13 (.python-version)" in notes[1]


def test_poetry_project_python_from_its_caret_constraint(tmp_path):
    answers, notes = fit_to_backend(validate(SIBLING), repo(tmp_path, "poetry-notes"), set(SIBLING))
    assert answers.backend_installer == "poetry" and answers.python_image == "python:3.13-slim-trixie"
    assert "requires-python >=3.11,<4.0" in notes[1]


def test_requirements_project_with_requires_python(tmp_path):
    path = repo(tmp_path, requirements__txt="Django>=5.2\n", pyproject__toml='[project]\nname = "x"\nrequires-python = ">=3.10,<3.12"\n')
    answers, notes = fit_to_backend(validate(SIBLING), path, set(SIBLING))
    assert answers.backend_installer == "pip" and answers.python_image == "python:3.11-slim-trixie"


def test_a_given_python_image_is_kept_and_a_disagreement_said(tmp_path):
    given = {**SIBLING, "python_image": "python:3.11-slim-trixie"}
    answers, notes = fit_to_backend(validate(given), repo(tmp_path, "uv-notes"), set(given))
    assert answers.python_image == "python:3.11-slim-trixie"
    assert any("row D11 will fail" in n for n in notes)


@pytest.mark.parametrize("files, answers, expected", [
    ({"pyproject__toml": '[project]\nname = "x"\n'}, {}, "backend_installer: ../notes has no uv.lock, poetry.lock or requirements.txt"),
    ({"requirements__txt": "Django\n"}, {"backend_installer": "uv"}, "backend_installer=uv: ../notes has no uv.lock; run `uv lock`"),
    ({"uv__lock": ""}, {"backend_installer": "pip"}, "backend_requirements: ../notes/requirements.txt does not exist"),
    ({"requirements__txt": "x\n", "__python-version": "pypy3.10\n"}, {}, "python_image: "),
    ({"requirements__txt": "x\n", "pyproject__toml": '[project]\nrequires-python = "<3.0"\n'}, {}, "admits none of"),
], ids=["no-lock-no-requirements", "uv-without-lock", "pip-without-requirements", "pypy-version-file", "impossible-requires-python"])
def test_what_the_repo_cannot_build_from_is_refused_naming_the_answer(tmp_path, files, answers, expected):
    raw = {**SIBLING, **answers}
    with pytest.raises(AnswersError) as err:
        fit_to_backend(validate(raw), repo(tmp_path, **files), set(raw))
    assert expected in err.value.problems[0]


def test_a_repo_not_there_yet_installs_with_pip_and_says_so(tmp_path):
    answers, notes = fit_to_backend(validate(SIBLING), tmp_path / "absent", set(SIBLING))
    assert answers.backend_installer == "pip" and "does not exist yet" in notes[0]


@pytest.mark.parametrize("value, installer", [("pyproject.toml", "auto"), ("uv.lock", "uv"), ("poetry.lock", "poetry")])
def test_backend_requirements_naming_a_project_file_points_at_backend_installer(value, installer):
    with pytest.raises(AnswersError) as err:
        validate({"backend_requirements": value})
    assert err.value.problems[0].startswith(f"backend_requirements: {value} is not a requirements file: set backend_installer={installer}")


def render(cli, tmp_path: Path, fixture: str | None, *args: str) -> Path:
    if fixture:
        repo(tmp_path, fixture)
    result = cli("new", "--no-input", "-o", str(tmp_path), "project_slug=site", *args)
    assert result.exit_code == 0, result.output
    return tmp_path / "site"


def failing(layout: Path) -> dict[str, str]:
    return {r.id: r.detail for r in run_checks(layout) if r.status == "fail"}


def test_uv_uvicorn_no_spa_layout_passes_the_static_bar(cli, tmp_path):
    layout = render(cli, tmp_path, "uv-notes", "include_example_app=no", "backend_context=../notes", "frontend_context=",
                    "django_settings_module=notes.settings", "server=uvicorn", "asgi_app=notes.asgi:application",
                    "backend_build_packages=gcc libpq-dev", "backend_runtime_packages=libpq5")
    assert failing(layout) == {}
    compose = yaml.safe_load((layout / "compose.yaml").read_text())
    stack = yaml.safe_load((layout / "stack.yaml").read_text())
    assert "frontend" not in compose["services"] and "frontend" not in stack["services"]
    assert "frontend" not in compose["services"]["proxy"]["depends_on"]
    assert not (layout / "frontend").exists() and not (layout / ".github/workflows/frontend.yml").exists()
    nginx = (layout / "nginx/nginx.conf").read_text()
    assert "$frontend" not in nginx and "location / {\n            # No SPA" in nginx
    dockerfile = (layout / "backend/Dockerfile").read_text()
    assert dockerfile.count("uv sync") == 1 and "poetry" not in dockerfile and "requirements" not in dockerfile
    assert "apt-get install -y --no-install-recommends gcc libpq-dev" in dockerfile.split("AS runtime")[0]
    assert "libpq-dev" not in dockerfile.split("AS runtime")[1] and "ASGI_APP=notes.asgi:application" in dockerfile
    assert 'worker_class = "uvicorn_worker.UvicornWorker"' in (layout / "backend/deploy/gunicorn.conf.py").read_text()
    assert not (layout / "backend/deploy/hardstack_wsgi.py").exists()
    workflow = (layout / ".github/workflows/backend.yml").read_text()
    assert 'python-version: "3.13"' in workflow and "uv sync --locked" in workflow
    dev = json.loads((layout / ".devcontainer/devcontainer.json").read_text())["postCreateCommand"]
    assert "uv sync --locked" in dev and "npm ci" not in dev


def test_d12_fails_when_a_build_package_is_installed_at_run_time(cli, tmp_path):
    layout = render(cli, tmp_path, "uv-notes", "include_example_app=no", "backend_context=../notes", "frontend_context=",
                    "django_settings_module=notes.settings", "backend_build_packages=gcc libpq-dev", "backend_runtime_packages=libpq5 libpq-dev")
    rows = failing(layout)
    assert "D12" in rows and "runtime stage installs libpq-dev (backend_build_packages)" in rows["D12"]


def test_example_app_without_spa_renders_and_passes(cli, tmp_path):
    layout = render(cli, tmp_path, None, "frontend_context=")
    assert failing(layout) == {}
    assert not (layout / "frontend").exists() and (layout / "backend/.python-version").read_text().strip() == "3.13"
