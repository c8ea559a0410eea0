"""Run the deploy program through the Automation API: `hardstack deploy up|preview|destroy`.

The program runs inline (in this process), so the CLI needs no Python language host; the
dynamic providers are served by the small plugin script beside this module.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Callable

from pulumi import automation as auto

from hardstack.deploy.program import program

from hardstack.resources import pulumi_project

PULUMI_PROJECT = pulumi_project()
PLUGINS = Path(__file__).resolve().parent / "plugins"
TOOLCHAIN_BIN = Path(os.environ.get("HARDSTACK_CACHE", Path.home() / ".cache" / "hardstack")) / "pulumi" / "bin"


class DeployError(RuntimeError):
    pass


def pulumi_env() -> dict[str, str]:
    path = os.pathsep.join([str(PLUGINS), str(Path(sys.executable).parent), str(TOOLCHAIN_BIN), os.environ.get("PATH", "")])
    return {
        "PATH": path,
        "HARDSTACK_PYTHON": sys.executable,
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }


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


def up(stack: auto.Stack, on_output: Callable[[str], None] = print) -> auto.UpResult:
    return stack.up(on_output=on_output, color="never")


def preview(stack: auto.Stack, on_output: Callable[[str], None] = print) -> auto.PreviewResult:
    return stack.preview(on_output=on_output, color="never", diff=False)


def destroy(stack: auto.Stack, on_output: Callable[[str], None] = print) -> auto.DestroyResult:
    return stack.destroy(on_output=on_output, color="never")
