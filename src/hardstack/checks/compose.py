"""Bar rows C1-C13: compose.yaml."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

from hardstack import yamlio

from hardstack.catalog import BOUNDS, CAP_ADD_ALLOWED, CREDENTIAL_NAME, DEBUG_OFF, ENGINE_STOP_GRACE, KNOWN_DEFAULT_CREDENTIALS, bounds_text
from hardstack.checks import inprocess, tools
from hardstack.checks.result import NA, Result, check
from hardstack.runtime.compose import StackError, compose_model, read_env_file

BARE_VAR = re.compile(r"\$\{(\w+)\}")  # ${VAR} with neither a default nor :?message
# Formatting a YAML round trip changes (sequence indentation) is style, not a defect: not judged.
YAMLLINT_CONFIG = ("{extends: default, rules: {line-length: {max: 160}, document-start: disable, truthy: {check-keys: false}, "
                   "indentation: {spaces: consistent, indent-sequences: whatever}}}")
PROXY = "proxy"


@lru_cache(maxsize=8)
def _parse(path: str, mtime_ns: int, size: int) -> dict:
    return yamlio.safe_load(Path(path).read_text())


def load(layout: Path) -> dict:
    """compose.yaml as written, parsed once per version of the file: for the rows that judge how a value is
    written (a bind address taken from ${BIND_ADDRESS}, a credential passed through, a comment)."""
    stat = (layout / "compose.yaml").stat()
    return _parse(str(layout / "compose.yaml"), stat.st_mtime_ns, stat.st_size)


def services(layout: Path) -> dict[str, dict]:
    return load(layout).get("services", {})


_RESOLVING = threading.Lock()


def resolved(layout: Path) -> dict:
    """compose.yaml's values as compose resolves them with the file's own defaults (runtime/compose.compose_model,
    the reading `hardstack deploy` and `hardstack images` use too), once per version of the file: for the rows that
    judge a value (a limit, a user, an environment variable, a build). ValueError with compose's words when compose
    cannot read the file (C1 reports it)."""
    stat = (layout / "compose.yaml").stat()
    with _RESOLVING:  # rows run side by side: one `docker compose config` per version of the file
        return _resolved(str(layout), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _resolved(layout: str, mtime_ns: int, size: int) -> dict:
    try:
        return compose_model(Path(layout), defaults_only=True)
    except StackError as exc:
        raise ValueError(str(exc)) from None


def resolved_services(layout: Path) -> dict[str, dict]:
    return resolved(layout).get("services", {})


UNKNOWN = re.compile(r"\$\{?\w")  # a value written as a variable compose could not resolve here


def values_or_written(layout: Path) -> dict[str, dict]:
    """The services' values as compose resolves them; for a file compose cannot resolve here (a user's, under
    `hardstack audit`, needing variables or files it does not have), the values as written: a row leaves a value
    written as a variable (UNKNOWN) unjudged, since only the environment compose runs in knows it."""
    try:
        return resolved_services(layout)
    except ValueError:
        return services(layout)


def depends_on(svc: dict) -> dict[str, dict]:
    """A service's depends_on as a mapping, whether written long (name: {condition: ...}) or short (a list)."""
    deps = svc.get("depends_on") or {}
    return {str(d): {} for d in deps} if isinstance(deps, list) else {d: spec or {} for d, spec in deps.items()}


def one_shots(all_services: dict[str, dict]) -> set[str]:
    """Jobs that run to completion: awaited with service_completed_successfully, or run by hand (profiles)."""
    awaited = {dep for svc in all_services.values() for dep, spec in depends_on(svc).items()
               if isinstance(spec, dict) and spec.get("condition") == "service_completed_successfully"}
    return awaited | {name for name, svc in all_services.items() if svc.get("profiles")}


def long_running(layout: Path) -> dict[str, dict]:
    all_services = services(layout)
    jobs = one_shots(all_services)
    return {n: s for n, s in all_services.items() if n not in jobs}


def c1_valid(layout: Path) -> Result:
    problems = []
    try:
        resolved(layout)
    except ValueError as err:
        problems.append(tools.first_lines(str(err)))
    schema = inprocess.jsonschema([layout / "compose.yaml"], builtin="vendor.compose-spec", root=layout)
    if not schema.ok:
        problems.append(f"compose-spec schema: {tools.first_lines(schema.out)}")
    lint = inprocess.yamllint(Path("compose.yaml"), YAMLLINT_CONFIG, cwd=layout, root=layout)
    if not lint.ok:
        problems.append(f"yamllint: {tools.first_lines(lint.out)}")
    return check("C1", problems, "compose config, compose-spec schema and yamllint clean")


# A probe that cannot fail: `exit 0`, `true`, or a real probe with `|| exit 0` / `|| true` after it.
# A test whose last word is success: `true`, `exit 0`, `... || true`, `...; exit 0`.
ALWAYS_PASSES = re.compile(r"(^|\|\||;|&&|\n)\s*(exit\s+0|true|/bin/true|/usr/bin/true|:)\s*;?\s*$")
SHELLS = ("sh", "/bin/sh", "bash", "/bin/bash", "/usr/bin/bash", "ash", "dash", "/bin/dash")


def probe_problem(test) -> str:
    """Why a healthcheck test does not test anything ('' when it does)."""
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not test or test[0] == "NONE":
        return "healthcheck test is NONE (the image's check is switched off)"
    command = [str(c) for c in (test[1:] if test[0] in ("CMD", "CMD-SHELL") else test)]
    if len(command) >= 3 and command[0] in SHELLS and command[1] == "-c":
        command = command[2:]  # ["CMD", "sh", "-c", "true"]: what the shell runs
    line = " ".join(command)
    if not line.strip():
        return "healthcheck test is empty"
    if ALWAYS_PASSES.search(line):
        return f"healthcheck test {line!r} always passes"
    return ""


def c2_healthchecks(layout: Path) -> Result:
    running = long_running(layout)
    problems = []
    for name, svc in running.items():
        hc = svc.get("healthcheck")
        if not hc:
            problems.append(f"{name}: no healthcheck")
        elif hc.get("disable"):
            problems.append(f"{name}: healthcheck disabled")
        elif problem := probe_problem(hc.get("test")):
            problems.append(f"{name}: {problem}")
        elif str(hc.get("retries", 3)) in ("0", "-1"):
            problems.append(f"{name}: healthcheck retries {hc.get('retries')} never marks it unhealthy")
    return check("C2", problems, f"{len(running)} long-running services have healthchecks that test something")


CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")


def c3_depends_on(layout: Path) -> Result:
    all_services = services(layout)
    problems = []
    for name, svc in all_services.items():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            problems.append(f"{name}: depends_on without conditions")
            continue
        for dep, spec in deps.items():
            condition = (spec or {}).get("condition")
            if condition not in CONDITIONS:
                problems.append(f"{name} -> {dep}: no condition" if not condition else f"{name} -> {dep}: unknown condition {condition!r}")
            elif condition == "service_started" and (all_services.get(dep) or {}).get("healthcheck", {}).get("test"):
                problems.append(f"{name} -> {dep}: service_started does not wait for {dep}'s healthcheck; use service_healthy")
    return check("C3", problems, "every depends_on waits for health or completion")


def c4_no_new_privileges(layout: Path) -> Result:
    problems = []
    for name, svc in services(layout).items():
        # The engine applies security_opt in order: the last no-new-privileges entry decides.
        settings = [re.split(r"[:=]", str(o).replace(" ", ""), maxsplit=1) for o in svc.get("security_opt", [])]
        values = [(rest[0] if rest else "true") for key, *rest in settings if key == "no-new-privileges"]
        if not values:
            problems.append(f"{name}: no no-new-privileges:true")
        elif values[-1] != "true":
            problems.append(f"{name}: no-new-privileges ends up {values[-1]} (the last entry wins)")
    return check("C4", problems, "no-new-privileges everywhere")


def c5_capabilities(layout: Path) -> Result:
    text = (layout / "compose.yaml").read_text().splitlines()
    problems = []
    for name, svc in services(layout).items():
        if "ALL" not in svc.get("cap_drop", []):
            problems.append(f"{name}: cap_drop is not [ALL]")
        added = [str(c).upper().removeprefix("CAP_") for c in svc.get("cap_add") or []]
        problems += [f"{name}: cap_add {cap} is not in the allow-list ({', '.join(CAP_ADD_ALLOWED)})"
                     for cap in added if cap not in CAP_ADD_ALLOWED]
        if added:
            # Each cap_add must carry a comment saying why (on the line or just above it).
            for i, line in enumerate(text):
                if line.strip().startswith("cap_add") and "#" not in line and not text[i - 1].strip().startswith("#"):
                    problems.append(f"{name}: cap_add without a comment saying why")
    return check("C5", problems, "all capabilities dropped, none added beyond the allow-list")


def c6_read_only(layout: Path) -> Result:
    problems = []
    for name, svc in services(layout).items():
        if svc.get("read_only") is not True:
            problems.append(f"{name}: read_only is not true")
        elif not svc.get("tmpfs"):
            problems.append(f"{name}: read-only without a tmpfs for writable paths")
    return check("C6", problems, "read-only root filesystems, tmpfs where writable")


def memory_bytes(value) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmg]?)b?", str(value).strip().lower())
    if not m:
        raise ValueError(value)
    return float(m.group(1)) * {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2)]


def duration_seconds(value, default: float = ENGINE_STOP_GRACE) -> float:
    """A compose duration ("2m0s", "120s", "1m30s", "1h") in seconds; default (the engine's stop grace) when unset."""
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", str(value or "").strip())
    if not value or not m or not any(m.groups()):
        return default
    hours, minutes, seconds = (float(g or 0) for g in m.groups())
    return hours * 3600 + minutes * 60 + seconds


def _limits(svc: dict) -> dict:
    return ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}


def c7_limits(layout: Path) -> Result:
    problems = []
    values = values_or_written(layout)
    for name, svc in services(layout).items():
        limits, resolved_svc = _limits(svc), values.get(name, {})
        for key, alt, parse in (("mem_limit", "memory", memory_bytes), ("cpus", "cpus", float), ("pids_limit", "pids", float)):
            raw = svc.get(key, limits.get(alt))
            if raw is None or raw == "":
                problems.append(f"{name}: no {key}")
                continue
            given = resolved_svc.get(key, _limits(resolved_svc).get(alt))
            if UNKNOWN.search(str(given)):
                continue
            try:
                value = parse(given)
            except (TypeError, ValueError):
                problems.append(f"{name}: {key} {raw!r} is not a number")
                continue
            low, high = BOUNDS[key]
            if not low <= value <= high:
                problems.append(f"{name}: {key} {raw} is outside {bounds_text(key)}" + (" (0 or -1 is no limit)" if value <= 0 else ""))
    return check("C7", problems, "memory, CPU and pids limits everywhere, each within bounds")


# Host folders no service may mount, nor anything below them (by prefix): the host's configuration,
# kernel interfaces, homes, and the container runtimes' state.
SENSITIVE_HOST_PATHS = ("/proc", "/sys", "/dev", "/etc", "/boot", "/root", "/home", "/var/run", "/run", "/var/lib/docker",
                        "/var/lib/containerd", "/var/lib/kubelet")
RUNTIME_SOCKET = re.compile(r"(docker|containerd|crio|cri-dockerd|podman|dockershim|buildkitd)\.sock$|/containerd(/|$)")


def sensitive_host_path(source: str) -> bool:
    path = "/" + source.strip("/") if source.startswith("/") else ""
    return path == "/" or any(path == p or path.startswith(p + "/") for p in SENSITIVE_HOST_PATHS)
UNCONFINED = re.compile(r"^(seccomp|apparmor)[:=]unconfined$|^label[:=]disable$|^systempaths[:=]unconfined$")


def c8_isolation(layout: Path) -> Result:
    problems = []
    for name, svc in services(layout).items():
        if svc.get("privileged"):
            problems.append(f"{name}: privileged")
        for key in ("network_mode", "pid", "ipc", "userns_mode", "uts", "cgroup"):
            if str(svc.get(key, "")) == "host":
                problems.append(f"{name}: {key}: host")
        if svc.get("devices") or svc.get("device_cgroup_rules"):
            problems.append(f"{name}: host devices mapped ({', '.join(map(str, svc.get('devices') or svc['device_cgroup_rules']))})")
        problems += [f"{name}: security_opt {o} turns a confinement off" for o in svc.get("security_opt", [])
                     if UNCONFINED.match(str(o).replace(" ", ""))]
        for vol in svc.get("volumes", []):
            source = vol.split(":", 1)[0] if isinstance(vol, str) else str(vol.get("source", ""))
            if RUNTIME_SOCKET.search(source):
                problems.append(f"{name}: mounts a container runtime's socket ({source}): root on the host")
            elif sensitive_host_path(source):
                problems.append(f"{name}: mounts the host's {source} (nothing under {', '.join(SENSITIVE_HOST_PATHS[:7])}, ... may be mounted)")
    return check("C8", problems, "no privileged, host namespaces, devices, unconfined profiles or host system paths")


def c9_ports(layout: Path) -> Result:
    from hardstack.checks.layout import layout_answers

    bind = layout_answers(layout).bind_host
    problems = []
    for name, svc in services(layout).items():
        ports = svc.get("ports", [])
        if ports and name != PROXY:
            problems.append(f"{name}: publishes ports (only the proxy may)")
        if svc.get("expose") and name != PROXY and svc.get("network_mode"):
            problems.append(f"{name}: exposes ports on a shared network namespace")
        for port in ports:
            spec = port if isinstance(port, str) else f"{port.get('host_ip', '')}:{port.get('published')}:{port.get('target')}"
            m = re.match(r"^\$\{BIND_ADDRESS:-(\[[^]]*\]|[^}]*)\}:", spec)
            if not spec.startswith("${BIND_ADDRESS"):
                problems.append(f"{name}: port {spec!r} does not take its bind address from ${{BIND_ADDRESS}}")
            elif not m or m.group(1) != bind:
                problems.append(f"{name}: port {spec!r} defaults to another address than the bind_address answer ({bind})")
    return check("C9", problems, f"only the proxy publishes, on ${{BIND_ADDRESS:-{bind}}}")


def c10_restart(layout: Path) -> Result:
    problems = [f"{n}: restart policy {s.get('restart')!r}" for n, s in long_running(layout).items()
                if s.get("restart") not in ("always", "unless-stopped", "on-failure")]
    return check("C10", problems, "restart policy on every long-running service")


PASSED_THROUGH = re.compile(r"^\$?\$\{?\w+(:?[-?+][^}]*)?\}?$")  # ${VAR}, ${VAR:?message}, $VAR, $${VAR}


def _credential_source(value) -> str:
    """What a credential-named variable holds, said as it is: a value written in the file, or one passed
    through from the environment (still visible in `docker inspect` and /proc/<pid>/environ)."""
    raw = "" if value is None else str(value).strip()
    if not raw:
        return "is passed through from the environment (docker inspect shows it)"
    if PASSED_THROUGH.match(raw):
        default = re.search(r":?-([^}]*)\}", raw)
        if default and default.group(1).strip("'\"").lower() in KNOWN_DEFAULT_CREDENTIALS:
            return f"comes from the environment, else the known default {default.group(1)!r} ({raw}), the first password anyone tries"
        return f"comes from the environment ({raw}; docker inspect shows it)"
    if raw.strip("'\"").lower() in KNOWN_DEFAULT_CREDENTIALS:
        return f"holds the known default {raw!r}, the first password anyone tries"
    return "holds a literal credential"


def c11_credentials(layout: Path) -> Result:
    doc = load(layout)
    problems = []
    for name, svc in doc.get("services", {}).items():
        env = svc.get("environment") or {}
        items = env.items() if isinstance(env, dict) else (e.partition("=")[::2] for e in env)
        for key, value in items:
            if CREDENTIAL_NAME.search(key) and not key.endswith("_FILE") and not str(value).startswith("/run/secrets/"):
                problems.append(f"{name}: {key} {_credential_source(value)}; use secrets: and {key}_FILE")
        problems += [f"{name}: env_file is not allowed (secrets go through secrets:)" for _ in [1] if svc.get("env_file")]
    for sname, spec in (doc.get("secrets") or {}).items():
        if "file" not in spec:
            problems.append(f"secret {sname}: not file-based")
    text = (layout / "compose.yaml").read_text()
    problems += [f"${{{v}}} has no default and no :?message" for v in sorted(set(BARE_VAR.findall(text)))]
    # A line whose variable is named above is one problem, not two: detect-secrets adds the others.
    named = {n for n, line in enumerate(text.splitlines(), 1)
             if (m := re.match(r"\s*-?\s*['\"]?(\w+)['\"]?\s*[:=]", line)) and CREDENTIAL_NAME.search(m.group(1))}
    for hits in tools.scan_secrets([layout / "compose.yaml"]).values():
        problems += [f"detect-secrets: {h['type']} on line {h['line_number']}" for h in hits if h["line_number"] not in named]
    return check("C11", problems, "secrets via files and *_FILE; no literal credential")


def c12_logs(layout: Path) -> Result:
    problems = []
    for name, svc in services(layout).items():
        logging = svc.get("logging") or {}
        opts = logging.get("options") or {}
        if logging.get("driver") in ("none",):
            problems.append(f"{name}: logging driver none loses the logs")
        elif not opts.get("max-size") or not opts.get("max-file"):
            problems.append(f"{name}: no log rotation")
        else:
            try:
                size, files = memory_bytes(opts["max-size"]), int(str(opts["max-file"]))
            except ValueError:
                problems.append(f"{name}: log rotation max-size {opts['max-size']!r} / max-file {opts['max-file']!r} unreadable")
                continue
            if not (0 < size <= 1024**3 and 1 <= files <= 100):
                problems.append(f"{name}: log rotation {opts['max-size']} x {opts['max-file']} is outside 1b..1g x 1..100 files")
    return check("C12", problems, "log rotation everywhere, bounded")


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
        out = tools.run("compose-lint", *args, cwd=neutral, reads=[neutral], root=neutral)
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


def c15_users(layout: Path) -> Result:
    problems = []
    for name, svc in values_or_written(layout).items():
        user = str(svc.get("user", "")).strip()
        if UNKNOWN.search(user):
            continue
        uid, _, gid = user.partition(":")
        if not user:
            problems.append(f"{name}: no user: (the image's default user may be root); set a numeric uid:gid")
        elif not uid.isdigit() or (gid and not gid.isdigit()):
            problems.append(f"{name}: user {user!r} is not numeric uid:gid")
        elif int(uid) == 0 or (gid and int(gid) == 0):
            problems.append(f"{name}: user {user!r} is root")
    return check("C15", problems, "every service runs as a numeric non-root uid:gid")


def environment_of(svc: dict) -> dict[str, str]:
    """A service's environment as a mapping, whether compose lists it as a mapping or as KEY=value lines."""
    env = svc.get("environment") or {}
    return {str(k): ("" if v is None else str(v)) for k, v in env.items()} if isinstance(env, dict) else \
        {k: v for k, _, v in (str(e).partition("=") for e in env)}


def environments(layout: Path) -> dict[str, dict[str, str]]:
    """Each service's environment as written (the raw ${VAR:-default} text)."""
    return {name: environment_of(svc) for name, svc in services(layout).items()}


def c16_debug_off(layout: Path) -> Result:
    from hardstack.checks.layout import layout_answers

    debug = layout_answers(layout).env_debug
    problems = []
    values = {name: environment_of(svc) for name, svc in resolved_services(layout).items()}
    for name, env in environments(layout).items():
        for key, raw in env.items():
            if key == debug or key.endswith("DEBUG"):
                value = values.get(name, {}).get(key, raw)
                if value not in DEBUG_OFF:
                    problems.append(f"{name}: {key}={raw} turns debug on in production; set it to 0")
    for dotenv in (".env.example", ".env"):
        path = layout / dotenv
        for key, value in (read_env_file(path) if path.exists() else {}).items():
            if (key == debug or key.endswith("DEBUG")) and value.strip() not in DEBUG_OFF:
                problems.append(f"{dotenv}: {key}={value} turns debug on; set it to 0")
    return check("C16", problems, f"{debug} off for every service and in the env files")


def c17_networks(layout: Path) -> Result:
    """Only the networks the answers open reach outside (Answers.outside_networks: the proxy's edge,
    Alertmanager's alerting, the backend's opt-in egress), each joined only by its service; every
    other network is internal."""
    from hardstack.checks.layout import layout_answers

    answers = layout_answers(layout)
    declared = load(layout).get("networks") or {}
    allowed_open = answers.outside_networks
    problems = []
    for net, spec in declared.items():
        if not (spec or {}).get("internal") and net not in allowed_open:
            problems.append(f"network {net} is not internal: add `internal: true`" +
                            (" (or turn the backend_egress answer on)" if net == "egress" else ""))
    for name, svc in services(layout).items():
        nets = svc.get("networks") or (["default"] if not svc.get("network_mode") else [])
        for net in nets:
            if net == "default":
                problems.append(f"{name}: on compose's default network, which is not internal; name its networks")
            elif net in allowed_open and name not in allowed_open[net]:
                problems.append(f"{name}: on {net}, which reaches outside; only {', '.join(sorted(allowed_open[net]))} may be")
    opened = ", ".join(f"{net} ({', '.join(sorted(users))})" for net, users in allowed_open.items())
    return check("C17", problems, f"networks internal except {opened}")


def c23_database_roles(layout: Path) -> Result:
    """Least privilege in the database: each service logs in as its own role (Answers.db_roles) with
    that role's secret; the superuser's password reaches only the db and db-setup."""
    from hardstack.checks.layout import layout_answers

    answers = layout_answers(layout)
    roles, svcs = answers.db_roles, resolved_services(layout)
    problems = []

    def secrets_of(svc: dict) -> set[str]:
        return {s if isinstance(s, str) else s.get("source", "") for s in svc.get("secrets") or []}

    superuser_file = [n for n, svc in svcs.items() if "postgres_password" in secrets_of(svc) and n not in ("db", "db-setup")]
    problems += [f"{n} mounts postgres_password, the cluster superuser's: only db and db-setup may" for n in superuser_file]
    user_var, password_var = answers.env_db_user, f"{answers.env_db_password}_FILE"
    wanted = {n: ("app", "db_password") for n in answers.app_services} | {"migrate": ("owner", "db_owner_password")}
    for name, (role, secret) in wanted.items():
        env = environment_of(svcs.get(name, {}))
        if name in svcs and env.get(user_var, "") != roles[role]:
            problems.append(f"{name}: {user_var}={env.get(user_var)!r}, not the {role} role {roles[role]}")
        if name in svcs and env.get(password_var) != f"/run/secrets/{secret}":
            problems.append(f"{name}: {password_var}={env.get(password_var)!r}, not the {role} role's /run/secrets/{secret}")
    logins = {"backup": ("PGUSER", "backup"), "postgres-exporter": ("DATA_SOURCE_USER", "exporter")}
    for name, (var, role) in logins.items():
        if name in svcs and environment_of(svcs[name]).get(var) != roles.get(role):
            problems.append(f"{name}: {var}={environment_of(svcs[name]).get(var)!r}, not the {role} role {roles.get(role)}")
    for name, svc in svcs.items():
        env = environment_of(svc)
        if name not in ("db", "db-setup") and roles["superuser"] in {env.get(v) for v in (user_var, "PGUSER", "DATA_SOURCE_USER")}:
            problems.append(f"{name} logs in as the cluster superuser {roles['superuser']}")
    if "db-setup" not in svcs:
        problems.append("no db-setup service: nothing makes the roles the services log in as")
    return check("C23", problems, f"each service its own database role ({', '.join(sorted(set(roles.values()) - {roles['superuser']}))}); "
                                  "the superuser's password only in db and db-setup")


def _origins(value: str) -> list[str]:
    return [o.strip() for o in value.strip("\"'").split(",") if o.strip()]


def c24_csrf_origins(layout: Path) -> Result:
    """With TLS, the origins the app trusts for CSRF are https:// only, wherever the layout sets them
    (compose.yaml, stack.yaml, the env files): one http:// origin lets a form posted over plain http in."""
    from hardstack.checks.layout import layout_answers

    answers = layout_answers(layout)
    var = answers.env_csrf_trusted_origins
    if not answers.tls_on:
        return Result("C24", NA, "TLS is off: the proxy serves plain http, so the origins are http://")
    problems = []
    from hardstack.checks import stack_yaml

    files = [("compose.yaml", resolved_services(layout))]
    if (layout / "stack.yaml").exists():
        files.append(("stack.yaml", stack_yaml.resolved(layout).get("services", {})))
    for file, svcs in files:
        for name in answers.app_services:
            if name not in svcs:
                continue
            origins = _origins(environment_of(svcs[name]).get(var, ""))
            if not origins:
                problems.append(f"{file} {name}: {var} is not set, so the app falls back to origins of its own; set it to https:// origins")
            problems += [f"{file} {name}: {var} trusts {o}; with TLS only https:// origins" for o in origins if not o.startswith("https://")]
    for dotenv in (".env.example", ".env"):
        path = layout / dotenv
        value = (read_env_file(path) if path.exists() else {}).get("CSRF_TRUSTED_ORIGINS", "")
        problems += [f"{dotenv}: CSRF_TRUSTED_ORIGINS trusts {o}; with TLS only https:// origins" for o in _origins(value)
                     if not o.startswith("https://")]
    return check("C24", problems, f"{var} https:// only (compose.yaml, stack.yaml, env files)")


ROWS = [("C1", c1_valid), ("C2", c2_healthchecks), ("C3", c3_depends_on), ("C4", c4_no_new_privileges),
        ("C5", c5_capabilities), ("C6", c6_read_only), ("C7", c7_limits), ("C8", c8_isolation), ("C9", c9_ports),
        ("C10", c10_restart), ("C11", c11_credentials), ("C12", c12_logs), ("C13", c13_compose_lint),
        ("C15", c15_users), ("C16", c16_debug_off), ("C17", c17_networks), ("C23", c23_database_roles),
        ("C24", c24_csrf_origins)]
