"""Writing a layout: answers in, a complete folder out, or nothing at all.

The layout is rendered into a temporary folder beside the target and moved into place only when
the template and the post-generation step succeeded, so a failure never leaves a half-written layout behind.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any


from hardstack.answers import Answers, AnswersError, cookiecutter_values, validate
from hardstack.update import record



class GenerateError(RuntimeError):
    pass


def template_dir() -> Path:
    from hardstack.resources import ResourceError
    from hardstack.resources import template_dir as find

    try:
        return find()
    except ResourceError as err:
        raise GenerateError(str(err)) from None


def derive_slug(project_name: str) -> str:
    """Same rule as cookiecutter.json's project_slug default (the template's `slug` filter)."""
    from hardstack.names import slugify

    return slugify(project_name)


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.match(r"^[a-z_][a-z0-9_]*$", key):
            raise AnswersError([f"{pair!r}: write answers as KEY=VALUE, e.g. project_name='My Shop'"])
        values[key] = value
    return values


def read_config_file(path: Path) -> dict[str, Any]:
    """A cookiecutter-style config (`default_context:` mapping) or a plain mapping of answers."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise AnswersError([f"--config-file {path}: cannot read it ({err})"]) from None
    if not isinstance(data, dict):
        raise AnswersError([f"--config-file {path}: expected a mapping of answers"])
    return dict(data.get("default_context", data))


def resolve(values: dict[str, Any]) -> Answers:
    values = dict(values)
    if "project_slug" not in values and "project_name" in values:
        values["project_slug"] = derive_slug(str(values["project_name"]))
    return validate(values)


def template_context(answers: Answers, output_dir: Path) -> dict[str, Any]:
    """What the templates see as `cookiecutter`, as cookiecutter itself would pass it."""
    template = template_dir()
    private = {k: v for k, v in json.loads((template / "cookiecutter.json").read_text()).items() if k.startswith("_")}
    return {**private, **cookiecutter_values(answers), "_template": str(template), "_output_dir": str(output_dir)}


def render(answers: Answers, output_dir: Path) -> Path:
    """Render the layout into output_dir/<slug> and run the post-generation step, all in this process.

    The answers are already validated (the pre-generation hook's job) and post_generate is called
    directly instead of in a Python subprocess. Plain `cookiecutter`/`cruft` runs of the template still
    go through cookiecutter and hooks/*.py, which call the same code."""
    from hardstack.hooks import post_generate

    rendered = render_template(answers, output_dir)
    post_generate(rendered, answers)
    return rendered


def render_template(answers: Answers, output_dir: Path) -> Path:
    """The template's files rendered by Jinja as cookiecutter's generate_files renders them (same
    environment: strict undefined, trailing newlines kept, the template's `_extensions`, modes copied,
    `_copy_without_render` copied). Importing cookiecutter, whose default extensions pull in arrow,
    was a quarter of `hardstack new`'s time; a test renders both ways and compares the bytes."""
    from fnmatch import fnmatch

    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    template = template_dir()
    settings = json.loads((template / "cookiecutter.json").read_text())
    context = template_context(answers, output_dir)
    source = template / "{{cookiecutter.project_slug}}"
    env = Environment(loader=FileSystemLoader(str(source)), undefined=StrictUndefined, keep_trailing_newline=True,
                      extensions=settings.get("_extensions", []))
    target = output_dir / answers.project_slug
    target.mkdir(parents=True)
    for path in sorted(source.rglob("*")):
        name = path.relative_to(source).as_posix()
        if "__pycache__" in path.parts:
            continue  # pip byte-compiles the template's .py files when it installs the wheel
        out = target / (env.from_string(name).render(cookiecutter=context) if "{" in name else name)
        if path.is_dir():
            out.mkdir(exist_ok=True)
            continue
        if any(fnmatch(name, pattern) for pattern in settings.get("_copy_without_render", [])):
            shutil.copyfile(path, out)
        else:
            out.write_text(env.get_template(name).render(cookiecutter=context), encoding="utf-8", newline="")
        shutil.copymode(path, out)
    return target


def generate(answers: Answers, output_dir: Path, overwrite: bool = False, template_source: str | None = None) -> Path:
    """Render the layout to output_dir/<slug>; return its path."""
    output_dir = output_dir.resolve()
    target = output_dir / answers.project_slug
    if target.exists() and not overwrite:
        raise GenerateError(f"{target} already exists; pass --overwrite to re-render it (its secrets/ and .env are kept) or choose another -o")
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{answers.project_slug}-", dir=output_dir))
    try:
        rendered = render(answers, staging)
        record(rendered, template_dir(), answers, template_source)
        if target.exists():
            _keep_secrets(target, rendered)
            shutil.rmtree(target)
        rendered.rename(target)
    except Exception as err:
        if isinstance(err, GenerateError):
            raise
        raise GenerateError(f"rendering failed, nothing was written: {err}") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


# What --overwrite keeps of an existing layout besides secrets/: files the template never writes and
# the user (or `hardstack up`, for the stand-in images) did, which compose reads.
KEPT_ON_OVERWRITE = (".env", ".standins.env")


def _keep_secrets(old: Path, new: Path) -> None:
    """On --overwrite the existing secrets win over the fresh ones (no silent rotation), and the layout's
    own .env stays (compose's variables: image overrides, ports)."""
    for name in KEPT_ON_OVERWRITE:
        if (old / name).is_file() and not (new / name).exists():
            shutil.copy2(old / name, new / name)
    old_secrets = old / "secrets"
    if old_secrets.is_dir():
        for path in old_secrets.iterdir():
            dest = new / "secrets" / path.name
            dest.unlink(missing_ok=True)
            shutil.copy2(path, dest)
            stat = path.stat()
            try:
                shutil.chown(dest, stat.st_uid, stat.st_gid)
            except PermissionError:
                pass


# One part of a layout, rendered into an existing repository: layout path -> path in the repo.
PARTS: dict[str, dict[str, str]] = {
    "backend": {"backend/Dockerfile": "Dockerfile", "backend/.dockerignore": ".dockerignore", "backend/deploy": "deploy"},
    "frontend": {"frontend/Dockerfile": "Dockerfile", "frontend/.dockerignore": ".dockerignore", "frontend/deploy": "deploy"},
    "nginx": {"nginx": "nginx"},
    "prometheus": {"prometheus": "prometheus"},
    "backend-ci": {".github/workflows/backend.yml": ".github/workflows/backend.yml"},
    "frontend-ci": {".github/workflows/frontend.yml": ".github/workflows/frontend.yml"},
    "devcontainer": {".devcontainer": ".devcontainer"},
}


def _files(root: Path, rel: str) -> list[str]:
    path = root / rel
    return [rel] if path.is_file() else sorted(str(p.relative_to(root)) for p in path.rglob("*") if p.is_file())


def render_part(answers: Answers, part: str, repo: Path, overwrite: bool = False) -> list[Path]:
    """Render the layout, then copy only `part` into `repo`; other files of the repo are untouched."""
    if part not in PARTS:
        raise GenerateError(f"unknown part {part!r}; choose one of {', '.join(PARTS)}")
    repo = repo.resolve()
    if not repo.is_dir():
        raise GenerateError(f"{repo} is not a folder; give the repository to render {part} into")
    with tempfile.TemporaryDirectory(prefix="hardstack-part-") as tmp:
        rendered = render(answers, Path(tmp))
        plan = {}
        for src, dest in PARTS[part].items():
            for rel in _files(rendered, src):
                plan[rendered / rel] = repo / dest / Path(rel).relative_to(src) if rel != src else repo / dest
        if not plan:
            raise GenerateError(f"part {part!r} is switched off by the answers (nothing to render)")
        clashes = [str(d.relative_to(repo)) for d in plan.values() if d.exists()]
        if clashes and not overwrite:
            raise GenerateError(f"{', '.join(clashes)} already exist in {repo}; pass --overwrite to replace them")
        for src, dest in plan.items():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
        return sorted(plan.values())
