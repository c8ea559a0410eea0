"""What the cookiecutter hooks do; hooks/*.py only call these.

One `remove_*` function per switchable part, as in cookiecutter-django.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

from hardstack.answers import Answers, AnswersError, validate
from hardstack.catalog import PLACEHOLDERS, RANDOM_VALUES, UIDS

ANSWERS_FILE = ".hardstack-answers.json"
EXAMPLE_BACKEND = ["manage.py", "requirements.txt", ".python-version", "ruff.toml", "config", "demo"]
EXAMPLE_FRONTEND = ["package.json", "package-lock.json", "index.html", "vite.config.js", "src", "public"]



def pre_generate(raw: dict[str, Any]) -> int:
    try:
        validate(raw)
    except AnswersError as err:
        print("hardstack: the answers were refused, nothing was written:", file=sys.stderr)
        for line in err.problems:
            print(f"  - {line}", file=sys.stderr)
        return 1
    return 0


def _remove(root: Path, *relpaths: str) -> None:
    for rel in relpaths:
        path = root / rel
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def remove_example_backend(root: Path) -> None:
    _remove(root / "backend", *EXAMPLE_BACKEND)


def remove_example_frontend(root: Path) -> None:
    _remove(root / "frontend", *EXAMPLE_FRONTEND)


def remove_sibling_ignore_file(root: Path, part: str) -> None:
    """`<part>/Dockerfile.dockerignore` is for a sibling build only: BuildKit would prefer it elsewhere."""
    _remove(root / part, "Dockerfile.dockerignore")


def remove_frontend(root: Path) -> None:
    """No SPA (frontend_context empty): no frontend image, no frontend workflow."""
    _remove(root, "frontend")
    _remove(root / ".github" / "workflows", "frontend.yml")


def remove_asgi_entry(root: Path) -> None:
    _remove(root / "backend" / "deploy", "hardstack_asgi.py")


def remove_wsgi_entry(root: Path) -> None:
    _remove(root / "backend" / "deploy", "hardstack_wsgi.py")


def remove_monitoring(root: Path) -> None:
    _remove(root, "prometheus", "alertmanager")


def remove_ci_workflows(root: Path) -> None:
    _remove(root, ".github")


def remove_devcontainer(root: Path) -> None:
    _remove(root, ".devcontainer")


def remove_background_work(root: Path) -> None:
    _remove(root, "redis")
    _remove(root / "backend" / "deploy", "celery_health.py", "celery_run.py")


def remove_tls(root: Path) -> None:
    _remove(root / "nginx" / "snippets", "tls.conf")


def remove_acme(root: Path) -> None:
    _remove(root, "acme")
    _remove(root / "nginx" / "snippets", "acme-challenge.conf")
    _remove(root / "nginx", "watch-certificate.sh")


def fresh_values() -> dict[str, str]:
    """Fresh random values (catalog.RANDOM_VALUES); placeholders for the values only the user knows
    (where alerts go)."""
    return {value: secrets.token_urlsafe(size) for value, size in RANDOM_VALUES.items()} | PLACEHOLDERS


def app_secret_placeholder(file: str) -> str:
    """What an app secret (backend_secrets) holds until the user writes the real value."""
    return f"set-secrets-{file}"


def _secret_folder(directory: Path, answers: Answers) -> dict[str, str]:
    """Make the folder (0700); return the value each secret file gets: fresh, except that a new file
    copying a value another file already holds (db_password_setup of db_password, added by an update)
    takes that value."""
    directory.mkdir(mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    values = fresh_values()
    for name, secret in answers.secret_specs.items():
        if (directory / name).is_file():
            values[secret.value] = (directory / name).read_text()
    return values


def write_dev_secrets(root: Path, answers: Answers) -> None:
    """The dev container's secrets: fresh values of their own in .devcontainer/secrets/ (gitignored,
    0700), never production's. 0644 inside it: the dev user's UID is the host user's (updateRemoteUserUID),
    unknown here, and these values guard a throwaway database on a developer's machine only."""
    directory = root / ".devcontainer" / "secrets"
    values = _secret_folder(directory, answers)
    for name, secret in answers.secret_specs.items():
        path = directory / name
        if not path.exists():
            # The app's own secrets get a dev placeholder unlike production's, so row C21 still catches a
            # production value copied here.
            path.write_text(values.get(secret.value) or f"dev-only-value-of-{name}")
            os.chmod(path, 0o644)


def write_secrets(root: Path, answers: Answers) -> list[str]:
    """Fill secrets/ with fresh values, mode 0600, owned by the UID that reads each one.

    Compose bind-mounts secret files with their host owner and mode, so a 0600 file must belong
    to the container's UID. Without root we cannot chown: return the command the user must run.
    """
    directory = root / "secrets"
    values = _secret_folder(directory, answers)
    todo = []
    for name, secret in answers.secret_specs.items():
        uid = UIDS[secret.uid]
        path = directory / name
        if path.exists():
            continue  # never rotate a secret behind the user's back
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(values.get(secret.value) or app_secret_placeholder(name))
        try:
            os.chown(path, uid, uid)
        except PermissionError:
            todo.append(f"sudo chown {uid}:{uid} {path}")
    ensure_build_ca_bundle(directory)
    return todo


def ensure_build_ca_bundle(directory: Path) -> None:
    """The build secret compose.yaml names by default (BUILD_CA_BUNDLE), empty when absent: builds then use the
    image's own CA store. Also for `hardstack images` in a CI checkout, where secrets/ is not in git."""
    build_ca = directory / "build_ca_bundle.pem"
    if not build_ca.exists():
        directory.mkdir(mode=0o700, exist_ok=True)
        build_ca.touch(mode=0o600)


def record_answers(root: Path, answers: Answers) -> None:
    (root / ANSWERS_FILE).write_text(json.dumps(answers.model_dump(), indent=2, sort_keys=True) + "\n")


def post_generate(root: Path, raw: dict[str, Any] | Answers) -> int:
    answers = raw if isinstance(raw, Answers) else validate(raw)
    if not answers.include_example_app:
        remove_example_backend(root)
        remove_example_frontend(root)
    if not answers.has_frontend:
        remove_frontend(root)
    for part, build in answers.builds.items():
        if not build["args"]:
            remove_sibling_ignore_file(root, part)
    if answers.server == "uvicorn":
        remove_wsgi_entry(root)
    else:
        remove_asgi_entry(root)
    if not answers.enable_monitoring:
        remove_monitoring(root)
    if not answers.tls_on:
        remove_tls(root)
    if not answers.uses_acme:
        remove_acme(root)
    if not answers.uses_redis:
        remove_background_work(root)
    if not answers.enable_ci_workflows:
        remove_ci_workflows(root)
    if not answers.enable_devcontainer:
        remove_devcontainer(root)
    todo = write_secrets(root, answers)
    if answers.enable_devcontainer:
        write_dev_secrets(root, answers)
    record_answers(root, answers)
    if todo:
        print("hardstack: run these so the containers can read their secrets:", file=sys.stderr)
        for line in todo:
            print(f"  {line}", file=sys.stderr)
    return 0
