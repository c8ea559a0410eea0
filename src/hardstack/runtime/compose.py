"""Running a generated layout on a real Docker engine with Compose v2.

Used by `hardstack up`, the stack tests and the benchmarks: one place that knows how to point a
layout at the stand-in images, bring it up, inspect it and tear it down.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from hardstack import engine


class StackError(RuntimeError):
    pass


class BuildError(StackError):
    """A build failed; `problems` holds the `hardstack: answer=...: why; fix` lines the build printed."""

    def __init__(self, message: str, problems: list[str]):
        super().__init__(message)
        self.problems = problems


def compose_model(layout: Path, *, defaults_only: bool = False, profiles: tuple[str, ...] = ("*",),
                  env: dict[str, str] | None = None) -> dict:
    """compose.yaml as compose itself resolves it (`docker compose config --format json`): anchors merged, short
    forms long, paths absolute, sizes in bytes, variables substituted. The one reading of the file's values for
    `hardstack check`, `hardstack deploy` and `hardstack images`, so the rows judge what is deployed and built.

    defaults_only: the file's own defaults, with no .env and no variable of this process (what the checks judge).
    Else compose reads the layout's .env as `docker compose` does, under this process's environment and `env`.
    `profiles`: whose services it includes (every profile by default). Raises StackError with compose's words."""
    args = ["docker", "compose", "--project-directory", str(layout), "-f", str(layout / "compose.yaml")]
    for profile in profiles:
        args += ["--profile", profile]
    if defaults_only:
        args += ["--env-file", os.devnull]
        environ = {k: v for k in ("PATH", "HOME", "DOCKER_CONFIG") if (v := os.environ.get(k))}
    else:
        environ = {**os.environ, **(env or {})}
    proc = subprocess.run([*args, "config", "--format", "json"], cwd=layout, env=environ, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StackError(f"docker compose config: {(proc.stderr or proc.stdout).strip()[-2000:]}")
    return json.loads(proc.stdout)


# What a build step printed (BuildKit plain progress: "#12 3.456 text"), not the step's own command line.
ANSWER_PROBLEM = re.compile(r"^(?:#\d+ \d+\.\d+ )?hardstack: ((\w+)=.*)$")


def answer_problems(output: str) -> list[str]:
    """The lines the generated Dockerfiles print when an answer does not fit the app."""
    from hardstack.answers import Answers

    found = []
    for line in output.splitlines():
        m = ANSWER_PROBLEM.match(line.strip())
        if m and m.group(2) in Answers.model_fields and m.group(1) not in found:
            found.append(m.group(1))
    return found


CELERY_CANNOT_LOAD = re.compile(r"Unable to load celery application.*|Error: Invalid value for '-A'.*|ModuleNotFoundError: .*")


def celery_problems(stack: "Stack", answers) -> list[str]:
    """celery_app named something the worker cannot load: the answer and its fix, from the worker's own log."""
    if not answers.uses_redis:
        return []
    for service in ("worker", "beat"):
        logs = stack.compose("logs", "--no-color", "--tail", "40", service, check=False)
        for line in (logs.stdout + logs.stderr).splitlines():
            m = CELERY_CANNOT_LOAD.search(line)
            if m:
                return [f"celery_app={answers.celery_app}: `celery -A {answers.celery_app}` cannot load it ({service} said: {m.group(0).strip()[:200]}); "
                        "set celery_app to the module that defines your Celery app (e.g. shop or shop.celery:app), or to empty for no workers"]
    return []


def placeholder_secrets(layout: Path, answers) -> list[str]:
    """backend_secrets files that still hold the placeholder hardstack new wrote."""
    from hardstack.hooks import app_secret_placeholder

    found = []
    for name, file in answers.app_secret_files.items():
        path = layout / "secrets" / file
        if path.exists() and path.read_text().strip() == app_secret_placeholder(file):
            found.append(f"secrets/{file} still holds its placeholder: write the real {name} into it (the app reads it as {name})")
    return found


def missing_contexts(layout: Path, answers) -> list[str]:
    """Each app folder the build needs that does not exist, as `answer: problem; fix`."""
    problems = []
    for part, build in answers.builds.items():
        app_dir = (layout / build["app_dir"]).resolve()
        key = f"{part}_context"
        if not app_dir.is_dir():
            problems.append(f"{key}={build['app_dir']}: {app_dir} does not exist; clone your {part} repo there, "
                            f"or re-render the layout with {key} pointing at it")
        elif build["args"] and (layout.resolve().parent / build["dockerfile"]).resolve() != (layout / part / "Dockerfile").resolve():
            problems.append(f"{key}: the layout folder was renamed or moved (compose builds {build['dockerfile']}); "
                            f"keep it at {layout.resolve().parent / answers.project_slug} beside {app_dir.name}")
    return problems


def read_env_file(path: Path) -> dict[str, str]:
    """A .env file as Compose reads it (python-dotenv: quotes, `export`, comments), values as written."""
    from dotenv import dotenv_values

    return {key: value or "" for key, value in dotenv_values(path, interpolate=False).items()}


def standin_env(env_file: Path, python_image: str | None = None) -> dict[str, str]:
    """Build (or reuse) the stand-in images and return the variables that point a layout at them.

    With python_image, PYTHON_IMAGE (in the result and the file) is the stand-in that runs that image's
    Python version; a version no stand-in runs is refused, naming the version and the answer."""
    from hardstack.resources import standins_script

    import tempfile

    with tempfile.TemporaryDirectory(prefix="hardstack-standins-") as tmp:
        written = Path(tmp) / "standins.env"
        proc = subprocess.run(["bash", str(standins_script()), str(written)], text=True, stdout=subprocess.PIPE)
        if proc.returncode != 0:
            raise StackError(f"scripts/stand-in-images failed (exit {proc.returncode}); see its output above")
        env = read_env_file(written)
        lines = written.read_text().splitlines()
    if python_image:  # refused before the layout's file is written
        env["PYTHON_IMAGE"] = standin_python(env, python_image)
        lines = [f"PYTHON_IMAGE={env['PYTHON_IMAGE']}" if line.startswith("PYTHON_IMAGE=") else line for line in lines]
    env_file.write_text("\n".join(lines) + "\n")
    return env


def standin_pythons(env: dict[str, str]) -> dict[str, str]:
    """Python version -> the stand-in image that runs it (PYTHON_IMAGE runs the default version)."""
    from hardstack.catalog import DEFAULT_PYTHON

    found = {DEFAULT_PYTHON: env["PYTHON_IMAGE"]}
    for key, image in env.items():
        m = re.fullmatch(r"PYTHON_(\d+)_(\d+)_IMAGE", key)
        if m:
            found[f"{m.group(1)}.{m.group(2)}"] = image
    return found


def standin_python(env: dict[str, str], python_image: str) -> str:
    from hardstack.backend_project import image_python_version, python_image_for

    pythons = standin_pythons(env)
    version = image_python_version(python_image)
    if version is None:
        return pythons[next(iter(pythons))]  # a base of the user's own naming: the default stand-in
    if version not in pythons:
        raise StackError(f"python_image={python_image}: no stand-in runs Python {version} here (they run {', '.join(pythons)}); "
                         f"set python_image to {' or '.join(python_image_for(v) for v in pythons)} (and the app's .python-version), "
                         "or run where a registry answers")
    return pythons[version]


def registry_reachable(image: str, timeout: int = 20) -> bool:
    """Can the engine pull the layout's default images? (No registry is reachable on CI machines.)"""
    try:
        proc = subprocess.run(["docker", "pull", "-q", image], capture_output=True, timeout=timeout)
        return proc.returncode == 0
    except subprocess.TimeoutExpired:
        return False


def kept_volume_hint(volume: str, text: str) -> list[str]:
    """The ways out when db-setup found the db volume initialised with another superuser password
    (a kept volume of an earlier layout with the same project name, or a secrets/ folder replaced)."""
    if "initialised with another password" not in text:
        return []
    return [f"the kept volume {volume} was initialised with another superuser password than secrets/postgres_password holds; "
            "PostgreSQL reads that file only when a volume is new. Three ways out:",
            "1. put the value the volume was initialised with back in secrets/postgres_password, or",
            "2. give the database a new superuser password and write it to the file: hardstack rotate LAYOUT superuser, or",
            f"3. remove the volume and LOSE ITS DATA: docker volume rm {volume}"]


@dataclass
class Stack:
    layout: Path
    project: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def environ(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def compose(self, *args: str, check: bool = True, timeout: int = 1800, capture: bool = True,
                input_text: str | None = None) -> subprocess.CompletedProcess:
        cmd = ["docker", "compose", "-p", self.project, *args]
        proc = subprocess.run(cmd, cwd=self.layout, env=self.environ, text=True, input=input_text,
                              capture_output=capture, timeout=timeout)
        if check and proc.returncode != 0:
            raise StackError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{(proc.stdout or '')[-3000:]}\n{(proc.stderr or '')[-3000:]}")
        return proc

    def stream(self, *args: str, echo=print) -> tuple[int, str]:
        """Run a compose command, echoing its output line by line as it comes; return (exit code, output)."""
        cmd = ["docker", "compose", "-p", self.project, *args]
        lines = []
        with subprocess.Popen(cmd, cwd=self.layout, env=self.environ, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
            for line in proc.stdout:
                lines.append(line)
                if echo:
                    echo(line.rstrip("\n"))
        return proc.returncode, "".join(lines)

    def build(self, echo=None) -> float:
        """`docker compose build`; a failure raises BuildError naming the answers the build blamed."""
        start = time.monotonic()
        code, output = self.stream("--progress", "plain", "build", echo=echo)
        if code != 0:
            problems = answer_problems(output)
            tail = "\n".join(output.splitlines()[-25:])
            raise BuildError(f"docker compose build failed (exit {code}):\n{tail}", problems)
        return time.monotonic() - start

    def up(self, timeout: int = 300, echo=None, follow: tuple[str, ...] = ()) -> float:
        """`docker compose up -d --wait`; returns seconds until every service was healthy.

        `follow` names one-shot services (migrate) whose logs are echoed while they run, so a long
        migration shows progress instead of a silent wait.
        """
        start = time.monotonic()
        done = threading.Event()
        followers = [threading.Thread(target=self._follow, args=(svc, echo or print, done), daemon=True) for svc in follow]
        for t in followers:
            t.start()
        try:
            if echo is None:
                self.compose("up", "-d", "--wait", "--wait-timeout", str(timeout), capture=False)
            else:
                code, output = self.stream("up", "-d", "--wait", "--wait-timeout", str(timeout), echo=echo)
                if code != 0:
                    raise StackError(f"docker compose up failed (exit {code}):\n{output[-3000:]}")
        finally:
            done.set()
            for t in followers:
                t.join(timeout=5)
        return time.monotonic() - start

    def _follow(self, service: str, echo, done: threading.Event) -> None:
        """Echo a one-shot service's log lines, prefixed, from when it starts until it exits."""
        cid = ""
        while not done.is_set():  # `docker logs -f` returns at once for a container not yet started
            cid = (self.service_containers(service, all_=True) or [""])[0]
            state = ((engine.inspect(cid) or {}).get("State") or {}).get("Status", "") if cid else ""
            if state and state != "created":
                break
            done.wait(0.5)
        if not cid:
            return
        with subprocess.Popen(["docker", "logs", "-f", cid], text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) as proc:
            started = time.monotonic()
            for line in proc.stdout:
                echo(f"{service} | {line.rstrip()}  [{time.monotonic() - started:.0f}s]")

    def diagnose(self) -> list[str]:
        """One line per service that is not running healthy (or did not exit 0, for one-shots)."""
        lines = []
        for c in self.containers(all_=True):
            service, state = c.get("Service", "?"), c.get("State", "?")
            health = c.get("Health", "")
            if state == "exited" and str(c.get("ExitCode", 0)) == "0":
                continue
            if state == "running" and health in ("", "healthy"):
                continue
            detail = f"{service}: {state}" + (f" ({health})" if health else "") + (f", exit {c.get('ExitCode')}" if state == "exited" else "")
            logs = subprocess.run(["docker", "logs", "--tail", "5", c["ID"]], capture_output=True, text=True)
            last = [line for line in (logs.stdout + logs.stderr).splitlines() if line.strip()][-3:]
            lines.append(detail + ("; last log lines: " + " | ".join(last) if last else ""))
        return lines

    def stop(self) -> None:
        """Stop and remove the containers and networks, keep the volumes (the data survives)."""
        self.compose("--profile", "manual", "down", "--remove-orphans", "--timeout", "10", check=False)

    def down(self) -> None:
        self.compose("--profile", "manual", "down", "-v", "--remove-orphans", "--timeout", "10", check=False)

    def containers(self, all_: bool = False) -> list[dict]:
        out = self.compose("ps", "--format", "json", *(["-a"] if all_ else [])).stdout.strip()
        if not out:
            return []
        # Compose prints one JSON object per line (2.21+) or a JSON array (older).
        return json.loads(out) if out.startswith("[") else [json.loads(line) for line in out.splitlines()]

    def container_id(self, service: str) -> str:
        """The service's running container (one line per replica), as `docker compose ps -q SERVICE` prints it."""
        return "\n".join(self.service_containers(service))

    def service_containers(self, service: str, all_: bool = False) -> list[str]:
        """IDs of the service's containers (not `compose run` ones), by the labels compose puts on them: one API call
        where `docker compose ps` cost a process of 30-45 ms of CPU, and the waits poll it every second or less."""
        labels = [f"com.docker.compose.project={self.project.lower()}", f"com.docker.compose.service={service}",
                  "com.docker.compose.oneoff=False"]
        return [c["Id"] for c in engine.api().containers(all=all_, filters={"label": labels})]

    def inspect(self, ref: str) -> dict:
        found = engine.inspect(ref)
        if found is None:
            raise StackError(f"no container {ref}")
        return found

    def health(self, service: str) -> str:
        cid = self.container_id(service)
        if not cid:
            return "missing"
        state = self.inspect(cid)["State"]
        return state.get("Health", {}).get("Status", state["Status"])

    def wait_healthy(self, service: str, timeout: float = 120) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.health(service) == "healthy":
                return time.monotonic() - start
            time.sleep(1)
        raise StackError(f"{service} not healthy after {timeout}s (last: {self.health(service)})")

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes of this project still present."""
        label = f"com.docker.compose.project={self.project}"
        return {kind: engine.ids(kind, label) for kind in ("containers", "networks", "volumes")}
