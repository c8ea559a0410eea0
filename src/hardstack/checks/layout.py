"""The layout's recorded answers, for rows whose verdict depends on them."""

from __future__ import annotations

import json
from pathlib import Path


def layout_answers(layout: Path):
    """The answers `hardstack new` recorded in the layout (defaults when the file is gone)."""
    from hardstack.answers import Answers, validate

    path = layout / ".hardstack-answers.json"
    return validate(json.loads(path.read_text())) if path.exists() else Answers()
