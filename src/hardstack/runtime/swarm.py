"""Running a generated layout's stack.yaml on Docker Swarm.

Used by `hardstack up --swarm`, the swarm tests and the benchmark: deploy, wait until every
service has converged healthy, scale, roll, and remove leaving only the protected volumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from hardstack import engine
from hardstack.catalog import JOB_FAILURES, PROTECTED_VOLUMES
from hardstack.runtime.compose import StackError

# Swarm never removes volumes; `remove` drops every other volume of the stack and keeps these.
# The database, its dumps and the broker's queued tasks outlive a `stack rm`.


def docker(*args: str, check: bool = True, env: dict | None = None, cwd: Path | None = None,
           timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    if check and proc.returncode != 0:
        raise StackError(f"docker {' '.join(args)} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-2000:]}")
    return proc


def swarm_state() -> str:
    """inactive, active, pending, error or locked (`docker info`); active with a manager role to deploy."""
    info = engine.api().info().get("Swarm") or {}
    state = info.get("LocalNodeState") or "inactive"
    # ControlAvailable is false on an inactive node too: only an active node without it is a worker.
    return "worker" if state == "active" and not info.get("ControlAvailable") else state


def init_single_node() -> None:
    """A one-node swarm on this machine, advertised on loopback (nothing listens outside)."""
    docker("swarm", "init", "--advertise-addr", "127.0.0.1")


def node_names() -> list[str]:
    """The swarm's nodes by hostname (run on a manager)."""
    return sorted(n["Description"]["Hostname"] for n in engine.api().nodes())


def node_labels(node: str) -> dict[str, str]:
    return engine.api().inspect_node(node)["Spec"].get("Labels") or {}


def label_db_node(label: str) -> str:
    """Place the database: the node that already carries the label, else this one when it is the only node."""
    nodes = [n["ID"] for n in engine.api().nodes()]
    labelled = [n for n in nodes if node_labels(n).get(label) == "true"]
    if labelled:
        return labelled[0]
    if len(nodes) != 1:
        raise StackError(f"no node carries the label {label}=true, and this swarm has {len(nodes)} nodes: choose the node that "
                         f"holds the database volume and run `docker node update --label-add {label}=true <node>`")
    docker("node", "update", "--label-add", f"{label}=true", nodes[0])
    return nodes[0]


def task_state(task: dict) -> str:
    """new, pending, ..., running, complete, failed, rejected, shutdown (the API's words, lower case)."""
    return (task.get("Status") or {}).get("State", "")


def current_tasks(service: dict, tasks: list[dict]) -> list[dict]:
    """The tasks made from the service's current spec: a task carries a copy of the spec it was made from, so a
    release's tasks are never taken for the last one's (the same image under a new env, secret or limit included).
    A field the engine reports on one side only (the service's Runtime: "container") is no difference."""
    spec = service["Spec"]["TaskTemplate"]

    def same(task_spec: dict) -> bool:
        return "ContainerSpec" in task_spec and all(task_spec[k] == spec[k] for k in task_spec.keys() & spec.keys())

    return [t for t in tasks if same(t.get("Spec") or {})]


def job_result(tasks: list[dict]) -> tuple[bool, list[dict]]:
    """Of a job's tasks of one spec: whether one completed, and those that failed or were rejected. Swarm jobs
    (`hardstack up --swarm`) and the Pulumi swarm target's run-once services (deploy/watch.wait_for_job) alike."""
    return (any(task_state(t) == "complete" for t in tasks),
            [t for t in tasks if task_state(t) in ("failed", "rejected")])


def service_logs(service_id: str, lines: int = 15) -> str:
    """A swarm service's last log lines, indented for a report."""
    try:
        raw = b"".join(engine.api().service_logs(service_id, stdout=True, stderr=True, tail=lines))
    except Exception as exc:  # noqa: BLE001 - a report is still worth printing without them
        return f"    (its logs could not be read: {exc})"
    said = raw.decode(errors="replace").rstrip().splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in said) or "    (no output)"


def content_version(layout: Path, files: list[str]) -> str:
    """A short hash of the files' contents: a new value makes swarm create new (immutable) secrets or configs."""
    digest = hashlib.sha256()
    for name in sorted(files):
        path = layout / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    return digest.hexdigest()[:10]


@dataclass
class SwarmStack:
    layout: Path
    name: str
    env: dict[str, str] = field(default_factory=dict)
    stack_file: str = "stack.yaml"

    @property
    def environ(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def versions(self, answers) -> dict[str, str]:
        """SECRETS_VERSION and CONFIG_VERSION from the files they are made of."""
        secrets = [f"secrets/{name}" for name in answers.secrets]
        configs = [c["file"] for c in answers.swarm_configs.values()]
        return {"SECRETS_VERSION": content_version(self.layout, secrets), "CONFIG_VERSION": content_version(self.layout, configs)}

    def deploy(self, echo=None, timeout: int = 600) -> float:
        """`docker stack deploy`, then wait until every service has converged; seconds taken."""
        start = time.monotonic()
        # --with-registry-auth: every node pulls with this client's login (a private registry, several nodes).
        proc = docker("stack", "deploy", "--detach=true", "--prune", "--with-registry-auth", "-c", self.stack_file, self.name,
                      env=self.environ, cwd=self.layout, check=False)
        if proc.returncode != 0:
            raise StackError(f"docker stack deploy failed: {(proc.stderr or proc.stdout).strip()[-2000:]}")
        self.wait_converged(timeout, echo=echo)
        return time.monotonic() - start

    def services(self) -> dict[str, dict]:
        """Short service name -> `docker service inspect` of it."""
        found = engine.api().services(filters={"label": f"com.docker.stack.namespace={self.name}"})
        return {s["Spec"]["Name"].removeprefix(f"{self.name}_"): s for s in found}

    def tasks(self, service: str, running_only: bool = True) -> list[dict]:
        """The service's tasks as the engine's API has them (Status.State: running, complete, failed ...)."""
        filters = {"service": f"{self.name}_{service}"}
        if running_only:
            filters["desired-state"] = "running"
        return engine.api().tasks(filters=filters)

    def containers(self, service: str) -> list[dict]:
        """`docker inspect` of the running containers of a service (on this node)."""
        running = engine.ids("containers", f"com.docker.swarm.service.name={self.name}_{service}", all_=False)
        return [c for c in map(engine.inspect, running) if c]

    def healthy(self, service: str) -> int:
        """Running tasks of the service's current spec. A task with a healthcheck is reported running only once it is
        healthy (swarm's executor waits for it), so these are the healthy ones, on any node."""
        current = current_tasks(self.services()[service], self.tasks(service))
        return sum(1 for t in current if task_state(t) == "running")

    def lagging(self) -> list[str]:
        """One line per service not yet where it should be: its replicas running healthy on the current
        spec, its job completed on it, no update or rollback under way."""
        lines = []
        for short, svc in self.services().items():
            mode = svc["Spec"]["Mode"]
            tasks = current_tasks(svc, self.tasks(short, running_only=False))
            if "ReplicatedJob" in mode:
                if not job_result(tasks)[0]:
                    lines.append(f"{short}: job not completed yet")
                continue
            want = mode.get("Replicated", {}).get("Replicas", 1)
            have = sum(1 for t in tasks if t["DesiredState"] == "running" and task_state(t) == "running")
            update = (svc.get("UpdateStatus") or {}).get("State", "")
            if have != want:
                lines.append(f"{short}: {have}/{want} healthy")
            elif update in ("updating", "rollback_started"):
                lines.append(f"{short}: {update}")
        return lines

    def failed_job(self) -> str | None:
        """A job whose current spec failed JOB_FAILURES times: its name and last log lines (swarm would go on
        retrying it up to its max_attempts, and the wait would last its full timeout)."""
        for short, svc in self.services().items():
            if "ReplicatedJob" not in svc["Spec"]["Mode"]:
                continue
            completed, failed = job_result(current_tasks(svc, self.tasks(short, running_only=False)))
            if not completed and len(failed) >= JOB_FAILURES:
                last = [line.strip() for line in service_logs(svc["ID"]).splitlines()][-4:]
                return f"{short}: the job failed {JOB_FAILURES} times; last log lines: " + " | ".join(last)
        return None

    def wait_converged(self, timeout: float = 600, echo=None) -> float:
        start, last = time.monotonic(), None
        while True:
            failed = self.failed_job()
            if failed:
                raise StackError(failed)
            lagging = self.lagging()
            if not lagging:
                return time.monotonic() - start
            if echo and lagging != last:
                echo(f"[{time.monotonic() - start:4.0f}s] waiting: " + "; ".join(lagging))
                last = lagging
            if time.monotonic() - start > timeout:
                raise StackError(f"not converged after {timeout:.0f}s: " + "; ".join(lagging) + self.task_errors())
            time.sleep(1)

    def task_errors(self) -> str:
        errors = []
        for short in self.services():
            for t in self.tasks(short, running_only=False)[:3]:
                if (t.get("Status") or {}).get("Err"):
                    errors.append(f"{short}: {t['Status']['Err']}")
        return ("; task errors: " + "; ".join(errors)) if errors else ""

    def update_state(self, service: str) -> str:
        return (self.services()[service].get("UpdateStatus") or {}).get("State", "")

    def scale(self, service: str, replicas: int) -> None:
        docker("service", "scale", "--detach", f"{self.name}_{service}={replicas}")

    def roll(self, service: str, image: str) -> None:
        """Start a rolling update of one service to `image` (returns at once; see wait_update)."""
        docker("service", "update", "--detach", "--image", image, f"{self.name}_{service}")

    def wait_update(self, service: str, timeout: float = 300) -> str:
        """Wait until the service's update (or rollback) has finished; its final state."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            state = self.update_state(service)
            if state in ("completed", "rollback_completed", "paused", "rollback_paused"):
                return state
            time.sleep(1)
        raise StackError(f"{service}: update still {self.update_state(service)!r} after {timeout:.0f}s")

    def volumes(self) -> list[str]:
        return engine.ids("volumes", f"com.docker.stack.namespace={self.name}")

    def remove(self, keep_data: bool = True, timeout: float = 120) -> list[str]:
        """`docker stack rm`, wait until its tasks and networks are gone, then remove every volume but
        the protected ones (all of them with keep_data=False). Returns the volumes left."""
        docker("stack", "rm", self.name, check=False)
        start = time.monotonic()
        label = f"com.docker.stack.namespace={self.name}"
        while time.monotonic() - start < timeout:
            if not (engine.ids("containers", label, all_=False) or engine.ids("networks", label)):
                break
            time.sleep(1)
        # A completed job's containers outlive `docker stack rm` (Engine 20.10): they are this stack's too.
        for container in engine.ids("containers", label):
            engine.remove("containers", container)
        protected = {f"{self.name}_{v}" for v in PROTECTED_VOLUMES} if keep_data else set()
        # The engine refuses a volume while a removed task's container still holds it; swarm removes those a moment
        # later (a suite run left one db-data volume of a removed stack behind without this).
        deadline = time.monotonic() + 15
        while (doomed := [v for v in self.volumes() if v not in protected]) and time.monotonic() < deadline:
            if not all([engine.remove("volumes", volume) for volume in doomed]):
                time.sleep(1)
        return self.volumes()


# ---- reaching a stack on loopback only (tests, benchmarks) -------------------------------------
# The proxy publishes in host mode on every interface (swarm has no bind address). A copy of
# stack.yaml without those ports, with the edge network attachable, and a forwarder container
# published on 127.0.0.1 reach it the way a host's load balancer would, without listening outside.
