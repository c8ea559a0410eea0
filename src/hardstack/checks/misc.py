"""Bar rows S1-S4: shell scripts, secrets in the generated tree, CI workflows, the dev container."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path

from hardstack.checks import inprocess, tools
from hardstack.checks.result import NA, Result, check, warn_unless

DEVCONTAINER_SCHEMA = Path(__file__).parent / "schemas" / "devcontainer-compose.schema.json"
# Not secrets: answers whose values are variable NAMES (DB_PASSWORD), and the template commit in .cruft.json.
NAME_ONLY_LINES = r'^\s*("env_[a-z_]+": "[A-Z0-9_]*"|"(backend_secrets|redis_url_vars)": "[A-Z0-9_ ]*"|"commit": "[0-9a-f]{40}"),?$'


# What git must never pick up from a layout: the secret files (whatever their name) and local env files.
MUST_IGNORE = ("secrets/db_password", "secrets/new_secret", ".env", "backend/.env")


def not_ignored(layout: Path, paths: tuple[str, ...]) -> list[str]:
    """The paths git would track, judged by git itself on the layout's .gitignore files alone
    (a scratch repository, so the user's global excludes and the enclosing repo change nothing)."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hardstack-git-") as tmp:
        for ignore in layout.rglob(".gitignore"):
            rel = ignore.relative_to(layout)
            if {"node_modules", ".git", ".venv"} & set(rel.parts):
                continue
            (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ignore, Path(tmp) / rel)
        git = ["git", "-c", "core.excludesFile=/dev/null", "-C", tmp]
        subprocess.run([*git, "init", "-q"], check=True, capture_output=True)
        proc = subprocess.run([*git, "check-ignore", "--no-index", "--stdin", "-z"], input="\0".join(paths) + "\0",
                              capture_output=True, text=True)
    ignored = set(filter(None, proc.stdout.split("\0")))
    return [p for p in paths if p not in ignored]


def shell_scripts(layout: Path) -> list[Path]:
    found = []
    for path in layout.rglob("*"):
        if not path.is_file() or {".git", "node_modules", "secrets", ".venv"} & set(path.relative_to(layout).parts):
            continue
        if path.suffix == ".sh" or path.read_bytes()[:32].startswith((b"#!/bin/sh", b"#!/bin/bash", b"#!/usr/bin/env bash", b"#!/usr/bin/env sh")):
            found.append(path)
    return found


def s1_shellcheck(layout: Path) -> Result:
    scripts = shell_scripts(layout)
    out = tools.run("shellcheck", *map(str, scripts), reads=[*scripts, layout / ".shellcheckrc"], root=layout) if scripts else None
    return check("S1", [tools.first_lines(out.out)] if out and not out.ok else [], f"{len(scripts)} scripts shellcheck clean")


def s2_secrets(layout: Path) -> Result:
    problems = []
    files = [p for p in layout.rglob("*") if p.is_file() and not p.is_symlink()
             and not {"secrets", ".git", "node_modules", ".venv"} & set(p.relative_to(layout).parts)]
    for path, hits in tools.scan_secrets(files, exclude_lines=NAME_ONLY_LINES).items():
        problems += [f"{Path(path).relative_to(layout)}:{h['line_number']}: {h['type']}" for h in hits]
    directory = layout / "secrets"
    if directory.exists():
        files = [p for p in directory.iterdir() if p.is_file()]
        problems += [f"secrets/{p.name}: mode {stat.S_IMODE(p.stat().st_mode):04o}, want 0600" for p in files
                     if stat.S_IMODE(p.stat().st_mode) != 0o600]
        if stat.S_IMODE(directory.stat().st_mode) & 0o077:
            problems.append("secrets/: readable by group or others, want 0700")
    problems += [f".gitignore does not ignore {path} (as `git check-ignore` reads it)" for path in not_ignored(layout, MUST_IGNORE)]
    return check("S2", problems, "no secret outside gitignored secrets/ (0600)")


def s3_workflows(layout: Path) -> Result:
    workflows = sorted((layout / ".github" / "workflows").glob("*.yml"))
    if not workflows:
        return Result("S3", NA, "CI workflows off")
    problems = []
    # actionlint runs shellcheck on every `run:` script when it finds it on PATH (the venv's).
    env_path = f"{Path(tools.find('shellcheck')).parent}:{os.environ.get('PATH', '')}"
    lint = tools.run("actionlint", "-no-color", *map(str, workflows), env={**os.environ, "PATH": env_path},
                     reads=[layout / ".github"], root=layout)
    if not lint.ok:
        problems.append(f"actionlint: {tools.first_lines(lint.out)}")
    schema = inprocess.jsonschema(workflows, builtin="vendor.github-workflows", root=layout)
    if not schema.ok:
        problems.append(f"workflow schema: {tools.first_lines(schema.out)}")
    for wf in workflows:
        text = wf.read_text()
        for uses in re.findall(r"uses:\s*([^\s#]+)", text):
            if not re.search(r"@[0-9a-f]{40}$", uses):
                problems.append(f"{wf.name}: {uses} is not pinned by commit SHA")
        if "permissions:" not in text:
            problems.append(f"{wf.name}: no permissions: block")
        if text.count("persist-credentials: false") < text.count("actions/checkout@"):
            problems.append(f"{wf.name}: a checkout keeps its credentials (persist-credentials: false)")
    return check("S3", problems, f"{len(workflows)} workflows: actionlint, schema, pinned SHAs, minimal permissions")


def s4_devcontainer(layout: Path) -> Result:
    folder = layout / ".devcontainer"
    if not folder.exists():
        return Result("S4", NA, "dev container off")
    problems = []
    try:
        config = json.loads((folder / "devcontainer.json").read_text())
    except ValueError as err:
        return check("S4", [f"devcontainer.json is not valid JSON: {err}"])
    schema = inprocess.jsonschema([folder / "devcontainer.json"], schemafile=DEVCONTAINER_SCHEMA, root=layout)
    if not schema.ok:
        problems.append(f"devcontainer.json schema: {tools.first_lines(schema.out)}")
    compose_files = config.get("dockerComposeFile", [])
    files = [str((folder / f).resolve()) for f in ([compose_files] if isinstance(compose_files, str) else compose_files)]
    missing = [f for f in files if not Path(f).exists()]
    if missing or not files:
        return check("S4", [f"dockerComposeFile missing: {missing or 'none listed'}"])
    args = [a for f in files for a in ("-f", f)]
    merged = tools.run("docker", "compose", "--project-directory", str(layout), *args, "config", "--format", "json", cwd=layout)
    if not merged.ok:
        return check("S4", [f"compose with the dev file: {tools.first_lines(merged.out)}"])
    services = json.loads(merged.out)["services"]
    wanted = [config.get("service")] + config.get("runServices", [])
    problems += [f"service {name!r} is not a compose service" for name in wanted if name not in services]
    dev, backend = services.get(config.get("service"), {}), services.get("backend", {})
    dev_env, backend_env = dev.get("environment") or {}, backend.get("environment") or {}
    if str(dev.get("user", "0")).split(":")[0] in ("", "0", "root"):
        problems.append(f"dev service runs as {dev.get('user', 'root (no user:)')}; use the image's non-root user (vscode)")
    if config.get("remoteUser") in (None, "root") or config.get("containerUser") == "root":
        problems.append("devcontainer.json: remoteUser must be the non-root user (vscode)")
    db_password = next((k for k, v in backend_env.items() if v == "/run/secrets/db_password"), None)
    for key, value in dev_env.items():
        if re.search(r"PASSWORD|SECRET", key) and not key.endswith("_FILE"):
            problems.append(f"dev service sets {key} literally; use the compose secret and {key}_FILE")
        expected = "/run/secrets/db_owner_password" if key == db_password else backend_env.get(key)
        if key in backend_env and key.endswith("_FILE") and value != expected:
            problems.append(f"{key}: dev {value} differs from {expected}")
    same = {"DJANGO_SETTINGS_MODULE"} | {k for k in backend_env if k.endswith("_FILE")}
    problems += [f"dev service lacks {k} (backend has it)" for k in sorted(same) if k not in dev_env]
    wanted_secrets = {"db_owner_password" if s["source"] == "db_password" else s["source"] for s in backend.get("secrets", [])}
    problems += [f"dev service does not mount secret {name}" for name in sorted(wanted_secrets - {d["source"] for d in dev.get("secrets", [])})]
    # Only dev-only values: every secret the dev project's services mount comes from .devcontainer/.
    running = set(wanted) | {dep for name in wanted for dep in (services.get(name, {}).get("depends_on") or {})}
    mounted = {s["source"] for name in running for s in services.get(name, {}).get("secrets", [])}
    defined = json.loads(merged.out).get("secrets", {})
    for name in sorted(mounted):
        source = Path(defined.get(name, {}).get("file", ""))
        if folder.resolve() not in source.resolve().parents:
            problems.append(f"secret {name} comes from {source} in the dev container: production's; give it a dev-only file in .devcontainer/secrets/")
    for hits in tools.scan_secrets([p for p in folder.iterdir() if p.is_file()]).values():
        problems += [f"detect-secrets: {h['type']} on line {h['line_number']}" for h in hits]
    return check("S4", problems, "dev container: the compose services and settings, a non-root user, dev-only secrets (.devcontainer/secrets/)")


def standin_images(layout: Path) -> dict[str, str]:
    """Image variables of the layout's env files that name a stand-in: `file VAR` -> image."""
    from hardstack.catalog import STANDIN_PREFIX, STANDINS_ENV
    from hardstack.runtime.compose import read_env_file

    found = {}
    for name in (".env", STANDINS_ENV):
        if (layout / name).is_file():
            found |= {f"{name} {var}": value for var, value in read_env_file(layout / name).items() if value.startswith(STANDIN_PREFIX)}
    return found


def unset_receivers(layout: Path) -> list[str]:
    """The alert receiver's secret files that still hold the placeholder `hardstack new` wrote."""
    from hardstack.catalog import PLACEHOLDERS

    return [f"secrets/{name}" for name, placeholder in PLACEHOLDERS.items()
            if (layout / "secrets" / name).is_file() and (layout / "secrets" / name).read_text().strip() == placeholder]


def s5_nothing_stands_in(layout: Path) -> Result:
    """Warns (does not fail): the layout runs, but on stand-in images or with alerts going nowhere.
    `hardstack deploy` refuses both unless told (--allow-standins, --allow-unset-alerts)."""
    warnings = []
    standins = standin_images(layout)
    if standins:
        where = sorted({key.split()[0] for key in standins})
        warnings.append(f"{len(standins)} stand-in images in {', '.join(where)} (lookalikes built from Debian packages, not the images the "
                        f"answers name): remove them from .env to run the real ones; deploy refuses them")
    warnings += [f"{path} holds its placeholder: alerts go nowhere; write where they should go (deploy refuses it)"
                 for path in unset_receivers(layout)]
    return warn_unless("S5", warnings, "the answers' images (no stand-in); the alert receiver is set")


ROWS = [("S1", s1_shellcheck), ("S2", s2_secrets), ("S3", s3_workflows), ("S4", s4_devcontainer), ("S5", s5_nothing_stands_in)]
