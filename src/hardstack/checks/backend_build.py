"""Bar rows D11-D12: the backend image against the app it builds: the Python the app declares, and
the build-time packages that must stay in the build stage. Row C22: the backend's server trusts
forwarded headers from the proxy only."""

from __future__ import annotations

import re
from pathlib import Path

from hardstack.checks import builds
from hardstack.checks.dockerfiles import parse
from hardstack.checks.result import NA, Result, check

# What a runtime stage may take from the build stage: the app's venv, the app, the layout's scripts.
RUNTIME_FROM_BUILD = ("/opt/venv", "/app", "/opt/hardstack")


def backend_build(layout: Path) -> builds.Build | None:
    return next((b for b in builds.resolved(layout) if b.part == "backend"), None)


def python_images(layout: Path, build: builds.Build) -> dict[str, str]:
    """Where the backend's Python image is set -> the reference: the Dockerfile's ARG default, compose's
    build arg default, and the layout's .env (a stand-in there names no version and is skipped)."""
    from hardstack.backend_project import image_python_version

    found = {}
    if build.dockerfile.is_file():
        default = parse(build.dockerfile)[0].get("PYTHON_IMAGE")
        if default:
            found[f"{build.dockerfile.name} ARG PYTHON_IMAGE"] = default
    if build.args.get("PYTHON_IMAGE"):
        found["compose.yaml build arg PYTHON_IMAGE"] = build.args["PYTHON_IMAGE"]
    env = layout / ".env"
    if env.is_file():
        m = re.search(r"^PYTHON_IMAGE=(\S+)", env.read_text(), re.M)
        if m and image_python_version(m.group(1)):
            found[".env PYTHON_IMAGE"] = m.group(1)
    return found


def d11_python(layout: Path) -> Result:
    from hardstack.backend_project import ProjectError, declared_python, image_python_version, python_image_for

    build = backend_build(layout)
    if build is None or not build.context.is_dir():
        return Result("D11", NA, "no backend build context to read (row C14)")
    app = (build.context / build.args.get("APP_DIR", ".")).resolve()
    try:
        declared = declared_python(app)
    except ProjectError as err:
        return check("D11", [str(err)])
    if declared is None:
        return Result("D11", NA, f"{app.name} declares no Python (.python-version or requires-python)")
    problems = []
    for where, image in python_images(layout, build).items():
        version = image_python_version(image)
        if version is None:
            problems.append(f"{where}={image}: its tag names no Python version; use {python_image_for(declared.version)} "
                            f"(the app declares {declared.version} in {declared.source})")
        elif version != declared.version:
            problems.append(f"{where}={image} runs Python {version}, the app declares {declared.version} ({declared.source}); "
                            f"set python_image={python_image_for(declared.version)} or change the app's declaration")
    return check("D11", problems, f"the image runs Python {declared.version}, as {declared.source} says")


def d12_build_packages(layout: Path) -> Result:
    from hardstack.checks.layout import layout_answers

    build = backend_build(layout)
    if build is None or not build.dockerfile.is_file():
        return Result("D12", NA, "no backend Dockerfile (row C14)")
    stages = parse(build.dockerfile)[1]
    runtime, earlier = stages[-1], {s.name for s in stages[:-1]}
    wanted = {p.split("=")[0] for p in layout_answers(layout).build_packages}
    problems = []
    for instr, args in runtime.instructions:
        if instr == "RUN":
            installed = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", args.split("install", 1)[1])) if "apt-get install" in args else set()
            leaked = sorted(wanted & installed)
            if leaked:
                problems.append(f"runtime stage installs {', '.join(leaked)} (backend_build_packages); move them out of "
                                "backend_runtime_packages, which is for the libraries the app loads at run time (e.g. libpq5)")
        if instr == "COPY" and (m := re.search(r"--from=(\S+)", args)) and m.group(1) in earlier:
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            outside = [s for s in sources if not s.rstrip("/").startswith(RUNTIME_FROM_BUILD)]
            if outside:
                problems.append(f"runtime stage copies {', '.join(outside)} from the build stage, where the build packages are; "
                                f"copy only {', '.join(RUNTIME_FROM_BUILD)}")
    detail = f"{', '.join(sorted(wanted))} stay in the build stage" if wanted else "no build packages; the runtime copies only the venv and the app"
    return check("D12", problems, detail)


LOOPBACK = re.compile(r"^(127(\.\d{1,3}){3}(/\d+)?|::1)$")


def _assigned(tree, name: str):
    """The last value assigned to a module-level name, if it is a constant."""
    import ast

    value = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            value = node.value.value if isinstance(node.value, ast.Constant) else ast.unparse(node.value)
    return value


def c22_forwarded_headers(layout: Path) -> Result:
    """gunicorn (and uvicorn through it) trusts no peer's forwarded headers, and the entry the server
    loads drops them unless the peer is the proxy (backend/deploy/hardstack_forwarded.py)."""
    import ast

    deploy = layout / "backend" / "deploy"
    conf = deploy / "gunicorn.conf.py"
    if not conf.is_file():
        return Result("C22", NA, "no backend/deploy/gunicorn.conf.py")
    problems = []
    tree = ast.parse(conf.read_text())
    for name in ("forwarded_allow_ips", "proxy_allow_ips"):
        value = _assigned(tree, name)
        entries = [e.strip() for e in str(value if value is not None else "127.0.0.1,::1").split(",") if e.strip()]
        wide = [e for e in entries if not LOOPBACK.match(e)]
        if wide:
            problems.append(f"gunicorn.conf.py {name} trusts {', '.join(wide)}: any container on the backend's networks could set "
                            "X-Forwarded-Proto or the client address; keep it 127.0.0.1 (hardstack_forwarded.py admits the proxy)")
    entry = _assigned(tree, "wsgi_app")
    module = str(entry or "").split(":")[0]
    source = deploy / f"{module}.py"
    if not source.is_file():
        problems.append(f"gunicorn.conf.py wsgi_app {entry!r}: no {source.name} in backend/deploy")
    else:
        body = ast.parse(source.read_text()).body
        wrapped = [n for n in body if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "application" for t in n.targets)]
        imported = {a.asname or a.name for n in body if isinstance(n, ast.ImportFrom) and n.module == "hardstack_forwarded" for a in n.names}
        last = wrapped[-1].value if wrapped else None
        if not (isinstance(last, ast.Call) and isinstance(last.func, ast.Name) and last.func.id in imported):
            problems.append(f"{source.name}: the application the server runs is not wrapped last by hardstack_forwarded "
                            "(forwarded headers from any peer would reach the app)")
    if not (deploy / "hardstack_forwarded.py").is_file():
        problems.append("backend/deploy/hardstack_forwarded.py is missing")
    return check("C22", problems, "forwarded headers count only from the proxy (gunicorn trusts 127.0.0.1; the entry filters by the proxy's name)")


ROWS = [("D11", d11_python), ("D12", d12_build_packages), ("C22", c22_forwarded_headers)]
