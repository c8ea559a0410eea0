"""The one model of the template answers.

The pre-generation hook, the CLI and the Pulumi program all validate through `Answers`, and the
templates read derived values (image variables, limits, UIDs) from it rather than repeating rules
in Jinja. `cookiecutter.json` holds the same defaults; a test keeps the two equal.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from hardstack.answers.builds import Builds
from hardstack.answers.environment import Environment
from hardstack.answers.inputs import FOLLOWING_DEFAULTS, PROMPTED, AnswersError, example_celery_app
from hardstack.answers.rules import Rules
from hardstack.answers.tls import Tls
from hardstack.answers.topology import Topology
from hardstack.answers.workflows import Workflows

__all__ = ["Answers", "AnswersError", "FOLLOWING_DEFAULTS", "PROMPTED", "cookiecutter_defaults", "cookiecutter_values",
           "example_celery_app", "format_errors", "problems_for", "validate"]


class Answers(Topology, Tls, Environment, Builds, Workflows, Rules):
    """The validated answers (inputs.py, rules.py) and what derives from them (topology.py, tls.py, environment.py,
    builds.py, workflows.py): one object the hooks, the CLI, the templates and the Pulumi program read."""


def _first_key(loc: tuple) -> str:
    return str(loc[0]) if loc else "answers"


def format_errors(err: ValidationError) -> list[str]:
    """One line per problem: `key: what is wrong and how to fix it`."""
    lines = []
    for e in err.errors():
        key = _first_key(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown answer; check the spelling (see `hardstack new --help` for the keys)")
        elif e["type"].startswith(("bool_", "int_")):
            lines.append(f"{key}: {msg} (got {e.get('input')!r})")
        elif not e["loc"]:
            lines.append(msg)  # model-level messages already start with the key
        else:
            lines.append(f"{key}: {msg}")
    return lines


def problems_for(key: str, values: dict[str, Any]) -> list[str]:
    """The problems with one answer, given the answers so far (the others keep their defaults)."""
    try:
        validate(values)
    except AnswersError as err:
        return [line for line in err.problems if line.split(":", 1)[0] == key]
    return []


def validate(raw: dict[str, Any]) -> Answers:
    """Validate raw answers (cookiecutter context or CLI values); raise AnswersError on problems."""
    data = {k: v for k, v in raw.items() if not k.startswith("_")}
    try:
        return Answers.model_validate(data)
    except ValidationError as err:
        raise AnswersError(format_errors(err)) from None


def _cookiecutter_value(value: Any) -> Any:
    """Booleans and mappings stay (cookiecutter has boolean and dict variables); a list is one space-separated
    string (a list in cookiecutter.json would be a choice); the rest are strings."""
    if isinstance(value, (bool, dict)):
        return value
    return " ".join(value) if isinstance(value, list) else str(value)


def cookiecutter_values(answers: Answers) -> dict[str, Any]:
    """The answers as cookiecutter passes them to templates and cruft records them."""
    return {k: _cookiecutter_value(v) for k, v in answers.model_dump().items()}


def cookiecutter_defaults() -> dict[str, Any]:
    """The answers as cookiecutter.json lists them (the test keeps the file equal to this)."""
    return {k: (" ".join(v) if isinstance(v, list) else v) for k, v in Answers().model_dump().items()}
