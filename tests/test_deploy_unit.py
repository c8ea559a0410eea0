"""Deploy unit tier: the Pulumi program under mocks (no engine, no CLI).

Y1: every container resource carries the layout's hardening. Secrets appear only as secret values,
only in secret-file volumes, never in env. Y5: bad settings fail before any resource.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pulumi
import pytest
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from hardstack.deploy.settings import SECRET_KEYS, DeploySettings, SettingsError, from_values

from pulumi.runtime.rpc import _special_sig_key as SECRET_SIG, _special_secret_sig as SECRET_MARKER  # noqa: E402

DB_PASSWORD = "db-password-" + "x" * 20
SECRET_KEY = "django-secret-" + "y" * 30
REDIS_PASSWORD = "redis-password-" + "z" * 20


class Mocks(pulumi.runtime.Mocks):
    def __init__(self):
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append(args)
        outputs = dict(args.inputs)
        outputs.setdefault("name", args.inputs.get("name") or f"{args.name}-mock")
        outputs["image_id"] = "sha256:" + "0" * 64
        outputs["container_id"] = "c" * 12
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


MOCKS = Mocks()
pulumi.runtime.set_mocks(MOCKS, preview=False)
WAITED: list[tuple[str, float]] = []  # (job service id, timeout) for each swarm job the program waited for


@pytest.fixture(autouse=True, scope="module")
def no_engine_for_jobs():
    """No engine here: the swarm target's wait for its jobs (deploy/watch.wait_for_job) records what it would wait for."""
    from hardstack.deploy import watch

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(watch, "wait_for_job", lambda ident, timeout: WAITED.append((ident, timeout)) or 0.0)
        yield

from hardstack.deploy.containers import deploy_containers as deploy  # noqa: E402
from hardstack.deploy.plan import ProgramError, make_plan  # noqa: E402  (after set_mocks, as Pulumi requires)


def valid_values(layout: Path) -> dict[str, str]:
    return {"layoutDir": str(layout), "dbPassword": DB_PASSWORD, "djangoSecretKey": SECRET_KEY, "redisPassword": REDIS_PASSWORD,
            "allowUnsetAlerts": "true",
            **{key: f"{key}-{'w' * 20}" for key in ("dbSuperuserPassword", "dbOwnerPassword", "dbBackupPassword", "dbExporterPassword")}}


def all_secret(key: str) -> bool:
    return key in SECRET_KEYS


@pytest.fixture(scope="module")
def plan(default_layout):
    return make_plan(from_values(valid_values(default_layout), all_secret), "unit")


CONTAINER, NETWORK, VOLUME = "docker:index/container:Container", "docker:index/network:Network", "docker:index/volume:Volume"
PREFIX = "hardstack-demo-unit-"


def of_type(typ: str) -> list[pulumi.runtime.MockResourceArgs]:
    return [r for r in MOCKS.resources if r.typ == typ]


def services() -> dict[str, pulumi.runtime.MockResourceArgs]:
    return {r.name.removeprefix(PREFIX): r for r in of_type(CONTAINER) if not r.name.endswith("-files")}


def fillers() -> dict[str, pulumi.runtime.MockResourceArgs]:
    return {r.name.removeprefix(PREFIX).removesuffix("-files"): r for r in of_type(CONTAINER) if r.name.endswith("-files")}


@pytest.fixture(scope="module")
def declared(plan):
    MOCKS.resources.clear()

    @pulumi.runtime.test
    def run():
        outputs = deploy(plan)
        return pulumi.Output.all(outputs["url"], outputs["imageDigests"]).apply(lambda v: v)

    run()
    return MOCKS.resources


def test_every_service_has_a_container(declared, plan):
    assert set(services()) == {"db", "db-setup", "migrate", "backend", "redis", "worker", "beat", "frontend", "proxy", "backup", "prometheus",
                               "postgres-exporter", "alertmanager", "redis-exporter"}


def test_y1_every_container_is_hardened(declared):
    assert services()
    for name, r in services().items():
        p = r.inputs
        user = p["user"].split(":")[0]
        assert user.isdigit() and user != "0", name
        assert p["readOnly"] is True, name
        assert p["capabilities"]["drops"] == ["ALL"], name
        assert "no-new-privileges:true" in p["securityOpts"], name
        assert p["memory"] > 0 and p["memorySwap"] == p["memory"] and float(p["cpus"]) > 0, name
        assert p["logOpts"]["max-size"] and p["logOpts"]["max-file"], name
        assert "/tmp" in p["tmpfs"], name
        if name in ("db-setup", "migrate"):
            assert p["restart"] == "no" and p["attach"] is True and p["mustRun"] is False
        else:
            assert p["restart"] == "unless-stopped" and p["wait"] is True and p["mustRun"] is True, name
            assert p["healthcheck"]["tests"][0] == "CMD", name


def test_pids_limits_are_exported_for_every_service(declared, plan):
    limits = {name: int(svc["pids_limit"]) for name, svc in plan.services.items()}
    assert set(limits) == set(services()) and all(0 < v <= 4096 for v in limits.values())


def test_only_the_proxy_publishes(declared):
    published = {name: r.inputs["ports"] for name, r in services().items() if r.inputs.get("ports")}
    assert list(published) == ["proxy"]
    assert published["proxy"][0]["ip"] == "127.0.0.1"


def test_secrets_only_as_files_never_env(declared):
    for name, r in services().items():
        env = json.dumps(r.inputs.get("envs", []))
        assert DB_PASSWORD not in env and SECRET_KEY not in env, name
        for entry in r.inputs.get("envs", []):
            key, _, value = entry.partition("=")
            if "PASSWORD" in key or "SECRET" in key:
                assert key.endswith("_FILE") and value.startswith("/run/secrets/"), (name, key)
        assert DB_PASSWORD not in json.dumps(r.inputs.get("labels", [])), name
    # A files container that holds a secret sends its whole upload list as a Pulumi secret.
    files = {name: {u["file"]: u for u in (unwrap_secret(r.inputs["uploads"]) if name not in ("proxy", "prometheus") else r.inputs["uploads"])}
             for name, r in fillers().items()}
    assert set(files) >= {"db", "backend", "migrate", "postgres-exporter", "proxy"}
    backend = {path: u["content"] for path, u in files["backend"].items()}
    assert backend == {"/hardstack/secrets/db_password": DB_PASSWORD, "/hardstack/secrets/django_secret_key": SECRET_KEY,
                       "/hardstack/secrets/redis_url_password": REDIS_PASSWORD}
    assert set(files["db"]) == {"/hardstack/secrets/postgres_password"}
    users = {name: r.inputs["user"] for name, r in services().items()}
    for name, uploads in files.items():
        filler = fillers()[name].inputs
        holds_secrets = any(path.startswith("/hardstack/secrets/") for path in uploads)
        assert filler["networkMode"] == "none" and filler["start"] is holds_secrets, name
        if holds_secrets:  # the files container hands the secrets to the service's user, 0400, and exits
            assert filler["user"] == "0:0" and filler["attach"] is True, name
            assert filler["command"] == [f"chown -R {users[name]} /hardstack/secrets && chmod 0500 /hardstack/secrets && "
                                         "chmod 0400 /hardstack/secrets/*"], name
        for path, u in uploads.items():
            assert u["permissions"] == ("0400" if path.startswith("/hardstack/secrets/") else "0444"), path
            if not path.startswith("/hardstack/secrets/"):
                assert DB_PASSWORD not in json.dumps(u), path  # configs hold no secret
    # A service mounts its files read-only; the secrets volume at /run/secrets.
    mounts = {v["containerPath"]: v for v in services()["backend"].inputs["volumes"]}
    assert mounts["/run/secrets"]["readOnly"] is True


def unwrap_secret(value):
    """The value of a Pulumi secret as the engine receives it; fails if the value is not marked secret."""
    assert isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_MARKER, f"not a secret: {value!r}"[:200]
    return value["value"]


def test_database_networks_are_internal(declared):
    nets = {r.inputs["name"].rsplit("-", 1)[-1]: r.inputs["internal"] for r in of_type(NETWORK)}
    assert nets == {"edge": False, "app": True, "data": True, "monitoring": True, "alerting": False}


def test_volume_names_never_derive_from_values(declared):
    names = [r.inputs["name"] for r in of_type(VOLUME)]
    assert f"{PREFIX}db-data" in names and f"{PREFIX}backend-secrets" in names
    assert all(re.fullmatch(r"[a-z0-9-]+", n) and n.startswith(PREFIX) for n in names), names


DIGEST = "sha256:" + "ab" * 32


def test_registry_images_are_pulled_by_the_pushed_digest(default_layout):
    values = {**valid_values(default_layout), "imageRegistry": "ghcr.io/acme/shop",
              "imageDigests": json.dumps({"backend": DIGEST, "frontend": DIGEST.replace("ab", "cd")})}
    plan = make_plan(from_values(values, all_secret), "unit")
    MOCKS.resources.clear()
    pulumi.runtime.test(lambda: deploy(plan)["url"])()
    names = sorted(r.inputs["name"] for r in of_type("docker:index/remoteImage:RemoteImage"))
    assert f"ghcr.io/acme/shop/backend@{DIGEST}" in names and f"ghcr.io/acme/shop/frontend@{DIGEST.replace('ab', 'cd')}" in names
    assert not any("triggers" in r.inputs for r in of_type("docker:index/remoteImage:RemoteImage") if "ghcr.io" in r.inputs["name"])


def test_a_missing_digest_fails_before_any_resource(default_layout):
    from hardstack.deploy.plan import ProgramError

    values = {**valid_values(default_layout), "imageRegistry": "ghcr.io/acme/shop", "imageDigests": json.dumps({"backend": DIGEST})}
    plan = make_plan(from_values(values, all_secret), "unit")
    MOCKS.resources.clear()
    with pytest.raises(ProgramError, match="no digest for frontend"):
        pulumi.runtime.test(lambda: deploy(plan)["url"])()
    assert MOCKS.resources == []


def test_background_work_needs_its_secrets_before_any_resource(tmp_path):
    from typer.testing import CliRunner

    from hardstack.cli import app
    from hardstack.deploy.plan import ProgramError

    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(tmp_path), "backend_secrets=SENTRY_DSN API_TOKEN"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    layout = tmp_path / "hardstack_demo"
    values = valid_values(layout)
    values.pop("redisPassword")
    with pytest.raises(ProgramError) as exc:
        make_plan(from_values({**values, "backendSecrets": json.dumps({"SENTRY_DSN": "https://k@sentry.example/1", "OTHER": "x"})}, all_secret), "unit")
    message = str(exc.value)
    assert "hardstack:redisPassword: required" in message and "no value for API_TOKEN" in message and "OTHER is not in" in message
    plan = make_plan(from_values({**valid_values(layout), "backendSecrets": json.dumps({"SENTRY_DSN": "https://k@sentry.example/1",
                                                                                        "API_TOKEN": "t" * 20})}, all_secret), "unit")
    values = plan.secret_values()
    assert {"app_sentry_dsn", "app_api_token", "redis_password", "redis_url_password"} <= set(values)
    with pytest.raises(SettingsError, match="backendSecrets is set in plain text"):
        from_values({**valid_values(layout), "backendSecrets": "{}"}, lambda key: key != "backendSecrets")
    with pytest.raises(SettingsError, match="URL-safe"):
        from_values({**valid_values(layout), "redisPassword": "has a space and / slash!!"}, all_secret)


def test_start_order_follows_depends_on():
    from hardstack.deploy.plan import start_order

    order = start_order({"proxy": {"depends_on": {"backend": {}}}, "backend": {"depends_on": {"db": {}, "migrate": {}}},
                          "migrate": {"depends_on": {"db": {}}}, "db": {}})
    assert order.index("db") < order.index("migrate") < order.index("backend") < order.index("proxy")


# ---- Y5: settings --------------------------------------------------------------------------

def test_valid_settings(default_layout):
    s = from_values({**valid_values(default_layout), "publicPort": "9443", "bindAddress": "0.0.0.0"}, all_secret)
    assert s.public_port == 9443 and s.db_password.get_secret_value() == DB_PASSWORD
    assert DB_PASSWORD not in repr(s)


BAD_SETTINGS = {
    "missing-layout": (lambda v: v.pop("layoutDir"), "hardstack:layoutDir", "required"),
    "missing-db-password": (lambda v: v.pop("dbPassword"), "hardstack:dbPassword", "pulumi config set --secret hardstack:dbPassword"),
    "layout-not-a-layout": (lambda v: v.update(layoutDir="/tmp"), "hardstack:layoutDir", "not a layout"),
    "port-range": (lambda v: v.update(publicPort="0"), "hardstack:publicPort", "between 1 and 65535"),
    "port-not-int": (lambda v: v.update(publicPort="http"), "hardstack:publicPort", "integer"),
    "bind-not-ip": (lambda v: v.update(bindAddress="everywhere"), "hardstack:bindAddress", "IP address"),
    "registry-scheme": (lambda v: v.update(imageRegistry="https://r.example.com"), "hardstack:imageRegistry", "no scheme"),
    "weak-secret": (lambda v: v.update(djangoSecretKey="short"), "hardstack:djangoSecretKey", "16 characters"),
    "unknown-key": (lambda v: v.update(dbPasword="x" * 20), "hardstack:dbPasword", "unknown key"),
    "digest-not-sha": (lambda v: v.update(imageRegistry="ghcr.io/o/r", imageDigests='{"backend": "latest"}'),
                       "hardstack:imageDigests", "sha256:<64 hex>"),
    "digests-not-json": (lambda v: v.update(imageRegistry="ghcr.io/o/r", imageDigests="backend@sha256"), "hardstack:imageDigests", "JSON"),
    "digests-without-registry": (lambda v: v.update(imageDigests='{"backend": "sha256:' + "a" * 64 + '"}'), "hardstack", "needs imageRegistry"),
    "docker-host-scheme": (lambda v: v.update(dockerHost="deploy@shop.example.com"), "hardstack:dockerHost", "ssh://user@host"),
    "docker-host-no-host": (lambda v: v.update(dockerHost="ssh://"), "hardstack:dockerHost", "ssh://user@host"),
    "registry-login-half": (lambda v: v.update(imageRegistry="r.example.com/team", registryUsername="ci"), "hardstack", "go together"),
    "registry-login-without-registry": (lambda v: v.update(registryUsername="ci", registryPassword="p" * 20), "hardstack", "needs imageRegistry"),
}


@pytest.mark.parametrize("mutate,key,fragment", BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_y5_bad_settings_name_the_key(default_layout, mutate, key, fragment):
    values = valid_values(default_layout)
    mutate(values)
    with pytest.raises(SettingsError) as exc:
        from_values(values, all_secret)
    assert any(p.startswith(key) and fragment in p for p in exc.value.problems), exc.value.problems


def test_a_registry_login_and_a_remote_host_go_to_one_provider_that_every_resource_uses(default_layout, monkeypatch):
    """hardstack:dockerHost + registryUsername/registryPassword: an explicit docker provider with that host and a
    secret registry_auth; every docker resource names it; the password never appears in plain text."""
    from hardstack.deploy import program as program_module

    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    values = {**valid_values(default_layout), "imageRegistry": "10.77.0.10:5000/shop", "dockerHost": "ssh://root@10.77.0.11",
              "imageDigests": json.dumps({"backend": DIGEST, "frontend": DIGEST}), "registryUsername": "ci",
              "registryPassword": "registry-password-" + "r" * 10}
    pulumi.runtime.set_all_config({f"hardstack:{k}": v for k, v in values.items()}, [f"hardstack:{k}" for k in values if k in SECRET_KEYS])
    MOCKS.resources.clear()
    try:
        pulumi.runtime.test(program_module.program)()
    finally:
        pulumi.runtime.set_all_config({}, [])
    assert __import__("os").environ["DOCKER_HOST"] == "ssh://root@10.77.0.11"  # the run's own commands go there too
    (provider,) = [r for r in MOCKS.resources if r.typ == "pulumi:providers:docker"]
    assert provider.inputs["host"] == "ssh://root@10.77.0.11"
    wrapped = provider.inputs["registryAuth"]  # the whole login is a secret value in the provider's inputs
    assert wrapped[SECRET_SIG] == SECRET_MARKER
    (auth,) = json.loads(wrapped["value"])
    assert auth == {"address": "10.77.0.10:5000", "username": "ci", "password": "registry-password-" + "r" * 10}
    assert "registry-password-" not in json.dumps([r.inputs for r in MOCKS.resources if r.typ != "pulumi:providers:docker"], default=str)
    docker_resources = [r for r in MOCKS.resources if r.typ.startswith("docker:")]
    assert docker_resources and all(r.provider and "providers:docker::engine" in r.provider for r in docker_resources), \
        [(r.name, r.provider) for r in docker_resources if not r.provider or "::engine" not in r.provider]


def test_y4_plain_secret_is_refused_with_the_right_command(default_layout):
    with pytest.raises(SettingsError) as exc:
        from_values(valid_values(default_layout), lambda key: key != "dbPassword")
    assert exc.value.problems == ["hardstack:dbPassword is set in plain text; set it as a secret: "
                                  "pulumi config set --secret hardstack:dbPassword <value>"]


def test_y5_program_fails_before_any_resource(default_layout):
    from hardstack.deploy.program import program

    MOCKS.resources.clear()
    pulumi.runtime.set_all_config({"hardstack:layoutDir": str(default_layout), "hardstack:publicPort": "99999"}, [])

    @pulumi.runtime.test
    def run():
        program()

    with pytest.raises(SettingsError) as exc:
        run()
    assert any("hardstack:dbPassword" in p for p in exc.value.problems)
    assert any("hardstack:publicPort" in p for p in exc.value.problems)
    assert MOCKS.resources == []
    pulumi.runtime.set_all_config({}, [])


def test_an_unset_alert_receiver_is_refused_unless_allowed(default_layout):
    values = valid_values(default_layout)
    del values["allowUnsetAlerts"]
    with pytest.raises(ProgramError) as exc:
        make_plan(from_values(values, all_secret), "unit")
    assert "hardstack:alertWebhookUrl is unset" in str(exc.value) and "--allow-unset-alerts" in str(exc.value)
    values["alertWebhookUrl"] = "https://hooks.example.com/services/T0/B0/x"
    assert make_plan(from_values(values, all_secret), "unit").services  # a real receiver deploys


def test_standin_images_are_refused_unless_allowed(default_layout, tmp_path):
    import shutil

    layout = tmp_path / "layout"
    shutil.copytree(default_layout, layout, symlinks=True)
    (layout / ".env").write_text("DB_IMAGE=hardstack-standin/timescaledb:0123456789ab\n")
    values = valid_values(layout)
    with pytest.raises(ProgramError) as exc:
        make_plan(from_values(values, all_secret), "unit")
    assert "hardstack-standin/timescaledb:0123456789ab" in str(exc.value) and "--allow-standins" in str(exc.value)
    values["allowStandins"] = "true"
    assert make_plan(from_values(values, all_secret), "unit").services


def test_the_cli_flags_allow_for_one_run_only(default_layout, monkeypatch):
    from hardstack.deploy.settings import ALLOW_ENV

    monkeypatch.setenv(ALLOW_ENV["allowUnsetAlerts"], "1")
    pulumi.runtime.set_all_config({f"hardstack:{k}": v for k, v in valid_values(default_layout).items() if k != "allowUnsetAlerts"},
                                  [f"hardstack:{k}" for k in SECRET_KEYS])
    try:
        from hardstack.deploy.settings import from_pulumi_config

        assert from_pulumi_config().allow_unset_alerts is True
        monkeypatch.delenv(ALLOW_ENV["allowUnsetAlerts"])
        assert from_pulumi_config().allow_unset_alerts is False
    finally:
        pulumi.runtime.set_all_config({}, [])


@hsettings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(
    st.sampled_from(["layoutDir", "publicPort", "bindAddress", "imageRegistry", "dbPassword", "djangoSecretKey",
                     "superuserPassword", "protectVolumes", "other"]),
    st.one_of(st.text(max_size=40), st.sampled_from(["8080", "127.0.0.1", "x" * 20, "0", "yes"])), max_size=9),
    secret=st.booleans())
def test_any_settings_validate_or_name_each_bad_key(default_layout, values, secret):
    try:
        s = from_values(values, lambda key: secret)
    except SettingsError as exc:
        assert exc.problems and all(p.startswith("hardstack") for p in exc.problems)
        return
    assert isinstance(s, DeploySettings) and secret
    assert (s.layout_dir / "compose.yaml").exists()


# ---- swarm target (hardstack:target = swarm) ----------------------------------------------------
SERVICE, SECRET, CONFIG = "docker:index/service:Service", "docker:index/secret:Secret", "docker:index/serviceConfig:ServiceConfig"


@pytest.fixture(scope="module")
def declared_swarm(default_layout):
    from hardstack.deploy.services import deploy_services as deploy_swarm

    swarm_plan = make_plan(from_values({**valid_values(default_layout), "target": "swarm"}, all_secret), "unit")
    MOCKS.resources.clear()
    WAITED.clear()
    result = {"waited": WAITED}

    @pulumi.runtime.test
    def run():
        outputs = deploy_swarm(swarm_plan)
        result.update(outputs)
        return pulumi.Output.all(outputs["url"], outputs["services"]).apply(lambda v: v)

    run()
    return {r.name.removeprefix("svc-"): r for r in of_type(SERVICE)}, result


def test_swarm_every_service_of_stack_yaml_is_a_hardened_service(declared_swarm):
    services, outputs = declared_swarm
    assert set(services) == {"db", "db-setup", "migrate", "backend", "redis", "worker", "beat", "frontend", "proxy", "backup", "prometheus",
                             "postgres-exporter", "alertmanager", "redis-exporter"}
    for name, r in services.items():
        spec = r.inputs["taskSpec"]["containerSpec"]
        user = spec["user"].split(":")[0]
        assert user.isdigit() and user != "0", name
        assert spec["readOnly"] is True and spec["capDrops"] == ["ALL"], name
        limits = r.inputs["taskSpec"]["resources"]["limits"]
        assert limits["memoryBytes"] > 0 and limits["nanoCpus"] > 0, name
        assert r.inputs["endpointSpec"]["mode"] == "dnsrr", name
        for secret in spec.get("secrets", []):
            assert secret["fileMode"] == 0o400 and secret["fileUid"] == user, (name, secret)
        if name in ("db-setup", "migrate"):
            assert "convergeConfig" not in r.inputs and r.inputs["taskSpec"]["restartPolicy"]["condition"] == "on-failure"
        else:
            assert r.inputs["convergeConfig"]["timeout"] == "300s", name
            assert spec["healthcheck"]["tests"][0] == "CMD", name
    assert set(outputs["pidsLimits"]) == set(services)


def test_swarm_what_needs_a_job_waits_for_it_to_complete(declared_swarm):
    """A service that needs db-setup or migrate carries a service label whose value resolves only once the job's
    current spec has completed (deploy/watch.wait_for_job), so Pulumi creates or rolls it after; jobs are the only
    services waited on that way, and the label is on the service, not its task template (no task rolls for it)."""
    services, outputs = declared_swarm
    assert sorted(outputs["waited"]) == [("svc-db-setup-id", 300), ("svc-migrate-id", 300)]
    after = {name: {lab["label"]: lab["value"] for lab in r.inputs["labels"] if lab["label"].startswith("io.hardstack.after.")}
             for name, r in services.items()}
    assert after["migrate"] == {"io.hardstack.after.db-setup": "svc-db-setup-id"}
    assert after["backend"]["io.hardstack.after.migrate"] == "svc-migrate-id"
    assert after["db-setup"] == {} and after["db"] == {}
    for name, r in services.items():
        task_labels = [lab["label"] for lab in r.inputs["taskSpec"]["containerSpec"].get("labels", [])]
        assert not any(label.startswith("io.hardstack.after.") for label in task_labels), name


def test_swarm_rolls_stateless_services_start_first_and_pins_the_data_ones(declared_swarm):
    services, _ = declared_swarm
    backend = services["backend"].inputs
    assert backend["updateConfig"]["order"] == "start-first" and backend["updateConfig"]["failureAction"] == "rollback"
    assert backend["mode"]["replicated"]["replicas"] == 2
    for name in ("db", "prometheus", "alertmanager", "backup"):
        assert services[name].inputs["updateConfig"]["order"] == "stop-first", name
        assert services[name].inputs["taskSpec"]["placement"]["constraints"] == ["node.labels.hardstack_demo.db == true"], name
    ports = services["proxy"].inputs["endpointSpec"]["ports"]
    assert [(p["publishMode"], p["targetPort"]) for p in ports] == [("host", 8080)]


def test_swarm_secrets_are_secret_outputs_and_never_in_env(declared_swarm):
    services, _ = declared_swarm
    secrets = of_type(SECRET)
    assert {r.name for r in secrets} >= {"secret-db_password", "secret-django_secret_key", "secret-postgres_password"}
    for r in secrets:
        assert r.inputs["data"].get(SECRET_SIG) == SECRET_MARKER, r.name  # the data stays a Pulumi secret
    for name, r in services.items():
        env = json.dumps(r.inputs["taskSpec"]["containerSpec"].get("env", {}))
        assert DB_PASSWORD not in env and SECRET_KEY not in env, name
    nets = {r.name: r.inputs for r in of_type(NETWORK)}
    assert all(n["driver"] == "overlay" and n["options"] == {"encrypted": "true"} for n in nets.values())
    assert {name for name, n in nets.items() if not n.get("internal")} == {"net-edge", "net-alerting"}
    assert {r.name for r in of_type(CONFIG)} >= {"config-nginx_nginx", "config-backup_backup"}


def test_swarm_refuses_a_bind_address(default_layout):
    with pytest.raises(SettingsError) as exc:
        from_values({**valid_values(default_layout), "target": "swarm", "bindAddress": "127.0.0.1"}, all_secret)
    assert "bindAddress: swarm publishes on every interface" in str(exc.value)


def test_swarm_pids_limits_are_set_on_every_service_at_once_and_failures_named(monkeypatch):
    """The provider has no pids limit: `deploy up` sets it with `docker service update` per service,
    side by side (each waits for its health-gated roll), jobs detached; every failure is reported. A service whose
    limit the engine already holds gets no update."""
    import subprocess
    import threading
    import time as clock

    from hardstack.deploy import run

    calls, running, peak = [], [0], [0]
    lock = threading.Lock()

    def fake_run(cmd, **kwargs):
        with lock:
            calls.append(cmd)
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        clock.sleep(0.2)
        with lock:
            running[0] -= 1
        failed = cmd[-1] == "p_db"
        return subprocess.CompletedProcess(cmd, 1 if failed else 0, "", "rpc error: update out of sequence" if failed else "")

    monkeypatch.setattr(run.subprocess, "run", fake_run)
    # The engine holds p_redis with its limit already (this up left it unchanged): no update for it.
    monkeypatch.setattr(run, "_pids_limit_of", lambda service: {"p_redis": 64, "p_backend": 128}.get(service))
    outputs = {"pidsLimits": pulumi.automation.OutputValue({"backend": 256, "db": 512, "migrate": 64, "redis": 64, "gone": 1}, False),
               "services": pulumi.automation.OutputValue({"backend": "p_backend", "db": "p_db", "migrate": "p_migrate",
                                                          "redis": "p_redis"}, False),
               "jobs": pulumi.automation.OutputValue(["migrate"], False)}
    with pytest.raises(run.DeployError) as err:
        run.apply_pids_limits(outputs, lambda line: None)
    assert "p_db" in str(err.value) and "out of sequence" in str(err.value) and "p_backend" not in str(err.value)
    assert sorted(c[-1] for c in calls) == ["p_backend", "p_db", "p_migrate"]
    assert peak[0] == 3  # all at once, not one roll after another
    by_service = {c[-1]: c for c in calls}
    assert "--detach" in by_service["p_migrate"] and "--quiet" in by_service["p_backend"]
    assert by_service["p_db"][-3:] == ["--limit-pids", "512", "p_db"]


def declared_on_both_targets(layout: Path) -> dict[str, list[pulumi.runtime.MockResourceArgs]]:
    """target -> the resources each Pulumi target declares for a layout without workers (no redisPassword)."""
    from hardstack.deploy.services import deploy_services as deploy_swarm

    values = {k: v for k, v in valid_values(layout).items() if k != "redisPassword"}
    declared = {}
    for target, run_target in (("compose", deploy), ("swarm", deploy_swarm)):
        target_plan = make_plan(from_values({**values, "target": target}, all_secret), "unit")
        MOCKS.resources.clear()

        @pulumi.runtime.test
        def run():
            return run_target(target_plan)["url"]

        run()
        declared[target] = list(MOCKS.resources)
    return declared


def test_both_targets_follow_a_layout_without_an_spa(tmp_path):
    """frontend_context empty: neither Pulumi target declares a frontend; the proxy still runs."""
    from typer.testing import CliRunner

    from hardstack.cli import app

    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(tmp_path), "frontend_context=", "celery_app="], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    layout = tmp_path / "hardstack_demo"
    declared = declared_on_both_targets(layout)
    for target, kind in (("compose", CONTAINER), ("swarm", SERVICE)):
        names = {r.name for r in declared[target] if r.typ == kind}
        assert not [n for n in names if "frontend" in n], (target, names)
        assert [n for n in names if n.endswith("proxy")], (target, names)


def test_a_crash_report_names_the_container_and_the_apps_own_error():
    """gunicorn's shutdown traceback ends the log of an app that cannot be imported: the report still names the
    app's error (tests/test_deploy.py and tests/test_lab.py crash real releases)."""
    from hardstack.deploy.watch import Crash

    logs = "\n".join(["[INFO] Booting worker", "Traceback (most recent call last):", '  File "/app/config/wsgi.py", line 9',
                      "RuntimeError: broken release: the app does not start", "[ERROR] Worker failed to boot.",
                      *[f'  File "/opt/venv/gunicorn/arbiter.py", line {n}' for n in range(20)],
                      "gunicorn.errors.HaltServer: <HaltServer 'Worker failed to boot.' 3>"])
    text = Crash("shop-test-backend-1a2b3c4", 3, 2, 8.4, logs).describe()
    assert text.startswith("shop-test-backend-1a2b3c4 exited with code 3 (2 restarts) 8s after it was created")
    assert "The error it printed: RuntimeError: broken release: the app does not start" in text
    assert text.rstrip().endswith("HaltServer 'Worker failed to boot.' 3>")


def test_a_swarm_converge_timeout_names_the_failed_tasks_their_nodes_and_logs(monkeypatch):
    """The provider says only "context deadline exceeded" when a swarm service never converges: the watch keeps the
    tasks that failed since `up` began (older ones and other stacks' are not its business) and says where and why."""
    from hardstack import engine
    from hardstack.deploy import watch

    class FakeApi:
        def services(self, filters):
            assert filters == {"label": "io.hardstack.stack=shop-test"}
            return [{"ID": "s1", "Spec": {"Name": "shop-test-backend"}}, {"ID": "s2", "Spec": {"Name": "shop-test-db"}}]

        def tasks(self, filters):
            if filters["service"] == "s2":
                return [{"ID": "t9", "NodeID": "", "DesiredState": "running", "CreatedAt": "2099-01-01T00:00:00.123456789Z",
                         "Status": {"State": "pending", "Err": "no suitable node (scheduling constraints not satisfied on 3 nodes)"}}]
            return [{"ID": "t1", "NodeID": "n2", "DesiredState": "shutdown", "CreatedAt": "2099-01-01T00:00:00.5Z",
                     "Status": {"State": "failed", "Err": "task: non-zero exit (75)"}},
                    {"ID": "t0", "NodeID": "n2", "DesiredState": "shutdown", "CreatedAt": "2001-01-01T00:00:00Z",
                     "Status": {"State": "failed", "Err": "an older release's failure"}},
                    {"ID": "t2", "NodeID": "n3", "DesiredState": "running", "CreatedAt": "2099-01-01T00:00:01Z",
                     "Status": {"State": "running", "Err": ""}}]

        def inspect_node(self, node_id):
            return {"Description": {"Hostname": {"n2": "node2", "n3": "node3"}[node_id]}}

        def service_logs(self, service, **kwargs):
            assert service == "s1" and kwargs["tail"] == watch.LOG_LINES
            return iter([b"entrypoint: this image's migrations are still not applied after 120s\n"])

    monkeypatch.setattr(engine, "api", FakeApi)
    tasks = watch.TaskWatch("io.hardstack.stack", "shop-test")
    tasks._look()
    assert set(tasks.failed) == {"t1", "t9"}
    report = tasks.report()
    assert "shop-test-backend: 1 task(s) failed on node2; the engine said: task: non-zero exit (75)" in report
    assert "    entrypoint: this image's migrations are still not applied after 120s" in report
    assert "shop-test-db: 1 task(s) pending on no node yet; the engine said: no suitable node" in report
    assert "older release" not in report


def test_both_targets_run_one_hardened_issuer_beside_the_proxy_with_its_ca_bundle(tmp_path):
    """tls_mode=acme: the acme service on both targets, hardened, as the proxy's UID, with the certs volume (kept
    on destroy) shared read-only with the proxy, the private CA's bundle as a secret file, the acme network shared
    with the proxy (the issuer's preflight); on swarm exactly one issuer, stop-first, on the proxy's node."""
    from typer.testing import CliRunner

    from hardstack.cli import app
    from hardstack.deploy.plan import volume_options

    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nprivate CA\n-----END CERTIFICATE-----\n")
    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(tmp_path), "tls_mode=acme", "domain=shop.example.com",
                                      f"acme_ca_bundle={bundle}", "frontend_context=", "celery_app="], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    declared = declared_on_both_targets(tmp_path / "hardstack_demo")
    settings = from_values(valid_values(tmp_path / "hardstack_demo"), all_secret)
    assert volume_options(settings, "certs").retain_on_delete

    containers = {r.name.removeprefix(PREFIX): r.inputs for r in declared["compose"] if r.typ == CONTAINER}
    acme, proxy = containers["acme"], containers["proxy"]
    assert acme["user"] == proxy["user"] == "101:101" and acme["readOnly"] is True and acme["capabilities"]["drops"] == ["ALL"]
    assert {(v.get("volumeName"), v["containerPath"], v["readOnly"]) for v in acme["volumes"]} >= {(f"{PREFIX}certs", "/var/lib/hardstack-acme", False)}
    assert (f"{PREFIX}certs", "/var/lib/hardstack-acme", True) in {(v.get("volumeName"), v["containerPath"], v["readOnly"]) for v in proxy["volumes"]}
    assert any(v.get("volumeName", "").endswith("acme-secrets") for v in acme["volumes"]), acme["volumes"]
    assert f"{PREFIX}acme" in {n["name"] for n in acme["networksAdvanced"]} & {n["name"] for n in proxy["networksAdvanced"]}
    assert "ACME_PROXY_URL=http://proxy:8080" in acme["envs"] and "ACME_CA_BUNDLE=/run/secrets/acme_ca_bundle" in acme["envs"]

    services = {r.name.removeprefix("svc-"): r.inputs for r in declared["swarm"] if r.typ == SERVICE}
    issuer = services["acme"]
    assert issuer["mode"]["replicated"]["replicas"] == 1 and issuer["updateConfig"]["order"] == "stop-first"
    assert issuer["taskSpec"]["placement"]["constraints"] == services["proxy"]["taskSpec"]["placement"]["constraints"]
    spec = issuer["taskSpec"]["containerSpec"]
    assert spec["readOnly"] is True and spec["capDrops"] == ["ALL"] and spec["user"] == "101:101"
    assert [(s["fileName"], s["fileMode"], s["fileUid"]) for s in spec["secrets"]] == [("/run/secrets/acme_ca_bundle", 0o400, "101")]
