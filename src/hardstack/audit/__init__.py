"""`hardstack audit PATH...`: review existing repositories the way an infrastructure reviewer would.

Two sources of findings, one report:
- the single-file rows of `hardstack check` (D, C, S), run on every Dockerfile, compose file, shell
  script and workflow the repos hold, through staged copies (rows.py): no rule is written twice;
- the findings a reviewer makes across files (rules.py): secrets, development images in
  deployment, paths that break, dev container drift, a predictable superuser, CI that tests the
  wrong thing, env names that disagree and logged payloads.

Read only: nothing in the repos is executed, built or changed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hardstack.audit.files import AuditInputError, Tree, scan

SEVERITIES = ("low", "medium", "high")

__all__ = ["AuditInputError", "Finding", "Report", "SEVERITIES", "audit"]


@dataclass
class Finding:
    id: str  # AU1..AU8 (across files) or the `hardstack check` row it reuses (D2, C11, ...)
    severity: str  # low, medium, high
    file: str  # root-name/relative/path (line when known)
    line: int | None
    message: str  # what is wrong, in one sentence
    fix: str  # what to change
    fixed_by: str = ""  # the part of a generated layout that already does it
    other: str = ""  # the second file, when two files disagree

    @property
    def where(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        return f"{place} vs {self.other}" if self.other else place

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    roots: list[Path]
    findings: list[Finding] = field(default_factory=list)
    files_read: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def at_or_above(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if SEVERITIES.index(f.severity) >= SEVERITIES.index(severity)]

    def counts(self) -> dict[str, int]:
        return {s: sum(f.severity == s for f in self.findings) for s in reversed(SEVERITIES)}


def audit(paths: list[Path]) -> Report:
    from hardstack.audit import rows, rules

    start = time.monotonic()
    tree: Tree = scan([Path(p) for p in paths])
    findings = rules.run_all(tree) + rows.run_all(tree)
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    findings.sort(key=lambda f: (order[f.severity], f.id, f.file, f.line or 0))
    return Report(tree.roots, findings, len(tree.files), tree.skipped, time.monotonic() - start)


def markdown(report: Report) -> str:
    """A review a person can paste into an issue."""
    counts = report.counts()
    lines = [f"# Infrastructure review of {', '.join(r.name for r in report.roots)}", "",
             f"{len(report.findings)} findings ({', '.join(f'{n} {s}' for s, n in counts.items())}); "
             f"{report.files_read} files read, nothing executed or changed.", ""]
    if report.findings:
        lines += ["| id | severity | where | finding | fix |", "|---|---|---|---|---|"]
        for f in report.findings:
            fix = f.fix + (f" (a hardstack layout does this: {f.fixed_by})" if f.fixed_by else "")
            cells = [f.id, f.severity, f"`{f.where}`", f.message, fix]
            lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    if report.skipped:
        lines += ["", "Not read: " + "; ".join(report.skipped[:20]) + (" ..." if len(report.skipped) > 20 else "")]
    return "\n".join(lines) + "\n"
