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
# Never merged: fresh random values on each render.
SKIP = ["secrets"]


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

    _state(layout)
    before = json.loads((layout / CRUFT_FILE).read_text())["commit"]
    ok = cruft.update(layout, skip_apply_ask=True, allow_untracked_files=True, strict=True)
    if not ok:
        raise UpdateError("cruft could not update the layout: commit or stash local changes first (it must be a clean git work tree)")
    after = json.loads((layout / CRUFT_FILE).read_text())["commit"]
    return Report(updated=before != after, conflicts=conflicts(layout))
