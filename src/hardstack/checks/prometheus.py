"""Bar rows P1-P5: prometheus/ (config, alert rules, their unit tests, where alerts go) and
alertmanager/ (its config, credentials as files)."""

from __future__ import annotations

import re
from pathlib import Path

from hardstack import yamlio

from hardstack.checks import tools
from hardstack.checks.compose import services
from hardstack.checks.result import NA, Result, check

NOT_SCRAPED = re.compile(r"^#\s*not scraped:\s*([\w-]+)\s+-\s+\S", re.M)


def prom_dir(layout: Path) -> Path:
    return layout / "prometheus"


def rule_files(layout: Path) -> list[Path]:
    return sorted((prom_dir(layout) / "rules").glob("*.yml"))


def alerts(layout: Path) -> list[dict]:
    return [rule for f in rule_files(layout) for group in yamlio.safe_load(f.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule]


def disabled(rid: str, layout: Path) -> Result | None:
    return None if prom_dir(layout).exists() else Result(rid, NA, "monitoring off")


def p1_promtool(layout: Path) -> Result:
    if skip := disabled("P1", layout):
        return skip
    problems = []
    config = prom_dir(layout) / "prometheus.yml"
    out = tools.run("promtool", "check", "config", "--syntax-only", str(config), reads=[config], root=layout)
    if not out.ok:
        problems.append(f"check config: {tools.first_lines(out.out)}")
    if not rule_files(layout):
        problems.append("no alert rule files (prometheus/rules/*.yml): nothing would ever fire")
    else:
        out = tools.run("promtool", "check", "rules", *map(str, rule_files(layout)), reads=rule_files(layout), root=layout)
        if not out.ok:
            problems.append(f"check rules: {tools.first_lines(out.out)}")
    return check("P1", problems, f"config valid, {len(alerts(layout))} alerts valid")


def p2_alert_fields(layout: Path) -> Result:
    if skip := disabled("P2", layout):
        return skip
    problems = []
    runbook = prom_dir(layout) / "RUNBOOK.md"
    anchors = {h.strip().lower() for h in re.findall(r"^##\s+(.+)$", runbook.read_text(), re.M)} if runbook.exists() else set()
    for rule in alerts(layout):
        name = rule["alert"]
        missing = [k for k, ok in (("for", rule.get("for")), ("severity", rule.get("labels", {}).get("severity")),
                                   ("summary", rule.get("annotations", {}).get("summary")),
                                   ("runbook_url", rule.get("annotations", {}).get("runbook_url"))) if not ok]
        if missing:
            problems.append(f"{name}: missing {', '.join(missing)}")
        url = rule.get("annotations", {}).get("runbook_url", "")
        if url.startswith("RUNBOOK.md#") and url.split("#", 1)[1] not in anchors:
            problems.append(f"{name}: runbook_url points at a missing RUNBOOK.md section")
    return check("P2", problems, "every alert has for, severity, summary, runbook_url")


def p3_rule_tests(layout: Path) -> Result:
    if skip := disabled("P3", layout):
        return skip
    tests = sorted((prom_dir(layout) / "tests").glob("*.yml"))
    tested = {t["alertname"] for f in tests for case in yamlio.safe_load(f.read_text()).get("tests", [])
              for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    problems = [f"{r['alert']}: no promtool test expects it to fire" for r in alerts(layout) if r["alert"] not in tested]
    if not tests:
        problems.append("no promtool tests (prometheus/tests/*.yml)")
    else:
        out = tools.run("promtool", "test", "rules", *[t.name for t in tests], cwd=prom_dir(layout) / "tests",
                        reads=[prom_dir(layout)], root=layout)
        if not out.ok:
            problems.append(f"promtool test rules: {tools.first_lines(out.out)}")
    return check("P3", problems, f"{len(tested)} alerts exercised by promtool test rules")


def p4_targets(layout: Path) -> Result:
    if skip := disabled("P4", layout):
        return skip
    from hardstack.checks.layout import layout_answers

    text = (prom_dir(layout) / "prometheus.yml").read_text()
    config = yamlio.safe_load(text)
    existing = services(layout)
    ports = layout_answers(layout).ports
    problems, hosts = [], set()
    for job in config.get("scrape_configs", []):
        for sc in job.get("static_configs", []):
            for target in sc.get("targets", []):
                host, _, port = str(target).rpartition(":")
                host = "prometheus" if host == "localhost" else host
                hosts.add(host)
                if host not in existing:
                    problems.append(f"job {job.get('job_name')}: target {target} is not a service of compose.yaml")
                elif ports.get(host) and port != str(ports[host]):
                    problems.append(f"job {job.get('job_name')}: target {target}, but {host} listens on {ports[host]}")
    # Firing alerts must reach an Alertmanager of the layout, on its port.
    senders = [str(target) for am in (config.get("alerting") or {}).get("alertmanagers", [])
               for sc in am.get("static_configs", []) for target in sc.get("targets", [])]
    if "alertmanager" in existing and not senders:
        problems.append("alerts go nowhere: add `alerting: {alertmanagers: [{static_configs: [{targets: [\"alertmanager:9093\"]}]}]}`")
    for target in senders:
        host, _, port = target.rpartition(":")
        if host not in existing or (ports.get(host) and port != str(ports[host])):
            problems.append(f"alerting: target {target} is not a service of compose.yaml on its port")
    explained = set(NOT_SCRAPED.findall(text))
    problems += [f"{name}: neither a scrape target nor a `# not scraped: {name} - reason` line"
                 for name in existing if name not in hosts | explained]
    return check("P4", problems, f"{len(hosts)} targets, each a service on its port; {len(explained)} services say why not; "
                                 f"alerts sent to {', '.join(senders) or 'nothing'}")


# Alertmanager settings that hold a credential, and the *_file setting to use instead.
AM_CREDENTIALS = {"url": "url_file", "smtp_auth_password": "smtp_auth_password_file", "auth_password": "auth_password_file",
                  "api_url": "api_url_file", "password": "password_file", "bearer_token": "bearer_token_file",
                  "routing_key": "routing_key_file", "service_key": "service_key_file", "api_key": "api_key_file",
                  "smtp_auth_secret": "smtp_auth_secret_file", "auth_secret": "auth_secret_file"}


def _inline_credentials(node, where: str = "") -> list[str]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in AM_CREDENTIALS and isinstance(value, str) and value:
                found.append(f"{where}{key} holds its value in the file: use {AM_CREDENTIALS[key]} pointing at a /run/secrets file")
            found += _inline_credentials(value, f"{where}{key}.")
    elif isinstance(node, list):
        for item in node:
            found += _inline_credentials(item, where)
    return found


def p5_alertmanager(layout: Path) -> Result:
    config_file = layout / "alertmanager" / "alertmanager.yml"
    if "alertmanager" not in services(layout):
        return Result("P5", NA, "no alertmanager service")
    if not config_file.exists():
        return check("P5", ["alertmanager/alertmanager.yml is missing"], "")
    problems = []
    out = tools.run("amtool", "check-config", str(config_file), reads=[config_file.parent], root=layout)
    if not out.ok:
        problems.append(f"amtool check-config: {tools.first_lines(out.out, 4)}")
    config = yamlio.safe_load(config_file.read_text()) or {}
    problems += _inline_credentials(config)
    receivers = [r for r in config.get("receivers", []) if any(k.endswith("_configs") for k in r)]
    if not receivers:
        problems.append("no receiver delivers anywhere: give the route's receiver a webhook_configs or email_configs entry")
    return check("P5", problems, f"amtool check-config passes; {len(receivers)} receiver(s), credentials in files")



ROWS = [("P1", p1_promtool), ("P2", p2_alert_fields), ("P3", p3_rule_tests), ("P4", p4_targets), ("P5", p5_alertmanager)]
