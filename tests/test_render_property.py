"""Property: any answers that validate render files that every real parser accepts, with the free
text reading back exactly as typed; anything else is refused before a file is written.

Names and commands come from alphabets with the characters people really type (apostrophes, quotes,
non-ASCII, `&`, `#`, `:`, `$`, `<>`), bind addresses include IPv6. Each rendered layout is parsed by
YAML, JSON, Python's compiler, `sh -n`, `docker compose config`, `nginx -t`, hadolint and actionlint.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardstack.answers import AnswersError
from hardstack.checks import run_checks, tools
from hardstack.generate import generate, resolve
from hardstack.yamlio import safe_load  # libyaml: this test parses every YAML file of 200 layouts

NAME_ALPHABET = st.sampled_from(list("abcXYZ019 '\"&#:<>$%!?@()-_.,;/=+*éßçø中ü€") + ["{", "}", "\\", "`"])
TOKENS = ["npm", "run", "build", "build:prod", "--", "--mode", '"prod"', "'x y'", "&&", "echo", "done", "#", "note:", "é",
          "VITE_X=1", "$HOME", "a&b", "x|y", "(cd", "web)", "&", ";", "{a}", "${{ secrets.X }}", "\\"]

COMMANDS = ['npm run build -- --mode "prod"', "npm run build:prod # ok: yes", "VITE_X=1 npm run build && echo 'done ü'",
            "npx vite build --outDir dist/public", "(cd web && npm run build)", "npm run build | tee build.log",
            "python manage.py spectacular --file openapi.yaml --validate", "python -m django spectacular --file 'open api.yaml'"]
command = st.one_of(st.sampled_from(COMMANDS), st.lists(st.sampled_from(TOKENS), min_size=1, max_size=6).map(" ".join))

answers = st.fixed_dictionaries({
    "project_name": st.text(NAME_ALPHABET, min_size=1, max_size=24),
    "project_slug": st.just("prop"),
    "frontend_build_command": command,
    "openapi_command": command,
    "hardstack_package": st.sampled_from(["hardstack", "hardstack==0.1.0", "hardstack @ git+https://example.com/h.git#egg=hardstack",
                                          "hardstack[deploy]>=0.1; python_version >= '3.11'"]),
    "bind_address": st.sampled_from(["127.0.0.1", "0.0.0.0", "::1", "::", "192.168.10.5", "2001:db8::10"]),
    "api_url": st.sampled_from(["", "/api", "/api/v2/", "https://api.example.com", "http://localhost:8000/x"]),
    "domain": st.sampled_from(["localhost", "Shop.Example.COM", "a-b.example.org"]),
    "include_example_app": st.booleans(),
    "enable_tls": st.booleans(),
    "enable_monitoring": st.booleans(),
    "enable_ci_workflows": st.booleans(),
    "enable_devcontainer": st.booleans(),
})


def parse_every_file(layout: Path, values: dict) -> None:
    for path in sorted(p for p in layout.rglob("*") if p.is_file() and "secrets" not in p.parts):
        text = path.read_text()
        if path.suffix in (".yml", ".yaml"):
            safe_load(text)
        elif path.suffix == ".json":
            json.loads(text)
        elif path.suffix == ".py":
            compile(text, str(path), "exec")
        elif path.suffix == ".sh":
            proc = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True)
            assert proc.returncode == 0, (path, proc.stderr)
    config = subprocess.run(["docker", "compose", "config", "-q"], cwd=layout, capture_output=True, text=True)
    assert config.returncode == 0, config.stderr
    # hadolint parses both Dockerfiles (errors only: a command of the user's may earn a lint warning).
    dockerfiles = [str(layout / part / "Dockerfile") for part in ("backend", "frontend")]
    parsed = subprocess.run([tools.find("hadolint"), "--failure-threshold", "error", "--no-color", *dockerfiles],
                            capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stdout
    (nginx,) = run_checks(layout, only=["N1"])
    assert nginx.status == "pass", nginx.detail  # nginx -t, proxy and frontend
    workflows = sorted((layout / ".github" / "workflows").glob("*.yml"))
    if workflows:
        lint = subprocess.run([tools.find("actionlint"), "-no-color", "-shellcheck=", *map(str, workflows)], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout
        build = safe_load((layout / ".github/workflows/frontend.yml").read_text())
        runs = [step.get("run") for job in build["jobs"].values() for step in job["steps"]]
        assert values["frontend_build_command"].strip() in runs  # the command reads back exactly as typed
    # Free text reads back exactly where a parser reads it.
    name = resolve(values).project_name
    if (layout / ".devcontainer/devcontainer.json").exists():
        assert json.loads((layout / ".devcontainer/devcontainer.json").read_text())["name"] == name
    assert name in safe_load((layout / "pulumi/Pulumi.yaml").read_text())["description"]


@settings(max_examples=int(os.environ.get("HARDSTACK_PROPERTY_EXAMPLES", "200")), deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(answers)
def test_any_valid_answers_render_files_every_parser_accepts(values):
    values = dict(values)
    if values["enable_tls"]:
        values.update(tls_certificate="/etc/ssl/shop/fullchain.pem", tls_certificate_key="/etc/ssl/shop/privkey.pem")
    if not values.pop("include_example_app"):
        values.update(include_example_app=False, backend_context="../api", frontend_context="../web")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        try:
            answers = resolve(values)
        except AnswersError as err:
            assert all(":" in line for line in err.problems)  # each refusal names its answer
            assert not out.exists()
            return
        layout = generate(answers, out)
        parse_every_file(layout, values)
