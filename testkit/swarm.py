"""This machine's engine in a swarm for a test or a benchmark."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from typing import Iterator

from hardstack.runtime.swarm import init_single_node, swarm_state


@contextmanager
def one_node_swarm() -> Iterator[None]:
    """The engine in a swarm: made a one-node swarm (advertised on 127.0.0.1) if it is in none, and left again
    afterwards; a swarm it was already in is left as it was."""
    joined = swarm_state() == "inactive"
    if joined:
        init_single_node()
    try:
        yield
    finally:
        if joined:
            leave()


def leave() -> None:
    subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True)


def hold_for_run():
    """The engine in a one-node swarm for a whole parallel test run (tests/conftest.py), so no swarm module makes
    or leaves one while compose stacks run beside it: on Docker 20.10, `swarm leave` breaks the embedded DNS of
    the bridge networks already up (moby/moby#45144: every compose stack then fails to resolve `db`). Returns
    what leaves it again, or None when the engine was in a swarm already or does not answer (the tests that need
    it say so)."""
    try:
        if swarm_state() != "inactive":
            return None
        init_single_node()
    except Exception:  # noqa: BLE001 - no engine: nothing to hold
        return None
    return leave
