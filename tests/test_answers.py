"""The answers model: defaults, every refusal rule, and a property test."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardstack.answers import Answers, AnswersError, cookiecutter_defaults, validate
from hardstack.generate import derive_slug

from conftest import ROOT


def test_defaults_are_valid_and_match_cookiecutter_json():
    data = json.loads((ROOT / "cookiecutter.json").read_text())
    defaults = cookiecutter_defaults()
    template_only = {k for k in data if k.startswith("_")}
    assert set(data) - template_only == set(defaults)
    for key, value in defaults.items():
        if key != "project_slug":
            assert data[key] == value, key
    # The slug default is derived from the name by the same rule as the CLI uses.
    assert derive_slug(defaults["project_name"]) == defaults["project_slug"]
    assert "project_name | lower | replace(' ', '_') | replace('-', '_')" in data["project_slug"]


BAD = {
    "slug-path-parent": ({"project_slug": "../x"}, "project_slug", "lowercase identifier"),
    "slug-absolute": ({"project_slug": "/tmp/x"}, "project_slug", "no paths"),
    "slug-uppercase": ({"project_slug": "MyProject"}, "project_slug", "lowercase identifier"),
    "port-zero": ({"http_port": 0}, "http_port", "between 1 and 65535"),
    "port-too-big": ({"http_port": 70000}, "http_port", "between 1 and 65535"),
    "port-not-int": ({"http_port": "eighty"}, "http_port", "valid integer"),
    "replicas-zero": ({"backend_replicas": 0}, "backend_replicas", "between 1 and 32"),
    "replicas-many": ({"proxy_replicas": 100}, "proxy_replicas", "between 1 and 32"),
    "ports-clash": ({"enable_tls": True, "http_port": 8443, "tls_certificate": "a.pem", "tls_certificate_key": "b.pem"}, "https_port", "clash"),
    "image-latest": ({"db_image": "timescale/timescaledb:latest"}, "db_image", "latest"),
    "image-untagged": ({"python_image": "python"}, "python_image", "tag"),
    "image-invalid": ({"node_image": "Node:22 slim"}, "node_image", "image reference"),
    "image-bad-digest": ({"prometheus_image": "prom/prometheus:v2@sha256:xyz"}, "prometheus_image", "image reference"),
    "domain-scheme": ({"domain": "https://shop.example.com"}, "domain", "host name"),
    "domain-path": ({"domain": "shop.example.com/x"}, "domain", "host name"),
    "tls-no-cert": ({"enable_tls": True}, "tls_certificate", "required when enable_tls"),
    "tls-no-key": ({"enable_tls": True, "tls_certificate": "c.pem"}, "tls_certificate_key", "required when enable_tls"),
    "unknown-key": ({"colour": "blue"}, "colour", "unknown answer"),
    "bind-not-ip": ({"bind_address": "localhost"}, "bind_address", "IP address"),
    "context-absolute": ({"include_example_app": False, "backend_context": "/srv/api", "frontend_context": "../web"}, "backend_context", "relative path"),
    "context-inside-without-example": ({"include_example_app": False}, "backend_context", "beside this layout"),
    "context-two-levels-up": ({"include_example_app": False, "backend_context": "../../api", "frontend_context": "../web"}, "backend_context", "one '../'"),
    "context-parent-only": ({"include_example_app": False, "backend_context": "..", "frontend_context": "../web"}, "backend_context", "beside this layout"),
    "own-dockerfile-with-example": ({"backend_dockerfile": "Dockerfile"}, "backend_dockerfile", "leave backend_dockerfile empty"),
    "runtime-package-shell": ({"backend_runtime_packages": "libodbc2; rm -rf /"}, "backend_runtime_packages", "Debian package names"),
    "api-url-scheme": ({"api_url": "ftp://api.example.com"}, "api_url", "origin"),
    "api-path-root": ({"api_path": "/"}, "api_path", "below the root"),
    "example-moved": ({"backend_context": "../api"}, "backend_context", "example app"),
    "dist-escapes": ({"frontend_dist_dir": "../dist"}, "frontend_dist_dir", "remove the '..'"),
    "env-name-lowercase": ({"env_db_password": "db_password"}, "env_db_password", "environment variable name"),
    "env-names-collide": ({"env_db_password": "DJANGO_SECRET_KEY"}, "env_", "distinct"),
    "settings-not-dotted": ({"django_settings_module": "config/settings.py"}, "django_settings_module", "dotted"),
    "wsgi-no-attr": ({"wsgi_app": "config.wsgi"}, "wsgi_app", "module:attribute"),
    "build-command-injection": ({"frontend_build_command": "npm run build\nrm -rf /"}, "frontend_build_command", "one command line"),
    "backend-port-clash": ({"backend_port": 8080}, "backend_port", "clashes"),
}


@pytest.mark.parametrize("values,key,fragment", BAD.values(), ids=BAD.keys())
def test_bad_answers_are_refused_naming_the_key(values, key, fragment):
    with pytest.raises(AnswersError) as exc:
        validate(values)
    assert any(line.startswith(key) and fragment in line for line in exc.value.problems), exc.value.problems


def test_every_problem_is_reported_at_once():
    with pytest.raises(AnswersError) as exc:
        validate({"http_port": 0, "domain": "x y", "colour": 1})
    keys = {line.split(":")[0] for line in exc.value.problems}
    assert {"http_port", "domain", "colour"} <= keys


def test_private_cookiecutter_keys_are_ignored():
    assert validate({"_template": "x", "_output_dir": "/tmp"}) == Answers()


def test_derived_values():
    a = validate({"domain": "shop.example.com", "db_image": "timescale/timescaledb:2.17.2-pg17@sha256:" + "0" * 64})
    assert "db" not in a.unpinned_images and "backend" in a.unpinned_images
    assert a.allowed_hosts.split(",")[0] == "shop.example.com"
    assert validate({"enable_monitoring": False}).services == ["db", "migrate", "backend", "frontend", "proxy", "backup", "superuser"]
    assert validate({"enable_monitoring": False}).networks == {"edge": False, "app": True, "data": True}
    assert validate({"backend_egress": True}).outside_networks == {"edge": {"proxy"}, "alerting": {"alertmanager"}, "egress": {"backend"}}


answer_values = st.fixed_dictionaries({}, optional={
    "project_slug": st.one_of(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), st.text(max_size=12)),
    "http_port": st.integers(-5, 70000),
    "https_port": st.integers(-5, 70000),
    "enable_tls": st.booleans(),
    "enable_monitoring": st.booleans(),
    "domain": st.one_of(st.just("shop.example.com"), st.text(max_size=20)),
    "db_image": st.one_of(st.just("timescale/timescaledb:2.17.2-pg17"), st.text(max_size=30)),
    "bind_address": st.sampled_from(["127.0.0.1", "0.0.0.0", "::1", "localhost", ""]),
    "tls_certificate": st.sampled_from(["", "certs/fullchain.pem", "/etc/x.pem"]),
    "tls_certificate_key": st.sampled_from(["", "certs/privkey.pem"]),
})


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(answer_values)
def test_any_answers_validate_or_are_refused_with_named_keys(values):
    known = set(Answers.model_fields) | {"env_"}
    try:
        answers = validate(values)
    except AnswersError as exc:
        assert exc.problems
        for line in exc.problems:
            assert any(line.startswith(k) for k in known), line
        return
    assert 1 <= answers.http_port <= 65535
    assert not answers.enable_tls or (answers.tls_certificate and answers.tls_certificate_key and answers.http_port != answers.https_port)


def test_harmless_differences_are_normalised_not_refused():
    assert validate({"domain": " Farm.Example.com. "}).domain == "farm.example.com"
    assert validate({"api_url": "/api/"}).api_url == "/api"
    assert validate({"static_url": "/assets-django"}).static_url == "/assets-django/"
    assert validate({"backend_runtime_packages": "libodbc2, libpq5"}).backend_runtime_packages == "libodbc2 libpq5"


@pytest.mark.parametrize("api_url,connect_src", [
    ("/api", "'self'"), ("", "'self'"), ("https://api.example.com/v1", "'self' https://api.example.com"),
    ("http://localhost:8000", "'self' http://localhost:8000"),
], ids=["path", "same-origin", "origin-with-path", "origin-with-port"])
def test_csp_connect_src_follows_the_api_base(api_url, connect_src):
    assert validate({"api_url": api_url}).csp_connect_src == connect_src
