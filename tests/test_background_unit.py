"""Fast tier of background work: what `hardstack up` says about app secrets and an unloadable celery_app."""

from __future__ import annotations

import subprocess

from hardstack.answers import validate
from hardstack.runtime.compose import celery_problems, placeholder_secrets


def test_up_names_each_app_secret_that_still_holds_its_placeholder(tmp_path, cli):
    assert cli("new", "--no-input", "-o", str(tmp_path), "backend_secrets=SENTRY_DSN API_TOKEN").exit_code == 0
    layout = tmp_path / "hardstack_demo"
    answers = validate({"backend_secrets": "SENTRY_DSN API_TOKEN"})
    found = placeholder_secrets(layout, answers)
    assert len(found) == 2 and "secrets/app_sentry_dsn" in found[0] and "SENTRY_DSN" in found[0]
    (layout / "secrets" / "app_sentry_dsn").write_text("https://key@sentry.example/1\n")
    assert [line.split()[0] for line in placeholder_secrets(layout, answers)] == ["secrets/app_api_token"]


class LogsOf:
    """A stand-in for Stack whose services printed these logs."""

    def __init__(self, logs: dict[str, str]):
        self.logs = logs

    def compose(self, *args, check=True):
        return subprocess.CompletedProcess(args, 0, self.logs.get(args[-1], ""), "")


def test_up_names_celery_app_when_the_worker_cannot_load_it():
    answers = validate({"celery_app": "shop.celery"})
    worker = ("worker-1  | Usage: celery [OPTIONS] COMMAND [ARGS]...\n"
              "worker-1  | Error: Invalid value for '-A' / '--app':\n"
              "worker-1  | Unable to load celery application.\n"
              "worker-1  | The module shop.celery was not found.\n")
    problems = celery_problems(LogsOf({"worker": worker}), answers)
    assert len(problems) == 1 and problems[0].startswith("celery_app=shop.celery: ") and "set celery_app" in problems[0]
    assert celery_problems(LogsOf({"worker": "worker-1  | celery@abc ready.\n"}), answers) == []
    assert celery_problems(LogsOf({"worker": worker}), validate({"celery_app": ""})) == []  # no workers, nothing to say
