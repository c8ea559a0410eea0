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
