"""The single-file rows of `hardstack check`, run on whatever the audited repos hold: D1-D10 on every
Dockerfile, the compose-only C rows on every compose file, N10 (gixy) on every nginx config, P1-P3 on
every prometheus.yml with its folder, S1 on shell scripts and S3 on workflows.

A row reads a layout folder. Each artifact is staged as one: a compose file as `compose.yaml` (its
own text, beside links to its folder's entries, so relative build contexts still resolve); each
Dockerfile behind a one-service `compose.yaml` that builds it; shell scripts and workflows as links.
The row's problems become findings against the original file. Nothing is copied into the repos.
"""

from __future__ import annotations

import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from hardstack.audit import ERROR, Finding
from hardstack.audit.files import TextFile, Tree
from hardstack.audit.projects import Project, build_contexts, load, resolve_extends
from hardstack.checks import compose, dockerfiles, misc, nginx, prometheus
from hardstack.checks.explain import EXPLANATIONS
from hardstack.checks.result import FAIL, guarded

# The rows that judge one file on its own (no answers of a generated layout needed), with the severity
# a reviewer gives a failure in a production file (audit() lowers it one step for dev, test and example files).
COMPOSE_ROWS = {"C2": (compose.c2_healthchecks, "medium"), "C4": (compose.c4_no_new_privileges, "medium"),
                "C5": (compose.c5_capabilities, "medium"), "C6": (compose.c6_read_only, "medium"),
                "C7": (compose.c7_limits, "medium"), "C8": (compose.c8_isolation, "high"),
                "C10": (compose.c10_restart, "low"), "C11": (compose.c11_credentials, "high"),
                "C12": (compose.c12_logs, "low"), "C15": (compose.c15_users, "medium")}
DOCKERFILE_ROWS = {"D1": (dockerfiles.d1_hadolint, "medium"), "D2": (dockerfiles.d2_user, "high"),
                   "D3": (dockerfiles.d3_base_images, "medium"), "D4": (dockerfiles.d4_no_add, "medium"),
                   "D5": (dockerfiles.d5_multistage, "low"), "D6": (dockerfiles.d6_hygiene, "low"),
                   "D7": (dockerfiles.d7_shell_exec, "medium"), "D8": (dockerfiles.d8_no_secrets, "high"),
                   "D9": (dockerfiles.d9_healthcheck, "medium"),
                   "D10": (lambda layout: dockerfiles.d10_dockerignore(layout, present_only=True), "high")}
NGINX_ROWS = {"N10": (nginx.n10_gixy, "medium")}
PROMETHEUS_ROWS = {"P1": (prometheus.p1_promtool, "medium"), "P2": (prometheus.p2_alert_fields, "low"),
                   "P3": (prometheus.p3_rule_tests, "low")}
# The rows about hardening a production container or image: `low` in a dev, test or example file.
HARDENING = {rid for rid in (*COMPOSE_ROWS, *DOCKERFILE_ROWS) if rid not in ("C11", "D8", "D10")}
FIXED_BY = {"C": "compose.yaml", "D": "backend/Dockerfile and frontend/Dockerfile", "S1": "", "S3": ".github/workflows/",
            "N": "nginx/ (one snippet per concern)", "P": "prometheus/ (alert rules, their promtool tests, the runbook)"}


def first_fix(rid: str) -> str:
    explanation = EXPLANATIONS.get(rid)
    return explanation.fixes[0][1] if explanation and explanation.fixes else f"see `hardstack check --explain {rid}`"


def line_of(source: TextFile, problem: str) -> int | None:
    """The line a problem is about: the service it names (`name: ...`), else a `line N` it quotes."""
    service = re.match(r"([\w.-]+)( ->|:)", problem)
    if service and (number := source.service_line(service.group(1))):
        return number
    quoted = re.search(r"\bline (\d+)", problem)
    return int(quoted.group(1)) if quoted else None


def findings_of(results, source: TextFile, severities: dict[str, str], staged: Path) -> list[Finding]:
    found = []
    for r in results:
        if r.status != FAIL:
            continue
        if r.crashed:  # the row could not read the file: an error of the tool, never a finding
            found.append(Finding(r.id, ERROR, source.rel, None, f"{r.id}: " + r.detail.replace(str(staged) + "/", ""), ""))
            continue
        for problem in r.problems or [r.detail]:
            problem = problem.replace(str(staged) + "/", "").replace(str(source.root), source.root.name)
            found.append(Finding(r.id, severities[r.id], source.rel, line_of(source, problem),
                                 problem, first_fix(r.id), FIXED_BY.get(r.id, FIXED_BY.get(r.id[0], ""))))
    return found


def link_folder(staged: Path, folder: Path, skip: str) -> None:
    for entry in folder.iterdir():
        if entry.name != skip and not (staged / entry.name).exists():
            (staged / entry.name).symlink_to(entry)


def compose_findings(source: TextFile, scratch: Path) -> list[Finding]:
    """One compose file judged as it is (a project of its own): line numbers are its own."""
    doc, err = source.parsed
    if err is not None:
        mark = getattr(err, "problem_mark", None)
        return [Finding("AU0", "medium", source.rel, mark.line + 1 if mark else None,
                        f"not valid YAML, so nothing else in it was checked: {getattr(err, 'problem', err)}",
                        "fix the syntax at that line (`docker compose config` shows it too)")]
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        return []  # not a compose file after all (a YAML of another kind named like one)
    staged = scratch / "layout"
    staged.mkdir(parents=True)
    # The rows read plain YAML: merge tags and `extends:` resolved first (line numbers come from the source).
    resolved = resolve_extends(doc, source.path.parent)
    tagged = re.search(r"!(reset|override)\b", source.text) or resolved != doc
    (staged / "compose.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False) if tagged else source.text)
    link_folder(staged, source.path.parent, source.path.name)
    results = [guarded(rid, lambda fn=fn: fn(staged)) for rid, (fn, _) in COMPOSE_ROWS.items()]
    found = findings_of(results, source, {rid: sev for rid, (_, sev) in COMPOSE_ROWS.items()}, staged)
    kept = set(known_users([f.message for f in found if f.id == "C15"], resolved, source.path.parent))
    return [f for f in found if f.id != "C15" or f.message in kept]


def runs_as_non_root(svc, folder: Path) -> bool:
    """A service with no `user:` whose image is built here from a Dockerfile that sets a non-root USER."""
    build = svc.get("build") if isinstance(svc, dict) else None
    build = {"context": build} if isinstance(build, str) else build
    if not isinstance(build, dict):
        return False
    dockerfile = (folder / str(build.get("context", ".")) / str(build.get("dockerfile", "Dockerfile"))).resolve()
    try:
        user = dockerfiles.final_user(dockerfile) if dockerfile.is_file() else None
    except Exception:  # a Dockerfile the parser cannot read: no claim either way  # noqa: BLE001
        return False
    return bool(user) and user.split(":")[0] not in ("root", "0")


def known_users(problems: list[str], model: dict, folder: Path) -> list[str]:
    """C15's "may be root" dropped for services whose image the repo builds with a non-root USER."""
    services = model.get("services") or {}
    return [p for p in problems if not (m := re.match(r"([\w.-]+): no user:", p)) or not runs_as_non_root(services.get(m.group(1)), folder)]


def _judge(model: dict, folder: Path, staged: Path) -> dict[str, list[str]]:
    """row id -> problems, for a merged compose model staged beside links to its project folder."""
    staged.mkdir(parents=True)
    (staged / "compose.yaml").write_text(yaml.safe_dump(model, sort_keys=False))
    link_folder(staged, folder, "compose.yaml")
    found = {}
    for rid, (fn, _) in COMPOSE_ROWS.items():
        r = guarded(rid, lambda fn=fn: fn(staged))
        if r.crashed:
            found.setdefault(ERROR, []).append(f"{rid}: {r.detail}")
        elif r.status == FAIL:
            problems = [p.replace(str(staged) + "/", "") for p in (r.problems or [r.detail])]
            if problems := (known_users(problems, model, folder) if rid == "C15" else problems):
                found[rid] = problems
    return found


def project_findings(project: Project, scratch: Path) -> list[Finding]:
    """A merged project judged as `docker compose` runs it. Each problem is cited in the file whose
    addition brought it in: the base for what the base lacks, the overlay for what the overlay sets."""
    from hardstack.audit.projects import merge, plain, resolve_extends

    prefixes, model = [], {}
    for i, f in enumerate(project.files):
        model = merge(model, load(f.text))
        folder = project.base.path.parent
        prefixes.append(_judge(resolve_extends(plain(model), folder), folder, scratch / f"prefix{i}"))
    severities = {rid: sev for rid, (_, sev) in COMPOSE_ROWS.items()}
    found = [Finding(e.split(":")[0], ERROR, project.base.rel, None, e, "") for e in prefixes[-1].pop(ERROR, [])]
    for rid, problems in prefixes[-1].items():
        for problem in problems:
            k = next(i for i, p in enumerate(prefixes) if problem in p.get(rid, []))
            source = project.files[k]
            service = re.match(r"([\w.-]+)( ->|:)", problem)
            line = source.service_line(service.group(1)) if service else None
            found.append(Finding(rid, severities[rid], source.rel, line,
                                 f"{problem} (in {project.describe()})", first_fix(rid), FIXED_BY["C"]))
    return found

def dockerfile_findings(source: TextFile, scratch: Path, context: Path | None = None) -> list[Finding]:
    """A Dockerfile built from the context a compose project gives it (else its own folder)."""
    staged = scratch / "layout"
    staged.mkdir(parents=True)
    context = context or source.path.parent
    spec = {"services": {"image": {"build": {"context": str(context), "dockerfile": str(source.path.relative_to(context))
                                              if source.path.is_relative_to(context) else str(source.path)}}}}
    (staged / "compose.yaml").write_text(yaml.safe_dump(spec))
    results = [guarded(rid, lambda fn=fn: fn(staged)) for rid, (fn, _) in DOCKERFILE_ROWS.items()]
    found = findings_of(results, source, {rid: sev for rid, (_, sev) in DOCKERFILE_ROWS.items()}, staged)
    for f in (f for f in found if f.severity != ERROR):  # the rows name a build by its part or folder; here the file says which
        f.message = re.sub(r"^(backend|frontend|[\w.-]+): ", "", f.message, count=1)
    return found


def nginx_findings(source: TextFile, scratch: Path) -> list[Finding]:
    """A config as the proxy's main file (gixy reads a server block on its own too)."""
    staged = scratch / "layout"
    (staged / "nginx").mkdir(parents=True)
    (staged / "nginx" / "nginx.conf").write_text(source.text)
    link_folder(staged / "nginx", source.path.parent, source.path.name)  # what it includes, beside it
    results = [guarded(rid, lambda fn=fn: fn(staged)) for rid, (fn, _) in NGINX_ROWS.items()]
    found = findings_of(results, source, {rid: sev for rid, (_, sev) in NGINX_ROWS.items()}, staged)
    for f in (f for f in found if f.severity != ERROR):
        f.message = f.message.removeprefix("nginx.conf: ")
    return found


def prometheus_findings(source: TextFile, scratch: Path) -> list[Finding]:
    """A prometheus.yml with the rules and promtool tests of its folder (rules/, tests/), as a layout holds them."""
    staged = scratch / "layout"
    staged.mkdir(parents=True)
    (staged / "prometheus").symlink_to(source.path.parent)
    results = [guarded(rid, lambda fn=fn: fn(staged)) for rid, (fn, _) in PROMETHEUS_ROWS.items()]
    return findings_of(results, source, {rid: sev for rid, (_, sev) in PROMETHEUS_ROWS.items()}, staged)


def shell_findings(scripts: list[TextFile], scratch: Path) -> list[Finding]:
    if not scripts:
        return []
    staged = scratch / "layout"
    staged.mkdir(parents=True)
    for i, s in enumerate(scripts):
        (staged / f"{i}.sh").symlink_to(s.path)
    result = guarded("S1", lambda: misc.s1_shellcheck(staged))
    if result.crashed:
        return [Finding("S1", ERROR, scripts[0].root.name, None, f"S1: {result.detail}", "")]
    if result.status != FAIL:
        return []
    found = []
    for i, s in enumerate(scripts):
        if f"{i}.sh" in result.detail:
            found.append(Finding("S1", "low", s.rel, None, "shellcheck finds problems: run `shellcheck " + s.rel + "`",
                                 first_fix("S1")))
    return found


def workflow_findings(workflows: list[TextFile], scratch: Path) -> list[Finding]:
    found = []
    for root in {w.root for w in workflows}:
        mine = [w for w in workflows if w.root == root]
        staged = scratch / root.name / "layout"
        (staged / ".github" / "workflows").mkdir(parents=True)
        for w in mine:
            (staged / ".github" / "workflows" / w.path.name).symlink_to(w.path)
        result = guarded("S3", lambda staged=staged: misc.s3_workflows(staged))
        if result.crashed:
            found.append(Finding("S3", ERROR, mine[0].rel, None, f"S3: {result.detail}", ""))
            continue
        if result.status != FAIL:
            continue
        for problem in result.problems or [result.detail]:
            problem = problem.replace(str(staged) + "/", "")
            owner = next((w for w in mine if problem.startswith(w.path.name) or w.path.name in problem), mine[0])
            found.append(Finding("S3", "medium", owner.rel, None, problem, first_fix("S3"), FIXED_BY["S3"]))
    return found


def run_all(tree: Tree) -> list[Finding]:
    with tempfile.TemporaryDirectory(prefix="hardstack-audit-") as tmp:
        scratch = Path(tmp)
        # Compose files as they run: alone, or merged in the projects a command or .env names.
        runs = tree.projects
        merged = [p for p in runs if p.merged]
        alone = {p.base.path for p in runs if not p.merged}
        unparsed = [f for f in tree.kind("compose") if f.parsed[1] is not None]
        jobs = [(compose_findings, f, scratch / f"c{i}") for i, f in enumerate(tree.kind("compose")) if f.path in alone or f in unparsed]
        jobs += [(project_findings, p, scratch / f"m{i}") for i, p in enumerate(merged)]
        contexts = build_contexts(runs)
        jobs += [(lambda f, d: dockerfile_findings(f, d, contexts.get(f.path.resolve())), f, scratch / f"d{i}")
                 for i, f in enumerate(tree.kind("dockerfile"))]
        # Top-level configs only: a snippet is read where a config includes it.
        jobs += [(nginx_findings, f, scratch / f"n{i}") for i, f in enumerate(tree.kind("nginx"))
                 if re.search(r"^\s*(server|http)\s*\{", f.text, re.M)]
        jobs += [(prometheus_findings, f, scratch / f"p{i}") for i, f in enumerate(tree.files) if f.path.name == "prometheus.yml"]
        jobs += [(shell_findings, tree.kind("shell"), scratch / "shell"), (workflow_findings, tree.kind("workflow"), scratch / "workflows")]
        # Each job mostly waits on a checker's process (hadolint, gixy, promtool, actionlint): side by side.
        with ThreadPoolExecutor(max_workers=8) as pool:
            parts = list(pool.map(lambda job: job[0](job[1], job[2]), jobs))
    return unique([f for part in parts for f in part])


def unique(findings: list[Finding]) -> list[Finding]:
    """A problem two projects share (the base alone, and merged with an overlay) is reported once."""
    seen, out = set(), []
    for f in findings:
        key = (f.id, f.file, f.line, re.sub(r" \(in [^()]*\(as [^)]*\)\)$", "", f.message))
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
