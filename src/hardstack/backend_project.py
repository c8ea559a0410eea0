"""What a backend repository declares about itself: how its dependencies are locked, and which Python
it runs on. `hardstack new` reads it to fill `backend_installer=auto` and an unanswered `python_image`;
row D11 reads it to hold the image to the app's own declaration."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from hardstack.catalog import DEFAULT_PYTHON, IMAGES, LOCKFILES, PYTHON_DEBIAN, PYTHON_VERSIONS

PYTHON_VERSION_FILE = re.compile(r"^(?:cpython-?)?(3\.\d+)(?:\.\d+)?(?:[-+].*)?$")


class ProjectError(ValueError):
    """The repository says something the layout cannot build from: `answer: what; fix`."""


@dataclass(frozen=True)
class Declared:
    version: str  # X.Y
    source: str  # where it was read, for messages: ".python-version", "requires-python >=3.12"


def image_python_version(image: str) -> str | None:
    """X.Y of a Python image whose tag starts with it: python:3.13-slim-trixie -> 3.13."""
    name, _, tag = image.split("@")[0].rpartition(":")
    if not name or "python" not in name.rsplit("/", 1)[-1]:
        return None
    m = re.match(r"^(3\.\d+)(?:\.\d+)?(?:-|$)", tag)
    return m.group(1) if m else None


def python_image_for(version: str) -> str:
    return f"python:{version}-slim-{PYTHON_DEBIAN}"


def _caret_to_pep440(spec: str) -> str:
    """Poetry's `^3.11` / `~3.11` (tool.poetry.dependencies.python) as a PEP 440 specifier."""
    out = []
    for part in spec.split(","):
        part = part.strip()
        m = re.fullmatch(r"([\^~])\s*(\d+)\.(\d+)(?:\.\d+)?", part)
        if m:
            major, minor = int(m.group(2)), int(m.group(3))
            upper = f"{major + 1}.0" if m.group(1) == "^" else f"{major}.{minor + 1}"
            out += [f">={major}.{minor}", f"<{upper}"]
        else:
            out.append(part)
    return ",".join(out)


def _requires_python(pyproject: Path) -> str | None:
    try:
        data = tomllib.loads(pyproject.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ProjectError(f"backend_context: {pyproject} cannot be read ({err}); fix the file") from None
    spec = data.get("project", {}).get("requires-python")
    if spec is None:
        spec = data.get("tool", {}).get("poetry", {}).get("dependencies", {}).get("python")
        spec = _caret_to_pep440(spec) if isinstance(spec, str) else None
    return spec


def pick_version(spec: str) -> str | None:
    """The Python a requires-python specifier runs on: the default if it admits it, else the newest it admits."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        admitted = SpecifierSet(spec)
    except InvalidSpecifier:
        return None
    fits = [v for v in PYTHON_VERSIONS if any(admitted.contains(f"{v}.{patch}") for patch in (0, 99))]
    return DEFAULT_PYTHON if DEFAULT_PYTHON in fits else (fits[0] if fits else None)


def declared_python(context: Path) -> Declared | None:
    """The Python the repo asks for: `.python-version` first (what uv and pyenv use), else requires-python."""
    pinned = context / ".python-version"
    if pinned.is_file():
        lines = [ln.strip() for ln in pinned.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        m = PYTHON_VERSION_FILE.match(lines[0]) if lines else None
        if not m:
            raise ProjectError(f"python_image: {pinned} says {lines[0] if lines else 'nothing'!r}, not a CPython version such as 3.13; "
                               "fix the file, or give python_image=python:3.13-slim-trixie yourself")
        return Declared(m.group(1), ".python-version")
    pyproject = context / "pyproject.toml"
    spec = _requires_python(pyproject) if pyproject.is_file() else None
    if not spec:
        return None
    version = pick_version(spec)
    if version is None:
        raise ProjectError(f"python_image: requires-python {spec!r} in {pyproject} admits none of {', '.join(PYTHON_VERSIONS)}; "
                           "fix it, or give python_image yourself")
    return Declared(version, f"requires-python {spec}")


def lock_installer(context: Path) -> str | None:
    for lock, installer in LOCKFILES.items():
        if (context / lock).is_file():
            return installer
    return None


def fit_to_backend(answers, context: Path, given: set[str]):
    """The answers with backend_installer=auto and an unanswered python_image filled from the backend
    repo at `context`, and one line per choice made, for `hardstack new` to print."""
    from hardstack.answers import AnswersError

    notes: list[str] = []
    update: dict[str, str] = {}
    if answers.include_example_app:
        return answers.model_copy(update={"backend_installer": "pip"}) if answers.backend_installer == "auto" else answers, notes
    where = answers.backend_context
    if not context.is_dir():
        if answers.backend_installer == "auto":
            update["backend_installer"] = "pip"
            notes.append(f"backend_installer=auto: {where} does not exist yet, so pip from {answers.backend_requirements}; "
                         "re-render once the repo is there to detect a lockfile")
        return answers.model_copy(update=update), notes
    try:
        found = lock_installer(context)
        requirements = (context / answers.backend_requirements).is_file()
        if answers.backend_installer == "auto":
            if found:
                update["backend_installer"] = found
                notes.append(f"backend_installer=auto: found {next(k for k, v in LOCKFILES.items() if v == found)} in {where}, so {found}")
            elif requirements:
                update["backend_installer"] = "pip"
                notes.append(f"backend_installer=auto: no lockfile in {where}, so pip from {answers.backend_requirements}")
            else:
                raise ProjectError(f"backend_installer: {where} has no uv.lock, poetry.lock or {answers.backend_requirements}; "
                                   "commit a lockfile (`uv lock` or `poetry lock`), or set backend_requirements to the requirements file")
        elif answers.backend_installer in LOCKFILES.values():
            lock = next(k for k, v in LOCKFILES.items() if v == answers.backend_installer)
            if not (context / lock).is_file():
                raise ProjectError(f"backend_installer={answers.backend_installer}: {where} has no {lock}; run "
                                   f"`{answers.backend_installer} lock` there and commit it, or set backend_installer=auto")
        elif not requirements:
            raise ProjectError(f"backend_requirements: {where}/{answers.backend_requirements} does not exist; name the requirements file, "
                               "or set backend_installer=auto to install from a lockfile")
        declared = declared_python(context)
    except ProjectError as err:
        raise AnswersError([str(err)]) from None
    if declared and "python_image" not in given:
        update["python_image"] = python_image_for(declared.version)
        notes.append(f"python_image: {where} declares Python {declared.version} ({declared.source}), so {update['python_image']}")
    elif declared and image_python_version(answers.python_image) not in (None, declared.version):
        notes.append(f"python_image={answers.python_image} runs Python {image_python_version(answers.python_image)}, but {where} "
                     f"declares {declared.version} ({declared.source}); row D11 will fail until they agree")
    elif not declared and "python_image" not in given:
        notes.append(f"python_image: {where} declares no Python (.python-version or requires-python), so {IMAGES['python_image'][1]}")
    return answers.model_copy(update=update), notes
