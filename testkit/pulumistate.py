"""A Pulumi stack of a private copy of hardstack's project, its state in a file backend of its own (tests and benchmarks)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PASSPHRASE = "hardstack-test-passphrase"


def pulumi_stack(root: Path, name: str, passphrase: str = PASSPHRASE):
    """(stack, state folder, project folder) under root; the process's env points Pulumi at that state."""
    from hardstack.deploy import run

    state = root / "state"
    state.mkdir()
    project = root / "project"
    shutil.copytree(run.PULUMI_PROJECT, project, ignore=shutil.ignore_patterns("Pulumi.*.yaml", "__pycache__"))
    env = {"PULUMI_BACKEND_URL": f"file://{state}", "PULUMI_CONFIG_PASSPHRASE": passphrase}
    os.environ.update(env)
    return run.select(name, work_dir=project, env=env), state, project
