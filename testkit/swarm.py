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
            subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True)
