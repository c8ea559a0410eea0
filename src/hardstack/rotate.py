"""`hardstack rotate`: a new password for one of the database's roles, on a running compose stack.

The roles' passwords are set by db-setup (db/setup.sh) from the secret files on each run, so rotating
one is: a new value in every file that holds it, db-setup run again, then the services that log in as
that role recreated (they read their file at start). The superuser's password is read by PostgreSQL
only when its volume is initialised: it is changed in the database first, over the db container's
local socket, then in the file. The new value reaches psql on stdin, never argv.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from hardstack.answers import Answers
from hardstack.catalog import RANDOM_VALUES, SECRETS, SERVICES, UIDS
from hardstack.runtime.compose import Stack, StackError

# Role (as `hardstack rotate` names it) -> the value in catalog.SECRETS that is its password.
ROLE_VALUES = {"superuser": "postgres_password", "owner": "db_owner_password", "app": "db_password",
               "backup": "db_backup_password", "exporter": "db_exporter_password"}


class RotateError(RuntimeError):
    pass


def files_of(answers: Answers, value: str) -> list[str]:
    """The layout's secret files that hold this value (the service's own and db-setup's copy)."""
    return [name for name, spec in answers.secret_specs.items() if spec.value == value]


def users_of(answers: Answers, files: list[str]) -> list[str]:
    """The long-running and one-shot services (not manual ones, not the db) that mount these files."""
    mounted = {svc for name in files for svc in answers.secrets.get(name, [])}
    return [svc for svc in answers.services if svc in mounted and svc not in ("db", "db-setup") and not SERVICES[svc].manual]


def _write(path: Path, value: str, uid: int) -> None:
    """Replace the file at once, 0600 and owned by its reader from the first byte."""
    partial = path.with_name(f".{path.name}.new")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    try:
        os.chown(partial, uid, uid)
    except PermissionError:
        partial.unlink()
        raise RotateError(f"cannot give {path} to UID {uid}: run hardstack rotate as root (the secret files belong to their services' users)") from None
    partial.replace(path)


def one_shot(stack: Stack, service: str) -> None:
    """Recreate a one-shot service's container and wait for it to exit 0 (`up --wait` wants health)."""
    stack.compose("up", "--no-deps", "--force-recreate", "--no-log-prefix", "--exit-code-from", service, service)


def rotate(stack: Stack, answers: Answers, role: str, echo=print) -> list[str]:
    """A new password for `role`; returns the services recreated with it."""
    if role not in ROLE_VALUES or role not in answers.db_roles:
        choices = ", ".join(r for r in ROLE_VALUES if r in answers.db_roles)
        raise RotateError(f"role: {role!r} is not one of this layout's database roles ({choices})")
    if stack.health("db") != "healthy":
        # The db alone: also the way out of a kept volume whose superuser password is not the file's
        # (the local socket needs none), after `hardstack up` stopped the stack.
        echo("Starting the db service")
        try:
            stack.compose("up", "-d", "--wait", "--no-deps", "db")
        except StackError as exc:
            raise RotateError(f"the db service does not start healthy: {str(exc)[-1500:]}") from None
    value_key = ROLE_VALUES[role]
    new = secrets.token_urlsafe(RANDOM_VALUES[value_key])
    files = files_of(answers, value_key)
    if role == "superuser":
        echo(f"Setting the new password of {answers.db_roles['superuser']} in the database (local socket)")
        stack.compose("exec", "-T", "db", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", answers.db_roles["superuser"], "-d", "postgres",
                      input_text=f"ALTER ROLE {answers.db_roles['superuser']} PASSWORD '{new}';\n")
    for name in files:
        _write(stack.layout / "secrets" / name, new, UIDS[SECRETS[name].uid])
    echo(f"Wrote secrets/{', secrets/'.join(files)}")
    echo("Running db-setup (sets the role's password)")
    try:
        # Recreated, never restarted: a container keeps the file it was created with (a bind mount of
        # the old inode), so every user of the new value gets a new container.
        one_shot(stack, "db-setup")
        users = users_of(answers, files)
        for name in [u for u in users if SERVICES[u].one_shot]:
            echo(f"Running {name} again with the new password")
            one_shot(stack, name)
        serving = [u for u in users if not SERVICES[u].one_shot]
        if serving:
            echo(f"Recreating {', '.join(serving)} with the new password")
            stack.compose("up", "-d", "--wait", "--no-deps", "--force-recreate", *serving)
    except StackError as exc:
        logs = stack.compose("logs", "--no-color", "--tail", "20", "db-setup", check=False).stdout
        raise RotateError(f"{exc}\ndb-setup's last lines:\n{logs}\nThe new value is in secrets/{files[0]}; fix the cause and run "
                          "`docker compose up -d --wait` in the layout.") from None
    return users
