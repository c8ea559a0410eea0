"""Jinja extension the template loads (cookiecutter.json `_extensions`).

Templates start with `{%- set a = cookiecutter | answers %}` and read validated, derived values
from the one answers model instead of re-deriving them in Jinja.
"""

from jinja2.ext import Extension

from hardstack.answers import validate


class AnswersExtension(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.filters["answers"] = lambda context: validate(dict(context))
