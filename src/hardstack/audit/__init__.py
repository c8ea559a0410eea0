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

SEVERITIES = ("info", "low", "medium", "high")
ERROR = "error"  # a row that could not judge a file: listed in Report.errors, never counted as a finding

__all__ = ["AuditInputError", "ERROR", "Finding", "Report", "SEVERITIES", "audit"]


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
    purpose: str = "production"  # what the file is for: production, dev, test or example (purposes.py)

    @property
    def where(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        return f"{place} vs {self.other}" if self.other else place

    @property
    def shown_where(self) -> str:
        """Where, with what the file is for when it is not production: `compose.dev.yml:3 [dev]`."""
        return self.where if self.purpose == "production" else f"{self.where} [{self.purpose}]"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    roots: list[Path]
    findings: list[Finding] = field(default_factory=list)
    files_read: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # "file: row: what stopped it" (a tool missing, a crash)

    def at_or_above(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if SEVERITIES.index(f.severity) >= SEVERITIES.index(severity)]

    def counts(self) -> dict[str, int]:
        return {s: sum(f.severity == s for f in self.findings) for s in reversed(SEVERITIES)}

    def read_first(self) -> list[Finding]:
        from hardstack.audit.ranking import read_first

        return read_first(self.findings)


def audit(paths: list[Path], only_production: bool = False) -> Report:
    """Findings in every file; with only_production, in the files meant for production alone."""
    from hardstack.audit import purposes, ranking, rows, rules

    start = time.monotonic()
    tree: Tree = scan([Path(p) for p in paths])
    purposes.assign(tree)
    findings = rules.run_all(tree) + rows.run_all(tree)
    errors = [f"{f.file}: {f.message}" for f in findings if f.severity == ERROR]
    findings = [f for f in findings if f.severity != ERROR]
    purpose_of = {f.rel: f.purpose for f in tree.files}
    for f in findings:
        f.purpose = purpose_of.get(f.file, purposes.PRODUCTION)
        if f.purpose != purposes.PRODUCTION:
            f.severity = purposes.lowered(f.id, f.severity, rows.HARDENING)
    if only_production:
        findings = [f for f in findings if f.purpose == purposes.PRODUCTION]
    ranking.conventions_to_info(findings)
    findings = ranking.grouped(findings, rows.HARDENING)
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    findings.sort(key=lambda f: (order[f.severity], f.id, f.file, f.line or 0))
    return Report(tree.roots, findings, len(tree.files), tree.skipped, time.monotonic() - start, errors)


# A pull-request comment holds 65,536 characters: the review stays well under it.
MARKDOWN_BUDGET = 60_000


def _row(f: Finding) -> str:
    fix = f.fix + (f" (a hardstack layout does this: {f.fixed_by})" if f.fixed_by else "")
    cells = [f.id, f.severity, f"`{f.shown_where}`", f.message, fix]
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def markdown(report: Report) -> str:
    """A review a person can paste into a pull-request comment: what to read first, then the rest by
    severity, cut (with a count of what was left out) to fit one comment."""
    counts = report.counts()
    lines = [f"# Infrastructure review of {', '.join(r.name for r in report.roots)}", "",
             f"{len(report.findings)} findings ({', '.join(f'{n} {s}' for s, n in counts.items() if n)}); "
             f"{report.files_read} files read, nothing executed or changed.", ""]
    header = ["| id | severity | where | finding | fix |", "|---|---|---|---|---|"]
    first = report.read_first()
    if first:
        lines += ["## Read first", "", *header, *map(_row, first), ""]
    rest = [f for f in report.findings if f not in first]
    if rest:
        lines += ["## All other findings", "", *header]
        size = sum(len(line) + 1 for line in lines)
        for n, f in enumerate(rest):
            row = _row(f)
            if size + len(row) > MARKDOWN_BUDGET:
                left = rest[n:]
                lines += ["", f"... and {len(left)} more ({', '.join(f'{sum(x.severity == s for x in left)} {s}' for s in reversed(SEVERITIES) if any(x.severity == s for x in left))}): "
                          "`hardstack audit --json` lists them all."]
                break
            lines.append(row)
            size += len(row) + 1
    if report.errors:
        lines += ["", "Could not judge (an error of hardstack, not a finding): " + "; ".join(report.errors[:20])]
    if report.skipped:
        lines += ["", "Not read: " + "; ".join(report.skipped[:20]) + (" ..." if len(report.skipped) > 20 else "")]
    return "\n".join(lines) + "\n"
