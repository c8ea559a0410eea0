"""No answer reaches a shell unquoted: every path answer that lands in a shell line (the dev container's
postCreateCommand, the backend CI's `run:` steps) is one argv word when bash runs that line, or the
answer is refused by name before anything is written.

bash runs each rendered line with the commands it calls (pip, python, uv, poetry, npm, cd) replaced by
functions that print their arguments, so the test sees the argv the real command would get.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from hardstack.answers import AnswersError
from hardstack.generate import generate, resolve

STUBS = "for c in pip python uv poetry npm cd; do eval \"$c() { printf '%s\\0' $c \\\"\\$@\\\"; printf '\\n'; }\"; done\n"


def argv_lines(command: str) -> list[list[str]]:
    """The argv of every command the line runs, in order, as bash splits it (the dev venv's pip, a fixed
    path of the layout, is called by its name so the stub answers for it)."""
    command = command.replace("/workspace/.venv/bin/pip", "pip")
    proc = subprocess.run(["bash", "-c", STUBS + command], capture_output=True, text=True, cwd="/tmp")
    assert proc.returncode == 0, proc.stderr
    return [line.split("\0")[:-1] for line in proc.stdout.split("\n") if line]


# Legal values with the characters paths really have: dots, dashes, plus, digits, nested folders, @.
PATHS = {
    "backend_requirements": ["requirements/prod-2.txt", "req.d/base+extra@v1.txt"],
    "backend_context": ["../api-v2", "../Shop.API"],
}
# Values a careless or hostile answers file carries: each refused, naming the answer.
HOSTILE = ["requirements.txt;id>&2", "req$(id).txt", "a b.txt", "req`id`.txt", "req'x.txt", 'req"x.txt', "r|x.txt", "r&x.txt", "../a>b"]


@pytest.mark.parametrize("requirements", PATHS["backend_requirements"])
@pytest.mark.parametrize("context", PATHS["backend_context"])
def test_path_answers_are_one_argv_word_in_every_shell_line(tmp_path, requirements, context):
    answers = resolve({"include_example_app": False, "backend_context": context, "frontend_context": "", "backend_requirements": requirements,
                       "backend_installer": "pip"})
    layout = generate(answers, tmp_path / "out")
    folder = context.split("/")[-1]
    post_create = json.loads((layout / ".devcontainer/devcontainer.json").read_text())["postCreateCommand"]
    assert ["pip", "install", "-r", f"{folder}/{requirements}"] == argv_lines(post_create)[-1][-4:]
    workflow = yaml.safe_load((layout / ".github/workflows/backend.yml").read_text())
    runs = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "pip install -r" in step.get("run", "")]
    assert runs, "the backend workflow installs the requirements"
    for run in runs:
        assert argv_lines(run)[0][:4] == ["pip", "install", "-r", requirements]


@pytest.mark.parametrize("key", ["backend_requirements", "backend_context"])
@pytest.mark.parametrize("value", HOSTILE)
def test_a_path_a_shell_would_read_is_refused_by_name(tmp_path, key, value):
    values = {"include_example_app": False, "backend_context": "../api", "frontend_context": ""}
    values[key] = value if key == "backend_requirements" else f"../{value.lstrip('./')}"
    with pytest.raises(AnswersError) as exc:
        generate(resolve(values), tmp_path / "out")
    assert any(line.startswith(f"{key}:") for line in exc.value.problems), exc.value.problems
    assert not (tmp_path / "out").exists()
