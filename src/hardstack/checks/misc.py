"""Bar rows S1 and S2: shell scripts, and secrets in the generated tree."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from hardstack.checks import tools
from hardstack.checks.result import Result, check

# Answers whose values are variable NAMES (DB_PASSWORD), not values: not secrets.
NAME_ONLY_LINES = r'^\s*"env_[a-z_]+": "[A-Z0-9_]*",?$'


def shell_scripts(layout: Path) -> list[Path]:
    found = []
    for path in layout.rglob("*"):
        if not path.is_file() or "node_modules" in path.parts or path.parts[len(layout.parts)] == "secrets":
            continue
        if path.suffix == ".sh" or path.read_bytes()[:32].startswith((b"#!/bin/sh", b"#!/bin/bash", b"#!/usr/bin/env bash", b"#!/usr/bin/env sh")):
            found.append(path)
    return found


def s1_shellcheck(layout: Path) -> Result:
    scripts = shell_scripts(layout)
    out = tools.run("shellcheck", *map(str, scripts)) if scripts else None
    return check("S1", [tools.first_lines(out.out)] if out and not out.ok else [], f"{len(scripts)} scripts shellcheck clean")


def s2_secrets(layout: Path) -> Result:
    problems = []
    out = tools.run("detect-secrets", "scan", "--all-files", "--exclude-files", r"^secrets/",
                    "--exclude-lines", NAME_ONLY_LINES, ".", cwd=layout, timeout=300)
    for path, hits in json.loads(out.out or "{}").get("results", {}).items():
        problems += [f"{path}:{h['line_number']}: {h['type']}" for h in hits]
    directory = layout / "secrets"
    if directory.exists():
        files = [p for p in directory.iterdir() if p.is_file()]
        problems += [f"secrets/{p.name}: mode {stat.S_IMODE(p.stat().st_mode):04o}, want 0600" for p in files
                     if stat.S_IMODE(p.stat().st_mode) != 0o600]
        if stat.S_IMODE(directory.stat().st_mode) & 0o077:
            problems.append("secrets/: readable by group or others, want 0700")
    gitignore = layout / ".gitignore"
    if not gitignore.exists() or "secrets/" not in gitignore.read_text().split():
        problems.append(".gitignore does not ignore secrets/")
    return check("S2", problems, "no secret outside gitignored secrets/ (0600)")


ROWS = [("S1", s1_shellcheck), ("S2", s2_secrets)]
