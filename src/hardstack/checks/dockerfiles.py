"""Bar rows D1-D10: the layout's Dockerfiles and their .dockerignore files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import dockerfile

from hardstack.catalog import CREDENTIAL_NAME
from hardstack.checks import builds, tools
from hardstack.checks.result import Result, check

TOOLCHAIN = re.compile(r"\b(gcc|g\+\+|clang|build-essential|make|libpq-dev|python3-dev)\b")
# Exec form that only wraps a shell: ["sh", "-c", "gunicorn ..."] keeps sh as PID 1 unless it execs.
SHELL_WRAPPED = re.compile(r'^\[\s*"(/bin/)?(ba|da)?sh"\s*,\s*"-c"\s*,\s*"(?!exec\s)')
PKG_INSTALL = re.compile(r"\b(apt-get|apt|apk|yum|dnf)\s+(install|add)\b")
# Paths, relative to an app's root, that a build context must never send.
IGNORE_MUST = {".git": ".git/HEAD", ".env": ".env", ".env.*": ".env.production", "secrets/": "secrets/db_password",
               "nested secrets/": "config/secrets/key", "node_modules": "node_modules/pkg/index.js",
               "tests": "tests/test_app.py"}


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, each a list of (INSTRUCTION, arguments as written, continuation
    lines joined). Read by BuildKit's own parser (the `dockerfile` package binds moby/buildkit's): FROM's
    flags (--platform) are not the image, heredocs stay inside their RUN or COPY, comments are gone."""
    try:
        commands = dockerfile.parse_file(str(path))
    except dockerfile.GoParseError as err:
        raise ValueError(f"{path.name}: BuildKit cannot parse it: {err}") from None
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for c in commands:
        instr = c.cmd.upper()
        if instr == "FROM":
            image, *rest = c.value
            name = rest[1] if len(rest) >= 2 and rest[0].upper() == "AS" else str(len(stages))
            stages.append(Stage(image, name))
        elif stages:
            stages[-1].instructions.append((instr, c.original.split(None, 1)[1].strip() if " " in c.original.strip() else ""))
        elif instr == "ARG":
            for pair in c.value:
                key, _, default = pair.partition("=")
                args[key.strip()] = default.strip()
    return args, stages


def resolve_base(base: str, args: dict[str, str]) -> str:
    m = re.fullmatch(r"\$\{?(\w+)\}?", base)
    return args.get(m.group(1), "") if m else base


def dockerfiles(layout: Path) -> list[Path]:
    """The Dockerfiles compose builds (row C14 checks that they are the layout's own)."""
    return builds.dockerfiles(layout)


def d1_hadolint(layout: Path) -> Result:
    files = dockerfiles(layout)
    # hadolint also reads .hadolint.yaml in the working directory.
    out = tools.run("hadolint", "--failure-threshold", "warning", "--no-color", *map(str, files),
                    reads=[*files, Path.cwd() / ".hadolint.yaml"], root=layout)
    return check("D1", [] if out.ok else [tools.first_lines(out.out)], f"{len(files)} Dockerfiles clean")


def final_user(dockerfile: Path) -> str | None:
    """The user the image runs as (its final stage's last USER, ARGs resolved), None when it sets none."""
    args, stages = parse(dockerfile)
    local_args = {**args, **{k.strip(): v.strip() for i, a in stages[-1].instructions if i == "ARG" for k, _, v in [a.partition("=")]}}
    users = [a for i, a in stages[-1].instructions if i == "USER"]
    return resolve_base(users[-1], local_args) if users else None


def d2_user(layout: Path) -> Result:
    problems = []
    for f in dockerfiles(layout):
        args, stages = parse(f)
        local_args = {**args, **{k.strip(): v.strip() for i, a in stages[-1].instructions if i == "ARG" for k, _, v in [a.partition("=")]}}
        users = [a for i, a in stages[-1].instructions if i == "USER"]
        if not users:
            problems.append(f"{f.parent.name}: final stage has no USER")
            continue
        user = resolve_base(users[-1].split(":")[0], local_args)
        if not user.isdigit() or user == "0":
            problems.append(f"{f.parent.name}: final USER {users[-1]!r} is not a non-root numeric UID")
    return check("D2", problems, "final stages run as numeric non-root UIDs")


def d3_base_images(layout: Path) -> Result:
    problems = []
    for f in dockerfiles(layout):
        args, stages = parse(f)
        names = {s.name for s in stages}
        for s in stages:
            if s.base in names or s.base == "scratch":  # an earlier stage, or the empty image: nothing to pin
                continue
            if not s.base.startswith("$"):
                problems.append(f"{f.parent.name}: FROM {s.base} is not overridable by ARG")
            ref = resolve_base(s.base, args)
            tag = ref.split("@")[0].rsplit("/", 1)[-1].partition(":")[2]
            if not tag or tag == "latest":
                problems.append(f"{f.parent.name}: base image {ref or s.base!r} has no pinned tag")
    return check("D3", problems, "bases tagged and overridable by ARG")


def d4_no_add(layout: Path) -> Result:
    problems = [f"{f.parent.name}: uses ADD" for f in dockerfiles(layout)
                for s in parse(f)[1] for i, _ in s.instructions if i == "ADD"]
    return check("D4", problems, "COPY only")


def d5_multistage(layout: Path) -> Result:
    problems = []
    for f in dockerfiles(layout):
        _, stages = parse(f)
        if len(stages) < 2:
            problems.append(f"{f.parent.name}: single stage")
            continue
        for i, a in stages[-1].instructions:
            if i == "RUN" and (TOOLCHAIN.search(a) or "pip install" in a or "npm " in a):
                problems.append(f"{f.parent.name}: runtime stage runs {a[:60]!r}")
    return check("D5", problems, "multi-stage, runtime stage installs nothing")


def d6_hygiene(layout: Path) -> Result:
    problems = []
    for f in dockerfiles(layout):
        for s in parse(f)[1]:
            for i, a in s.instructions:
                if i != "RUN":
                    continue
                if PKG_INSTALL.search(a) and "apt-get" in a:
                    if "--no-install-recommends" not in a:
                        problems.append(f"{f.parent.name}: apt-get install without --no-install-recommends")
                    if "rm -rf /var/lib/apt/lists" not in a:
                        problems.append(f"{f.parent.name}: apt lists not removed")
                if re.search(r"\bpip3? install\b", a) and "--no-cache-dir" not in a:
                    problems.append(f"{f.parent.name}: pip install without --no-cache-dir")
                if re.search(r"\bnpm (install|i)\b", a):
                    problems.append(f"{f.parent.name}: npm install instead of npm ci")
    return check("D6", problems, "no recommends, no caches, npm ci")


def d7_shell_exec(layout: Path) -> Result:
    problems = []
    for f in dockerfiles(layout):
        for s in parse(f)[1]:
            shell = next((a for i, a in s.instructions if i == "SHELL"), "")
            for i, a in s.instructions:
                if i == "RUN" and re.search(r"[^|]\|[^|]", a) and "pipefail" not in shell:
                    problems.append(f"{f.parent.name}: RUN with a pipe but no SHELL with pipefail")
                if i in ("CMD", "ENTRYPOINT") and not a.startswith("["):
                    problems.append(f"{f.parent.name}: {i} is not in exec form")
                elif i in ("CMD", "ENTRYPOINT") and SHELL_WRAPPED.match(a):
                    problems.append(f"{f.parent.name}: {i} runs its command under a shell without `exec` (the shell stays PID 1 and swallows SIGTERM)")
    return check("D7", problems, "exec-form CMD/ENTRYPOINT")


# A build-time stand-in that says what it is (`ARG DJANGO_SECRET_KEY=dummy-for-collectstatic`): not a secret.
PLACEHOLDER_VALUE = re.compile(r"dummy|placeholder|collectstatic|build[-_]?only|not[-_]?a?[-_]?secret|fake|unused", re.I)


def d8_no_secrets(layout: Path) -> Result:
    problems = []
    for f in dockerfiles(layout):
        for s in parse(f)[1]:
            for i, a in s.instructions:
                if i in ("ARG", "ENV"):
                    for name, value in re.findall(r"(\w+)=(\S*)", a) or [(a.split()[0], "")]:
                        if CREDENTIAL_NAME.search(name) and not PLACEHOLDER_VALUE.search(value):
                            problems.append(f"{f.parent.name}: {i} {name} looks like a secret; use a BuildKit secret mount")
    for path, hits in tools.scan_secrets(dockerfiles(layout)).items():
        problems += [f"{Path(path).parent.name}: {h['type']} on line {h['line_number']}" for h in hits]
    return check("D8", problems, "no secret in ARG/ENV/layers (image history: stack tier R4)")


def d9_healthcheck(layout: Path) -> Result:
    from hardstack.checks.compose import probe_problem

    problems = []
    for f in dockerfiles(layout):
        checks = [a for i, a in parse(f)[1][-1].instructions if i == "HEALTHCHECK"]
        if not checks:
            problems.append(f"{f.parent.name}: no HEALTHCHECK")
            continue
        last = checks[-1]  # the one the image keeps
        if last.strip().upper() == "NONE":
            problems.append(f"{f.parent.name}: HEALTHCHECK NONE switches the check off")
            continue
        command = re.split(r"\bCMD\b", last, maxsplit=1)[-1].strip()
        test = ["CMD", *json.loads(command)] if command.startswith("[") else ["CMD-SHELL", command]
        if problem := probe_problem(test):
            problems.append(f"{f.parent.name}: {problem.replace('healthcheck', 'HEALTHCHECK')}")
    return check("D9", problems, "a HEALTHCHECK that tests something in every image")


def d10_dockerignore(layout: Path, present_only: bool = False) -> Result:
    """Evaluate each build's ignore file as Docker does (last matching rule wins, `!` re-includes).
    present_only (audit): judge only what the context holds today (a repo with no node_modules/ sends none)."""
    from docker.utils.build import PatternMatcher

    problems = []
    for b in builds.resolved(layout):
        ignore = b.ignore_file
        if not ignore.exists():
            problems.append(f"{b.part}: no .dockerignore for {b.dockerfile.name} in {b.context}")
            continue
        rules = [line.strip() for line in ignore.read_text().splitlines() if line.strip() and not line.startswith("#")]
        matcher = PatternMatcher(rules)
        app = b.args.get("APP_DIR", ".")
        probes = {name: f"{app}/{path}".removeprefix("./") for name, path in IGNORE_MUST.items()}
        if layout.resolve().is_relative_to(b.context) and layout.resolve() != b.context:
            probes["the layout's secrets/"] = f"{layout.resolve().relative_to(b.context)}/secrets/db_password"
        sent = [name for name, path in probes.items() if not matcher.matches(path)
                and (not present_only or _present(b.context / app, name))]
        if sent:
            problems.append(f"{b.part}: {ignore.name} lets {', '.join(sent)} into the build context")
    return check("D10", problems, ".git, .env*, secrets/, node_modules, tests never sent to a build")


# What a context must hold for a probe of IGNORE_MUST to matter (audit: only what is there today).
PRESENT = {".git": ".git", ".env": ".env", ".env.*": ".env.*", "secrets/": "secrets", "nested secrets/": "*/secrets",
           "node_modules": "node_modules", "tests": "tests"}


def _present(context: Path, name: str) -> bool:
    pattern = PRESENT.get(name)
    return bool(pattern) and any(True for _ in context.glob(pattern))


ROWS = [("D1", d1_hadolint), ("D2", d2_user), ("D3", d3_base_images), ("D4", d4_no_add), ("D5", d5_multistage),
        ("D6", d6_hygiene), ("D7", d7_shell_exec), ("D8", d8_no_secrets), ("D9", d9_healthcheck), ("D10", d10_dockerignore)]
