"""Running a generated layout on a real Docker engine with Compose v2.

Used by `hardstack up`, the stack tests and the benchmarks: one place that knows how to point a
layout at the stand-in images, bring it up, inspect it and tear it down.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STANDINS_SCRIPT = ROOT / "scripts" / "stand-in-images"


class StackError(RuntimeError):
    pass


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def standin_env(env_file: Path) -> dict[str, str]:
    """Build (or reuse) the stand-in images and return the variables that point a layout at them."""
    proc = subprocess.run([str(STANDINS_SCRIPT), str(env_file)], text=True, stdout=subprocess.PIPE)
    if proc.returncode != 0:
        raise StackError(f"scripts/stand-in-images failed (exit {proc.returncode}); see its output above")
    return read_env_file(env_file)


def registry_reachable(image: str, timeout: int = 20) -> bool:
    """Can the engine pull the layout's default images? (No registry is reachable on CI machines.)"""
    try:
        proc = subprocess.run(["docker", "pull", "-q", image], capture_output=True, timeout=timeout)
        return proc.returncode == 0
    except subprocess.TimeoutExpired:
        return False


@dataclass
class Stack:
    layout: Path
    project: str
    env: dict[str, str] = field(default_factory=dict)

    def compose(self, *args: str, check: bool = True, timeout: int = 1800, capture: bool = True) -> subprocess.CompletedProcess:
        cmd = ["docker", "compose", "-p", self.project, *args]
        proc = subprocess.run(cmd, cwd=self.layout, env={**os.environ, **self.env}, text=True,
                              capture_output=capture, timeout=timeout)
        if check and proc.returncode != 0:
            raise StackError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{(proc.stdout or '')[-3000:]}\n{(proc.stderr or '')[-3000:]}")
        return proc

    def build(self) -> float:
        start = time.monotonic()
        self.compose("build", capture=False)
        return time.monotonic() - start

    def up(self, timeout: int = 300) -> float:
        """`docker compose up -d --wait`; returns seconds until every service was healthy."""
        start = time.monotonic()
        self.compose("up", "-d", "--wait", "--wait-timeout", str(timeout), capture=False)
        return time.monotonic() - start

    def down(self) -> None:
        self.compose("--profile", "manual", "down", "-v", "--remove-orphans", "--timeout", "10", check=False)

    def containers(self, all_: bool = False) -> list[dict]:
        out = self.compose("ps", "--format", "json", *(["-a"] if all_ else [])).stdout.strip()
        if not out:
            return []
        # Compose prints one JSON object per line (2.21+) or a JSON array (older).
        return json.loads(out) if out.startswith("[") else [json.loads(line) for line in out.splitlines()]

    def container_id(self, service: str) -> str:
        return self.compose("ps", "-q", service).stdout.strip()

    def inspect(self, ref: str) -> dict:
        return json.loads(subprocess.run(["docker", "inspect", ref], capture_output=True, text=True, check=True).stdout)[0]

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
        label = f"label=com.docker.compose.project={self.project}"
        found = {}
        for kind, cmd in (("containers", ["docker", "ps", "-aq", "--filter", label]),
                          ("networks", ["docker", "network", "ls", "-q", "--filter", label]),
                          ("volumes", ["docker", "volume", "ls", "-q", "--filter", label])):
            found[kind] = subprocess.run(cmd, capture_output=True, text=True).stdout.split()
        return found


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)


def http(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None, timeout: float = 10) -> Response:
    req = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read(), time.monotonic() - start)
    except urllib.error.HTTPError as err:
        return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read(), time.monotonic() - start)
