"""Rows C18-C21: background work (Celery workers, beat, the Redis broker) and the app's own secrets,
judged by value in compose.yaml, stack.yaml and the files they mount."""

from __future__ import annotations

import re
from pathlib import Path

from hardstack import yamlio

from hardstack.catalog import WORKER_STOP_GRACE
from hardstack.checks.compose import depends_on, duration_seconds, environment_of, services
from hardstack.checks.result import NA, Result, check

REDIS_SECRET = "/run/secrets/redis_password"
HARDENING = ("read_only", "cap_drop", "security_opt", "mem_limit", "cpus", "pids_limit", "logging", "restart")


def _answers(layout: Path):
    from hardstack.checks.layout import layout_answers

    return layout_answers(layout)


def _command(svc: dict) -> list[str]:
    cmd = svc.get("command") or []
    return [str(c) for c in (cmd.split() if isinstance(cmd, str) else cmd)]


def _celery_role(svc: dict) -> str | None:
    """worker or beat when the service runs `celery ... worker|beat` (a worker with -B runs beat too)."""
    cmd = _command(svc)
    if "celery" not in " ".join(cmd[:2]):
        return None
    return "beat" if "beat" in cmd else "worker" if "worker" in cmd else None


def _beacon_problems(name: str, svc: dict, role: str) -> list[str]:
    """A worker or beat runs celery through celery_run.py, which keeps the beacon its healthcheck (celery_health.py) reads."""
    problems = []
    if not any(c.endswith("/celery_run.py") for c in _command(svc)[:2]):
        problems.append(f"{name}: runs celery directly, so no beacon is kept and its healthcheck never passes; "
                        f"run it through /opt/hardstack/celery_run.py (command: [python, /opt/hardstack/celery_run.py, -A, APP, {role}, ...])")
    test = " ".join(str(t) for t in ((svc.get("healthcheck") or {}).get("test") or []))
    if "celery_health.py" not in test or role not in test.split("celery_health.py", 1)[-1]:
        problems.append(f"{name}: the healthcheck {test!r} does not read this {role}'s beacon (celery_health.py {role})")
    return problems


def _stack(layout: Path) -> dict:
    path = layout / "stack.yaml"
    return (yamlio.safe_load(path.read_text()) or {}) if path.exists() else {}


def c18_redis(layout: Path) -> Result:
    """The broker: password from the secret file through a config file, noeviction, AOF, a healthcheck that authenticates."""
    if not _answers(layout).uses_redis:
        return Result("C18", NA, "no celery_app: no broker")
    redis = services(layout).get("redis")
    if not redis:
        return check("C18", ["no redis service, but celery_app is set"])
    problems = []
    argv = " ".join(str(x) for x in (redis.get("entrypoint") or []) + _command(redis))
    if re.search(r"requirepass|--pass|-a\s", argv):
        problems.append("redis: the password is on the command line (visible in ps and docker inspect); let redis/start.sh write it into a config file")
    if any(re.search(r"PASS|AUTH", k) for k in environment_of(redis)):
        problems.append("redis: a password variable in its environment (visible in docker inspect); read it from the secret file")
    if "redis_password" not in {s if isinstance(s, str) else s.get("source") for s in redis.get("secrets") or []}:
        problems.append("redis: does not mount the redis_password secret")
    conf_path, start_path = layout / "redis" / "redis.conf", layout / "redis" / "start.sh"
    conf = conf_path.read_text() if conf_path.exists() else ""
    settings = {}
    for line in conf.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and not key.startswith("#"):
            settings.setdefault(key.lower(), []).append(value.strip().strip('"'))
    if not conf:
        problems.append("redis/redis.conf is missing")
    if settings.get("requirepass"):
        problems.append("redis/redis.conf: requirepass written into the file; it comes from the secret through /tmp/auth.conf")
    if (settings.get("maxmemory-policy") or [""])[-1] != "noeviction":
        problems.append("redis/redis.conf: maxmemory-policy must be noeviction (any other policy drops queued tasks when memory is full)")
    if not settings.get("maxmemory") or settings["maxmemory"][-1] in ("0", ""):
        problems.append("redis/redis.conf: maxmemory must be set below the memory limit (otherwise the kernel kills Redis instead)")
    if (settings.get("appendonly") or ["no"])[-1] != "yes":
        problems.append("redis/redis.conf: appendonly yes (without it a restart loses every queued task)")
    start = start_path.read_text() if start_path.exists() else ""
    if REDIS_SECRET not in start or "requirepass" not in start or not any(i.startswith("/tmp/") for i in settings.get("include", [])):
        problems.append("redis: the password must reach it from /run/secrets/redis_password through the config file start.sh writes and redis.conf includes")
    test = " ".join(str(t) for t in ((redis.get("healthcheck") or {}).get("test") or []))
    if not ("start.sh" in test and "health" in test) and "REDISCLI_AUTH" not in test:
        problems.append(f"redis: the healthcheck {test!r} does not authenticate (a server that refuses our password would pass)")
    elif "REDISCLI_AUTH" not in start or "PONG" not in start:
        problems.append("redis/start.sh health must PING with the password (REDISCLI_AUTH) and expect PONG")
    return check("C18", problems, "redis: password from the secret through a config file, noeviction, AOF, authenticated healthcheck")


def c19_one_beat(layout: Path) -> Result:
    """Exactly one scheduler: one beat service, never scaled, stop-first on swarm, and no worker with -B."""
    answers = _answers(layout)
    all_services = services(layout)
    beats = [n for n, s in all_services.items() if _celery_role(s) == "beat"]
    if not answers.runs_beat and not beats:
        return Result("C19", NA, "no beat (celery_app empty or enable_beat off)")
    problems = []
    embedded = [n for n, s in all_services.items() if _celery_role(s) == "worker" and {"-B", "--beat"} & set(_command(s))]
    problems += [f"{n}: a worker with -B runs its own scheduler: every replica sends each scheduled task again; use the beat service" for n in embedded]
    if len(beats) != 1:
        problems.append(f"{len(beats)} services run celery beat ({', '.join(beats) or 'none'}); exactly one must")
    for name in beats:
        svc = all_services[name]
        replicas = (svc.get("deploy") or {}).get("replicas", svc.get("scale", 1))
        if str(replicas) != "1":
            problems.append(f"{name}: {replicas} replicas; a scheduler runs once")
        if not any("--schedule=/tmp" in c or c == "/tmp" for c in _command(svc)) and not svc.get("volumes"):
            problems.append(f"{name}: its schedule file must be on a writable path (--schedule=/tmp/celerybeat-schedule on the tmpfs)")
        problems += _beacon_problems(name, svc, "beat")
    for name, svc in (_stack(layout).get("services") or {}).items():
        if _celery_role(svc) == "beat":
            deploy = svc.get("deploy") or {}
            if str(deploy.get("replicas", 1)) != "1" or deploy.get("mode") == "global":
                problems.append(f"stack.yaml {name}: replicas must be 1")
            if (deploy.get("update_config") or {}).get("order", "stop-first") != "stop-first":
                problems.append(f"stack.yaml {name}: update_config.order must be stop-first (start-first runs two schedulers during a roll)")
        elif {"-B", "--beat"} & set(_command(svc)):
            problems.append(f"stack.yaml {name}: a worker with -B runs its own scheduler")
    return check("C19", problems, "one beat: one replica, stop-first, schedule on the tmpfs, beacon healthcheck, no worker with -B")


def c20_workers(layout: Path) -> Result:
    """Workers run like the backend: same image, environment, secrets and hardening; a heartbeat healthcheck; warm shutdown; after migrate."""
    if not _answers(layout).uses_redis:
        return Result("C20", NA, "no celery_app: no workers")
    all_services = services(layout)
    backend = all_services.get("backend") or {}
    workers = {n: s for n, s in all_services.items() if _celery_role(s) == "worker"}
    if not workers:
        return check("C20", ["no service runs `celery -A APP worker`, but celery_app is set"])
    problems = []
    for name, svc in workers.items():
        if svc.get("image") != backend.get("image"):
            problems.append(f"{name}: image {svc.get('image')} is not the backend's ({backend.get('image')})")
        if environment_of(svc) != environment_of(backend):
            differ = sorted(set(environment_of(svc).items()) ^ set(environment_of(backend).items()))
            problems.append(f"{name}: environment differs from the backend's ({', '.join(k for k, _ in differ[:4])}); use the one x-backend-env")
        for key in HARDENING:
            if svc.get(key) in (None, "", []) or (key in ("read_only", "cap_drop", "security_opt") and svc.get(key) != backend.get(key)):
                problems.append(f"{name}: {key} is not as hardened as the backend's ({backend.get(key)!r})")
        user = str(svc.get("user", ""))
        if not re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", user):
            problems.append(f"{name}: user {user!r} must be a numeric non-root uid:gid")
        problems += _beacon_problems(name, svc, "worker")
        grace = duration_seconds(svc.get("stop_grace_period"))
        if grace < 30:
            problems.append(f"{name}: stop_grace_period {svc.get('stop_grace_period') or '10s (default)'} leaves a running task no time to finish; "
                            f"give it at least 30s ({WORKER_STOP_GRACE}s by default)")
        deps = depends_on(svc)
        if (deps.get("migrate") or {}).get("condition") != "service_completed_successfully":
            problems.append(f"{name}: must start after migrate (depends_on migrate: service_completed_successfully)")
    for name, svc in (_stack(layout).get("services") or {}).items():
        if _celery_role(svc) == "worker":
            update = (svc.get("deploy") or {}).get("update_config") or {}
            if update.get("order") != "start-first":  # failure_action and the rest: W2, for every stateless service
                problems.append(f"stack.yaml {name}: roll like the backend (update_config.order: start-first: the new worker is ready before the old one drains)")
            if duration_seconds(svc.get("stop_grace_period")) < 30:
                problems.append(f"stack.yaml {name}: stop_grace_period below 30s")
    return check("C20", problems, f"{len(workers)} worker service(s): the backend's image, environment and hardening, heartbeat healthcheck, warm shutdown")


def c21_app_secrets(layout: Path) -> Result:
    """backend_secrets reach the app as NAME_FILE only, and their values appear in no file of the layout."""
    answers = _answers(layout)
    files = answers.app_secret_files
    if not files:
        return Result("C21", NA, "no backend_secrets")
    problems = []
    app_services = {n: s for n, s in services(layout).items() if n in answers.app_services}
    for service, svc in app_services.items():
        env = environment_of(svc)
        mounted = {s if isinstance(s, str) else s.get("source") for s in svc.get("secrets") or []}
        for name, file in files.items():
            if name in env:
                problems.append(f"{service}: {name} is set as a value; it is a secret: deliver it as {name}_FILE")
            if env.get(f"{name}_FILE") != f"/run/secrets/{file}" or file not in mounted:
                problems.append(f"{service}: {name} must come from the secret {file} as {name}_FILE=/run/secrets/{file}")
            if name not in env.get("HARDSTACK_FILE_VARS", "").split():
                problems.append(f"{service}: {name} is not in HARDSTACK_FILE_VARS (the entrypoint would not export it)")
    values = {}
    for file in files.values():
        path = layout / "secrets" / file
        if path.exists() and len(path.read_text().strip()) >= 8:
            values[file] = path.read_text().strip()
    for path in sorted(p for p in layout.rglob("*") if p.is_file() and "secrets" not in p.relative_to(layout).parts[:1]):
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        problems += [f"{path.relative_to(layout)}: holds the value of secrets/{file}" for file, value in values.items() if value in text]
    return check("C21", problems, f"{len(files)} app secret(s) as files (NAME_FILE) only; no value in any file of the layout")


ROWS = [("C18", c18_redis), ("C19", c19_one_beat), ("C20", c20_workers), ("C21", c21_app_secrets)]
