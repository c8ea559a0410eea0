"""A report a reviewer reads top down: what to fix first, then the rest grouped.

- The per-service hardening rows (cap_drop, read-only, limits, users, ...) give one finding per file,
  problem and severity, naming the services, instead of one row per service.
- Conventions that only a hardstack layout needs become `info`: a base image not overridable by ARG,
  a single-stage Dockerfile, a named non-root USER where hardstack writes a numeric UID.
- The report opens with the findings to read first: high ones in production files, secrets and open
  doors before hardening.
"""

from __future__ import annotations

import re

from hardstack.audit import Finding

# Problems that are a hardstack convention, not a defect a reviewer would raise in someone else's repo.
CONVENTIONS = [
    re.compile(r"is not overridable by ARG$"),
    re.compile(r"^single stage$"),
    re.compile(r"final USER '(?!root'|0'|0:)[^']+' is not a non-root numeric UID$"),  # USER app: non-root already
    re.compile(r"^env_file is not allowed"),  # what the file holds is judged (AU1), not that it is used
    re.compile(r"^secret [\w.-]+: not file-based"),  # `environment:` and `external:` secrets are valid Compose
    # a credential passed in from the environment is common practice (hardstack prefers *_FILE): only a
    # literal, or a known default as the fallback, is a finding
    re.compile(r"(comes from the environment \((?!.*known default)|is passed through from the environment)"),
]
# Read first, in this order: what lets someone in or leaks, then what breaks, then what hardens.
FIRST = ["AU14", "AU1", "C11", "D8", "AU8", "AU10", "AU5", "AU12", "AU9", "D10", "C8", "C5", "D2", "C15", "AU2", "AU3", "AU13", "AU11"]
READ_FIRST = 10


def _service_and_rest(message: str) -> tuple[str, str] | None:
    m = re.match(r"([\w.-]+): (.+)$", message, re.S)
    return (m.group(1), m.group(2)) if m else None


def grouped(findings: list[Finding], hardening: set[str]) -> list[Finding]:
    """One finding per (row, file, severity, problem) for the hardening rows, naming every service."""
    out: list[Finding] = []
    groups: dict[tuple, Finding] = {}
    names: dict[tuple, list[str]] = {}
    for f in findings:
        parts = _service_and_rest(f.message) if f.id in hardening else None
        if not parts:
            out.append(f)
            continue
        key = (f.id, f.file, f.severity, f.purpose, parts[1])
        if key in groups:
            names[key].append(parts[0])
            groups[key].line = min(filter(None, (groups[key].line, f.line)), default=None)
            continue
        groups[key], names[key] = f, [parts[0]]
        out.append(f)
    for key, f in groups.items():
        f.message = f"{', '.join(dict.fromkeys(names[key]))}: {key[4]}"
    return out


def conventions_to_info(findings: list[Finding]) -> None:
    for f in findings:
        rest = (_service_and_rest(f.message) or ("", f.message))[1]
        if any(c.search(rest) for c in CONVENTIONS):
            f.severity = "info"


def read_first(findings: list[Finding]) -> list[Finding]:
    """The findings to read first: high, in production files, most dangerous kinds first."""
    rank = {rid: i for i, rid in enumerate(FIRST)}
    top = [f for f in findings if f.severity == "high" and f.purpose == "production"]
    top.sort(key=lambda f: (rank.get(f.id, len(rank)), f.file, f.line or 0))
    return top[:READ_FIRST]
