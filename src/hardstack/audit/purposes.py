"""What each file is for: production, dev, test or example.

A reviewer asks this before judging a file. Read, in order of strength:
1. how CI uses it: a compose file a deploy workflow names is production whatever its name, one a
   test workflow names is test;
2. the repository's docs: a README line that names the file as local-only or for development;
   a README that calls the repository a collection of samples not meant for production;
3. its path: `tests/`, `examples/`, `samples/`, `.devcontainer/`, ...;
4. its name: `docker-compose.dev.yml`, `compose.test.yml`, `.env.example`, `Dockerfile.local`.
Everything else is production.
"""

from __future__ import annotations

import re
from pathlib import Path

from hardstack.audit.files import Tree

PRODUCTION, DEV, TEST, EXAMPLE = "production", "dev", "test", "example"
PURPOSES = (PRODUCTION, DEV, TEST, EXAMPLE)

TEST_PARTS = {"test", "tests", "__tests__", "e2e", "spec", "specs", "testing", "fixtures", "testdata"}
EXAMPLE_PARTS = {"example", "examples", "sample", "samples", "demo", "demos", "tutorial", "tutorials", "playground"}
DEV_PARTS = {".devcontainer", "dev", "development", "local"}
TEST_NAME = re.compile(r"(^|[._-])(test|tests|testing|ci|e2e)([._-]|$)", re.I)
DEV_NAME = re.compile(r"(^|[._-])(dev|devel|development|local|override|debug)([._-]|$)", re.I)
EXAMPLE_NAME = re.compile(r"(^|[._-])(example|examples|sample|dist|template|tmpl|demo)([._-]|$)", re.I)

# A README line that says a file is not for production ("for local development", "local only", ...).
LOCAL_ONLY = re.compile(r"\b(local(ly)?|development|dev only|debugging|not (meant |intended )?for production|never in production)\b", re.I)
# A README that says the whole repository is samples ("These samples are not meant for production").
SAMPLES = re.compile(r"\b(samples?|examples?|demos?)\b[^.\n]*\b(not|never)\b[^.\n]*\bproduction\b"
                     r"|\bnot (meant|intended|suitable|ready) for production\b", re.I)
DEPLOYS = re.compile(r"deploy|release|publish|production|prod\b", re.I)
TESTS = re.compile(r"\btest|pytest|\bci\b|check|lint", re.I)
COMPOSE_FLAG = re.compile(r"(?:-f|--file)[\s=]+['\"]?([\w./-]+\.ya?ml)")


def by_path(path: Path, root: Path) -> str | None:
    rel = path.relative_to(root)
    parts = {p.lower() for p in rel.parts[:-1]}
    if parts & TEST_PARTS:
        return TEST
    if parts & EXAMPLE_PARTS:
        return EXAMPLE
    if parts & DEV_PARTS:
        return DEV
    return None


def by_name(name: str) -> str | None:
    if name.startswith(".env.") and EXAMPLE_NAME.search(name[5:]) or EXAMPLE_NAME.search(name) and not name.startswith(".env"):
        return EXAMPLE
    if TEST_NAME.search(name):
        return TEST
    if DEV_NAME.search(name):
        return DEV
    return None


def sample_roots(tree: Tree) -> set[Path]:
    """Roots whose README says they are samples, or that hold compose projects side by side in
    four or more top-level folders with none at the root (a collection, not an application)."""
    found = set()
    for root in tree.roots:
        readme = next((f for f in tree.files if f.path.parent == root and f.path.name.lower().startswith("readme")), None)
        if readme and SAMPLES.search(readme.text):
            found.add(root)
            continue
        composes = [f for f in tree.kind("compose") if f.root == root]
        tops = {f.path.relative_to(root).parts[0] for f in composes if len(f.path.relative_to(root).parts) > 1}
        at_root = any(f.path.parent == root for f in composes)
        if len(tops) >= 4 and not at_root:
            found.add(root)
    return found


def named_by_docs(tree: Tree) -> dict[Path, str]:
    """Files a README line names as local-only or for development."""
    found: dict[Path, str] = {}
    readmes = [f for f in tree.files if f.path.name.lower().startswith("readme")]
    for f in tree.files:
        if f.kind not in ("compose", "dockerfile", "env"):
            continue
        named = re.compile(rf"(?<![\w.-]){re.escape(f.path.name)}(?![\w-]|\.\w)")
        for readme in readmes:
            if readme.root != f.root or f.path.name not in readme.text:
                continue
            # the sentence that names the file: "`compose.yml` is what the server runs. `compose.local.yml` is for local development."
            for sentence in re.split(r"(?<=[.!?:])\s+|\n\s*\n|\n[-*] ", readme.text):
                if named.search(sentence) and LOCAL_ONLY.search(sentence):
                    found[f.path] = DEV
    return found


def named_by_ci(tree: Tree) -> dict[Path, str]:
    """Compose files a workflow names with -f: production in a deploy workflow, test in a test one."""
    found: dict[Path, str] = {}
    for wf in tree.kind("workflow"):
        purpose = PRODUCTION if DEPLOYS.search(wf.path.name) or DEPLOYS.search(wf.text[:200]) else TEST if TESTS.search(wf.path.name) else None
        if not purpose:
            continue
        for name in COMPOSE_FLAG.findall(wf.text):
            if purpose == TEST and by_name(Path(name).name) is None:
                continue  # the base a test overlay extends is not a test file for that
            for candidate in ((wf.root / name).resolve(), (wf.path.parent / name).resolve()):
                if candidate.exists():
                    found.setdefault(candidate, purpose)
    return found


def assign(tree: Tree) -> None:
    """Set `purpose` on every file of the tree."""
    samples = sample_roots(tree)
    docs = named_by_docs(tree)
    ci = named_by_ci(tree)
    for f in tree.files:
        f.purpose = (ci.get(f.path.resolve()) or (EXAMPLE if f.root in samples else None) or docs.get(f.path)
                     or by_path(f.path, f.root) or (f.kind != "workflow" and by_name(f.path.name)) or PRODUCTION)


def lowered(rid: str, severity: str, hardening: set[str]) -> str:
    """The severity of a finding in a file that is not production: one step down, and `low` for the
    rows that harden a production container (cap_drop, read-only, limits, numeric users, ...)."""
    return "low" if rid in hardening else {"high": "medium", "medium": "low"}.get(severity, severity)
