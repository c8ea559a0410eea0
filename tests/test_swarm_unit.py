"""Fast tier, swarm: `hardstack up --swarm` refuses clearly before building, and the secrets and
configs of stack.yaml follow the answers (the one-node swarm itself is tests/test_swarm.py)."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

import hardstack.runtime.swarm
from hardstack.answers import Answers
from hardstack.cli import app


def render(tmp_path, *answers: str):
    result = CliRunner().invoke(app, ["new", "--no-input", "-o", str(tmp_path), *answers], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return tmp_path / "hardstack_demo"


def test_up_swarm_on_an_engine_outside_a_swarm_says_how_and_builds_nothing(tmp_path, monkeypatch):
    layout = render(tmp_path)
    monkeypatch.setattr(hardstack.runtime.swarm, "swarm_state", lambda: "inactive")
    monkeypatch.setattr(hardstack.runtime.swarm, "init_single_node", lambda: (_ for _ in ()).throw(AssertionError("not asked to init")))
    result = CliRunner().invoke(app, ["up", "--swarm", "--standins", "no", str(layout)])
    assert result.exit_code != 0
    assert "not in a swarm" in result.output and "docker swarm init" in result.output and "--init-swarm" in result.output
    assert "Building images" not in result.output


def test_up_swarm_on_a_worker_node_says_to_use_a_manager(tmp_path, monkeypatch):
    layout = render(tmp_path)
    monkeypatch.setattr(hardstack.runtime.swarm, "swarm_state", lambda: "worker")
    result = CliRunner().invoke(app, ["up", "--swarm", "--standins", "no", str(layout)])
    assert result.exit_code != 0 and "manager" in result.output


def test_stack_secrets_and_configs_follow_the_answers(tmp_path):
    layout = render(tmp_path, "enable_monitoring=no", "alert_receiver=webhook")
    doc = yaml.safe_load((layout / "stack.yaml").read_text())
    answers = Answers(enable_monitoring=False)
    assert set(doc["secrets"]) == set(answers.secrets)
    assert "alert_webhook_url" not in doc["secrets"] and "prometheus" not in doc["services"]
    for name, config in doc["configs"].items():
        assert (layout / config["file"]).is_file(), name  # every config file exists in the layout
    mounted = {c["source"] for svc in doc["services"].values() for c in svc.get("configs", [])}
    assert mounted == set(doc["configs"])


def test_content_version_changes_with_a_secret_file(tmp_path):
    layout = render(tmp_path)
    before = hardstack.runtime.swarm.content_version(layout, ["secrets/db_password"])
    (layout / "secrets" / "db_password").write_text("rotated\n")
    assert hardstack.runtime.swarm.content_version(layout, ["secrets/db_password"]) != before


def test_swarm_state_reads_docker_info_as_an_engine_reports_it(monkeypatch):
    """docker info says ControlAvailable=false on an engine outside any swarm, not only on a worker."""
    import json

    reports = {
        '{"NodeID":"","LocalNodeState":"inactive","ControlAvailable":false}': "inactive",
        '{"NodeID":"","LocalNodeState":"","ControlAvailable":false}': "inactive",
        '{"NodeID":"x","LocalNodeState":"active","ControlAvailable":true}': "active",
        '{"NodeID":"x","LocalNodeState":"active","ControlAvailable":false}': "worker",
        '{"NodeID":"x","LocalNodeState":"locked","ControlAvailable":false}': "locked",
    }
    for report, state in reports.items():
        engine_api = type("API", (), {"info": lambda self, report=report: {"Swarm": json.loads(report)}})()
        monkeypatch.setattr(hardstack.runtime.swarm.engine, "api", lambda engine_api=engine_api: engine_api)
        assert hardstack.runtime.swarm.swarm_state() == state, report


def test_deploy_to_a_swarm_target_is_refused_before_pulumi_when_the_overlay_probe_fails(tmp_path, monkeypatch):
    """The Pulumi swarm target runs the same probe as `up --swarm` (tests/test_lab.py runs it for real), with the
    layout's Python image, and a failure stops before `pulumi up`; compose targets and plain overlays are not probed."""
    from types import SimpleNamespace

    import pytest
    import typer

    import hardstack.runtime.overlay as overlay
    from hardstack.cli import _prove_swarm_target_overlays

    layout = render(tmp_path)
    (layout / ".env").write_text("PYTHON_IMAGE=registry.example/python:3.12\n")
    probed = []

    def failing(image):
        probed.append(image)
        return overlay.ProbeResult(False, "a request from b to a over an encrypted overlay got no answer in 20s", ("a", "b"))

    monkeypatch.setattr(overlay, "probe_encrypted_overlay", failing)
    config = {"hardstack:target": SimpleNamespace(value="swarm"), "hardstack:layoutDir": SimpleNamespace(value=str(layout))}
    with pytest.raises(typer.Exit):
        _prove_swarm_target_overlays(config)
    assert probed == ["registry.example/python:3.12"]
    _prove_swarm_target_overlays({**config, "hardstack:target": SimpleNamespace(value="compose")})
    assert len(probed) == 1
    plain = render(tmp_path / "plain", "swarm_overlay_encryption=no")
    _prove_swarm_target_overlays({**config, "hardstack:layoutDir": SimpleNamespace(value=str(plain))})
    assert len(probed) == 1
