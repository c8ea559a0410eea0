"""Fast tier: the slug derived from any project name a person gives is a valid one, so no one has to
invent a slug to get past an apostrophe or an accent."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardstack.answers import AnswersError, validate
from hardstack.checks import run_checks
from hardstack.generate import derive_slug, resolve
from hardstack.names import slugify

# What people put in names: apostrophes, quotes, accents, emoji, #, :, %, shell syntax.
NAME_ALPHABET = st.sampled_from(list("abcXYZ019 '\"&#:%$()!?@-_.,;/=+*`éßçøÆŁœ中ü€🚀"))
PIECES = st.sampled_from(["Joe's", "$(id)", "`id`", "Ærø", "Q&A", "#1:", "100%", "Café", "🚀", " "])
NAMES = st.one_of(st.text(NAME_ALPHABET, min_size=1, max_size=40), st.lists(PIECES, min_size=1, max_size=6).map("".join))


@pytest.mark.parametrize("name, slug", [
    ("Joe's \"Q&A\" Shop #1: Ærø", "joes_qa_shop_1_aero"), ("Café Ørsted", "cafe_orsted"), ("Hardstack Demo", "hardstack_demo"),
    ("Straße Łódź", "strasse_lodz"), ("123 go", "project_123_go"), ("🚀", "project"), ("$(rm -rf /)", "rm_rf"),
    ("Joe’s Shop", "joes_shop"), ("a" * 80, "a" * 50),
])
def test_slugify(name, slug):
    assert slugify(name) == slug == derive_slug(name)


@settings(max_examples=300, deadline=None)
@given(NAMES)
def test_every_legal_name_derives_a_valid_slug(name):
    try:
        validate({"project_name": name})
    except AnswersError:
        return  # not a legal name (empty after stripping, '{{', a backslash): refused on its own
    assert resolve({"project_name": name}).project_slug == slugify(name)


@pytest.mark.parametrize("name, slug", [("Joe's Shop", "joes_shop"), ("Café Ørsted", "cafe_orsted")])
def test_new_takes_the_name_as_given(cli, tmp_path, name, slug):
    result = cli("new", "--no-input", "-o", str(tmp_path), f"project_name={name}")
    assert result.exit_code == 0, result.output
    recorded = json.loads((tmp_path / slug / ".hardstack-answers.json").read_text())
    assert recorded["project_name"] == name and recorded["project_slug"] == slug


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(NAMES)
def test_a_layout_named_anything_passes_the_static_bar(cli, tmp_path_factory, name):
    try:
        validate({"project_name": name})
    except AnswersError:
        return
    out = tmp_path_factory.mktemp("named")
    result = cli("new", "--no-input", "-o", str(out), f"project_name={name}", "celery_app=", "enable_monitoring=no")
    assert result.exit_code == 0, result.output
    layout = out / slugify(name)
    assert {r.id: r.detail for r in run_checks(layout) if r.status == "fail"} == {}
