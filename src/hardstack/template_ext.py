"""Jinja extension the template loads (cookiecutter.json `_extensions`).

Templates start with `{%- set a = cookiecutter | answers %}` and read validated, derived values
from the one answers model instead of re-deriving them in Jinja; constants come from the `catalog`
global (hardstack/catalog.py). The answers are validated once per
render (every template file asks), and compiled templates are cached on disk between runs.
"""

import json
import os
from pathlib import Path

from jinja2 import FileSystemBytecodeCache
from jinja2.ext import Extension

from hardstack import catalog
from hardstack.answers import Answers, validate
from hardstack.names import slugify
from hardstack.quoting import docker_str, markdown, sh_quote, yaml_str

CACHE = Path(os.environ.get("HARDSTACK_CACHE", Path.home() / ".cache" / "hardstack")) / "jinja"
_validated: dict[str, Answers] = {}


def answers(context) -> Answers:
    key = json.dumps(dict(context), sort_keys=True, default=str)
    if key not in _validated:
        if len(_validated) > 16:
            _validated.clear()
        _validated[key] = validate(dict(context))
    return _validated[key]


def cached_from_string(environment, cache: FileSystemBytecodeCache):
    """`from_string` that keeps compiled code on disk, as Jinja does for template files: cookiecutter
    compiles every file path of the template as a template of its own on each run."""
    def from_string(source, globals=None, template_class=None):
        if not isinstance(source, str) or template_class is not None:
            return original(source, globals, template_class)
        bucket = cache.get_bucket(environment, source, None, source)
        if bucket.code is None:
            bucket.code = environment.compile(source)
            cache.set_bucket(bucket)
        return environment.template_class.from_code(environment, bucket.code, environment.make_globals(globals), None)

    original = environment.from_string
    return from_string


class AnswersExtension(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.filters["answers"] = answers
        environment.filters["yaml_str"] = yaml_str
        environment.filters["docker_str"] = docker_str
        environment.filters["sh"] = sh_quote
        environment.filters["md"] = markdown
        environment.filters["slug"] = slugify
        # Facts that do not depend on the answers, read where they are written: {{ catalog.WHITENOISE }}.
        environment.globals["catalog"] = catalog
        try:
            CACHE.mkdir(parents=True, exist_ok=True)
        except OSError:
            return  # a read-only home: render without the cache
        environment.bytecode_cache = FileSystemBytecodeCache(str(CACHE))
        environment.from_string = cached_from_string(environment, environment.bytecode_cache)
