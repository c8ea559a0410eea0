"""Bar rows C1-C13: compose.yaml."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import yaml

from hardstack.checks import tools
from hardstack.checks.result import Result, check

SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)
BARE_VAR = re.compile(r"\$\{(\w+)\}")  # ${VAR} with neither a default nor :?message
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 160}, document-start: disable, truthy: {check-keys: false}}}"
PROXY = "proxy"


@lru_cache(maxsize=8)
def _parse(path: str, mtime_ns: int, size: int) -> dict:
    return yaml.safe_load(Path(path).read_text())


def load(layout: Path) -> dict:
    """compose.yaml parsed once per version of the file (every C row reads it)."""
    stat = (layout / "compose.yaml").stat()
    return _parse(str(layout / "compose.yaml"), stat.st_mtime_ns, stat.st_size)


def services(layout: Path) -> dict[str, dict]:
    return load(layout).get("services", {})


def one_shots(all_services: dict[str, dict]) -> set[str]:
    """Jobs that run to completion: awaited with service_completed_successfully, or run by hand (profiles)."""
    awaited = {dep for svc in all_services.values() for dep, spec in (svc.get("depends_on") or {}).items()
               if isinstance(spec, dict) and spec.get("condition") == "service_completed_successfully"}
    return awaited | {name for name, svc in all_services.items() if svc.get("profiles")}


def long_running(layout: Path) -> dict[str, dict]:
    all_services = services(layout)
    jobs = one_shots(all_services)
    return {n: s for n, s in all_services.items() if n not in jobs}


def c1_valid(layout: Path) -> Result:
    problems = []
    out = tools.run("docker", "compose", "-f", "compose.yaml", "config", "-q", cwd=layout)
    if not out.ok:
        problems.append(f"docker compose config: {tools.first_lines(out.out)}")
    schema = tools.run("check-jsonschema", "--builtin-schema", "vendor.compose-spec", "compose.yaml", cwd=layout)
    if not schema.ok:
        problems.append(f"compose-spec schema: {tools.first_lines(schema.out)}")
    lint = tools.run("yamllint", "-f", "parsable", "-d", YAMLLINT_CONFIG, "compose.yaml", cwd=layout)
    if not lint.ok:
        problems.append(f"yamllint: {tools.first_lines(lint.out)}")
    return check("C1", problems, "compose config, compose-spec schema and yamllint clean")


def c2_healthchecks(layout: Path) -> Result:
    running = long_running(layout)
    problems = [f"{n}: no healthcheck" for n, s in running.items() if not s.get("healthcheck") or s["healthcheck"].get("disable")]
    return check("C2", problems, f"{len(running)} long-running services have healthchecks")


def c3_depends_on(layout: Path) -> Result:
    problems = []
    for name, svc in services(layout).items():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            problems.append(f"{name}: depends_on without conditions")
            continue
        problems += [f"{name} -> {dep}: no condition" for dep, spec in deps.items() if not (spec or {}).get("condition")]
    return check("C3", problems, "every depends_on has a condition")


def c4_no_new_privileges(layout: Path) -> Result:
    problems = [f"{n}: no no-new-privileges:true" for n, s in services(layout).items()
                if "no-new-privileges:true" not in [str(o).replace(" ", "") for o in s.get("security_opt", [])]]
    return check("C4", problems, "no-new-privileges everywhere")


def c5_capabilities(layout: Path) -> Result:
    text = (layout / "compose.yaml").read_text().splitlines()
    problems = []
    for name, svc in services(layout).items():
        if "ALL" not in svc.get("cap_drop", []):
            problems.append(f"{name}: cap_drop is not [ALL]")
        if svc.get("cap_add"):
            # Each cap_add must carry a comment saying why (on the line or just above it).
            for i, line in enumerate(text):
                if line.strip().startswith("cap_add") and "#" not in line and not text[i - 1].strip().startswith("#"):
                    problems.append(f"{name}: cap_add without a comment saying why")
    return check("C5", problems, "all capabilities dropped, none added")


def c6_read_only(layout: Path) -> Result:
    problems = []
    for name, svc in services(layout).items():
        if svc.get("read_only") is not True:
            problems.append(f"{name}: read_only is not true")
        elif not svc.get("tmpfs"):
            problems.append(f"{name}: read-only without a tmpfs for writable paths")
    return check("C6", problems, "read-only root filesystems, tmpfs where writable")


def c7_limits(layout: Path) -> Result:
    problems = []
    for name, svc in services(layout).items():
        limits = (svc.get("deploy") or {}).get("resources", {}).get("limits", {})
        for key, alt in (("mem_limit", "memory"), ("cpus", "cpus"), ("pids_limit", "pids")):
            if not svc.get(key) and not limits.get(alt):
                problems.append(f"{name}: no {key}")
    return check("C7", problems, "memory, CPU and pids limits everywhere")


def c8_isolation(layout: Path) -> Result:
    problems = []
    for name, svc in services(layout).items():
        if svc.get("privileged"):
            problems.append(f"{name}: privileged")
        for key in ("network_mode", "pid", "ipc", "userns_mode", "uts"):
            if str(svc.get(key, "")) == "host":
                problems.append(f"{name}: {key}: host")
        for vol in svc.get("volumes", []):
            source = vol if isinstance(vol, str) else vol.get("source", "")
            if "docker.sock" in source:
                problems.append(f"{name}: mounts the Docker socket")
    return check("C8", problems, "no privileged, host namespaces or Docker socket")


def c9_ports(layout: Path) -> Result:
    problems = []
    for name, svc in services(layout).items():
        ports = svc.get("ports", [])
        if ports and name != PROXY:
            problems.append(f"{name}: publishes ports (only the proxy may)")
        for port in ports:
            spec = port if isinstance(port, str) else f"{port.get('host_ip', '')}:{port.get('published')}:{port.get('target')}"
            if not spec.startswith("${BIND_ADDRESS"):
                problems.append(f"{name}: port {spec!r} does not take its bind address from ${{BIND_ADDRESS}}")
    return check("C9", problems, "only the proxy publishes, on ${BIND_ADDRESS}")


def c10_restart(layout: Path) -> Result:
    problems = [f"{n}: restart policy {s.get('restart')!r}" for n, s in long_running(layout).items()
                if s.get("restart") not in ("always", "unless-stopped", "on-failure")]
    return check("C10", problems, "restart policy on every long-running service")


def c11_credentials(layout: Path) -> Result:
    doc = load(layout)
    problems = []
    for name, svc in doc.get("services", {}).items():
        env = svc.get("environment") or {}
        items = env.items() if isinstance(env, dict) else (e.partition("=")[::2] for e in env)
        for key, value in items:
            if SECRET_NAME.search(key) and not key.endswith("_FILE") and not str(value).startswith("/run/secrets/"):
                problems.append(f"{name}: {key} holds a literal credential; use secrets: and {key}_FILE")
        problems += [f"{name}: env_file is not allowed (secrets go through secrets:)" for _ in [1] if svc.get("env_file")]
    for sname, spec in (doc.get("secrets") or {}).items():
        if "file" not in spec:
            problems.append(f"secret {sname}: not file-based")
    text = (layout / "compose.yaml").read_text()
    problems += [f"${{{v}}} has no default and no :?message" for v in sorted(set(BARE_VAR.findall(text)))]
    scan = tools.run("detect-secrets", "scan", str(layout / "compose.yaml"))
    for hits in json.loads(scan.out or "{}").get("results", {}).values():
        problems += [f"detect-secrets: {h['type']} on line {h['line_number']}" for h in hits]
    return check("C11", problems, "secrets via files and *_FILE; no literal credential")


def c12_logs(layout: Path) -> Result:
    problems = []
    for name, svc in services(layout).items():
        opts = (svc.get("logging") or {}).get("options") or {}
        if not opts.get("max-size") or not opts.get("max-file"):
            problems.append(f"{name}: no log rotation")
    return check("C12", problems, "log rotation everywhere")


def c13_compose_lint(layout: Path) -> Result:
    # compose-lint resolves relative bind mounts against the file's folder and flags sensitive host
    # paths (/root, /etc, ...): lint a copy in a neutral folder, so the verdict is about the file
    # and never about where the layout happens to live.
    with tempfile.TemporaryDirectory(prefix="hardstack-lint-") as tmp:
        neutral = Path(tmp) / "layout"
        neutral.mkdir()
        shutil.copy2(layout / "compose.yaml", neutral / "compose.yaml")
        args = ["check", "--format", "json", "--fail-on", "low", "--no-env", "compose.yaml"]
        if (layout / ".compose-lint.yml").exists():
            shutil.copy2(layout / ".compose-lint.yml", neutral / ".compose-lint.yml")
            args[1:1] = ["--config", ".compose-lint.yml", "--strict-config"]
        out = tools.run("compose-lint", *args, cwd=neutral)
    try:
        report = json.loads(out.out[out.out.index("{"):] if "{" in out.out else out.out)
    except ValueError:
        return check("C13", [f"compose-lint: {tools.first_lines(out.out)}"])
    findings = report.get("findings", report if isinstance(report, list) else [])
    problems = []
    suppressed = 0
    for f in findings:
        if f.get("suppressed"):
            suppressed += 1
            reason = str(f.get("suppression_reason") or f.get("reason") or "")
            if not reason or "TODO" in reason:
                problems.append(f"{f.get('rule_id')} on {f.get('service')}: suppressed without a reason")
        else:
            problems.append(f"{f.get('rule_id')} on {f.get('service')}: {f.get('message', '')[:80]}")
    return check("C13", problems, f"0 findings ({suppressed} suppressed, each with its reason in .compose-lint.yml)")


ROWS = [("C1", c1_valid), ("C2", c2_healthchecks), ("C3", c3_depends_on), ("C4", c4_no_new_privileges),
        ("C5", c5_capabilities), ("C6", c6_read_only), ("C7", c7_limits), ("C8", c8_isolation), ("C9", c9_ports),
        ("C10", c10_restart), ("C11", c11_credentials), ("C12", c12_logs), ("C13", c13_compose_lint)]
