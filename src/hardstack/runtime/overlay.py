"""Proving that an encrypted overlay network carries traffic between two swarm nodes, before a deploy.

Encrypted overlays (stack.yaml's `driver_opts: {encrypted: "true"}`) send traffic between nodes as IPsec ESP
(IP protocol 50). Where the kernel lacks ESP or a firewall drops protocol 50, nothing fails at deploy time:
dockerd logs a warning and requests between nodes just hang. So `hardstack up --swarm` and the Pulumi swarm
target first run a probe: a server task on one node and a client task on another, on a fresh encrypted overlay;
the client must get an HTTP answer within PROBE_SECONDS. One node needs no probe (nothing crosses a network).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from hardstack import engine
from hardstack.runtime.swarm import docker

PROBE_SECONDS = 20  # how long the client keeps trying once both tasks run
PROBE_PORT = 8080
LABEL = "hardstack.probe"
# The client's whole program: an HTTP GET of the server by its service name, retried until a deadline.
CLIENT = f"""
import sys, time, urllib.request
deadline = time.time() + {PROBE_SECONDS}
while True:
    try:
        urllib.request.urlopen("http://%s:{PROBE_PORT}/", timeout=3).read()
        print("probe: answered"); sys.exit(0)
    except Exception as err:
        if time.time() > deadline:
            print("probe: no answer:", err); sys.exit(1)
        time.sleep(1)
"""


@dataclass
class ProbeResult:
    ok: bool
    detail: str
    nodes: tuple[str, str] | None = None


def ready_nodes() -> list[dict]:
    return [n for n in engine.api().nodes()
            if n["Status"].get("State") == "ready" and n["Spec"].get("Availability") == "active"]


def probe_encrypted_overlay(image: str, timeout: float = 180, encrypted: bool = True) -> ProbeResult | None:
    """None on a one-node swarm; else whether an encrypted overlay carried a request from one node to another.
    `image` must hold python3 and be pullable on every node (the layout's Python base image). encrypted=False
    probes a plain overlay (the tests: the probe passes where traffic flows)."""
    nodes = ready_nodes()
    if len(nodes) < 2:
        return None
    # The server on this node when it is one of them, the client on another.
    this = engine.api().info()["Swarm"].get("NodeID")
    nodes.sort(key=lambda n: n["ID"] != this)
    server_node, client_node = nodes[0], nodes[1]
    names = tuple(n["Description"]["Hostname"] for n in (server_node, client_node))
    tag = secrets.token_hex(3)
    net, server, client = f"hardstack-probe-{tag}", f"hardstack-probe-{tag}-server", f"hardstack-probe-{tag}-client"
    common = ["--detach", "--quiet", "--with-registry-auth", "--label", f"{LABEL}={tag}", "--network", net,
              "--restart-condition", "none", "--entrypoint", "python3",
              # python as PID 1 ignores SIGTERM; it ends on SIGINT (KeyboardInterrupt) at once.
              "--stop-signal", "SIGINT", "--stop-grace-period", "2s"]
    kind = "an encrypted" if encrypted else "a plain"
    try:
        docker("network", "create", "--driver", "overlay", *(["--opt", "encrypted"] if encrypted else []),
               "--label", f"{LABEL}={tag}", net)
        docker("service", "create", *common, "--name", server, "--endpoint-mode", "dnsrr",
               "--constraint", f"node.id=={server_node['ID']}", image, "-m", "http.server", str(PROBE_PORT))
        if (why := wait_running(server, timeout)) is not None:
            return ProbeResult(False, f"the probe's server task did not start on {names[0]}: {why}", names)
        docker("service", "create", *common, "--name", client, "--constraint", f"node.id=={client_node['ID']}",
               image, "-c", CLIENT % server)
        state, why = wait_done(client, timeout)
        if state == "complete":
            return ProbeResult(True, f"{kind} overlay carried a request from {names[1]} to {names[0]}", names)
        if state == "failed" and "exit (1)" in why:
            return ProbeResult(False, f"a request from {names[1]} to {names[0]} over {kind} overlay got no answer "
                                      f"in {PROBE_SECONDS}s", names)
        return ProbeResult(False, f"the probe's client task on {names[1]} did not finish: {state} {why}", names)
    finally:
        for service in (client, server):
            docker("service", "rm", service, check=False)
        remove_network(net)


def task_states(service: str) -> list[tuple[str, str]]:
    tasks = engine.api().tasks(filters={"service": service})
    return [(t["Status"].get("State", ""), t["Status"].get("Err") or t["Status"].get("Message", "")) for t in tasks]


def wait_running(service: str, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    last = ("", "")
    while time.monotonic() < deadline:
        for state, why in task_states(service):
            last = (state, why)
            if state == "running":
                return None
            if state in ("failed", "rejected", "shutdown", "complete"):
                return f"{state}: {why}"
        time.sleep(1)
    return f"still {last[0] or 'pending'} after {timeout:.0f}s ({last[1] or 'no task yet'})"


def wait_done(service: str, timeout: float) -> tuple[str, str]:
    deadline = time.monotonic() + timeout + PROBE_SECONDS
    last = ("pending", "")
    while time.monotonic() < deadline:
        for state, why in task_states(service):
            last = (state, why)
            if state in ("complete", "failed", "rejected", "shutdown"):
                return state, why
        time.sleep(1)
    return last[0], f"(after {timeout + PROBE_SECONDS:.0f}s) {last[1]}"


def remove_network(net: str) -> None:
    """An overlay stays in use for a few seconds after its tasks are gone."""
    for _ in range(30):
        proc = docker("network", "rm", net, check=False)
        if proc.returncode == 0 or "not found" in proc.stderr:
            return
        time.sleep(1)


def encryption_problem(result: ProbeResult, image: str) -> list[str]:
    """What `hardstack up --swarm` and `hardstack deploy` say when the probe failed: the cause and both ways out."""
    server, client = result.nodes or ("one node", "another")
    return [
        f"encrypted overlay networks do not carry traffic between the swarm's nodes: {result.detail}",
        "stack.yaml's networks are encrypted (IPsec ESP, IP protocol 50); the kernel of a node lacks ESP "
        "(dockerd logs 'Failed Adding ... Proto: esp ...: function not implemented') or a firewall between "
        f"{server} and {client} drops protocol 50. Deployed like this, services on different nodes could not reach "
        "each other and no error would say so.",
        "way out 1: allow ESP between the nodes (a kernel with xfrm/esp4, and IP protocol 50 open in the firewalls "
        "or cloud security groups), then run again",
        "way out 2: on a network you trust (a private VLAN, or a VPN such as WireGuard between the nodes), answer "
        "swarm_overlay_encryption=false (re-render with it: hardstack new --overwrite --config-file <your answers> "
        "swarm_overlay_encryption=false): traffic between nodes then travels in clear, and `hardstack check` reports it (W4)",
        f"(probe image: {image})",
    ]
