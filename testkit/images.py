"""What a built image holds, asked by running it."""

from __future__ import annotations

import json
import subprocess

# For each folder the backend image's Python lives in: how many modules, and those with no bytecode beside them.
_UNCOMPILED = """
import importlib.util, json, pathlib
found = {}
for root in ("/opt/venv/lib", "/app", "/opt/hardstack"):
    files = [str(p) for p in pathlib.Path(root).rglob("*.py")]
    found[root] = {"modules": len(files),
                   "uncompiled": [f for f in files if not pathlib.Path(importlib.util.cache_from_source(f)).exists()]}
print(json.dumps(found))
"""


def uncompiled_modules(image: str) -> dict[str, list[str]]:
    """folder -> the modules of a backend image that have no bytecode (only folders with some), asserting that each
    folder holds modules at all (a path that moved would otherwise pass)."""
    out = subprocess.run(["docker", "run", "--rm", "--entrypoint", "python", image, "-c", _UNCOMPILED],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert all(f["modules"] for f in found.values()), found
    return {root: f["uncompiled"] for root, f in found.items() if f["uncompiled"]}


def connections_before_exit(image: str, environment: dict[str, str], port: int, limit: float = 120) -> dict:
    """Run a backend image on the default bridge and try to connect to `port` every 20 ms until the container exits:
    how many connections were accepted (a listening socket completes the handshake even when nothing ever accepts),
    of how many tries, its exit code and its logs. For a release whose app does not import, any accepted connection
    is a request the proxy sent there and waits on."""
    import socket
    import time

    from hardstack import engine

    api = engine.api()
    container = api.create_container(image, environment=environment)["Id"]
    accepted = tries = 0
    try:
        api.start(container)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            state = engine.inspect(container)
            if state["State"]["Status"] not in ("created", "running"):
                break
            if address := state["NetworkSettings"]["IPAddress"]:
                tries += 1
                try:
                    socket.create_connection((address, port), timeout=0.2).close()
                    accepted += 1
                except OSError:
                    pass
            time.sleep(0.02)
        else:
            raise AssertionError(f"{image} still runs after {limit:.0f}s: {api.logs(container).decode()[-2000:]}")
        return {"accepted": accepted, "tries": tries, "exit_code": api.wait(container)["StatusCode"],
                "logs": api.logs(container).decode(errors="replace")}
    finally:
        engine.remove("containers", container)
