"""The mutation suite: single careless edits to a fresh layout, each caught by the row that owns it.

Every mutation runs the whole of `hardstack check` (all rows), so "alone" means no other row
noticed. Controls: the untouched layouts, and compose.yaml re-serialised through a YAML round
trip (anchors expanded, comments gone), pass every row.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from mutations import BASE_ANSWERS, MUTATIONS, evaluate, failing_rows, render_base

from hardstack.checks import ALL_IDS, NA, run_checks

pytestmark = pytest.mark.mutations


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bases")
    return {base: render_base(base, root / base) for base in BASE_ANSWERS}


@pytest.fixture(scope="module")
def outcomes(bases, tmp_path_factory) -> dict[str, dict[str, str]]:
    """mutation id -> the rows that failed (row -> detail). Computed once for the module."""
    scratch = tmp_path_factory.mktemp("mutants")
    return {m.id: evaluate(m, bases, scratch) for m in MUTATIONS}


@pytest.mark.parametrize("base", BASE_ANSWERS)
def test_controls_pass_every_row(bases, base):
    assert failing_rows(bases[base]) == {}


def test_yaml_round_trip_of_compose_passes(bases, tmp_path):
    import shutil

    layout = tmp_path / "hardstack_demo"
    shutil.copytree(bases["default"], layout, symlinks=True)
    doc = yaml.safe_load((layout / "compose.yaml").read_text())
    (layout / "compose.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, width=150))
    assert "&hardening" not in (layout / "compose.yaml").read_text()  # really re-serialised
    assert failing_rows(layout) == {}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[f"{m.row}-{m.id}" for m in MUTATIONS])
def test_mutation_fails_its_row(outcomes, mutation):
    failed = outcomes[mutation.id]
    assert mutation.row in failed, f"{mutation.id} slipped past {mutation.row}; failing rows: {sorted(failed)}"
    if mutation.alone:
        assert set(failed) == {mutation.row}, f"{mutation.id} should be {mutation.row}'s alone: {failed}"


def test_every_row_has_a_mutation_it_alone_catches(outcomes, bases):
    applicable = {r.id for base in bases.values() for r in run_checks(base) if r.status != NA}
    alone = Counter(m.row for m in MUTATIONS if set(outcomes[m.id]) == {m.row})
    assert applicable == set(ALL_IDS)
    assert [rid for rid in ALL_IDS if not alone[rid]] == []


def test_suite_is_big_enough():
    families = Counter(m.row[0] for m in MUTATIONS)
    assert len(MUTATIONS) >= 40 and set(families) >= set("DCNPSW"), families
