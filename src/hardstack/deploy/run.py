"""Run the deploy program through the Automation API: `hardstack deploy up|preview|destroy`.

The program runs inline (in this process), so the CLI needs no Python language host; its
resources are pulumi-docker's, served by the `docker` resource plugin (installed with the SDK where
Pulumi can download plugins, built by scripts/docker-provider where it cannot).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from pulumi import automation as auto

from hardstack.deploy.plan import LABEL
from hardstack.deploy.program import program
from hardstack.deploy.watch import CrashWatch, TaskWatch

from hardstack.resources import pulumi_project

PULUMI_PROJECT = pulumi_project()
TOOLCHAIN_BIN = Path(os.environ.get("HARDSTACK_CACHE", Path.home() / ".cache" / "hardstack")) / "pulumi" / "bin"


class DeployError(RuntimeError):
    pass


def pulumi_env() -> dict[str, str]:
    path = os.pathsep.join([str(Path(sys.executable).parent), str(TOOLCHAIN_BIN), os.environ.get("PATH", "")])
    return {"PATH": path, "PULUMI_SKIP_UPDATE_CHECK": "true"}


def pulumi_command() -> auto.PulumiCommand:
    os.environ.update(pulumi_env())
    binary = shutil.which("pulumi")
    if not binary:
        raise DeployError("the pulumi CLI is not installed: run scripts/pulumi-toolchain (or install Pulumi normally)")
    # PulumiCommand wants ROOT with ROOT/bin/pulumi (a symlink is fine).
    return auto.PulumiCommand(root=str(Path(binary).parent.parent), skip_version_check=True)


def find_project(cwd: Path | None = None) -> tuple[Path, Path | None]:
    """The Pulumi project to use and the layout it belongs to (None for hardstack's own project)."""
    if cwd is not None:
        cwd = cwd.resolve()
        return cwd, cwd.parent if (cwd.parent / ".hardstack-answers.json").exists() else None
    here = Path.cwd()
    for layout, project in ((here, here / "pulumi"), (here.parent, here)):
        if (layout / ".hardstack-answers.json").exists() and (project / "Pulumi.yaml").exists():
            return project, layout
    return PULUMI_PROJECT, None


def select(stack_name: str, work_dir: Path = PULUMI_PROJECT, env: dict[str, str] | None = None) -> auto.Stack:
    """Create or select `stack_name` of the project in work_dir (its Pulumi.<stack>.yaml holds the config)."""
    opts = auto.LocalWorkspaceOptions(work_dir=str(work_dir), pulumi_command=pulumi_command(),
                                      env_vars={**pulumi_env(), **(env or {})})
    return auto.create_or_select_stack(stack_name=stack_name, project_name="hardstack", program=program, opts=opts)


def up(stack: auto.Stack, on_output: Callable[[str], None] = print, superuser_password_changed: bool = False,
       refresh: bool = False) -> auto.UpResult:
    """`pulumi up`; refresh=True first reads what is really running (containers removed by hand)."""
    config = stack.get_all_config()  # one `pulumi config` call for both reads below
    if not superuser_password_changed:
        refuse_superuser_password_change(stack, config)
    target, prefix = deployed_as(stack, config)
    if prefix is None:
        result = stack.up(on_output=on_output, color="never", refresh=refresh)
    elif target == "swarm":
        with TaskWatch(LABEL, prefix) as tasks:  # a converge timeout names the tasks that failed (deploy/watch.py)
            try:
                result = stack.up(on_output=on_output, color="never", refresh=refresh)
            except auto.CommandError as exc:
                if tasks.failed:
                    raise DeployError(f"{str(exc).strip()[-2500:]}\n\n{tasks.report()}\nFix what they name, then run `hardstack deploy up` again.") from exc
                raise
    else:
        with CrashWatch(LABEL, prefix) as watch:  # a release that exits at start: reported in seconds (deploy/watch.py)
            try:
                result = stack.up(on_output=on_output, color="never", refresh=refresh)
            except auto.CommandError as exc:
                if watch.crashes:
                    raise DeployError(watch.report() + "\nFix the release, then run `hardstack deploy up` again.") from exc
                raise
    apply_pids_limits(result.outputs, on_output)
    return result


def deployed_as(stack: auto.Stack, config: dict[str, auto.ConfigValue]) -> tuple[str, str | None]:
    """The stack's target and its resources' label value (<compose project>-<stack>), from its config; no label
    value for a config the program refuses (it names the problem itself)."""
    layout = config.get("hardstack:layoutDir")
    target = config.get("hardstack:target")
    target_name = target.value if target is not None else "compose"
    if layout is None:
        return target_name, None
    from hardstack.answers import validate

    try:
        answers = validate(json.loads((Path(layout.value).expanduser() / ".hardstack-answers.json").read_text()))
    except (OSError, ValueError):
        return target_name, None
    return target_name, answers.stack_prefix(stack.name.split('/')[-1])


def refuse_superuser_password_change(stack: auto.Stack, config: dict[str, auto.ConfigValue]) -> None:
    """Before any change: PostgreSQL reads its password file only when its volume is first
    initialised, so a new hardstack:dbSuperuserPassword alone would lock db-setup out. (The roles'
    passwords are set by db-setup on each run: a new dbPassword, dbOwnerPassword, ... just deploys.)"""
    if "hardstack:dbSuperuserPassword" not in config:
        return  # the program names the missing key
    outputs = stack.outputs()  # one `pulumi stack output` call
    deployed = outputs.get("dbSuperuserPassword")
    if deployed is None or deployed.value == config["hardstack:dbSuperuserPassword"].value:
        return
    containers = outputs.get("containers")
    db = containers.value.get("db", "<db container>") if containers else "<db container>"
    raise DeployError(
        "hardstack:dbSuperuserPassword differs from the deployed one; nothing was changed. PostgreSQL keeps\n"
        "the superuser password it was initialised with, so change it first (it prompts; the password stays\n"
        "out of argv and shell history), then deploy the new secret:\n"
        f"  docker exec -it {db} sh -c 'psql -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -c \"\\\\password $POSTGRES_USER\"'\n"
        "  hardstack deploy up --superuser-password-changed\n"
        "Only db-setup logs in as the superuser: the app keeps serving meanwhile.")


def _pids_limit_of(service: str) -> int | None:
    """The service's pids limit as the engine holds it now (None: no limit, or no such service)."""
    from hardstack import engine

    try:
        spec = engine.api().inspect_service(service)["Spec"]
    except engine.NotFound:
        return None
    return ((spec.get("TaskTemplate") or {}).get("Resources") or {}).get("Limits", {}).get("Pids") or None


def _limit_service_pids(service: str, limit: int, detach: bool) -> str | None:
    """`docker service update --limit-pids`; what failed, or None. A job runs once more with its limit,
    detached: waiting would see its finished task as a failure. A service that has the limit already (the up
    did not create or update it) is left alone: the update would change nothing, and the CLI still waited 5 s for
    its tasks to prove stable."""
    if _pids_limit_of(service) == int(limit):
        return None
    wait = "--detach" if detach else "--quiet"
    proc = subprocess.run(["docker", "service", "update", wait, "--limit-pids", str(int(limit)), service], capture_output=True, text=True)
    return None if proc.returncode == 0 else f"docker service update --limit-pids {limit} {service}: {proc.stderr.strip()}"


def apply_pids_limits(outputs: dict, on_output: Callable[[str], None]) -> None:
    """kreuzwerker's docker_container and docker_service have no pids limit: set the layout's on every
    running container, or on every swarm service (a service whose limit changes rolls, health-gated)."""
    limits = outputs["pidsLimits"].value if "pidsLimits" in outputs else {}
    if "services" in outputs:
        names = outputs["services"].value
        jobs = outputs["jobs"].value if "jobs" in outputs else []
        wanted = {names[service]: limit for service, limit in limits.items() if service in names}
        detached = {names[service] for service in jobs if service in names}
        # Each update rolls its service health-gated, and services roll independently: all at once.
        with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
            failures = [f for f in pool.map(_limit_service_pids, wanted, wanted.values(), [n in detached for n in wanted]) if f]
        if failures:
            raise DeployError("; ".join(failures))
        on_output(f"pids limits set on {len(wanted)} swarm services\n")
        return
    names = outputs["containers"].value if "containers" in outputs else {}
    for service, limit in limits.items():
        if service in names:
            proc = subprocess.run(["docker", "update", "--pids-limit", str(int(limit)), names[service]],
                                  capture_output=True, text=True)
            if proc.returncode != 0 and "No such container" not in proc.stderr:
                raise DeployError(f"docker update --pids-limit {limit} {names[service]}: {proc.stderr.strip()}")
    on_output(f"pids limits set on {len(limits)} containers\n")


def preview(stack: auto.Stack, on_output: Callable[[str], None] = print) -> auto.PreviewResult:
    return stack.preview(on_output=on_output, color="never", diff=False)


def destroy(stack: auto.Stack, on_output: Callable[[str], None] = print) -> auto.DestroyResult:
    return stack.destroy(on_output=on_output, color="never")


def stack_leftovers(stack: str) -> dict[str, list[str]]:
    """Containers, networks and volumes labelled for this stack (`<compose project>-<stack>`)."""
    from hardstack.deploy.plan import LABEL

    from hardstack import engine

    return {kind: engine.ids(kind, f"{LABEL}={stack}") for kind in ("containers", "networks", "volumes")}
