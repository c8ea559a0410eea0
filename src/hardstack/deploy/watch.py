"""A release whose process exits at start, reported within seconds instead of after hardstack:waitTimeout.

pulumi-docker (kreuzwerker's docker_container) waits for a new container to be healthy by inspecting it every second
until waitTimeout (300 s by default), whether or not its process is still alive. While `hardstack deploy up` runs
Pulumi (compose target), this watch looks at the containers the update creates: a long-running one that has exited,
or been restarted twice, before it was ever healthy is a crash. Its last log lines are kept, then it is removed; the
provider's next inspect fails at once, so `up` ends within seconds, and the old container, never touched, serves on.
A plain `pulumi up` has no watch and waits the full waitTimeout.

On the swarm target the engine restarts a failing task itself, as a new task; the provider waits for the service to
converge until waitTimeout and then says only "context deadline exceeded". TaskWatch keeps the failed and rejected
tasks of the stack's services (node, the engine's error) so that a failed `up` names them, with each service's last
log lines.

A swarm job (migrate, db-setup) is a replicated service restarted on failure: the provider has no job mode and does not
wait for it. wait_for_job blocks until its current spec has a completed task, as compose's
service_completed_successfully does, so what needs it is created or rolled only after it succeeded.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from hardstack import engine
from hardstack.catalog import JOB_FAILURES
from hardstack.runtime.swarm import current_tasks, job_result, service_logs, task_state

RESTARTS = 2  # a process that exits twice in a row at start is not going to get healthy
LOG_LINES = 15
ERROR_LINE = re.compile(r"^\s*[\w.]*(Error|Exception|Exit)\w*: ")


@dataclass
class Crash:
    name: str
    exit_code: int
    restarts: int
    seconds: float
    logs: str

    def describe(self) -> str:
        logged = self.logs.rstrip().splitlines()
        lines = "\n".join(f"    {line}" for line in logged[-LOG_LINES:]) or "    (no output)"
        # A server's own shutdown traceback (gunicorn's HaltServer) often ends the log: name the app's error too.
        errors = [line.strip() for line in logged if ERROR_LINE.match(line) and "HaltServer" not in line]
        said = f" The error it printed: {errors[-1]}" if errors else ""
        return (f"{self.name} exited with code {self.exit_code} ({self.restarts} restarts) {self.seconds:.0f}s after it was created, "
                f"before it was ever healthy; it was removed, and the container it was to replace keeps serving.{said} "
                f"Its last log lines:\n{lines}")


class _Watch:
    """A daemon thread that calls _look() every `poll` seconds while the `with` block (a `pulumi up`) runs, over the
    resources labelled label=value created since it began."""

    name = "watch"

    def __init__(self, label: str, value: str, poll: float):
        self.filters = {"label": f"{label}={value}"}
        self.poll = poll
        self._since = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self._look()
            except Exception:  # noqa: BLE001 - an engine hiccup must not break the deploy: the provider's timeout still holds
                continue

    def _look(self) -> None:
        raise NotImplementedError


class CrashWatch(_Watch):
    name = "crash-watch"

    def __init__(self, label: str, value: str, poll: float = 2.0):
        super().__init__(label, value, poll)
        self.crashes: list[Crash] = []
        self._seen: set[str] = set()

    def report(self) -> str:
        return "a new container crashed at start:\n" + "\n".join(c.describe() for c in self.crashes)

    def _look(self) -> None:
        api = engine.api()
        for summary in api.containers(all=True, filters=self.filters):
            if summary["Id"] in self._seen or summary["Created"] < self._since - 1:
                continue  # an older container (the one being replaced) is never judged
            info = api.inspect_container(summary["Id"])
            state = info["State"]
            long_running = (info["HostConfig"].get("RestartPolicy") or {}).get("Name") not in (None, "", "no")
            if not long_running or not info["Config"].get("Healthcheck") or (state.get("Health") or {}).get("Status") == "healthy":
                continue
            if state.get("Status") in ("exited", "dead") or info.get("RestartCount", 0) >= RESTARTS:
                self._seen.add(summary["Id"])
                logs = api.logs(summary["Id"], tail=300, stdout=True, stderr=True).decode(errors="replace")
                created = summary["Created"]
                self.crashes.append(Crash(info["Name"].lstrip("/"), state.get("ExitCode", 0), info.get("RestartCount", 0),
                                          time.time() - created, logs))
                engine.remove("containers", summary["Id"])


@dataclass
class FailedTask:
    service: str
    node: str
    state: str
    error: str


class TaskWatch(_Watch):
    """The stack's swarm tasks that failed, were rejected or wait on an error while `up` runs (see the module's doc)."""

    name = "task-watch"

    def __init__(self, label: str, value: str, poll: float = 3.0):
        super().__init__(label, value, poll)
        self.failed: dict[str, FailedTask] = {}
        self._nodes: dict[str, str] = {}
        self._services: dict[str, str] = {}

    def _node(self, api, node_id: str) -> str:
        if node_id and node_id not in self._nodes:
            self._nodes[node_id] = api.inspect_node(node_id)["Description"]["Hostname"]
        return self._nodes.get(node_id, "no node yet")

    def _look(self) -> None:
        api = engine.api()
        for service in api.services(filters=self.filters):
            name = service["Spec"]["Name"]
            self._services[name] = service["ID"]
            for task in api.tasks(filters={"service": service["ID"]}):
                status = task.get("Status") or {}
                state, error = status.get("State", ""), status.get("Err", "")
                waiting = task.get("DesiredState") == "running" and state in ("pending", "assigned", "preparing") and error
                if (state in ("failed", "rejected") or waiting) and created_at(task) >= self._since - 1:
                    self.failed[task["ID"]] = FailedTask(name, self._node(api, task.get("NodeID", "")), state, error)

    def report(self) -> str:
        """Per service: how many tasks failed, on which nodes, the last error, and its last log lines."""
        if not self.failed:
            return ""
        by_service: dict[str, list[FailedTask]] = {}
        for task in self.failed.values():
            by_service.setdefault(task.service, []).append(task)
        parts = []
        for service, tasks in sorted(by_service.items()):
            nodes = ", ".join(sorted({t.node for t in tasks}))
            parts.append(f"{service}: {len(tasks)} task(s) {tasks[-1].state} on {nodes}; the engine said: {tasks[-1].error}\n"
                         f"{self._logs(service)}")
        return "tasks that failed while the services converged:\n" + "\n".join(parts)

    def _logs(self, service: str) -> str:
        return service_logs(self._services[service], LOG_LINES)


class JobError(Exception):
    pass


def wait_for_job(service_id: str, timeout: float, poll: float = 1.0) -> float:
    """Seconds until the job service's current spec has a completed task. A task carries a copy of the spec it was
    made from, so tasks of an earlier spec (the last release's completed run) are never taken for this one's.
    Raises JobError after JOB_FAILURES failed tasks of this spec, or after `timeout`, naming the job and its logs."""
    api = engine.api()
    started = time.monotonic()
    while True:
        service = api.inspect_service(service_id)
        tasks = current_tasks(service, api.tasks(filters={"service": service_id}))
        completed, failed = job_result(tasks)
        if completed:
            return time.monotonic() - started
        waited = time.monotonic() - started
        if len(failed) >= JOB_FAILURES or waited > timeout:
            why = f"failed {len(failed)} times" if len(failed) >= JOB_FAILURES else f"did not complete within {timeout:.0f}s"
            last = (failed[-1].get("Status") or {}).get("Err", "") if failed else ", ".join(map(task_state, tasks)) or "no task yet"
            raise JobError(f"the job {service['Spec']['Name']} {why} (last: {last}); nothing that needs it was created or rolled. "
                           f"Its last log lines:\n{service_logs(service_id, LOG_LINES)}")
        time.sleep(poll)


def created_at(task: dict) -> float:
    return engine_time(task["CreatedAt"])


def engine_time(stamp: str) -> float:
    """An engine timestamp (RFC 3339 with nanoseconds) as seconds since the epoch."""
    from datetime import datetime

    return datetime.fromisoformat(re.sub(r"\.(\d{6})\d*", r".\1", stamp).replace("Z", "+00:00")).timestamp()
