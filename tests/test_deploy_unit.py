"""Deploy unit tier: the Pulumi program under mocks (no engine, no CLI).

Y1: every container resource carries the layout's hardening. Secrets appear only as secret values,
only in secret-file volumes, never in env. Y5: bad settings fail before any resource.
"""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from hardstack.deploy.settings import SECRET_KEYS, DeploySettings, SettingsError, from_values

from pulumi.runtime.rpc import _special_sig_key as SECRET_SIG, _special_secret_sig as SECRET_MARKER  # noqa: E402

DB_PASSWORD = "db-password-" + "x" * 20
SECRET_KEY = "django-secret-" + "y" * 30


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

from hardstack.deploy.program import deploy, make_plan  # noqa: E402  (after set_mocks, as Pulumi requires)


def valid_values(layout: Path) -> dict[str, str]:
    return {"layoutDir": str(layout), "dbPassword": DB_PASSWORD, "djangoSecretKey": SECRET_KEY}


def all_secret(key: str) -> bool:
    return key in SECRET_KEYS


@pytest.fixture(scope="module")
def plan(default_layout):
    return make_plan(from_values(valid_values(default_layout), all_secret), "unit")


def resources_of(kind: str) -> list[pulumi.runtime.MockResourceArgs]:
    return [r for r in MOCKS.resources if r.name.startswith(kind)]


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
    names = {r.name.removeprefix("container-") for r in resources_of("container-")}
    assert names == {"db", "migrate", "backend", "frontend", "proxy", "prometheus", "postgres-exporter"}


def test_y1_every_container_is_hardened(declared):
    containers = resources_of("container-")
    assert containers
    for r in containers:
        p = r.inputs
        user = p["user"].split(":")[0]
        assert user.isdigit() and user != "0", r.name
        assert p["read_only"] is True, r.name
        assert p["cap_drop"] == ["ALL"], r.name
        assert "no-new-privileges:true" in p["security_opt"], r.name
        assert p["memory"] > 0 and p["cpus"] > 0 and p["pids"] > 0, r.name
        assert p["logging"]["options"]["max-size"] and p["logging"]["options"]["max-file"], r.name
        assert "/tmp" in p["tmpfs"], r.name
        if p["one_shot"]:
            assert p["restart"] == "no" and r.name == "container-migrate"
        else:
            assert p["restart"] == "unless-stopped", r.name
            assert p["healthcheck"] and p["healthcheck"]["test"][0] == "CMD", r.name


def test_only_the_proxy_publishes(declared):
    published = {r.name: r.inputs["ports"] for r in resources_of("container-") if r.inputs["ports"]}
    assert list(published) == ["container-proxy"]
    assert published["container-proxy"][0]["host_ip"] == "127.0.0.1"


def test_secrets_only_as_files_never_env(declared):
    for r in resources_of("container-"):
        env = json.dumps(r.inputs["env"])
        assert DB_PASSWORD not in env and SECRET_KEY not in env, r.name
        for key, value in r.inputs["env"].items():
            if "PASSWORD" in key or "SECRET" in key:
                assert key.endswith("_FILE") and value.startswith("/run/secrets/"), (r.name, key)
    secret_volumes = resources_of("secrets-")
    assert {r.name for r in secret_volumes} >= {"secrets-db", "secrets-backend", "secrets-migrate", "secrets-postgres-exporter"}
    for r in secret_volumes:
        assert r.inputs["mode"] == "0400"
    backend = next(r for r in secret_volumes if r.name == "secrets-backend")
    assert unwrap_secret(backend.inputs["files"]) == {"db_password": DB_PASSWORD, "django_secret_key": SECRET_KEY}
    assert backend.inputs["uid"] == 10001
    db = next(r for r in secret_volumes if r.name == "secrets-db")
    assert db.inputs["uid"] == 70 and set(unwrap_secret(db.inputs["files"])) == {"postgres_password"}
    # Config volumes hold no secret.
    for r in resources_of("files-"):
        assert DB_PASSWORD not in json.dumps(r.inputs["files"])


def unwrap_secret(value):
    """The value of a Pulumi secret as the engine receives it; fails if the value is not marked secret."""
    assert isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_MARKER, f"not a secret: {value!r}"[:200]
    return value["value"]


def test_database_networks_are_internal(declared):
    nets = {r.inputs["name"].rsplit("-", 1)[-1]: r.inputs["internal"] for r in resources_of("net-")}
    assert nets == {"edge": False, "app": True, "data": True, "monitoring": True}


def test_start_order_follows_depends_on():
    from hardstack.deploy.program import _start_order

    order = _start_order({"proxy": {"depends_on": {"backend": {}}}, "backend": {"depends_on": {"db": {}, "migrate": {}}},
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
}


@pytest.mark.parametrize("mutate,key,fragment", BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_y5_bad_settings_name_the_key(default_layout, mutate, key, fragment):
    values = valid_values(default_layout)
    mutate(values)
    with pytest.raises(SettingsError) as exc:
        from_values(values, all_secret)
    assert any(p.startswith(key) and fragment in p for p in exc.value.problems), exc.value.problems


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
