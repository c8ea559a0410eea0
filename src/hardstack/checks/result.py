"""One row of the bar: its id, whether it passed, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

PASS, FAIL, NA = "pass", "fail", "n/a"
# Not a failure (exit 0), not a pass: the layout works, but runs on something it should not go live with.
WARN = "warn"


@dataclass
class Result:
    id: str
    status: str
    detail: str = ""
    problems: list[str] = field(default_factory=list, repr=False)  # one per failure (the audit reports each)
    crashed: bool = field(default=False, repr=False)  # the row could not judge (a tool missing, an exception)

    def as_dict(self) -> dict:
        return {"id": self.id, "status": self.status, "detail": self.detail}


def check(rid: str, problems: Iterable[str], ok_detail: str = "") -> Result:
    """A row that fails with the listed problems, or passes when there are none."""
    problems = list(problems)
    return Result(rid, FAIL, "; ".join(problems), problems) if problems else Result(rid, PASS, ok_detail)


def warn_unless(rid: str, warnings: Iterable[str], ok_detail: str = "") -> Result:
    """A row that warns with the listed findings, or passes when there are none."""
    warnings = list(warnings)
    return Result(rid, WARN, "; ".join(warnings), warnings) if warnings else Result(rid, PASS, ok_detail)


def guarded(rid: str, fn: Callable[[], Result]) -> Result:
    """Run one row; a missing tool or a crash is that row's failure, not the whole check's."""
    from hardstack.checks.tools import ToolMissing

    try:
        return fn()
    except ToolMissing as err:
        return Result(rid, FAIL, str(err), crashed=True)
    except Exception as err:  # noqa: BLE001 - report, do not hide, any other failure
        return Result(rid, FAIL, f"{type(err).__name__}: {err}", crashed=True)
