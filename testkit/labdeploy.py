"""A small layout deployed to the lab as a user deploys it, for tests/test_lab.py and scripts/bench-lab: its images
built on this machine and pushed to the lab registry (`hardstack images`), a Pulumi stack whose config store holds
the registry login, the digests and the target host. One place for those steps, so the benchmark measures exactly
what the tests assert.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

# No SPA, no monitoring, no background work: the layout's own image is the backend alone.
# Its CI workflows are kept: push_release runs the images workflow's own step.
SMALL = ("frontend_context=", "enable_monitoring=no", "celery_app=", "enable_devcontainer=no")
SECRET_KEYS = ("dbSuperuserPassword", "dbPassword", "dbOwnerPassword", "dbBackupPassword", "djangoSecretKey")
HARDSTACK = (sys.executable, "-m", "hardstack.cli")


def sh(*args: str, env: dict | None = None, check: bool = True, timeout: int = 600, cwd=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc


def client_env(info: dict, docker_config: Path) -> dict[str, str]:
    """This machine's environment as a lab user's: the lab's ssh first on PATH, a docker client logged in to the registry."""
    env = {**os.environ, "PATH": f"{info['ssh_bin']}:{os.environ['PATH']}", "DOCKER_CONFIG": str(docker_config)}
    env.pop("DOCKER_HOST", None)
    reg = info["registry"]
    subprocess.run(["docker", "login", "--username", reg["username"], "--password-stdin", reg["address"]],
                   input=Path(reg["password_file"]).read_text(), text=True, env=env, check=True, capture_output=True)
    return env


def push_image(env: dict, local: str, ref: str) -> str:
    """A local image pushed as ref (name:tag); name@digest."""
    sh("docker", "tag", local, ref, env=env)
    sh("docker", "push", ref, env=env, timeout=900)
    digests = json.loads(sh("docker", "image", "inspect", "--format", "{{json .RepoDigests}}", ref, env=env).stdout)
    return next(d for d in digests if d.startswith(ref.rsplit(":", 1)[0] + "@"))


def new_layout(root: Path, env: dict, *answers: str) -> Path:
    sh(*HARDSTACK, "new", "--no-input", "-o", str(root), *SMALL, *answers, env=env)
    return root / "hardstack_demo"


def registry_layout(layout: Path, info: dict, env: dict, version: str) -> None:
    """The layout's .env: its base images (db, proxy) from the lab registry, its builds with this machine's stand-in
    build settings (BUILD_NETWORK, BUILD_CA_BUNDLE, PYTHON_IMAGE)."""
    from hardstack.runtime.compose import standin_env

    local = standin_env(layout.parent / "standins.env")
    registry = info["registry"]["address"]
    bases = {var: push_image(env, local[var], f"{registry}/standins/{name}:1")
             for var, name in (("DB_IMAGE", "timescaledb"), ("NGINX_IMAGE", "nginx"))}
    build = {k: v for k, v in local.items() if k.startswith("BUILD_") or k == "PYTHON_IMAGE"}
    (layout / ".env").write_text(f"APP_VERSION={version}\n" + "".join(f"{k}={v}\n" for k, v in {**build, **bases}.items()))


def workflow_step(layout: Path, workflow: str, step_id: str) -> dict:
    """A step of one of the layout's generated GitHub workflows (.github/workflows/<workflow>), by its id."""
    import yaml

    jobs = yaml.safe_load((layout / ".github" / "workflows" / workflow).read_text())["jobs"]
    return next(step for job in jobs.values() for step in job["steps"] if step.get("id") == step_id)


def run_step(layout: Path, workflow: str, step_id: str, cwd: Path, env: dict, given: dict) -> subprocess.CompletedProcess:
    """A workflow step's own script, as a runner runs it (bash -e): env, then the step's env, then what the runner
    would give it (secrets, github.* values) in `given`."""
    step = workflow_step(layout, workflow, step_id)
    return sh("bash", "-e", "-c", step["run"], env={**env, **step.get("env", {}), **given}, cwd=cwd, timeout=1800)


def push_release(layout: Path, info: dict, env: dict, digests_file: Path) -> tuple[dict[str, str], str]:
    """The images workflow's "Build and push by digest" step, run as a runner runs it: its own script (bash -e, the
    step's env) in a checkout of the layout, which has neither secrets/ nor .env (git holds neither), with the lab
    registry for ghcr.io. The .env's build settings (stand-ins: no Docker Hub here) come as the runner's environment
    would. The digests the step wrote, and what it printed."""
    import shutil
    import tempfile

    from hardstack.runtime.compose import read_env_file

    registry = f"{info['registry']['address']}/shop"
    with tempfile.TemporaryDirectory(prefix="checkout-", dir=layout.parent) as work:
        checkout = Path(work) / layout.name
        shutil.copytree(layout, checkout, symlinks=True, ignore=shutil.ignore_patterns("secrets", ".env"))
        outputs = Path(work) / "github_output"
        given = {"REGISTRY": registry, "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(Path(work) / "summary"),
                 "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}
        pushed = run_step(layout, "images.yml", "push", checkout, {**env, **read_env_file(layout / ".env")}, given)
        digests = json.loads((checkout / "digests.json").read_text())
        said = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
        assert said["registry"] == registry and all(said[part] == digest for part, digest in digests.items()), said
        shutil.copyfile(checkout / "digests.json", digests_file)
    return digests, pushed.stdout


def secrets() -> dict[str, str]:
    """The small layout's secret config keys (no Redis, no exporter), each a value of its own."""
    return {key: f"{key[:4]}-{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}" for key in SECRET_KEYS}


def configure(stack, info: dict, layout: Path, digests: dict[str, str], docker_host: str | None, **settings: str) -> None:
    """The stack's config store: the layout, its images by digest from the lab registry with the registry's login
    (the password a secret), the target engine, fresh secrets, and any further hardstack:<key> settings."""
    from pulumi import automation as auto

    values = {"layoutDir": (str(layout), False), "imageRegistry": (f"{info['registry']['address']}/shop", False),
              "imageDigests": (json.dumps(digests), False), "registryUsername": (info["registry"]["username"], False),
              "registryPassword": (Path(info["registry"]["password_file"]).read_text(), True),
              "allowStandins": ("true", False), "allowUnsetAlerts": ("true", False),
              **{k: (v, True) for k, v in secrets().items()}, **{k: (v, False) for k, v in settings.items()}}
    if docker_host:
        values["dockerHost"] = (docker_host, False)
    stack.set_all_config({f"hardstack:{key}": auto.ConfigValue(value, secret=secret) for key, (value, secret) in values.items()})


def configure_as_workflow(layout: Path, stack_name: str, info: dict, digests: dict[str, str], docker_host: str, env: dict,
                          **settings: str):
    """The deploy workflow's "Configure the test stack" step, run as a runner runs it: its own script (bash -e, the
    step's env) in the layout's pulumi/ folder, with the digests where the workflow downloads them, fresh values for
    the repository secrets it reads, the lab registry for ghcr.io and its login for the run's token. Then the lab's
    own settings (stand-ins allowed, no alert receiver, and any hardstack:<key> given). The selected stack."""
    from pulumi import automation as auto

    from hardstack.checks.layout import layout_answers
    from hardstack.deploy import run

    (layout / "digests").mkdir(exist_ok=True)
    (layout / "digests" / "digests.json").write_text(json.dumps(digests))
    values = secrets()
    secret_env = {name: values[key] for key, name in layout_answers(layout).deploy_secret_config.items()}
    reg = info["registry"]
    given = {**secret_env, "STACK": stack_name, "DEPLOY_HOST": docker_host, "REGISTRY": f"{reg['address']}/shop",
             "GITHUB_ACTOR": reg["username"], "REGISTRY_TOKEN": Path(reg["password_file"]).read_text(),
             "PATH": f"{run.pulumi_env()['PATH']}:{env['PATH']}"}
    run_step(layout, "deploy.yml", "configure", layout / "pulumi", env, given)
    stack = run.select(stack_name, work_dir=layout / "pulumi", env={k: env[k] for k in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")})
    stack.set_all_config({f"hardstack:{key}": auto.ConfigValue(value)
                          for key, value in {"allowStandins": "true", "allowUnsetAlerts": "true", **settings}.items()})
    return stack


def deploy_env(env: dict) -> dict[str, str]:
    """What `hardstack deploy` runs with: the client's environment and the Pulumi state, but not the client's docker
    login (the target pulls with the login in the config store)."""
    out = {**env, **{k: os.environ[k] for k in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE") if k in os.environ}}
    out.pop("DOCKER_CONFIG", None)
    return out


def deploy(action: str, stack: str, project: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    return sh(*HARDSTACK, "deploy", action, "--stack", stack, "--cwd", str(project), *extra, env=env, check=False, timeout=1800)


def form_swarm(info: dict, env: dict, workers: list[dict]) -> dict[str, str]:
    """The first host manages, the given hosts join as workers (each leaving a swarm of its own first); the manager's env."""
    manager = info["hosts"][0]
    on = lambda host, *args, check=True: sh("docker", "-H", host["docker_host"], *args, env=env, check=check)  # noqa: E731
    if on(manager, "info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() != "active":
        on(manager, "swarm", "init", "--advertise-addr", manager["address"])
    token = on(manager, "swarm", "join-token", "-q", "worker").stdout.strip()
    for host in workers:
        state = on(host, "info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
        if state == "active" and on(manager, "node", "inspect", host["name"], check=False).returncode == 0:
            continue  # already a node of this swarm
        on(host, "swarm", "leave", "--force", check=False)
        on(host, "swarm", "join", "--token", token, f"{manager['address']}:2377")
    return {**env, "DOCKER_HOST": manager["docker_host"]}
