"""What a reviewer finds across files (AU1-AU13), each with the file and line, or the two files that
disagree. The single-file rules are `hardstack check`'s own rows (rows.py)."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from hardstack.audit import ERROR, Finding
from hardstack.audit.files import TextFile, Tree
from hardstack.audit.purposes import DEV_NAME
from hardstack.catalog import CREDENTIAL_NAME, KNOWN_DEFAULT_CREDENTIALS
from hardstack.checks import tools
from hardstack.checks.compose import environment_of
from hardstack.checks.misc import NAME_ONLY_LINES

EXAMPLE_NAME = re.compile(r"\.(example|sample|template|dist|tmpl)$|example", re.I)
LOCKFILES = {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "Pipfile.lock", "uv.lock"}
DEV_SERVER = re.compile(r"\b(runserver|flask run|nodemon|npm run (dev|serve|start:dev)|vite(?!\s+build)(\s|$)|--reload\b|yarn dev)")
SUPERUSER_LITERAL = [
    re.compile(r"create_superuser\([^)]*password\s*=\s*['\"][^'\"]+['\"]"),
    re.compile(r"create_superuser\(\s*['\"][^'\"]*['\"]\s*,\s*['\"][^'\"]*['\"]\s*,\s*['\"][^'\"]+['\"]"),
    re.compile(r"\.set_password\(\s*['\"][^'\"]+['\"]\s*\)"),
    re.compile(r"DJANGO_SUPERUSER_PASSWORD\s*[=:]\s*['\"]?(?!\$)[^\s'\"$]+"),
]
# Lines whose long tokens are checksums, not secrets: a commit pinning a hook or an action, a subresource-
# integrity hash; and the names row S2 knows (NAME_ONLY_LINES).
NOT_SECRETS = "|".join([NAME_ONLY_LINES, r"^\s*-?\s*rev:\s*['\"]?[0-9a-f]{40}['\"]?\s*(#.*)?$", r"@[0-9a-f]{40}\b",
                        r"integrity=?\s*[:=]?\s*['\"]sha(256|384|512)-[A-Za-z0-9+/=]+['\"]",
                        # a URL whose password is a placeholder: %s, %(password)s, {password}, {}, ${DB_PASSWORD}
                        r"://[^/\s:@]*:(%s|%\(\w+\)s|\{\w*\}|\$\{?\w+\}?)@",
                        # a commented line, also inside a diff (`+# password = ...`)
                        r"^[-+ ]?\s*(#|//)"])
CODE_SUFFIXES = {".py", ".js", ".mjs", ".cjs", ".ts", ".jsx", ".tsx", ".sh"}
# What any detect-secrets plugin needs to fire: a keyword, a long quoted token (entropy plugins), a known
# key prefix, a private key header, or credentials in a URL.
SECRET_WORDS = ("pass", "pwd", "secret", "token", "api_key", "apikey", "api-key", "private", "auth", "credential")
SECRET_SHAPES = re.compile(r"['\"][A-Za-z0-9+/=_.-]{20,}['\"]|AKIA|xox[abpr]-|sk_live|ghp_|github_pat|glpat|AIza|eyJ|-----BEGIN"
                           r"|://[^/\s:@]+:[^@\s]+@")


def secret_candidate(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in SECRET_WORDS) or bool(SECRET_SHAPES.search(text))


TEST_RUN = re.compile(r"(\bpytest\b|manage\.py\s+test\b)")
SQLITE = re.compile(r"sqlite", re.I)
SCHEMA_FROM_DEFAULT = re.compile(r"(raw\.githubusercontent\.com/\S+/(main|master)/\S*(openapi|schema)"
                                 r"|git\s+(show|checkout)\s+\S*(main|master)\S*\s+\S*(openapi|schema)"
                                 r"|/(blob|raw)/(main|master)/\S*(openapi|schema))", re.I)
ENV_READ = re.compile(r"(?:process\.env\.|process\.env\[['\"]|import\.meta\.env\.)([A-Z][A-Z0-9_]*)")
STANDARD_ENV = {"NODE_ENV", "PORT", "HOME", "PATH", "CI", "MODE", "DEV", "PROD", "BASE_URL", "SSR", "HOSTNAME", "TZ"}
PAYLOAD_LOG = re.compile(r"(console\.(log|info|debug|warn)|logger\.\w+|log\.\w+)\([^\n]*\b(req|request)\.(body|data|POST)\b")


def finding(rid: str, severity: str, source: TextFile, line: int | None, message: str, fix: str, fixed_by: str = "",
            other: TextFile | None = None) -> Finding:
    return Finding(rid, severity, source.rel, line, message, fix, fixed_by, other.rel if other else "")


def grep(source: TextFile, pattern: re.Pattern) -> Iterator[tuple[int, re.Match]]:
    for number, line in enumerate(source.lines, 1):
        if m := pattern.search(line):
            yield number, m


def _joined(command) -> str:
    """A command as one line, whether written as a string or an exec-form list."""
    return " ".join(map(str, command)) if isinstance(command, list) else str(command or "")


def compose_docs(tree: Tree) -> list[tuple[TextFile, dict]]:
    """The compose files that parse, with their documents (one that does not is AU0, a rows.py finding).
    An overlay's document holds the services it names as they run once it is merged over what comes
    before it (`db: {ports: [5432:5432]}` over a base's `db: {image: postgres}`), cited in the overlay."""
    from hardstack.audit.projects import load, merge, plain

    views: dict[Path, dict] = {}
    for project in (p for p in tree.projects if p.merged):
        model: dict = {}
        for f in project.files:
            model = merge(model, load(f.text))
            if f is not project.base:
                named = (f.parsed[0] or {}).get("services") or {}
                merged = plain(model).get("services") or {}
                view = views.setdefault(f.path, {"services": {}})
                view["services"].update({name: merged.get(name) or {} for name in named})
    return [(f, views.get(f.path) or f.parsed[0]) for f in tree.kind("compose")
            if isinstance(f.parsed[0], dict) and isinstance(f.parsed[0].get("services"), dict)]


# ---- AU1 secrets in the repository ------------------------------------------------------------

def au1_secrets(tree: Tree) -> list[Finding]:
    found = []
    # Compose files and Dockerfiles: their rows (C11, D8) run detect-secrets on them.
    # Env files (but examples): the rule below names each variable they set.
    scanned = [f for f in tree.files if f.path in tree.committed and f.path.name not in LOCKFILES and f.path.suffix not in (".md", ".svg")
               and f.kind not in ("compose", "dockerfile") and not (f.kind == "env" and not EXAMPLE_NAME.search(f.path.name))]
    # detect-secrets costs about 0.15 ms a line, blank or not: it reads copies of the files a cheap pass
    # finds a candidate in, holding (for source code) only the candidate lines (same file names, line
    # numbers mapped back).
    with tempfile.TemporaryDirectory(prefix="hardstack-audit-secrets-") as tmp:
        copies: dict[str, tuple[TextFile, list[int]]] = {}
        for i, f in enumerate(f for f in scanned if secret_candidate(f.text)):
            # Source code only: YAML, INI and the like are parsed as a whole by detect-secrets' transformers.
            numbers = [n for n, line in enumerate(f.lines, 1) if f.path.suffix not in CODE_SUFFIXES or secret_candidate(line)]
            copy = Path(tmp) / str(i) / f.path.name
            copy.parent.mkdir()
            copy.write_text("".join(f.lines[n - 1] + "\n" for n in numbers))
            copies[str(copy)] = (f, numbers)
        # Lines that name a variable (DB_PASSWORD) or a commit are not secrets (as row S2 reads them).
        for path, hits in tools.scan_secrets([Path(p) for p in copies], exclude_lines=NOT_SECRETS).items():
            source, numbers = copies[path]
            for h in hits:
                found.append(finding("AU1", "high", source, numbers[h["line_number"] - 1], f"a secret is committed ({h['type']})",
                                     "remove it from the file and from git history, rotate it, and read it from a secret file (*_FILE)",
                                     "secrets/ (generated, gitignored, 0600) read through *_FILE"))
    for f in tree.kind("env"):
        if EXAMPLE_NAME.search(f.path.name) or f.path not in tree.committed:
            continue
        for number, line in enumerate(f.lines, 1):
            key, sep, value = line.strip().removeprefix("export ").partition("=")
            if sep and CREDENTIAL_NAME.search(key) and value.strip().strip("'\""):
                known = value.strip().strip("'\"").lower() in KNOWN_DEFAULT_CREDENTIALS
                found.append(finding("AU1", "high", f, number, f"an env file in the repository sets {key.strip()}"
                                     + (f" to the known default {value.strip()!r}, the first password anyone tries" if known else ""),
                                     "delete the file from the repository, add it to .gitignore, keep an .env.example without values",
                                     "secrets/ files and .gitignore"))
    return found


# ---- AU2 development images and servers used for deployment -----------------------------------

def au2_dev_in_deployment(tree: Tree) -> list[Finding]:
    found = []
    for f, doc in compose_docs(tree):
        if not f.production:
            continue
        for name, svc in doc["services"].items():
            svc = svc or {}
            line = f.service_line(name)
            command = _joined(svc.get("command"))
            if m := DEV_SERVER.search(command):
                found.append(finding("AU2", "high", f, line, f"{name} runs a development server ({m.group(1).strip()})",
                                     "serve with gunicorn (Django) or a static nginx (Vite build output) from a production image",
                                     "backend/Dockerfile (gunicorn) and frontend/Dockerfile (nginx)"))
            build = svc.get("build")
            dockerfile = build.get("dockerfile", "") if isinstance(build, dict) else ""
            if dockerfile and DEV_NAME.search(Path(str(dockerfile)).name):
                found.append(finding("AU2", "high", f, line, f"{name} is built from the development Dockerfile {dockerfile}",
                                     "build a multi-stage production Dockerfile; keep the dev one for the dev container",
                                     "backend/Dockerfile and frontend/Dockerfile"))
            for vol in svc.get("volumes") or []:
                source = vol.split(":", 1)[0] if isinstance(vol, str) else (vol or {}).get("source", "")
                if str(source).rstrip("/") in (".", "..") or re.fullmatch(r"\.\./[\w.-]+/?", str(source)):
                    found.append(finding("AU2", "medium", f, line, f"{name} bind-mounts the source tree ({source}) over the image",
                                         "ship the code in the image (COPY) and mount only data volumes",
                                         "compose.yaml (code in images, volumes for data only)"))
    return found


# ---- AU3 paths that break ------------------------------------------------------------------------

def au3_paths(tree: Tree) -> list[Finding]:
    found = []
    for f, doc in compose_docs(tree):
        base = f.path.parent
        for name, svc in doc["services"].items():
            svc = svc or {}
            line = f.service_line(name)
            build = svc.get("build")
            if build is not None:
                spec = {"context": build} if isinstance(build, str) else build
                context = (base / str(spec.get("context", "."))).resolve()
                if "$" in str(spec.get("context", "")):
                    pass  # interpolated: its value is known only where compose runs
                elif not context.is_dir():
                    found.append(finding("AU3", "high", f, line, f"{name} builds from {spec.get('context')}, which does not exist here",
                                         "point the context at a folder of this repository (or check the sibling repo out beside it)",
                                         "compose.yaml with contexts checked by `hardstack check` (C14)"))
                elif f.root not in (context, *context.parents):
                    found.append(finding("AU3", "medium", f, line, f"{name} builds from {spec.get('context')}, outside this repository",
                                         "document the checkout layout it needs, or build from an image the other repo publishes",
                                         "a layout beside the repos, built with its own Dockerfile.dockerignore (C14)"))
                elif spec.get("dockerfile") and "$" not in str(spec["dockerfile"]) and not (context / str(spec["dockerfile"])).is_file():
                    found.append(finding("AU3", "high", f, line, f"{name} names the Dockerfile {spec['dockerfile']}, which does not exist",
                                         "fix the dockerfile path (relative to the context)"))
            for vol in svc.get("volumes") or []:
                source = vol.split(":", 1)[0] if isinstance(vol, str) else ((vol or {}).get("source", "") if (vol or {}).get("type") == "bind" else "")
                # Relative host paths only: an absolute one is the host's business, ${VAR} is known where it runs.
                if str(source).startswith(".") and "$" not in str(source):
                    if not (base / source).exists():
                        found.append(finding("AU3", "high", f, line, f"{name} mounts {source}, which is not in the repository",
                                             "add the file to the repository (configs) or create it in a setup step and say so in the README",
                                             "configs in the layout (nginx/, prometheus/), mounted read-only"))
            for env_file in ([svc["env_file"]] if isinstance(svc.get("env_file"), str) else svc.get("env_file") or []):
                if isinstance(env_file, dict) and str(env_file.get("required", True)).lower() == "false":
                    continue  # `required: false`: compose starts without it
                path = env_file if isinstance(env_file, str) else env_file.get("path", "")
                if path and "$" not in path and not (base / path).exists():
                    found.append(finding("AU3", "medium", f, line, f"{name} reads env_file {path}, which is not in the repository",
                                         "say where it comes from, or pass settings in environment: and secrets as files"))
    return found


# ---- AU4 a dev container that drifted from compose ---------------------------------------------

def jsonc(text: str):
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    text = re.sub(r",(\s*[}\]])", r"\1", text)
    return json.loads(text)


def au4_devcontainer(tree: Tree) -> list[Finding]:
    found = []
    composed = {str(f.path.resolve()): (f, doc) for f, doc in compose_docs(tree)}
    for dc in tree.kind("devcontainer"):
        try:
            config = jsonc(dc.text)
        except ValueError as err:
            found.append(finding("AU4", "medium", dc, None, f"devcontainer.json does not parse: {err}", "fix the JSON"))
            continue
        files = config.get("dockerComposeFile") or []
        dev_docs = [composed[str((dc.path.parent / p).resolve())] for p in ([files] if isinstance(files, str) else files)
                    if str((dc.path.parent / p).resolve()) in composed]
        dev_paths = {d[0].path for d in dev_docs}
        others = [(f, doc) for f, doc in composed.values() if f.root == dc.root and f.path not in dev_paths]
        for dev_file, dev_doc in dev_docs:
            dev_env = {k: (v, dev_file, name) for name, svc in dev_doc["services"].items() for k, v in environment_of(svc or {}).items()}
            for other_file, other_doc in others:
                for name, svc in other_doc["services"].items():
                    for key, value in environment_of(svc or {}).items():
                        if key in dev_env and (CREDENTIAL_NAME.search(key) or re.search(r"^(POSTGRES|DB|DATABASE)_", key)) \
                                and value and dev_env[key][0] and value != dev_env[key][0]:
                            found.append(finding("AU4", "medium", dev_file, dev_file.service_line(dev_env[key][2]),
                                                 f"{key} differs between the dev container ({dev_env[key][2]}) and {other_file.path.name} ({name})",
                                                 "derive both from one place (the same compose service and secret files)",
                                                 ".devcontainer/ on the layout's compose services and secret files (S4)", other_file))
        for hook in ("onCreateCommand", "postCreateCommand", "updateContentCommand", "postStartCommand"):
            command = _joined(config.get(hook))
            if re.search(r"\bnpm (install|ci)\b", command) and not re.search(r"\bcd\b|--prefix|-C\s", command) \
                    and not (dc.root / "package.json").exists():
                found.append(finding("AU4", "medium", dc, None, f"{hook} runs npm in the workspace root, which has no package.json",
                                     "run it in the frontend folder (`npm ci --prefix frontend` or `cd frontend && npm ci`)",
                                     ".devcontainer/ (one install per part, in its folder)"))
    return found


# ---- AU5 a predictable superuser ----------------------------------------------------------------

def au5_superuser(tree: Tree) -> list[Finding]:
    found = []
    workflows = tree.kind("workflow")
    for f in tree.files:
        if f.path.suffix not in (".py", ".sh", ".yml", ".yaml", ".json", "") or not ("superuser" in f.text or "set_password" in f.text):
            continue
        lines = sorted({number for pattern in SUPERUSER_LITERAL for number, _ in grep(f, pattern)})
        for number in lines:
            runner = next((w for w in workflows if f.path.name in w.text and w.path != f.path), None)
            found.append(finding("AU5", "high", f, number,
                                 "a superuser is created with a password written in the file" + (f", and {runner.path.name} runs it" if runner else ""),
                                 "read the password from a secret file, refuse weak or default ones, and run the step by hand",
                                 "the superuser service (ensure_superuser.py, manual profile, secrets/superuser_password)", runner))
    return found


# ---- AU6 CI that tests the wrong thing ----------------------------------------------------------

def au6_ci(tree: Tree) -> list[Finding]:
    found = []
    for wf in tree.kind("workflow"):
        doc = wf.parsed[0]  # one that does not parse: actionlint says so (S3)
        if not isinstance(doc, dict):
            continue
        for job_name, job in (doc.get("jobs") or {}).items():
            job = job or {}
            runs = [str(s.get("run", "")) for s in job.get("steps") or [] if isinstance(s, dict)]
            job_line = wf.service_line(job_name)
            test_runs = sum(len(TEST_RUN.findall(r)) for r in runs)
            if test_runs >= 2:
                found.append(finding("AU6", "low", wf, job_line, f"job {job_name} runs the test suite {test_runs} times (once more for coverage)",
                                     "run it once, under coverage (`coverage run -m pytest` or `pytest --cov`)",
                                     ".github/workflows/backend.yml"))
            services = json.dumps(job.get("services") or {})
            env_text = json.dumps([job.get("env"), doc.get("env")] + [s.get("env") for s in job.get("steps") or [] if isinstance(s, dict)])
            if re.search(r"postgres|timescale", services, re.I) and (SQLITE.search(env_text) or any(SQLITE.search(r) for r in runs)):
                found.append(finding("AU6", "medium", wf, job_line, f"job {job_name} starts PostgreSQL but migrates or tests against SQLite",
                                     "point DATABASE_URL (or the DB_* variables) at the service container",
                                     ".github/workflows/backend.yml (migrations and tests on TimescaleDB)"))
        for number, _ in grep(wf, SCHEMA_FROM_DEFAULT):
            found.append(finding("AU6", "medium", wf, number, "the OpenAPI schema is fetched from the default branch, not this change's",
                                 "generate it from the same commit (the backend job writes it; the frontend job uses that artifact)",
                                 ".github/workflows/frontend.yml (client from the same branch's schema)"))
    return found


# ---- AU7 env names that disagree, payloads in logs ---------------------------------------------

def au7_env_and_logs(tree: Tree) -> list[Finding]:
    found = []
    for root in tree.roots:
        env_files = [f for f in tree.kind("env") if f.root == root]
        defined: dict[str, TextFile] = {}
        for f in env_files:
            for line in f.lines:
                key = line.strip().removeprefix("export ").split("=", 1)[0].strip()
                if re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
                    defined.setdefault(key, f)
        # Compose environment and build args, Dockerfile ARG and ENV: names a build or a container gets.
        for _, doc in ((f, d) for f, d in compose_docs(tree) if f.root == root):
            for svc in doc["services"].values():
                build = (svc or {}).get("build")
                args = build.get("args") if isinstance(build, dict) else None
                args = dict(a.split("=", 1) if "=" in a else (a, "") for a in args) if isinstance(args, list) else (args or {})
                for key in [*environment_of(svc or {}), *args]:
                    defined.setdefault(key, env_files[0] if env_files else None)
        for f in (x for x in tree.kind("dockerfile") if x.root == root):
            for _, m in grep(f, re.compile(r"^\s*(?:ARG|ENV)\s+([A-Z][A-Z0-9_]*)")):
                defined.setdefault(m.group(1), env_files[0] if env_files else None)
        if not env_files:
            continue
        for f in (x for x in tree.kind("js") if x.root == root):
            for number, m in grep(f, ENV_READ):
                name = m.group(1)
                if name not in defined and name not in STANDARD_ENV:
                    hint = ", ".join(sorted(k for k in defined if set(k.split("_")) & set(name.split("_")) - {"URL", "API"})[:3]) \
                        or ", ".join(sorted(defined)[:3])
                    found.append(finding("AU7", "medium", f, number, f"reads {name}, which no env file or compose service defines (they define {hint})",
                                         f"use one name in the code and the env files", "answers that name each variable once (env_*)",
                                         env_files[0]))
    for f in tree.kind("js") + tree.kind("python"):
        for number, _ in grep(f, PAYLOAD_LOG):
            found.append(finding("AU7", "medium", f, number, "request payloads are written to the log",
                                 "log the method, path, status and timing, never the body (it holds passwords and personal data)",
                                 "nginx/snippets/logging.conf (no bodies; stack tier R2 checks it)"))
    return found


# ---- AU8 authentication switched off, a password on a command line ---------------------------------

# Variables that switch a database's or pooler's password check off: the official postgres image's and
# pgbouncer images' (edoburu, bitnami).
TRUST_VARS = ("POSTGRES_HOST_AUTH_METHOD", "AUTH_TYPE", "PGBOUNCER_AUTH_TYPE")
PASSWORD_FLAG = re.compile(r"--(requirepass|masterauth|password)[ =]\S+")


def au8_auth(tree: Tree) -> list[Finding]:
    found = []
    for f, doc in compose_docs(tree):
        for name, svc in doc["services"].items():
            svc = svc or {}
            line = f.service_line(name)
            for key, value in environment_of(svc).items():
                if key in TRUST_VARS and str(value).strip().lower() == "trust":
                    found.append(finding("AU8", "high", f, line, f"{name} lets every connection in without a password ({key}: trust)",
                                         "remove it and give the server a password from a secret file (POSTGRES_PASSWORD_FILE, scram-sha-256)",
                                         "db and db-setup (roles with passwords from secrets/)"))
            if m := PASSWORD_FLAG.search(_joined(svc.get("command"))):
                found.append(finding("AU8", "high", f, line, f"{name} takes a password on its command line (--{m.group(1)}): ps and docker inspect show it",
                                     "put it in a config file written from a secret at start (Redis: requirepass in redis.conf)",
                                     "redis/start.sh (requirepass from /run/secrets/redis_password)"))
    return found


# ---- AU9 Django settings open to every host or origin ---------------------------------------------

OPEN_SETTINGS = [
    (re.compile(r"^\s*(CORS_ORIGIN_ALLOW_ALL|CORS_ALLOW_ALL_ORIGINS)\s*=\s*True\b"),
     "lets every origin read the API with the user's cookies (django-cors-headers)",
     "list the origins: CORS_ALLOWED_ORIGINS = env list, the SPA's origin only"),
    (re.compile(r"^\s*ALLOWED_HOSTS\s*=\s*\[\s*[\"']\*[\"']\s*\]"),
     "answers for any Host header (ALLOWED_HOSTS = ['*']): password-reset links and absolute URLs take the attacker's host",
     "read ALLOWED_HOSTS from the environment with the real names and no '*' default"),
    (re.compile(r"ALLOWED_HOSTS.*(environ\.get|getenv|env)\([^)]*,\s*[\"']\*[\"']"),
     "falls back to ALLOWED_HOSTS '*' when the variable is unset: a missing setting opens every host",
     "make the variable required (os.environ[...]) or default to localhost"),
    (re.compile(r"^\s*SECRET_KEY\s*=.*(get_random_secret_key|token_(hex|urlsafe|bytes)|uuid4|urandom)\("),
     "makes a random SECRET_KEY in each process: every worker signs with its own key (sessions and CSRF fail "
     "across workers) and each restart signs everyone out",
     "read it from a secret file (DJANGO_SECRET_KEY_FILE) and refuse to start without it"),
]


def au9_open_settings(tree: Tree) -> list[Finding]:
    found = []
    for f in tree.kind("python"):
        if "settings" not in str(f.path).lower():
            continue
        for pattern, message, fix in OPEN_SETTINGS:
            for number, _ in grep(f, pattern):
                found.append(finding("AU9", "high", f, number, message, fix,
                                     "the example app's config/settings.py (hosts and origins from the layout's env)"))
    return found


# ---- AU10 datastores and admin UIs published on every interface -----------------------------------

PRIVATE_IMAGES = re.compile(r"(^|/)(postgres|postgis|timescaledb|mysql|mariadb|mongo|redis|valkey|memcached|elasticsearch|opensearch"
                            r"|rabbitmq|adminer|pgadmin4?|phpmyadmin|mongo-express|redis-commander|flower|minio)(:|@|$)")


def _published_everywhere(port) -> str | None:
    """The host port a compose port entry publishes on every interface (no host address, or 0.0.0.0)."""
    if isinstance(port, dict):
        return str(port.get("published")) if port.get("published") and port.get("host_ip", "0.0.0.0") in ("0.0.0.0", "::", "") else None
    parts = str(port).rsplit("/", 1)[0].split(":")
    if len(parts) == 2 or (len(parts) == 3 and parts[0] in ("0.0.0.0", "", "::")):
        return parts[-2]
    return None


def au10_published(tree: Tree) -> list[Finding]:
    found = []
    for f, doc in compose_docs(tree):
        for name, svc in doc["services"].items():
            svc = svc or {}
            image = str(svc.get("image") or "")
            if not PRIVATE_IMAGES.search(image.split("@")[0]):
                continue
            for port in svc.get("ports") or []:
                if published := _published_everywhere(port):
                    found.append(finding("AU10", "high", f, f.service_line(name),
                                         f"{name} ({image}) is published on every interface of the host (port {published})",
                                         "publish nothing (the app reaches it on a compose network), or bind to 127.0.0.1",
                                         "compose.yaml (only the proxy publishes, on bind_address)"))
    return found


# ---- AU11 images by moving or missing tags, end-of-life bases --------------------------------------

MOVING_TAGS = {"latest", "nightly", "edge", "dev", "develop", "main", "master", "unstable", "beta", "rc", "canary"}
# Image -> the oldest major (or major.minor) still maintained upstream on the day this was written.
END_OF_LIFE = {"python": (3, 9), "node": (18,), "postgres": (13,), "redis": (6, 2), "nginx": (1, 26), "alpine": (3, 18),
               "debian": (11,), "ubuntu": (20, 4)}


def _version(tag: str) -> tuple[int, ...] | None:
    m = re.match(r"^(\d+)(?:\.(\d+))?", tag)
    return tuple(int(g) for g in m.groups() if g is not None) if m else None


def au11_tags(tree: Tree) -> list[Finding]:
    found = []
    for f, doc in compose_docs(tree):
        for name, svc in doc["services"].items():
            svc = svc or {}
            image = str(svc.get("image") or "")
            if not image or "$" in image or "@sha256:" in image or svc.get("build"):
                continue
            repo, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
            short = repo.rsplit("/", 1)[-1]
            if not tag or tag in MOVING_TAGS:
                found.append(finding("AU11", "medium", f, f.service_line(name),
                                     f"{name} runs {image}: {'no tag (latest)' if not tag else 'the moving tag ' + tag}, so each pull may bring another version",
                                     "pin a version tag (and a digest: image@sha256:...)", "the *_IMAGE answers (tag, optionally @sha256 digest)"))
                continue
            version, oldest = _version(tag), END_OF_LIFE.get(short)
            if version and oldest and version[:len(oldest)] < oldest:
                found.append(finding("AU11", "medium", f, f.service_line(name),
                                     f"{name} runs {image}: {short} {tag.split('-')[0]} is past its end of life (no security fixes)",
                                     f"move to a maintained {short} release", "the *_IMAGE answers"))
    return found


# ---- AU12 proxies that trust every forwarded address -----------------------------------------------

TRUST_ALL_FORWARDED = [
    (re.compile(r"forwarded_allow_ips\s*=\s*['\"]\*['\"]|FORWARDED_ALLOW_IPS\s*[:=]\s*['\"]?\*"),
     "gunicorn trusts X-Forwarded-* from every address (forwarded_allow_ips '*'): any client can claim https or another IP"),
    (re.compile(r"set_real_ip_from\s+(0\.0\.0\.0/0|::/0|10\.0\.0\.0/8|172\.16\.0\.0/12|192\.168\.0\.0/16)\s*;"),
     "nginx takes the client address from X-Forwarded-For of a whole range: any container or host in it can set it"),
]


def au12_forwarded(tree: Tree) -> list[Finding]:
    found = []
    for f in tree.files:
        if f.kind not in ("python", "nginx", "compose", "env", "shell", "other"):
            continue
        for pattern, message in TRUST_ALL_FORWARDED:
            for number, _ in grep(f, pattern):
                found.append(finding("AU12", "high", f, number, message,
                                     "trust the load balancer's or the proxy's own address only",
                                     "gunicorn.conf.py (127.0.0.1) and the trusted_proxies answer (nginx realip)"))
    return found


# ---- AU13 installs from branch archives ------------------------------------------------------------

BRANCH_INSTALL = re.compile(r"(git\+\S+?\.git@(main|master|develop|dev)\b|git\+https?://[^\s@#]+(\.git)?(\s|$|#egg)"
                            r"|/archive/(refs/heads/)?(main|master|develop)\.(zip|tar\.gz))")


def au13_branch_installs(tree: Tree) -> list[Finding]:
    found = []
    for f in tree.files:
        if not (re.match(r"requirements.*\.(txt|in)$", f.path.name) or f.kind in ("dockerfile", "shell") or f.path.name == "pyproject.toml"):
            continue
        for number, m in grep(f, BRANCH_INSTALL):
            found.append(finding("AU13", "medium", f, number, f"installs from a branch ({m.group(0).strip()}): each build may get different code",
                                 "pin a release (name==version) or a commit (@<sha>) and lock it", "backend_installer with a lockfile (uv.lock, poetry.lock)"))
    return found


# ---- AU14 secret files committed --------------------------------------------------------------

SECRET_FILE = re.compile(r"(^|[._-])(passwords?|passwd|secrets?|credentials?|tokens?|private[._-]?key|htpasswd|api[._-]?key)"
                         r"([._-]|$)|^id_(rsa|dsa|ecdsa|ed25519)$|\.(key|p12|pfx|jks|keystore)$", re.I)
NOT_A_SECRET_FILE = re.compile(r"\.(py|js|mjs|cjs|ts|tsx|jsx|md|rst|html|yml|yaml|toml|cfg|ini|sh|conf|pub|crt|example|sample|dist|template|tmpl)$"
                               r"|^(\.gitkeep|\.gitignore|readme.*)$", re.I)


def au14_secret_files(tree: Tree) -> list[Finding]:
    """Files that are a secret by name (db/password.txt, id_rsa, secrets/anything) with a value in them,
    that git holds or would take. Their content has no keyword for a scanner to find: the name is the tell."""
    found = []
    for f in tree.files:
        in_secrets = "secrets" in {p.lower() for p in f.path.relative_to(f.root).parts[:-1]}
        if not (in_secrets or SECRET_FILE.search(f.path.name)) or NOT_A_SECRET_FILE.search(f.path.name):
            continue
        if f.path not in tree.committed or not f.text.strip() or EXAMPLE_NAME.search(f.path.name):
            continue
        found.append(finding("AU14", "high", f, None, f"a secret file is committed ({f.path.name}, {len(f.text.strip())} characters)",
                             "remove it from git (git rm --cached), rotate the secret, add the path to .gitignore",
                             "secrets/ (generated, gitignored, 0600)"))
    return found


# ---- AU15 an entrypoint branch that can never run ---------------------------------------------

DISPATCH = re.compile(r"""\[\[?\s*"?\$\{?1\}?"?\s*==?\s*['"]?([\w./-]+)['"]?\s*\]""")  # [ "$1" = "web" ]
CASE_ON_FIRST = re.compile(r"""case\s+"?\$\{?1\}?"?\s+in(.*?)\besac\b""", re.S)
CASE_LABEL = re.compile(r"^[ \t]*\(?([\w./|-]+)\)", re.M)


def _first_word(command) -> str | None:
    """The program a CMD or `command:` starts (exec form or shell form), or None when there is none."""
    if isinstance(command, list):
        return str(command[0]) if command else None
    if isinstance(command, str) and command.strip():
        text = command.strip()
        if text.startswith("["):
            try:
                words = json.loads(text)
                return str(words[0]) if words else None
            except ValueError:
                return None
        return text.split()[0]
    return None


def au15_dead_entrypoint_branches(tree: Tree) -> list[Finding]:
    """An entrypoint script that dispatches on its first argument, with a branch for a program that no
    CMD and no compose `command:` ever passes it: that branch never runs (and what it sets up never happens)."""
    from hardstack.checks.dockerfiles import parse

    scripts = {f.path.name: f for f in tree.kind("shell")}
    found = []
    for df in tree.kind("dockerfile"):
        try:
            _, stages = parse(df.path)
        except ValueError:
            continue  # D1 reports a Dockerfile BuildKit cannot read
        final = stages[-1].instructions if stages else []
        entry = next((_first_word(a) for i, a in reversed(final) if i == "ENTRYPOINT"), None)
        script = scripts.get(Path(entry).name) if entry else None
        if not script:
            continue
        starts = {w for i, a in final if i == "CMD" for w in [_first_word(a)] if w}
        for project in tree.projects:  # the services that build this Dockerfile, with their commands
            folder = project.base.path.parent
            for svc in (project.model.get("services") or {}).values():
                build = svc.get("build") if isinstance(svc, dict) else None
                build = {"context": build} if isinstance(build, str) else build
                if isinstance(build, dict) and (folder / str(build.get("context", ".")) / str(build.get("dockerfile", "Dockerfile"))).resolve() == df.path.resolve():
                    if word := _first_word(svc.get("command")):
                        starts.add(word)
        if not starts:
            continue
        branches = {m.group(1): n for n, m in grep(script, DISPATCH)}
        for case in CASE_ON_FIRST.finditer(script.text):
            first_line = script.text[:case.start()].count("\n") + 1
            for label in CASE_LABEL.finditer(case.group(1)):
                line = first_line + case.group(1)[:label.start()].count("\n")
                branches.update({word: line for word in label.group(1).split("|") if word not in ("*", "-*", "--*")})
        for word, line in branches.items():
            if word.startswith("-") or word in starts or Path(word).name in {Path(s).name for s in starts}:
                continue
            found.append(finding("AU15", "medium", script, line,
                                 f"the branch for {word!r} never runs: {df.rel} starts the image with "
                                 f"{', '.join(sorted(starts))}, and no compose command passes {word!r}",
                                 "make the branch match what the image is started with, or delete it",
                                 "backend/deploy/entrypoint.sh (one path for every command)", other=df))
    return found


RULES: list[Callable[[Tree], list[Finding]]] = [au1_secrets, au2_dev_in_deployment, au3_paths, au4_devcontainer,
                                               au5_superuser, au6_ci, au7_env_and_logs, au8_auth, au9_open_settings,
                                               au10_published, au11_tags, au12_forwarded, au13_branch_installs,
                                               au14_secret_files, au15_dead_entrypoint_branches]


def run_all(tree: Tree) -> list[Finding]:
    found = []
    for rule in RULES:
        try:
            found += rule(tree)
        except Exception as err:  # noqa: BLE001 - one rule that cannot read a repo must not stop the others
            rid = rule.__name__.split("_")[0].upper()
            found.append(Finding(rid, ERROR, tree.roots[0].name, None, f"{rid}: {type(err).__name__}: {err}", ""))
    return found
