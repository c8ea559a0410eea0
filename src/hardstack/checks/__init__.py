"""`hardstack check`: the static rows of the bar (shared/bar.md) on a generated layout."""

from __future__ import annotations

from pathlib import Path

from hardstack.checks import background, backend_build, builds, compose, dockerfiles, misc, nginx, prometheus, stack_yaml
from hardstack.checks.result import FAIL, NA, PASS, WARN, Result, guarded

FAMILIES = "DCNPSW"
ROWS = sorted(dockerfiles.ROWS + backend_build.ROWS + compose.ROWS + background.ROWS + builds.ROWS + nginx.ROWS + prometheus.ROWS + misc.ROWS + stack_yaml.ROWS,
              key=lambda row: (FAMILIES.index(row[0][0]), int(row[0][1:])))
ALL_IDS = [rid for rid, _ in ROWS]

__all__ = ["ALL_IDS", "FAIL", "NA", "PASS", "WARN", "Result", "run_checks", "LayoutError"]


class LayoutError(ValueError):
    pass


def run_checks(layout: Path, only: list[str] | None = None) -> list[Result]:
    layout = Path(layout).resolve()
    if not (layout / "compose.yaml").is_file():
        raise LayoutError(f"{layout} is not a hardstack layout (no compose.yaml); pass the folder `hardstack new` wrote")
    from concurrent.futures import ThreadPoolExecutor

    # Rows are independent and mostly wait on a checker's process: run them side by side.
    wanted = [(rid, fn) for rid, fn in ROWS if not only or rid in only]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda row: guarded(row[0], lambda: row[1](layout)), wanted))
