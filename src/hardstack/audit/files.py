"""What an audit reads: the text files of the roots, sorted by kind, read once, never executed.

Binary and huge files are skipped, vendored folders are not entered, and a symlink is followed only
when it stays inside its root."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from hardstack import yamlio

MAX_BYTES = 512 * 1024
SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".tox",
             "dist", "build", "coverage", "htmlcov", ".next", ".cache", "staticfiles", "site-packages"}


class AuditInputError(ValueError):
    """A root that cannot be audited (missing, not a folder): a clear message, no traceback."""


@dataclass
class TextFile:
    root: Path
    path: Path
    purpose: str = "production"  # production, dev, test or example (purposes.assign)

    @property
    def rel(self) -> str:
        return f"{self.root.name}/{self.path.relative_to(self.root)}"

    @cached_property
    def text(self) -> str:  # read once: every rule reads from here
        return self.path.read_text(errors="replace")

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @cached_property
    def kind(self) -> str:
        return classify(self.path)

    @cached_property
    def parsed(self) -> tuple[Any, yaml.YAMLError | None]:
        """The file as YAML, parsed once for every rule that reads it: (document, None) or (None, error)."""
        try:
            if self.kind == "compose":  # Compose's merge tags (!reset, !override) are valid there
                from hardstack.audit.projects import load, plain

                return plain(load(self.text)), None
            return yamlio.safe_load(self.text), None
        except yaml.YAMLError as err:
            return None, err

    @cached_property
    def key_lines(self) -> dict[str, int]:
        """The line of every service and job key (`services:` and `jobs:` entries), read from the YAML
        nodes: `web: &web`, `api: *web`, flow style and any indentation included."""
        try:
            root = yaml.compose(self.text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            return {}
        lines: dict[str, int] = {}
        if isinstance(root, yaml.MappingNode):
            for key, value in root.value:
                if key.value in ("services", "jobs") and isinstance(value, yaml.MappingNode):
                    for name, _ in value.value:
                        lines.setdefault(str(name.value), name.start_mark.line + 1)
        return lines

    def service_line(self, name: str) -> int | None:
        """The line that opens a compose service or workflow job of that name."""
        if name in self.key_lines:
            return self.key_lines[name]
        pattern = re.compile(rf"\s{{2,4}}{re.escape(name)}:\s*$")
        return next((n for n, line in enumerate(self.lines, 1) if pattern.match(line)), None)

    @property
    def production(self) -> bool:
        return self.purpose == "production"


@dataclass
class Tree:
    roots: list[Path]
    files: list[TextFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: why"

    def kind(self, kind: str) -> list[TextFile]:
        return [f for f in self.files if f.kind == kind]

    @cached_property
    def projects(self) -> list:
        """The compose projects the repos run (audit/projects.py), found once."""
        from hardstack.audit.projects import projects

        return projects(self)

    @cached_property
    def committed(self) -> set[Path]:
        """The files git holds or would take (`git add -A`): a repository's own answer when the root is
        in one (tracked, plus untracked files no ignore rule covers), else its .gitignore files judged
        by git in a scratch repository. A gitignored `.env` on a developer's disk is not committed."""
        import subprocess

        from hardstack.checks.misc import not_ignored

        held: set[Path] = set()
        for root in self.roots:
            mine = [f for f in self.files if f.root == root]
            proc = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                  capture_output=True, text=True)
            if proc.returncode == 0:
                listed = {(root / rel).resolve() for rel in proc.stdout.split("\0") if rel}
                held |= {f.path for f in mine if f.path.resolve() in listed}
            else:
                rels = tuple(str(f.path.relative_to(root)) for f in mine)
                kept = set(not_ignored(root, rels)) if rels else set()
                held |= {f.path for f in mine if str(f.path.relative_to(root)) in kept}
        return held


def classify(path: Path) -> str:
    name = path.name.lower()
    parts = {p.lower() for p in path.parts}
    if name == "dockerfile" or name.startswith("dockerfile.") and not name.endswith(".dockerignore") or name.endswith(".dockerfile"):
        return "dockerfile"
    if re.fullmatch(r"(docker-)?compose([._-][\w.-]+)?\.ya?ml", name):
        return "compose"
    if name == ".env" or name.startswith(".env.") or name.endswith(".env"):
        return "env"
    if ".github" in parts and "workflows" in parts and name.endswith((".yml", ".yaml")):
        return "workflow"
    if name == "devcontainer.json":
        return "devcontainer"
    if name.endswith(".conf") and ("nginx" in name or "nginx" in parts):
        return "nginx"
    if name.endswith(".sh"):
        return "shell"
    if name.endswith(".py"):
        return "python"
    if name.endswith((".js", ".mjs", ".cjs", ".ts")):
        return "js"
    return "other"


def _loops(path: Path) -> bool:
    try:
        path.resolve(strict=True)
        return False
    except RuntimeError:  # "Symlink loop" (Python 3.11)
        return True
    except OSError as err:
        return err.errno == 40  # ELOOP


def is_text(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4096)
    return b"\0" not in head


def scan(roots: list[Path]) -> Tree:
    checked = []
    for root in roots:
        if not root.exists():
            raise AuditInputError(f"{root}: no such folder; give the root of a repository")
        if not root.is_dir():
            raise AuditInputError(f"{root}: a file, not a folder; give the root of the repository that holds it")
        checked.append(root.resolve())
    tree = Tree(checked)
    for root in checked:
        for folder, dirs, names in os.walk(root, followlinks=False):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not (Path(folder) / d).is_symlink())
            for name in sorted(names):
                path = Path(folder) / name
                rel = path.relative_to(root)
                try:
                    if path.is_symlink() and _loops(path):
                        tree.skipped.append(f"{root.name}/{rel}: a symlink loop, not followed")
                        continue
                    if path.is_symlink() and root not in path.resolve().parents:
                        tree.skipped.append(f"{root.name}/{rel}: a symlink out of the root, not followed")
                        continue
                    if not path.is_file():
                        continue
                    if path.stat().st_size > MAX_BYTES:
                        tree.skipped.append(f"{root.name}/{rel}: larger than {MAX_BYTES // 1024} KB")
                        continue
                    if not is_text(path):
                        continue
                except OSError as err:
                    tree.skipped.append(f"{root.name}/{rel}: unreadable ({err.strerror})")
                    continue
                tree.files.append(TextFile(root, path))
    return tree
