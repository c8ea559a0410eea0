"""Rows W1-W3: stack.yaml, the Docker Swarm target (`docker stack deploy`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from hardstack import yamlio

from hardstack.catalog import SERVICES
from hardstack.checks import compose, tools
from hardstack.checks.layout import layout_answers
from hardstack.checks.result import NA, PASS, Result, check, warn_unless

STACK = "stack.yaml"
# Keys `docker stack deploy` ignores (with a warning at most): hardening written there does nothing.
IGNORED_BY_SWARM = ("build", "depends_on", "security_opt", "tmpfs", "restart", "container_name", "cgroup_parent",
                    "devices", "external_links", "links", "network_mode", "userns_mode", "mem_limit", "cpus", "pids_limit",
                    "shm_size", "profiles")
# What swarm on Engine 20.10+ cannot set per service, and how the layout still gets it (README.md's table).
GAPS = {
    "no-new-privileges": "no per-service option: set `\"no-new-privileges\": true` in the daemon.json of every node",
    "bind address": "ports publish on every interface of the proxy's node: firewall the port or put a load balancer in front",
    "tmpfs mode": "`docker stack deploy` drops tmpfs.mode: a tmpfs takes its folder's mode from the image",
}


def resolved(layout: Path) -> dict:
    """stack.yaml as `docker stack config` resolves it (anchors merged, ${VAR:-default} applied),
    once per version of the file (W1 and W2 both read it)."""
    stat = (layout / STACK).stat()
    return _resolved(str(layout), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _resolved(layout: str, mtime_ns: int, size: int) -> dict:
    out = tools.run("docker", "stack", "config", "-c", STACK, cwd=Path(layout))
    if not out.ok:
        hint = "; `docker stack config` needs Docker CLI 23 or newer (Debian 12's docker.io ships 20.10)" if "config" in out.out and "Usage" in out.out else ""
        raise ValueError(f"docker stack config: {tools.first_lines(out.out)}{hint}")
    return yamlio.safe_load(out.out)


def _uid(user: str | None) -> int | None:
    head = str(user or "").split(":")[0]
    return int(head) if head.isdigit() else None


def w1_matches_compose(layout: Path) -> Result:
    if not (layout / STACK).exists():
        return Result("W1", NA, "no stack.yaml (re-render with this hardstack to get the swarm target)")
    problems = []
    try:
        stack = resolved(layout)
    except ValueError as err:
        return check("W1", [str(err)])
    wanted = {name for name, svc in compose.services(layout).items() if not svc.get("profiles")}
    have = set(stack.get("services", {}))
    problems += [f"service {name} of compose.yaml is missing from stack.yaml" for name in sorted(wanted - have)]
    problems += [f"service {name} is not in compose.yaml" for name in sorted(have - wanted)]
    # The layout's answers say which networks reach outside (C17 holds compose.yaml to the same).
    answers = layout_answers(layout)
    intended = answers.networks
    outside = ", ".join(n for n, internal in intended.items() if not internal)
    nets = stack.get("networks") or {}
    problems += [f"network {name} is missing" for name in sorted(set(intended) - set(nets))]
    for name, net in nets.items():
        if net.get("driver") != "overlay":
            problems.append(f"network {name}: driver must be overlay")
        encrypted = str((net.get("driver_opts") or {}).get("encrypted")).lower() == "true"
        if answers.swarm_overlay_encryption and not encrypted:
            problems.append(f"network {name}: add driver_opts: {{encrypted: \"true\"}} (traffic between nodes unencrypted)")
        elif encrypted and not answers.swarm_overlay_encryption:
            problems.append(f"network {name}: encrypted although the answer swarm_overlay_encryption is false (re-render the layout)")
        if name not in intended:
            problems.append(f"network {name} is not one of the layout's ({', '.join(intended)})")
        elif bool(net.get("internal")) != intended[name]:
            fix = f"add internal: true (only {outside} reach outside)" if intended[name] else f"must not be internal (it is the way out of {name})"
            problems.append(f"network {name}: {fix}")
    # Each service joins the networks compose gives it, no more and no fewer (a db on edge in stack.yaml only).
    for name in sorted(wanted & have):
        on_compose = set(compose.services(layout)[name].get("networks") or [])
        on_stack = set(stack["services"][name].get("networks") or [])
        if on_compose != on_stack:
            extra, missing = sorted(on_stack - on_compose), sorted(on_compose - on_stack)
            problems.append(f"service {name}: networks differ from compose.yaml"
                            + (f"; also on {', '.join(extra)}" if extra else "") + (f"; not on {', '.join(missing)}" if missing else ""))
    kind = "encrypted overlay" if answers.swarm_overlay_encryption else "overlay (unencrypted: W4)"
    return check("W1", problems, f"docker stack config accepts it; {len(have)} services as compose.yaml has them and "
                 f"{len(nets)} {kind} networks, internal but for {outside}")


def _service_problems(name: str, svc: dict) -> list[str]:
    deploy = svc.get("deploy") or {}
    job = deploy.get("mode") in ("replicated-job", "global-job")
    problems = []
    if svc.get("read_only") is not True:
        problems.append(f"{name}: read_only: true")
    if "ALL" not in (svc.get("cap_drop") or []):
        problems.append(f"{name}: cap_drop: [ALL]")
    uid = _uid(svc.get("user"))
    if not uid:
        problems.append(f"{name}: user must be a numeric non-root uid:gid")
    limits = (deploy.get("resources") or {}).get("limits") or {}
    problems += [f"{name}: deploy.resources.limits.{key} missing" for key in ("memory", "cpus", "pids") if not limits.get(key)]
    health = svc.get("healthcheck") or {}
    if not job and (not health.get("test") or health.get("disable")):
        problems.append(f"{name}: healthcheck missing (swarm routes to and rolls on health)")
    for secret in svc.get("secrets") or []:
        if not isinstance(secret, dict) or secret.get("mode") != 0o400 or _uid(secret.get("uid")) != uid:
            source = secret.get("source") if isinstance(secret, dict) else secret
            problems.append(f"{name}: secret {source} must be mode 0400 and owned by uid {uid}")
    if job:
        return problems
    update = deploy.get("update_config") or {}
    catalog = SERVICES.get(name)
    stateful = catalog is None or catalog.stop_first
    if update.get("failure_action") != "rollback":
        problems.append(f"{name}: update_config.failure_action: rollback")
    if not stateful and update.get("order") != "start-first":
        problems.append(f"{name}: update_config.order: start-first (a stateless service is replaced without a gap)")
    if stateful and update.get("order", "stop-first") != "stop-first":
        problems.append(f"{name}: update_config.order: stop-first (it owns a volume or a host port)")
    if catalog and catalog.single_writer and not any("node.labels." in c for c in (deploy.get("placement") or {}).get("constraints") or []):
        problems.append(f"{name}: placement.constraints must pin it to the node holding its volume (node.labels.<project>.db == true)")
    if deploy.get("endpoint_mode") != "dnsrr":
        problems.append(f"{name}: endpoint_mode: dnsrr (service VIPs need dockerd's iptables; nginx re-resolves the task addresses)")
    for port in svc.get("ports") or []:
        if port.get("mode") != "host":
            problems.append(f"{name}: port {port.get('published')} must use mode: host (the ingress mesh needs dockerd's iptables)")
    return problems


def w2_hardened(layout: Path) -> Result:
    if not (layout / STACK).exists():
        return Result("W2", NA, "no stack.yaml")
    try:
        stack = resolved(layout)
    except ValueError as err:
        return check("W2", [str(err)])
    problems = [p for name, svc in stack.get("services", {}).items() for p in _service_problems(name, svc)]
    return check("W2", problems, "every service read-only, ALL capabilities dropped, non-root, memory/cpus/pids limited, "
                 "health-checked, secrets 0400; stateless ones roll start-first and roll back on failure; data services pinned")


def w3_no_dead_options(layout: Path) -> Result:
    if not (layout / STACK).exists():
        return Result("W3", NA, "no stack.yaml")
    raw = yamlio.safe_load((layout / STACK).read_text()) or {}
    problems = [f"{name}: `{key}` is ignored by docker stack deploy; " + ("use deploy.resources.limits" if key in ("mem_limit", "cpus", "pids_limit")
                else "use a long-syntax volume {type: tmpfs, target: ...}" if key == "tmpfs" else "remove it (it looks like hardening but does nothing)")
                for name, svc in (raw.get("services") or {}).items() for key in IGNORED_BY_SWARM if key in (svc or {})]
    gaps = "; ".join(f"{k}: {v}" for k, v in GAPS.items())
    return check("W3", problems, f"no option swarm ignores; gaps, met outside the file: {gaps}")


def w4_overlay_encryption(layout: Path) -> Result:
    """A deliberate trade-off, not a failure: overlays in clear between nodes (W1 holds stack.yaml to the answer)."""
    if not (layout / STACK).exists():
        return Result("W4", NA, "no stack.yaml")
    if layout_answers(layout).swarm_overlay_encryption:
        return Result("W4", PASS, "overlay networks encrypted between nodes (IPsec ESP); `hardstack up --swarm` and "
                                  "`hardstack deploy` probe that it passes between two nodes before deploying")
    return warn_unless("W4", ["overlay networks are not encrypted (answer swarm_overlay_encryption=false): traffic between "
                              "swarm nodes, database queries and secrets in requests included, travels in clear; keep the "
                              "nodes on a network you trust (private VLAN, WireGuard) or allow ESP and re-render with "
                              "swarm_overlay_encryption=true"])


ROWS = [("W1", w1_matches_compose), ("W2", w2_hardened), ("W3", w3_no_dead_options), ("W4", w4_overlay_encryption)]
