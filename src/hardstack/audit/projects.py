"""Compose files as they run: a project is the files `docker compose` merges, in order.

A project is found where a user's command would find it:
- a folder's base file with its override file (`compose.yaml` + `compose.override.yaml`), which
  `docker compose` merges with no flag;
- `COMPOSE_FILE` in the folder's `.env`;
- a `-f a.yml -f b.yml` set named in a script, a workflow, a Makefile or a README;
- an overlay no command names (its services have neither `image` nor `build`) over its folder's base.

Every other compose file is a project of its own. Files are merged by the Compose Specification's
rules (mappings merged key by key, `command` and `healthcheck.test` replaced, volumes and secrets by
target, `!reset` and `!override` honoured); the rows then judge the merged model.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hardstack.audit.files import TextFile, Tree

BASE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_NAMES = ("compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml", "docker-compose.override.yml")
# A command line that names compose files: `docker compose -f a -f b`, `docker-compose --file a`.
COMPOSE_CALL = re.compile(r"docker[- ]compose((?:\s+(?:-f|--file)[\s=]+\S+|\s+-p\s+\S+|\s+--project-name[\s=]+\S+)+)")
FILE_FLAG = re.compile(r"(?:-f|--file)[\s=]+(\S+)")
WHERE_SETS_ARE_NAMED = ("shell", "workflow", "other", "python")


class Reset:
    """`!reset`: the key is removed from what came before."""


@dataclass
class Override:
    """`!override value`: the value replaces what came before instead of merging with it."""
    value: object


class ComposeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader that knows Compose's two merge tags."""


def _reset(loader, node):
    return Reset()


def _override(loader, node):
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))


ComposeLoader.add_constructor("!reset", _reset)
ComposeLoader.add_constructor("!override", _override)


def load(text: str):
    """A compose document with its merge tags kept (Reset, Override)."""
    return yaml.load(text, Loader=ComposeLoader)  # noqa: S506 - a safe loader with two extra tags


def plain(doc):
    """A document as one file alone means it: `!reset` keys dropped, `!override` values unwrapped."""
    if isinstance(doc, Override):
        return plain(doc.value)
    if isinstance(doc, dict):
        return {k: plain(v) for k, v in doc.items() if not isinstance(v, Reset)}
    if isinstance(doc, list):
        return [plain(v) for v in doc if not isinstance(v, Reset)]
    return doc


# ---- merging, as the Compose Specification says (merge.md) -------------------------------------

REPLACED = {"command", "entrypoint", "test"}
AS_MAPPING = {"environment", "labels", "extra_hosts", "sysctls", "ulimits", "annotations", "depends_on", "networks",
              "build_args", "args"}
BY_TARGET = {"volumes", "secrets", "configs"}


def _mapping(value) -> dict:
    """A list form (`KEY=value`, `name`) as the mapping compose reads it as."""
    if isinstance(value, dict):
        return dict(value)
    out: dict = {}
    for item in value or []:
        key, sep, val = str(item).partition("=") if "=" in str(item) else (str(item).partition(":") if ":" in str(item) else (str(item), "", None))
        out[key] = val if sep else None
    return out


def _target(mount) -> str:
    if isinstance(mount, dict):
        return str(mount.get("target") or mount.get("source"))
    parts = str(mount).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _merge_list(key: str, base: list, over: list) -> list:
    if key in BY_TARGET:
        merged = {_target(m): m for m in base}
        merged.update({_target(m): m for m in over})
        return list(merged.values())
    return base + [v for v in over if v not in base]


def merge(base, over, key: str = ""):
    """`over` merged onto `base` (neither is changed)."""
    if isinstance(over, Reset):
        return Reset()
    if isinstance(over, Override):
        return copy.deepcopy(over.value)
    if key in REPLACED or base is None:
        return copy.deepcopy(over)
    if key in AS_MAPPING and isinstance(base, (dict, list)) and isinstance(over, (dict, list)):
        base, over = _mapping(base), _mapping(over)
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            merged = merge(base.get(k), v, str(k))
            if isinstance(merged, Reset):
                out.pop(k, None)
            else:
                out[k] = merged
        return out
    if isinstance(base, list) and isinstance(over, list):
        return _merge_list(key, base, over)
    return copy.deepcopy(over)


def resolve_extends(doc: dict, folder: Path, depth: int = 0) -> dict:
    """Services with `extends:` merged over the service they extend (in the same file, or in `file:`
    relative to folder), as compose does before it runs them."""
    services = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(services, dict) or depth > 5:
        return doc
    out = dict(doc, services=dict(services))
    for name, svc in services.items():
        ext = svc.get("extends") if isinstance(svc, dict) else None
        if not ext:
            continue
        ext = {"service": ext} if isinstance(ext, str) else ext
        source = services
        if ext.get("file"):
            try:
                other = plain(load((folder / str(ext["file"])).read_text()))
                source = resolve_extends(other, (folder / str(ext["file"])).parent, depth + 1).get("services") or {}
            except (OSError, yaml.YAMLError, AttributeError):
                continue
        base = source.get(str(ext.get("service")))
        if isinstance(base, dict):
            base = resolve_extends({"services": {"_": base}}, folder, depth + 1)["services"]["_"] if base.get("extends") else base
            merged = merge({k: v for k, v in base.items() if k not in ("depends_on",)}, {k: v for k, v in svc.items() if k != "extends"})
            out["services"][name] = merged
    return out


# ---- finding the projects ----------------------------------------------------------------------

@dataclass
class Project:
    files: list[TextFile]
    named_by: str  # how a user runs it: "docker compose", "COMPOSE_FILE in .env", "ci.yml", "its folder's base"
    model: dict = field(default_factory=dict)

    @property
    def base(self) -> TextFile:
        return self.files[0]

    @property
    def merged(self) -> bool:
        return len(self.files) > 1

    def describe(self) -> str:
        return " + ".join(f.path.name for f in self.files) + f" (as {self.named_by} runs it)"


def _parsed(f: TextFile):
    try:
        return load(f.text)
    except yaml.YAMLError:
        return None


def _is_compose(doc) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("services"), dict)


def _partial(doc) -> bool:
    """An overlay: every service it names lacks image, build and extends (it only adds to a base)."""
    services = doc.get("services") or {}
    return bool(services) and all(isinstance(s, dict) and not ({"image", "build", "extends"} & set(s)) for s in services.values())


def _named_sets(tree: Tree, by_path: dict[Path, TextFile]) -> list[tuple[list[TextFile], str]]:
    """`-f` sets in the repos' commands, and COMPOSE_FILE in .env files, resolved to the files they name."""
    sets = []
    for f in tree.files:
        if f.kind == "env" and f.path.name == ".env":
            for line in f.lines:
                m = re.match(r"\s*COMPOSE_FILE\s*=\s*['\"]?([^'\"#\s]+)", line)
                if m:
                    separator = os.pathsep if os.pathsep in m.group(1) else ","
                    names = [n for n in re.split(rf"[{re.escape(separator)},]", m.group(1)) if n]
                    files = [by_path.get((f.path.parent / n).resolve()) for n in names]
                    if files and all(files):
                        sets.append((files, f"COMPOSE_FILE in {f.path.name}"))
            continue
        if f.kind not in WHERE_SETS_ARE_NAMED and not f.path.name.lower().startswith(("makefile", "readme", "justfile")):
            continue
        if "compose" not in f.text:
            continue
        for call in COMPOSE_CALL.finditer(f.text):
            names = [n.strip("'\"") for n in FILE_FLAG.findall(call.group(1))]
            if len(names) < 2:
                continue
            files = []
            for name in names:
                # a command runs from the repository's root or from the file's own folder
                hit = next((by_path[c] for c in ((f.root / name).resolve(), (f.path.parent / name).resolve()) if c in by_path), None)
                files.append(hit)
            if all(files):
                sets.append((files, f.path.name))
    return sets


def projects(tree: Tree) -> list[Project]:
    """Every compose project the repos run, each file in at least one (as itself when no set names it)."""
    docs = {f.path.resolve(): (f, _parsed(f)) for f in tree.kind("compose")}
    composes = {p: f for p, (f, doc) in docs.items() if _is_compose(doc)}
    found: list[Project] = []
    seen: set[tuple[Path, ...]] = set()

    def add(files: list[TextFile], named_by: str) -> None:
        key = tuple(f.path.resolve() for f in files)
        if key not in seen:
            seen.add(key)
            found.append(Project(files, named_by))

    overlays: set[Path] = set()  # files only ever run over another: never judged alone
    for files, named_by in _named_sets(tree, composes):
        add(files, named_by)
        overlays |= {f.path.resolve() for f in files[1:]}
    # A base a named set starts with is judged alone too only when its name makes `docker compose` run it.
    folders: dict[Path, list[TextFile]] = {}
    for f in composes.values():
        folders.setdefault(f.path.parent, []).append(f)
    for folder, files in folders.items():
        base = next((f for name in BASE_NAMES for f in files if f.path.name == name), None)
        override = next((f for name in OVERRIDE_NAMES for f in files if f.path.name == name), None)
        if base:
            add([base, override] if override else [base], "docker compose")
            if override:
                overlays.add(override.path.resolve())
        for f in files:
            path = f.path.resolve()
            if f is base or path in overlays or any(p.base is f for p in found):
                continue
            if base and _partial(docs[path][1]):
                add([base, f], f"an overlay of {base.path.name}")
                overlays.add(path)
            else:
                add([f], "docker compose -f")
    for project in found:
        model: dict = {}
        for f in project.files:
            model = merge(model, docs[f.path.resolve()][1])
        project.model = resolve_extends(plain(model), project.base.path.parent)
    return found


def build_contexts(found: list[Project]) -> dict[Path, Path]:
    """Dockerfile -> the context compose builds it with (relative paths are the project folder's)."""
    contexts: dict[Path, Path] = {}
    for project in found:
        folder = project.base.path.parent
        for service in (project.model.get("services") or {}).values():
            build = service.get("build") if isinstance(service, dict) else None
            if isinstance(build, str):
                build = {"context": build}
            if not isinstance(build, dict) or not isinstance(build.get("context", "."), str) or "://" in str(build.get("context")):
                continue
            context = (folder / build.get("context", ".")).resolve()
            dockerfile = (context / str(build.get("dockerfile", "Dockerfile"))).resolve()
            contexts.setdefault(dockerfile, context)
    return contexts
