"""Probes the tests and benchmarks use against a running stack: one HTTP request, and a loop of them
in a thread that counts what did not answer 200 while a change runs. Not part of the installed package."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)


def http(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None, timeout: float = 10) -> Response:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read(), time.monotonic() - start)
    except urllib.error.HTTPError as err:
        return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read(), time.monotonic() - start)


class RequestLoop:
    """GET `url` every `interval` seconds in a thread while a change runs; counts what did not answer 200.

        with RequestLoop(url) as loop:
            deploy()
        assert loop.failed == 0, loop.failures
    """

    def __init__(self, url: str, interval: float = 0.08, timeout: float = 10, headers: dict | None = None, fetch=None):
        """fetch: a callable returning the status instead of GET url (an HTTPS request with SNI, testkit/tls.py)."""
        import threading

        self.url, self.interval, self.timeout, self.headers, self.fetch = url, interval, timeout, headers, fetch
        self.total, self.failures = 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status = self.fetch() if self.fetch else http(self.url, timeout=self.timeout, headers=self.headers).status
            except OSError as err:
                status = f"{type(err).__name__}: {err}"
            self.total += 1
            if status != 200:
                self.failures.append((round(started, 2), status))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def __enter__(self) -> "RequestLoop":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(self.timeout + 5)
