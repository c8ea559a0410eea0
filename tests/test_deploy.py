"""Deploy tier (bar Y2-Y6, issue 11): the real Pulumi CLI, pulumi-docker on the built plugin, the local engine.

File backend in a temporary folder, passphrase secrets provider, a `test` stack. Needs the Pulumi
CLI (scripts/pulumi-toolchain builds it) and a Docker engine; without them these tests fail and
say so, they never skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest
from pulumi import automation as auto
from typer.testing import CliRunner

from hardstack.catalog import IMAGES
from hardstack.cli import app
from hardstack.deploy import run
from hardstack.deploy.run import stack_leftovers
from hardstack.runtime.compose import registry_reachable, standin_env
from testkit.probes import RequestLoop, http
from test_docker_provider import inspect

from testkit.pulumistate import pulumi_stack  # test_deploy_swarm and test_lab import it from here too

pytestmark = pytest.mark.deploy


def require_tools() -> None:
    from test_stack import require_engine

    require_engine()
    try:
        run.pulumi_command()
    except run.DeployError as err:
        pytest.fail(str(err), pytrace=False)


def fresh_secrets() -> dict[str, str]:
    """Every secret config key a default layout needs, each a value of its own."""
    keys = ("dbSuperuserPassword", "dbPassword", "dbOwnerPassword", "dbBackupPassword", "dbExporterPassword", "djangoSecretKey", "redisPassword")
    return {key: f"{key[:4]}-{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}" for key in keys}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    require_tools()
    from test_stack import free_port

    root = tmp_path_factory.mktemp("deploy")
    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    layout = root / "hardstack_demo"
    standins = not registry_reachable(IMAGES["python_image"][1])
    if standins:
        standin_env(layout / ".env")  # compose (and so the deploy program) reads the layout's .env
    # Image tags of this deployment's own (the default layout's :local is built by other modules too).
    with (layout / ".env").open("a") as env_file:
        env_file.write("APP_VERSION=deploy-test\n")
    stack, state, project = pulumi_stack(root, "test")
    secrets = fresh_secrets()
    d = type("Deployment", (), {})()
    # Deployed knowingly: the stand-ins (when no registry answers) and no alert receiver (nothing to alert).
    d.allow = {"allowUnsetAlerts": ("true", False)} | ({"allowStandins": ("true", False)} if standins else {})
    d.stack, d.layout, d.state, d.secrets, d.port, d.project = stack, layout, state, secrets, free_port(), project
    d.name = "hardstack-demo-test"
    try:
        yield d
    finally:
        try:
            run.destroy(stack, on_output=lambda _: None)
        finally:
            for kind, ids in stack_leftovers(d.name).items():
                for ident in ids:
                    subprocess.run(["docker", {"containers": "rm", "networks": "network", "volumes": "volume"}[kind]]
                                   + ([] if kind == "containers" else ["rm"]) + ["-f", ident], capture_output=True)


def configure(d, **overrides) -> None:
    # One CLI call each (config rm-all, set-all): every `pulumi` start costs about 0.3 s of CPU.
    d.stack.remove_all_config([f"hardstack:{key}" for key in ("layoutDir", "publicPort", *d.secrets, "waitTimeout",
                                                              "protectVolumes", "allowStandins", "allowUnsetAlerts")])
    values = {"layoutDir": (str(d.layout), False), "publicPort": (str(d.port), False), **d.allow}
    values |= {key: (value, True) for key, value in d.secrets.items() if key in fresh_secrets()}
    values.update(overrides)
    d.stack.set_all_config({f"hardstack:{key}": auto.ConfigValue(value[0], secret=value[1])
                            for key, value in values.items() if value is not None})


def resource_count(d) -> int:
    return len(d.stack.export_stack().deployment.get("resources", []) or [])


def failing_up(d) -> str:
    with pytest.raises(auto.CommandError) as exc:
        run.up(d.stack, on_output=lambda _: None)
    return str(exc.value)


def test_y5_missing_config_fails_before_any_resource(deployment):
    configure(deployment, layoutDir=None, publicPort=("0", False))
    message = failing_up(deployment)
    assert "hardstack:layoutDir: required" in message
    assert "hardstack:publicPort: must be a port between 1 and 65535" in message
    assert resource_count(deployment) <= 1  # at most the stack itself
    assert not any(stack_leftovers(deployment.name).values())


def test_y4_plain_config_for_a_secret_is_refused(deployment):
    # A throwaway value: Pulumi keeps plain config in the update history, which is why it is refused.
    configure(deployment, dbPassword=("plain-" + uuid.uuid4().hex, False))
    message = failing_up(deployment)
    assert "pulumi config set --secret hardstack:dbPassword" in message
    assert resource_count(deployment) <= 1
    assert not any(stack_leftovers(deployment.name).values())


def test_y2_up_brings_the_stack_up_healthy_and_the_url_answers(deployment):
    configure(deployment)
    result = run.up(deployment.stack, on_output=print)
    url = result.outputs["url"].value
    assert url == f"http://127.0.0.1:{deployment.port}/"
    health = http(url + "api/health/")
    assert health.status == 200 and health.json()["status"] == "ok"
    assert http(url).status == 200
    digests = result.outputs["imageDigests"].value
    assert all(v.startswith("sha256:") for v in digests.values()) and len(digests) == 9  # backend, frontend, 7 pulled
    for name in result.outputs["containers"].value.values():
        state = json.loads(subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True).stdout)[0]
        assert state["HostConfig"]["ReadonlyRootfs"] and state["HostConfig"]["CapDrop"] == ["ALL"], name


def test_y3_second_up_reports_no_changes(deployment):
    result = run.up(deployment.stack, on_output=lambda _: None)
    changes = result.summary.resource_changes
    assert set(changes) == {"same"}, changes


def test_y4_no_secret_in_state_or_container_env(deployment):
    values = list(deployment.secrets.values())
    for path in deployment.state.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not any(v in text for v in values), path
    # `pulumi stack export` as a user runs it (the Automation API's export shows secrets on purpose).
    exported = subprocess.run(["pulumi", "stack", "export", "--stack", "test", "--cwd", str(deployment.project)],
                              capture_output=True, text=True, env={**os.environ, **run.pulumi_env()}, check=True).stdout
    assert '"secure"' in exported or "ciphertext" in exported
    assert not any(v in exported for v in values)
    for ident in stack_leftovers(deployment.name)["containers"]:
        info = subprocess.run(["docker", "inspect", ident], capture_output=True, text=True).stdout
        assert not any(v in info for v in values)


def test_secret_files_are_0400_and_owned_by_each_services_user(deployment):
    """As compose and swarm deliver them: only the service's own user can read its secrets."""
    containers = running(deployment)
    for service, uid in (("backend", "10001"), ("db", "70")):
        out = subprocess.run(["docker", "exec", containers[service], "sh", "-c", "stat -c '%a %u %n' /run/secrets/*"],
                             capture_output=True, text=True)
        lines = out.stdout.split("\n")[:-1]
        assert lines and all(line.startswith(f"400 {uid} ") for line in lines), (service, out.stdout, out.stderr)


def running(d) -> dict[str, str]:
    """service -> container name of the deployed stack."""
    return d.stack.outputs()["containers"].value


def health_url(d) -> str:
    return f"http://127.0.0.1:{d.port}/api/health/"


def test_refresh_sees_a_container_removed_by_hand(deployment):
    frontend = running(deployment)["frontend"]
    subprocess.run(["docker", "rm", "-f", frontend], check=True, capture_output=True)
    drift = deployment.stack.preview(refresh=True, on_output=lambda _: None)
    assert drift.change_summary.get("create") == 1, drift.change_summary
    run.up(deployment.stack, on_output=lambda _: None, refresh=True)
    assert inspect(running(deployment)["frontend"])["State"]["Health"]["Status"] == "healthy"
    assert http(f"http://127.0.0.1:{deployment.port}/").status == 200


def tasks(d) -> dict:
    return http(f"http://127.0.0.1:{d.port}/api/tasks/").json()["tasks"]


def test_a_new_backend_image_rolls_with_zero_failed_requests(deployment):
    before = running(deployment)
    # A long task on the old worker when the roll starts: its warm shutdown (stop_grace_period) lets it finish.
    key = f"roll-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "exec", before["backend"], "/opt/hardstack/entrypoint.sh", "python", "manage.py", "shell", "-c",
                    f"from demo.tasks import slow; slow.delay({key!r}, 15)"], check=True, capture_output=True)
    deadline = time.monotonic() + 30
    while (tasks(deployment).get(key) or {}).get("attempts") != 1:
        assert time.monotonic() < deadline, "the worker never started the long task"
        time.sleep(0.5)
    views = deployment.layout / "backend" / "demo" / "views.py"
    views.write_text(views.read_text() + "\n# release 2\n")
    with RequestLoop(health_url(deployment)) as loop:
        result = run.up(deployment.stack, on_output=print)
    after = running(deployment)
    assert after["worker"] != before["worker"] and inspect(before["worker"]) is None
    done = tasks(deployment)[key]
    assert done["finished"] and done["attempts"] == 1, f"the long task was cut off by the roll: {done}"
    assert after["backend"] != before["backend"] and after["migrate"] != before["migrate"]
    assert result.summary.resource_changes.get("replace", 0) >= 3  # image, migrate, backend
    assert inspect(before["backend"]) is None and inspect(after["backend"])["State"]["Health"]["Status"] == "healthy"
    assert after["proxy"] == before["proxy"] and after["db"] == before["db"]
    upstream_errors = [line for line in subprocess.run(["docker", "logs", after["proxy"]], capture_output=True, text=True).stderr.splitlines()
                       if "upstream" in line][-8:]
    assert loop.total >= 20 and loop.failed == 0, f"{loop.failed} of {loop.total} failed: {loop.failures[:5]}; proxy: {upstream_errors}"


def test_a_release_that_never_gets_healthy_fails_and_the_old_one_keeps_serving(deployment):
    """The app's process exits at start (gunicorn cannot import it): `up` reports that crash, naming the container
    and its last log lines, instead of waiting for waitTimeout (the provider alone waits it out: 300 s by default,
    120 here, when the message would be the provider's "failed to be in healthy state")."""
    before = running(deployment)
    deployment.stack.set_config("hardstack:waitTimeout", auto.ConfigValue("120"))
    wsgi = deployment.layout / "backend" / "config" / "wsgi.py"
    good = wsgi.read_text()
    wsgi.write_text(good + "\nraise RuntimeError('broken release: the app does not start')\n")
    try:
        started = time.monotonic()
        with RequestLoop(health_url(deployment)) as loop:
            with pytest.raises(run.DeployError) as exc:
                run.up(deployment.stack, on_output=lambda _: None)
        message = str(exc.value)
        print(f"crash reported {time.monotonic() - started:.0f}s after `up` started")
        assert f"{deployment.name}-backend" in message and "before it was ever healthy" in message, message[-2000:]
        assert "broken release: the app does not start" in message, message[-2000:]  # its last log lines
        assert inspect(before["backend"])["State"]["Health"]["Status"] == "healthy"
        assert loop.total >= 20 and loop.failed == 0, f"{loop.failed} of {loop.total} failed: {loop.failures[:5]}"
    finally:
        wsgi.write_text(good)
        deployment.stack.remove_config("hardstack:waitTimeout")
    run.up(deployment.stack, on_output=print)  # the fixed release deploys over the failed one
    assert http(health_url(deployment)).status == 200
    backends = subprocess.run(["docker", "ps", "-q", "--filter", f"name=^{deployment.name}-backend-[0-9a-f]+$"],
                              capture_output=True, text=True).stdout.split()
    assert len(backends) == 1, "the failed release's container is gone"


def test_a_new_app_role_password_just_deploys(deployment):
    """db-setup sets the roles' passwords on each run: rotating dbPassword is a config change and an up."""
    before = running(deployment)
    new = "db2-" + uuid.uuid4().hex + uuid.uuid4().hex[:8]
    deployment.secrets["dbPassword2"] = new  # the state scan below must not find it either
    deployment.stack.set_config("hardstack:dbPassword", auto.ConfigValue(new, secret=True))
    run.up(deployment.stack, on_output=lambda _: None)
    after = running(deployment)
    assert after["db"] == before["db"] and after["backend"] != before["backend"] and after["db-setup"] != before["db-setup"]
    assert http(health_url(deployment)).json()["status"] == "ok"  # the new backend logs in as app with the new password
    deployment.secrets["dbPassword"] = new


def test_a_new_superuser_password_is_refused_until_the_role_has_it(deployment):
    before = running(deployment)
    new = "su2-" + uuid.uuid4().hex + uuid.uuid4().hex[:8]
    deployment.secrets["dbSuperuserPassword2"] = new
    deployment.stack.set_config("hardstack:dbSuperuserPassword", auto.ConfigValue(new, secret=True))
    with pytest.raises(run.DeployError) as exc:
        run.up(deployment.stack, on_output=lambda _: None)
    assert "--superuser-password-changed" in str(exc.value) and "\\password" in str(exc.value)
    assert running(deployment) == before and http(health_url(deployment)).status == 200
    # The rotation as the message says, with the SQL on stdin instead of a prompt.
    subprocess.run(["docker", "exec", "-i", before["db"], "sh", "-c", 'psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"'],
                   input=f"ALTER ROLE postgres PASSWORD '{new}';", text=True, check=True, capture_output=True)
    run.up(deployment.stack, on_output=lambda _: None, superuser_password_changed=True)
    after = running(deployment)
    assert after["db"] == before["db"], "the database is not restarted for a password file it no longer reads"
    assert after["db-setup"] != before["db-setup"]  # and it logged in with the new one (it exited 0)
    assert http(health_url(deployment)).json()["status"] == "ok"
    deployment.secrets["dbSuperuserPassword"] = new


def test_superuser_password_drives_the_superuser_step(deployment):
    assert "superuser" not in running(deployment)  # without the key there is no such step
    password = "su-" + uuid.uuid4().hex + uuid.uuid4().hex[:8]
    deployment.secrets["superuserPassword"] = password  # the state scan must not find it either
    deployment.stack.set_config("hardstack:superuserPassword", auto.ConfigValue(password, secret=True))
    run.up(deployment.stack, on_output=lambda _: None)
    step = inspect(running(deployment)["superuser"])
    assert step["State"]["Status"] == "exited" and step["State"]["ExitCode"] == 0
    assert password not in json.dumps(step)
    assert not any(password in f.read_text(errors="replace") for f in deployment.state.rglob("*") if f.is_file())
    count = subprocess.run(["docker", "exec", running(deployment)["db"], "sh", "-c",
                            'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAc "SELECT count(*) FROM auth_user WHERE is_superuser"'],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert count == "1"


def test_y6_destroy_keeps_the_data_volumes_unless_asked(deployment):
    assert stack_leftovers(deployment.name)["containers"]
    run.destroy(deployment.stack, on_output=lambda _: None)
    left = stack_leftovers(deployment.name)
    assert left["containers"] == [] and left["networks"] == []
    kept = sorted(subprocess.run(["docker", "volume", "inspect", "-f", "{{.Name}}", *left["volumes"]],
                                 capture_output=True, text=True).stdout.split())
    # User data (catalog.PROTECTED_VOLUMES), as the swarm removal keeps it; metrics and alert state go.
    assert kept == sorted(f"{deployment.name}-{v}" for v in ("backups", "db-data", "media", "redis-data"))
    configure(deployment, protectVolumes=("false", False))
    run.up(deployment.stack, on_output=lambda _: None)  # adopts the kept volumes, with the data in them
    assert http(health_url(deployment)).json()["status"] == "ok"
    run.destroy(deployment.stack, on_output=lambda _: None)
    assert stack_leftovers(deployment.name) == {"containers": [], "networks": [], "volumes": []}
