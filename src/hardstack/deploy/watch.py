"""A release whose process exits at start, reported within seconds instead of after hardstack:waitTimeout.

pulumi-docker (kreuzwerker's docker_container) waits for a new container to be healthy by inspecting it every second
until waitTimeout (300 s by default), whether or not its process is still alive. While `hardstack deploy up` runs
Pulumi (compose target), this watch looks at the containers the update creates: a long-running one that has exited,
or been restarted twice, before it was ever healthy is a crash. Its last log lines are kept, then it is removed; the
provider's next inspect fails at once, so `up` ends within seconds, and the old container, never touched, serves on.
A plain `pulumi up` has no watch and waits the full waitTimeout.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from hardstack import engine

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


class CrashWatch:
    def __init__(self, label: str, value: str, poll: float = 2.0):
        self.filters = {"label": f"{label}={value}"}
        self.poll = poll
        self.crashes: list[Crash] = []
        self._since = time.time()
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crash-watch", daemon=True)

    def __enter__(self) -> "CrashWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def report(self) -> str:
        return "a new container crashed at start:\n" + "\n".join(c.describe() for c in self.crashes)

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self._look()
            except Exception:  # noqa: BLE001 - an engine hiccup must not break the deploy: the provider's timeout still holds
                continue

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
