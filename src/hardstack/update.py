"""Layouts follow the template as it improves: cruft records the template and its commit in
`.cruft.json`, re-renders old and new with the layout's answers, and merges the difference into the
layout with git's three-way apply, keeping local edits. We only add what cruft leaves to its
caller: writing the record for layouts made by `hardstack new`, and reporting conflicts."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hardstack.answers import Answers, cookiecutter_values

CRUFT_FILE = ".cruft.json"
# Never merged: fresh random values on each render (production's and the dev container's own).
SKIP = ["secrets", ".devcontainer/secrets"]


class UpdateError(RuntimeError):
    pass


def _git(template: Path, *args: str) -> str | None:
    proc = subprocess.run(["git", "-C", str(template), *args], capture_output=True, text=True)
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def template_commit(template: Path) -> str | None:
    return _git(template, "rev-parse", "HEAD")


def template_source(template: Path, override: str | None = None) -> tuple[str, str | None]:
    """Where a layout's template can be fetched again, and at which commit.

    A git checkout names its `origin` remote (or its own path when it has none); an installed wheel
    names what its build recorded (hatch_build.py). `override` (`hardstack new --template-source`)
    wins, for a mirror or a fork reachable from CI.
    """
    if (template / ".git").exists():
        url, commit = _git(template, "remote", "get-url", "origin"), template_commit(template)
    else:
        recorded = template / "template-source.json"
        info = json.loads(recorded.read_text()) if recorded.is_file() else {}
        url, commit = info.get("url"), info.get("commit")
    return override or url or str(template), commit


def record(layout: Path, template: Path, answers: Answers, source: str | None = None) -> None:
    """Write .cruft.json: the template source, its commit and the answers the layout was rendered with."""
    url, commit = template_source(template, source)
    context = cookiecutter_values(answers)
    context["_template"] = url
    state = {"template": url, "commit": commit, "checkout": None,
             "context": {"cookiecutter": context}, "directory": None, "skip": SKIP}
    (layout / CRUFT_FILE).write_text(json.dumps(state, indent=2) + "\n")


def _state(layout: Path) -> dict:
    path = layout / CRUFT_FILE
    if not path.exists():
        raise UpdateError(f"{layout} has no {CRUFT_FILE}: it was not written by `hardstack new` (or predates updates)")
    state = json.loads(path.read_text())
    if not state.get("commit"):
        raise UpdateError(f"{path} records no template commit: the template was not a git checkout when the layout was written")
    return state


def is_current(layout: Path) -> bool:
    import cruft  # deferred: only update needs it, and it is slow to import

    _state(layout)
    return cruft.check(layout, strict=True)


@dataclass
class Report:
    updated: bool
    conflicts: list[str] = field(default_factory=list)
    new_secrets: list[str] = field(default_factory=list)  # files the new template needs, made with fresh values
    chown: list[str] = field(default_factory=list)  # commands to give them to their readers (without root)


def conflicts(layout: Path) -> list[str]:
    """Files with merge conflict markers or rejected hunks left by the update."""
    found = []
    for path in layout.rglob("*"):
        if not path.is_file() or {".git", "node_modules", "secrets"} & set(path.relative_to(layout).parts):
            continue
        if path.suffix == ".rej":
            found.append(str(path.relative_to(layout)))
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        if "\n<<<<<<< " in f"\n{text}" and "\n>>>>>>> " in text:
            found.append(str(path.relative_to(layout)))
    return sorted(found)


def update(layout: Path) -> Report:
    """Merge the template's changes into the layout (a clean git work tree), keeping local edits."""
    import cruft

    before = _state(layout)["commit"]
    ok = cruft.update(layout, skip_apply_ask=True, allow_untracked_files=True, strict=True)
    if not ok:
        raise UpdateError("cruft could not update the layout: commit or stash local changes first (it must be a clean git work tree)")
    state = json.loads((layout / CRUFT_FILE).read_text())
    after = state["commit"]
    if set(SKIP) - set(state.get("skip") or []):
        # A record from before a path joined SKIP (cruft reads the layout's list, and needs a clean tree
        # to start): the next update skips it too. This one brought those files in for the first time.
        state["skip"] = list(dict.fromkeys([*(state.get("skip") or []), *SKIP]))
        (layout / CRUFT_FILE).write_text(json.dumps(state, indent=2) + "\n")
    new, chown = missing_secrets(layout)
    return Report(updated=before != after, conflicts=conflicts(layout), new_secrets=new, chown=chown)


def missing_secrets(layout: Path) -> tuple[list[str], list[str]]:
    """secrets/ is never merged (SKIP): the secret files the updated layout needs and does not have yet
    are written as `hardstack new` writes them. Existing ones are never touched; a new file that copies
    a value another already holds (db-setup's copy of db_password) takes that value."""
    from hardstack import hooks
    from hardstack.answers import validate

    answers = validate(json.loads((layout / ".hardstack-answers.json").read_text()))
    before = {p.name for p in (layout / "secrets").iterdir()} if (layout / "secrets").is_dir() else set()
    chown = hooks.write_secrets(layout, answers)
    if answers.enable_devcontainer:
        hooks.write_dev_secrets(layout, answers)
    return sorted(set(answers.secrets) - before), chown
