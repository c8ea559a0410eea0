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
        if key not in ("project_slug", "celery_app"):
            assert data[key] == value, key
    # The slug default is derived from the name by the same rule as the CLI uses.
    assert derive_slug(defaults["project_name"]) == defaults["project_slug"]
    assert data["project_slug"] == "{{ cookiecutter.project_name | slug }}"  # the template's filter: names.slugify
    # celery_app follows include_example_app in cookiecutter's prompts as in the model.
    from jinja2 import Template

    for include, expected in ((True, "config"), (False, "")):
        assert Template(data["celery_app"]).render(cookiecutter={"include_example_app": include}) == expected == \
            Answers.model_validate({"include_example_app": include, "backend_context": "backend" if include else "../api",
                                    "frontend_context": "frontend" if include else "../web"}).celery_app


BAD = {
    "celery-app-shell": ({"celery_app": "config; id"}, "celery_app", "celery -A"),
    "backend-env-collides": ({"backend_env": {"DB_HOST": "elsewhere"}}, "backend_env", "set by the layout"),
    "backend-env-collides-redis-url": ({"backend_env": {"REDIS_URL": "redis://x"}}, "backend_env", "set by the layout"),
    "backend-env-credential": ({"backend_env": {"SMTP_PASSWORD": "hunter2"}}, "backend_env", "backend_secrets"),
    "backend-env-not-mapping": ({"backend_env": "ADMIN_URL=manage/"}, "backend_env", "mapping"),
    "backend-env-lowercase": ({"backend_env": {"admin_url": "x"}}, "backend_env", "environment variable names"),
    "backend-env-substitution": ({"backend_env": {"ADMIN_URL": "${HOME}"}}, "backend_env", "compose would substitute"),
    "secret-not-env-name": ({"backend_secrets": "sentry-dsn"}, "backend_secrets", "environment variable names"),
    "secret-collides": ({"backend_secrets": "DJANGO_SECRET_KEY"}, "backend_secrets", "set by the layout"),
    "secret-also-in-env": ({"backend_secrets": "FLAG", "backend_env": {"FLAG": "1"}}, "backend_env", "either a value or a secret"),
    "redis-url-var-bad": ({"redis_url_vars": "CELERY_BROKER_URL redis-url"}, "redis_url_vars", "environment variable names"),
    "worker-concurrency-zero": ({"worker_concurrency": 0}, "worker_concurrency", "between 1 and 64"),
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
    "tls-no-cert": ({"enable_tls": True}, "tls_certificate", "required with tls_mode=files"),
    "tls-no-key": ({"enable_tls": True, "tls_certificate": "c.pem"}, "tls_certificate_key", "required with tls_mode=files"),
    "tls-files-no-cert": ({"tls_mode": "files"}, "tls_certificate", "required with tls_mode=files"),
    "tls-mode-unknown": ({"tls_mode": "letsencrypt"}, "tls_mode", "'off', 'files' or 'acme'"),
    "acme-localhost": ({"tls_mode": "acme"}, "domain", "localhost is a single label"),
    "acme-ip": ({"tls_mode": "acme", "domain": "203.0.113.7"}, "domain", "is an IP address"),
    "acme-invalid-tld": ({"tls_mode": "acme", "domain": "shop.invalid"}, "domain", "ends in .invalid, which is reserved"),
    "acme-localhost-subdomain": ({"tls_mode": "acme", "domain": "app.localhost"}, "domain", "ends in .localhost"),
    "acme-two-proxies": ({"tls_mode": "acme", "domain": "shop.example.com", "proxy_replicas": 2}, "proxy_replicas", "set proxy_replicas=1"),
    "acme-plain-http-directory": ({"tls_mode": "acme", "domain": "shop.example.com", "acme_directory_url": "http://ca.example.com/dir"},
                                  "acme_directory_url", "https:// URL of an ACME directory"),
    "acme-email": ({"tls_mode": "acme", "domain": "shop.example.com", "acme_email": "ops at example"}, "acme_email", "email address"),
    "acme-ca-bundle-quote": ({"tls_mode": "acme", "domain": "shop.example.com", "acme_ca_bundle": "/etc/ca'.pem"}, "acme_ca_bundle", "plain file path"),
    "unknown-key": ({"colour": "blue"}, "colour", "unknown answer"),
    "bind-not-ip": ({"bind_address": "localhost"}, "bind_address", "IP address"),
    "context-absolute": ({"include_example_app": False, "backend_context": "/srv/api", "frontend_context": "../web"}, "backend_context", "relative path"),
    "context-inside-without-example": ({"include_example_app": False}, "backend_context", "beside this layout"),
    "context-two-levels-up": ({"include_example_app": False, "backend_context": "../../api", "frontend_context": "../web"}, "backend_context", "one '../'"),
    "context-parent-only": ({"include_example_app": False, "backend_context": "..", "frontend_context": "../web"}, "backend_context", "beside this layout"),
    "own-dockerfile-with-example": ({"backend_dockerfile": "Dockerfile"}, "backend_dockerfile", "leave backend_dockerfile empty"),
    "runtime-package-shell": ({"backend_runtime_packages": "libodbc2; rm -rf /"}, "backend_runtime_packages", "Debian package names"),
    "trusted-proxies-everyone": ({"trusted_proxies": "0.0.0.0/0"}, "trusted_proxies", "trusts every address"),
    "trusted-proxies-name": ({"trusted_proxies": "lb.example.com"}, "trusted_proxies", "CIDR ranges"),
    "requirements-shell": ({"backend_requirements": "requirements.txt;id>&2"}, "backend_requirements", "must be a plain path: '&' ';' '>'"),
    "context-space": ({"include_example_app": "no", "backend_context": "../my api"}, "backend_context", "must be a plain path: ' '"),
    "dist-subshell": ({"frontend_dist_dir": "dist$(id)"}, "frontend_dist_dir", "'$'"),
    "dist-pipe": ({"frontend_dist_dir": "dist|x"}, "frontend_dist_dir", "must be a plain path: '|'"),
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


@pytest.mark.parametrize("answers,origins", [
    ({}, "http://localhost,http://localhost:8080,http://127.0.0.1,http://127.0.0.1:8080"),
    ({"domain": "shop.example.com", "http_port": 80}, "http://shop.example.com"),
    ({"domain": "shop.example.com", "enable_tls": True, "tls_certificate": "/c.pem", "tls_certificate_key": "/k.pem"},
     "https://shop.example.com,https://shop.example.com:8443"),
    ({"domain": "shop.example.com", "enable_tls": True, "https_port": 443, "tls_certificate": "/c.pem", "tls_certificate_key": "/k.pem"},
     "https://shop.example.com"),
], ids=["default", "http-80", "tls-8443", "tls-443"])
def test_csrf_origins_are_what_a_browser_sends_and_https_only_with_tls(answers, origins):
    a = validate(answers)
    assert a.csrf_trusted_origins == origins
    assert a.app_env["DJANGO_CSRF_TRUSTED_ORIGINS"] == f"${{CSRF_TRUSTED_ORIGINS:-{origins}}}"


def test_derived_values():
    a = validate({"domain": "shop.example.com", "db_image": "timescale/timescaledb:2.17.2-pg17@sha256:" + "0" * 64})
    assert "db" not in a.unpinned_images and "backend" in a.unpinned_images
    assert a.allowed_hosts.split(",")[0] == "shop.example.com"
    assert validate({"enable_monitoring": False}).services == ["db", "db-setup", "migrate", "backend", "redis", "worker", "beat", "frontend", "proxy", "backup", "superuser"]
    assert validate({"enable_monitoring": False, "celery_app": ""}).services == ["db", "db-setup", "migrate", "backend", "frontend", "proxy", "backup", "superuser"]
    assert "beat" not in validate({"enable_beat": False}).services and "worker" in validate({"enable_beat": False}).services
    assert validate({"enable_monitoring": False}).networks == {"edge": False, "app": True, "data": True}
    assert validate({"backend_egress": True}).outside_networks == {"edge": {"proxy"}, "alerting": {"alertmanager"}, "egress": {"backend", "worker"}}
    assert validate({"backend_egress": True, "celery_app": ""}).outside_networks["egress"] == {"backend"}


def test_celery_app_follows_the_example_app_and_background_answers_parse():
    assert validate({}).celery_app == "config"
    sibling = {"include_example_app": False, "backend_context": "../api", "frontend_context": "../web"}
    assert validate(sibling).celery_app == ""
    assert validate({**sibling, "celery_app": "shop.celery:app"}).celery_app == "shop.celery:app"
    a = validate({"backend_env": '{"ADMIN_URL": "manage/", "FEATURE_X": true, "RETRIES": 3}', "backend_secrets": "SENTRY_DSN, SMTP_PASSWORD"})
    assert a.backend_env == {"ADMIN_URL": "manage/", "FEATURE_X": "true", "RETRIES": "3"}
    assert a.backend_secrets == ["SENTRY_DSN", "SMTP_PASSWORD"]
    env = a.app_env
    assert env["SENTRY_DSN_FILE"] == "/run/secrets/app_sentry_dsn" and "SENTRY_DSN" not in env
    assert env["HARDSTACK_FILE_VARS"] == '"DB_PASSWORD DJANGO_SECRET_KEY SENTRY_DSN SMTP_PASSWORD"'
    assert a.secrets["app_smtp_password"] == ["migrate", "backend", "worker", "beat", "superuser"]
    assert validate({"backend_secrets": ["X_TOKEN"]}).backend_secrets == ["X_TOKEN"]  # a YAML list from --config-file


answer_values = st.fixed_dictionaries({}, optional={
    "project_slug": st.one_of(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), st.text(max_size=12)),
    "http_port": st.integers(-5, 70000),
    "https_port": st.integers(-5, 70000),
    "enable_tls": st.booleans(),
    "tls_mode": st.sampled_from(["off", "files", "acme", "on"]),
    "enable_monitoring": st.booleans(),
    "domain": st.one_of(st.just("shop.example.com"), st.just("localhost"), st.text(max_size=20)),
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
    assert answers.tls_on == (answers.tls_mode != "off") and (answers.tls_on or not answers.enable_tls)
    assert answers.tls_mode != "files" or (answers.tls_certificate and answers.tls_certificate_key)
    assert not answers.tls_on or answers.http_port != answers.https_port
    assert answers.tls_mode != "acme" or ("." in answers.domain and not answers.domain.endswith((".localhost", ".invalid")))


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
