"""`hardstack backup` and `hardstack restore`: the layout's backup service (backup/backup.sh in the
database image) run on demand, and dumps copied between its volume and the host."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hardstack.answers import Answers
from hardstack.catalog import SERVICES
from hardstack.runtime.compose import Stack, StackError

SCRIPT = ["sh", "/etc/hardstack/backup/backup.sh"]
# Restores run as the database's superuser, in the db-setup service (the backup service's role reads only).
RESTORE = ["sh", "/etc/hardstack/db/setup.sh", "restore"]
DUMP_NAME = re.compile(r"^[a-z_][a-z0-9_]*-\d{8}T\d{6}Z\.dump$")


class BackupError(RuntimeError):
    pass


@dataclass
class Restored:
    name: str
    seconds: float  # the restore itself (drop, pg_restore, post_restore)
    stopped: list[str]  # services stopped for it and started again


def _script(stack: Stack, *args: str, stdin=None, stdout=None, service: str = "backup", script: list[str] = SCRIPT) -> subprocess.CompletedProcess:
    """Run backup.sh in a one-off backup container; --no-deps: it needs the database, nothing else
    (compose would otherwise run migrate first). Dumps stream through stdin/stdout files, never memory."""
    cmd = ["docker", "compose", "-p", stack.project, "run", "--rm", "--no-deps", "-T", "--entrypoint", script[0], service,
           *script[1:], *args]
    proc = subprocess.run(cmd, cwd=stack.layout, env=stack.environ, stdin=stdin, stdout=stdout or subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=3600)
    if proc.returncode != 0:
        raise BackupError(f"backup.sh {' '.join(args[:1])} failed: {proc.stderr.decode(errors='replace').strip()[-2000:]}")
    return proc


def _lines(proc: subprocess.CompletedProcess) -> list[str]:
    return proc.stdout.decode(errors="replace").split()


def database_running(stack: Stack) -> None:
    if stack.health("db") != "healthy":
        raise BackupError("the db service is not running healthy: start the stack first (`hardstack up LAYOUT` or `docker compose up -d --wait`)")


def take(stack: Stack) -> str:
    """One dump now, into the backups volume; returns its name."""
    database_running(stack)
    return _lines(_script(stack, "once"))[-1]


def dumps(stack: Stack) -> list[str]:
    """The dumps in the backups volume, newest first."""
    return [line for line in _lines(_script(stack, "list")) if DUMP_NAME.match(line)]


def copy_out(stack: Stack, name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    partial = target.with_suffix(".partial")
    # 0600 from the first byte: a dump holds every row, password hashes included.
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
        _script(stack, "cat", name, stdout=fh)
    partial.replace(target)
    return target


def copy_in(stack: Stack, path: Path) -> str:
    """A dump from the host into the backups volume, under its own file name."""
    if not DUMP_NAME.match(path.name):
        raise BackupError(f"{path.name}: a dump keeps the name `hardstack backup` gave it (<db>-YYYYMMDDTHHMMSSZ.dump); rename it so")
    with path.open("rb") as fh:
        _script(stack, "import", path.name, stdin=fh)
    return path.name


def clients(answers: Answers) -> list[str]:
    """The services that connect to the database (they hold its password), which a restore stops."""
    users = {svc for name, services in answers.secrets.items() if name == "postgres_password" or name.startswith("db_") for svc in services}
    return [svc for svc in answers.services if svc in users and svc != "db" and not SERVICES[svc].manual]


def restore(stack: Stack, answers: Answers, source: str, echo=print) -> Restored:
    """Replace the database with a dump: `latest`, a dump's name, or a dump file on the host.

    The services that use the database are stopped first and started again after (migrate runs
    again and applies any migration newer than the dump)."""
    database_running(stack)
    if source == "latest":
        names = dumps(stack)
        if not names:
            raise BackupError("the backups volume holds no dump yet: run `hardstack backup LAYOUT` first")
        name = names[0]
    elif Path(source).is_file():
        name = copy_in(stack, Path(source))
    elif DUMP_NAME.match(source):
        if source not in dumps(stack):
            raise BackupError(f"no dump named {source} in the backups volume (`hardstack backup LAYOUT --list` shows them)")
        name = source
    else:
        raise BackupError(f"{source!r} is neither `latest`, a dump's name nor a file; `hardstack backup LAYOUT --list` shows the dumps")
    _script(stack, "check", name)  # an unreadable dump is refused before anything is stopped
    stopped = clients(answers)
    echo(f"Stopping {', '.join(stopped)}")
    stack.compose("stop", *stopped)
    start = time.monotonic()
    try:
        echo(f"Restoring {name}")
        _script(stack, name, service="db-setup", script=RESTORE)
    finally:
        seconds = time.monotonic() - start
        echo("Starting the stack again (docker compose up -d --wait)")
        try:
            stack.compose("up", "-d", "--wait")
        except StackError as exc:
            raise BackupError(f"restored {name}, but the stack did not come up healthy again: {str(exc)[-1500:]}") from None
    return Restored(name, seconds, stopped)
