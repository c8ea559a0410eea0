"""What compose really builds: each build's context, Dockerfile and ignore file, resolved as
Compose and BuildKit resolve them, so the D rows check the Dockerfiles that are built, not the
ones that happen to sit in the layout."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hardstack.checks import compose
from hardstack.checks.result import Result, check

@dataclass
class Build:
    services: list[str]
    context: Path
    dockerfile: Path
    args: dict[str, str] = field(default_factory=dict)

    @property
    def part(self) -> str:
        """The part it builds (messages and expectations are per part)."""
        return next((part for part in ("frontend", "acme") if part in self.services), "backend")

    @property
    def ignore_file(self) -> Path:
        """BuildKit's choice: `<Dockerfile>.dockerignore` next to the Dockerfile, else the context's."""
        own = self.dockerfile.with_name(self.dockerfile.name + ".dockerignore")
        return own if own.exists() else self.context / ".dockerignore"


def resolved(layout: Path) -> list[Build]:
    """One Build per distinct (context, Dockerfile), with the services that use it, as compose resolves them
    (checks/compose.resolved: the context absolute, the args substituted)."""
    builds: dict[tuple[Path, Path], Build] = {}
    for name, svc in compose.resolved_services(layout).items():
        spec = svc.get("build")
        if spec is None:
            continue
        context = Path(spec.get("context", layout)).resolve()
        dockerfile = Path(spec.get("dockerfile", "Dockerfile"))
        dockerfile = dockerfile if dockerfile.is_absolute() else (context / dockerfile).resolve()
        key = (context, dockerfile)
        if key not in builds:
            args = {k: "" if v is None else str(v) for k, v in (spec.get("args") or {}).items()}
            builds[key] = Build([], context, dockerfile, args)
        builds[key].services.append(name)
    return list(builds.values())


def expected(layout: Path) -> dict[str, Path]:
    """part -> the Dockerfile the answers say compose builds (the layout's own unless chosen otherwise)."""
    answers_file = layout / ".hardstack-answers.json"
    if not answers_file.exists():
        return {part: (layout / part / "Dockerfile").resolve() for part in ("backend", "frontend")}
    from hardstack.answers import validate

    answers = validate(json.loads(answers_file.read_text()))
    chosen = {part: getattr(answers, f"{part}_dockerfile") for part in answers.builds}
    wanted = {part: (layout / build["context"] / build["dockerfile"] if chosen[part] else layout / part / "Dockerfile").resolve()
              for part, build in answers.builds.items()}
    if answers.uses_acme:
        wanted["acme"] = (layout / "acme" / "Dockerfile").resolve()  # always the layout's own
    return wanted


def dockerfiles(layout: Path) -> list[Path]:
    """The Dockerfiles compose builds that exist (a missing one is row C14's failure)."""
    return [b.dockerfile for b in resolved(layout) if b.dockerfile.is_file()]


def c14_builds(layout: Path) -> Result:
    problems = []
    wanted = expected(layout)
    built = resolved(layout)
    for b in built:
        services, part = ", ".join(b.services), b.part
        if not b.context.is_dir():
            problems.append(f"{services}: build context {b.context} does not exist; clone the {part} repo there or fix {part}_context")
            continue
        if not b.dockerfile.is_file():
            problems.append(f"{services}: Dockerfile {b.dockerfile} does not exist")
        elif b.dockerfile != wanted.get(part):
            problems.append(f"{services}: compose builds {b.dockerfile}, not the layout's {part}/Dockerfile; "
                            f"build the generated one (`hardstack new` sets context and dockerfile), or say you want "
                            f"this one with {part}_dockerfile=<path relative to {part}_context>")
        for key, value in b.args.items():
            if key in ("APP_DIR", "DEPLOY_DIR") and not (b.context / value).is_dir():
                problems.append(f"{services}: build arg {key}={value} is not a folder of the context {b.context}"
                                + ("; keep the layout folder named as generated, beside the repo" if key == "DEPLOY_DIR" else ""))
    missing = {part for part in wanted} - {b.part for b in built}
    problems += [f"{part}: no service builds it; the layout's compose.yaml lost its build section" for part in sorted(missing)]
    return check("C14", problems, f"{len(built)} builds: the layout's Dockerfiles, contexts present")


ROWS = [("C14", c14_builds)]
