"""The `hardstack` command: `new` writes a layout, `check` runs the static bar on one, `up` runs it,
`backup` / `restore` dump and restore its database, `audit` reviews existing repositories,
`deploy` runs the Pulumi program on it,
`update` merges template changes into it."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import subprocess
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hardstack.answers import FOLLOWING_DEFAULTS, PROMPTED, Answers, AnswersError, problems_for
from hardstack.generate import GenerateError, derive_slug, generate, parse_assignments, read_config_file, render_part, resolve

app = typer.Typer(
    help="Generate a hardened production deployment for a Django + Vite/React stack, and check it.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)


def _fail(lines: list[str], header: str = "hardstack: the answers were refused, nothing was written:") -> None:
    err.print(f"[bold red]{header}[/]")
    for line in lines:
        err.print(f"  - {line}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _prompt(values: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """Ask for each key, showing its description and current default."""
    fields = Answers.model_fields
    for key in keys:
        condition = PROMPTED.get(key)
        if condition is not None and not condition(values):
            continue
        default = values.get(key, fields[key].default)
        if key not in values and key in FOLLOWING_DEFAULTS:
            default = FOLLOWING_DEFAULTS[key](values)
        if key == "project_slug" and "project_slug" not in values:
            default = derive_slug(values.get("project_name", fields["project_name"].default))
        label = f"{key} ({fields[key].description})"
        while True:  # each answer is checked as it is typed, and asked again at once
            if isinstance(fields[key].default, bool):
                values[key] = typer.confirm(label, default=bool(default))
            else:
                values[key] = typer.prompt(label, default=str(default), show_default=str(default) != "")
            problems = problems_for(key, values)
            if not problems:
                break
            for line in problems:
                err.print(Text.assemble(("  ! ", "yellow"), line))
    return values


def _interactive() -> bool:
    return sys.stdin.isatty()


def _answers_help() -> str:
    rows = [f"{name}={field.get_default(call_default_factory=True)!r}: {field.description}" for name, field in Answers.model_fields.items()]
    return "Answers, as KEY=VALUE (defaults shown):\n\n" + "\n\n".join(rows)


@app.command(epilog=_answers_help())
def new(
    assignments: list[str] = typer.Argument(None, metavar="[KEY=VALUE]...", help="Answers that override the defaults and the config file."),
    no_input: bool = typer.Option(False, "--no-input", help="Do not prompt: use the defaults, the config file and KEY=VALUE answers."),
    config_file: Optional[Path] = typer.Option(None, "--config-file", help="YAML file of answers (plain mapping or cookiecutter's default_context)."),
    output_dir: Path = typer.Option(Path("."), "-o", "--output-dir", help="Folder to write the layout into (the layout is OUTPUT_DIR/<project_slug>)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Re-render an existing layout in place, keeping its secrets/."),
    part: Optional[str] = typer.Option(None, "--part", help="Render only one part into the existing repository OUTPUT_DIR: "
                                       "backend, frontend, nginx, prometheus, backend-ci, frontend-ci, devcontainer."),
    template_source: Optional[str] = typer.Option(None, "--template-source", help="Template location recorded in .cruft.json for "
                                                  "`hardstack update` (a git URL reachable from CI); default: the template's git "
                                                  "remote, or what the installed package recorded."),
) -> None:
    """Write a hardened deployment layout (compose, Dockerfiles, nginx, Prometheus, secrets)."""
    try:
        values: dict[str, Any] = read_config_file(config_file) if config_file else {}
        values.update(parse_assignments(assignments or []))
        if not no_input and _interactive():
            out.print("Answer or press Enter for the default; every other answer can be given as KEY=VALUE (see --help).")
            values = _prompt(values, [k for k in PROMPTED if k not in values])
        while True:
            try:
                answers = resolve(values)
                break
            except AnswersError as exc:
                if no_input or not _interactive():
                    raise
                err.print("[yellow]Some answers need another go:[/]")
                for line in exc.problems:
                    err.print(f"  - {line}", markup=False)
                bad = [line.split(":", 1)[0] for line in exc.problems if line.split(":", 1)[0] in Answers.model_fields]
                values = _prompt({k: v for k, v in values.items() if k not in bad}, bad or ["project_name"])
        from hardstack.backend_project import fit_to_backend

        # The backend repo says how it installs and which Python it runs: auto answers follow it.
        # Contexts are relative to the layout, which sits beside the repos: a part's -o is one of them.
        backend = output_dir / answers.backend_context if part else output_dir / answers.project_slug / answers.backend_context
        answers, notes = fit_to_backend(answers, backend.resolve(), set(values))
        for note in notes:
            out.print(note, markup=False, highlight=False, soft_wrap=True)
        if part:
            written = render_part(answers, part, output_dir, overwrite=overwrite)
            for path in written:
                out.print(f"[green]wrote[/] {path}")
            out.print(f"Rendered part {part!r} into {output_dir.resolve()}; nothing else there was touched.")
            return
        target = generate(answers, output_dir, overwrite=overwrite, template_source=template_source)
    except AnswersError as exc:
        _fail(exc.problems)
    except GenerateError as exc:
        _fail([str(exc)], header="hardstack: nothing was written:")
    out.print(f"[green]Wrote[/] {target}")
    from hardstack.runtime.compose import missing_contexts

    for problem in missing_contexts(target, answers):
        err.print(Text.assemble(("warning: ", "yellow"), problem))
    out.print("Next:")
    out.print(f"  hardstack check {target}")
    out.print(f"  cd {target} && docker compose up -d --wait")
    if answers.uses_acme and (answers.http_port != 80 or answers.bind_host.startswith("127.")):
        err.print(Text.assemble(("note: ", "yellow"), f"the ACME CA asks http://{answers.domain}:80/.well-known/acme-challenge/: "
                                f"forward the host's port 80 to {answers.bind_host}:{answers.http_port}, or answer "
                                "bind_address=0.0.0.0 http_port=80 https_port=443 (README: Going live with a domain)"))
    if answers.tls_on:
        port = "" if answers.https_port == 443 else f":{answers.https_port}"
        host = answers.domain if answers.uses_acme else answers.bind_host
        out.print(f"  then open https://{host}{port}/" + (" (once its DNS points here and the certificate is issued)" if answers.uses_acme else ""))
    else:
        out.print(f"  then open http://{answers.bind_host}:{answers.http_port}/")


@app.command()
def check(
    layout: Optional[Path] = typer.Argument(None, help="A folder written by `hardstack new`."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON instead of a table."),
    only: Optional[str] = typer.Option(None, "--only", help="Comma-separated row ids to run, e.g. D1,C13."),
    explain: Optional[str] = typer.Option(None, "--explain", metavar="ROW",
                                          help="Print what row ROW verifies, why, and the fix for each way it fails (no layout needed)."),
) -> None:
    """Run every static row of the bar (D, C, N, P, S) with the real tools; exit 1 if one fails. A warning
    (S5: stand-in images, alerts going nowhere) does not fail the check; `hardstack deploy` refuses it."""
    from hardstack.checks import ALL_IDS, FAIL, NA, PASS, WARN, LayoutError, run_checks

    if explain:
        from hardstack.checks.explain import explain as explain_row

        rid = explain.strip().upper()
        if rid not in ALL_IDS:
            _fail([f"--explain: unknown row id {explain}; rows are {', '.join(ALL_IDS)}"], header="hardstack check:")
        out.print(Text(explain_row(rid)))
        return
    if layout is None:
        _fail(["LAYOUT: give the folder `hardstack new` wrote (or --explain ROW)"], header="hardstack check:")
    wanted = [rid.strip().upper() for rid in only.split(",")] if only else None
    unknown = [rid for rid in wanted or [] if rid not in ALL_IDS]
    if unknown:
        _fail([f"--only: unknown row id {', '.join(unknown)}; rows are {', '.join(ALL_IDS)}"], header="hardstack check:")
    try:
        with err.status("Running the checkers (hadolint, compose, compose-lint, nginx, gixy, promtool, ...)") if not as_json else nullcontext():
            results = run_checks(layout, wanted)
    except LayoutError as exc:
        _fail([str(exc)], header="hardstack check:")
    failed = [r for r in results if r.status == FAIL]
    if as_json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        table = Table(title=f"hardstack check {layout}")
        table.add_column("id")
        table.add_column("result")
        table.add_column("detail", overflow="fold")
        style = {PASS: "green", FAIL: "bold red", NA: "dim", WARN: "yellow"}
        for r in results:
            table.add_row(r.id, f"[{style[r.status]}]{r.status}[/]", Text(r.detail))  # details print literally
        out.print(table)
        passed = sum(r.status == PASS for r in results)
        na = sum(r.status == NA for r in results)
        warned = sum(r.status == WARN for r in results)
        out.print(f"{passed}/{len(results)} rows passed, {na} not applicable, {len(failed)} failed" + (f", {warned} warned" if warned else ""))
    if failed:
        raise typer.Exit(1)


@app.command()
def up(
    layout: Path = typer.Argument(..., help="A folder written by `hardstack new`."),
    standins: str = typer.Option("auto", "--standins", help="Use local stand-in base images: auto (when no registry answers), yes, no."),
    wait_timeout: int = typer.Option(600, "--wait-timeout", help="Seconds to wait for the migrations to finish and every service to be healthy; "
                                     "raise it for a database with many or slow migrations."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not echo the build output (failures are still reported)."),
    swarm: bool = typer.Option(False, "--swarm", help="Deploy stack.yaml on this engine's Docker Swarm (`docker stack deploy`) instead of compose."),
    init_swarm: bool = typer.Option(False, "--init-swarm", help="With --swarm: make this engine a one-node swarm first if it is not in one."),
) -> None:
    """Build the images and bring the layout up healthy (`docker compose up -d --wait`), then print its URL.

    The build output and the migrations' progress are shown as they run. A build that fails because
    an answer does not fit the app names that answer; a stack that does not get healthy in time is
    stopped again (its volumes are kept), so nothing half-started is left running.

    With --swarm the same images run as the swarm stack of stack.yaml: the database's node is
    labelled (on a one-node swarm), secrets and configs are versioned by their contents, and the
    command waits until every service has converged healthy.
    """
    from hardstack.catalog import IMAGES, STANDINS_ENV
    from hardstack.runtime.compose import (BuildError, Stack, StackError, celery_problems, kept_volume_hint, missing_contexts,
                                           placeholder_secrets, read_env_file, registry_reachable, standin_env)

    layout = layout.resolve()
    answers = _layout_answers(layout, "hardstack up:")
    problems = missing_contexts(layout, answers)
    if swarm:
        problems += _swarm_problems(layout, init_swarm)
    if problems:
        _fail(problems, header="hardstack up: nothing was built or started:")
    for line in placeholder_secrets(layout, answers):
        err.print(Text.assemble(("warning: ", "yellow"), line))
    env: dict[str, str] = {}
    if (layout / ".env").exists():
        env = read_env_file(layout / ".env")
    if standins == "yes" or (standins == "auto" and not registry_reachable(IMAGES["python_image"][1])):
        why = "as asked (--standins yes)" if standins == "yes" else "because no registry answered within 20 s"
        err.print(Text.assemble(("warning: ", "bold yellow"), f"using STAND-IN images {why}: lookalikes of the default images built from "
                                "Debian packages, not the images your answers name. Fine to try the layout; never deploy them "
                                "(`hardstack check` warns, `hardstack deploy` refuses them). --standins no turns this off."))
        env_file = layout / STANDINS_ENV
        try:
            env |= standin_env(env_file, answers.python_image)
        except StackError as exc:
            _fail([str(exc)], header="hardstack up: nothing was built or started:")
        out.print(f"Stand-in image variables written to {env_file}, never to .env: other compose commands use them only when "
                  f"asked (docker compose --env-file .env --env-file {STANDINS_ENV} ...)", markup=False, highlight=False)
    if swarm and answers.swarm_overlay_encryption:
        _prove_encrypted_overlays(env.get("PYTHON_IMAGE", answers.python_image), header="hardstack up --swarm: nothing was built or started:")
    if swarm and (problems := _swarm_image_problems(layout, answers, env)):
        _fail(problems, header="hardstack up --swarm: nothing was built or started:")
    stack = Stack(layout, answers.compose_project, env)
    def show(line: str) -> None:
        out.print(line, markup=False, highlight=False, soft_wrap=True)

    try:
        out.print("[bold]Building images[/] (docker compose build)")
        built = stack.build(echo=None if quiet else show)
    except BuildError as exc:
        if exc.problems:
            _fail(exc.problems, header="hardstack up: the build failed on an answer; nothing was started:")
        _fail([str(exc)], header="hardstack up: the build failed; nothing was started:")
    if swarm:
        _up_swarm(layout, answers, env, wait_timeout, show, built, stack)
        return
    out.print(f"[bold]Starting[/] (docker compose up -d --wait, at most {wait_timeout}s), built in {built:.0f}s")
    try:
        healthy = stack.up(wait_timeout, echo=show, follow=("migrate",))
    except StackError as exc:
        problems = celery_problems(stack, answers) + (stack.diagnose() or [str(exc)[-2000:]])
        problems += kept_volume_hint(f"{stack.project}_db-data", "\n".join(problems))
        stack.stop()
        problems.append(f"stopped what had started (volumes kept); if the migrations only need longer, run again with --wait-timeout {wait_timeout * 2}")
        _fail(problems, header="hardstack up: the stack did not come up healthy:")
    port = env.get("HTTP_PORT", str(answers.http_port))
    out.print(f"[green]Every service healthy[/] in {healthy:.0f}s")
    out.print(f"URL: http://{env.get('BIND_ADDRESS', answers.bind_host)}:{port}/")
    out.print(f"Stop: cd {layout} && docker compose down")


@app.command()
def images(
    layout: Path = typer.Argument(..., help="A folder written by `hardstack new`."),
    registry: str = typer.Option(..., "--registry", help="Registry prefix to push to, as hardstack:imageRegistry takes it "
                                 "(ghcr.io/acme/shop, registry.example.com:5000/team); log in first (docker login)."),
    tag: str = typer.Option("", "--tag", help="Tag to push under (default: APP_VERSION from the layout's .env, else the "
                            "layout's git commit). Only a label: the deploy pulls the digests."),
    digests_file: Optional[Path] = typer.Option(None, "--digests-file", help="Also write the digests (JSON) to this file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not echo the build output."),
) -> None:
    """Build the layout's own images, push them, and print their digests as hardstack:imageDigests takes them.

    `hardstack deploy` with hardstack:imageRegistry and these digests then pulls exactly what was pushed,
    and never builds: a tag moved after the push changes nothing that deploys. The generated images workflow
    runs this command, then attests each pushed digest (build provenance and SBOM). Without the layout's
    secrets/ (a CI checkout) the builds get no extra CA bundle.
    """
    from hardstack.runtime import images as images_mod
    from hardstack.runtime.compose import BuildError, Stack, StackError, read_env_file

    layout = layout.resolve()
    answers = _layout_answers(layout, "hardstack images:")
    if registry.startswith(("http://", "https://")) or not registry.strip("/"):
        _fail([f"--registry must be a registry prefix such as registry.example.com/team (no scheme), got {registry!r}"],
              header="hardstack images: nothing was built or pushed:")
    registry = registry.rstrip("/")
    env = read_env_file(layout / ".env") if (layout / ".env").exists() else {}
    if not (env.get("BUILD_CA_BUNDLE") or os.environ.get("BUILD_CA_BUNDLE")):
        from hardstack.hooks import ensure_build_ca_bundle

        ensure_build_ca_bundle(layout / "secrets")
    tag = tag or env.get("APP_VERSION") or _git_commit(layout) or "manual"
    stack = Stack(layout, answers.compose_project, env)
    show = None if quiet else (lambda line: out.print(line, markup=False, highlight=False, soft_wrap=True))
    try:
        out.print(f"[bold]Building and pushing[/] to {registry} (tag {tag})", highlight=False)
        digests = images_mod.push(stack, answers, registry, tag, echo=show or (lambda _: None))
    except BuildError as exc:
        _fail(exc.problems or [str(exc)], header="hardstack images: the build failed; nothing was pushed:")
    except StackError as exc:
        _fail([str(exc)], header="hardstack images:")
    text = images_mod.write_digests(digests, digests_file)
    for part, digest in sorted(digests.items()):
        out.print(f"{registry}/{part}@{digest}", markup=False, highlight=False, soft_wrap=True)
    out.print(f"Deploy exactly these: pulumi config set hardstack:imageRegistry {registry} && "
              f"pulumi config set hardstack:imageDigests '{text}'", markup=False, highlight=False, soft_wrap=True)


def _git_commit(layout: Path) -> str:
    proc = subprocess.run(["git", "-C", str(layout), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


@app.command()
def audit(
    paths: list[Path] = typer.Argument(..., help="One or more repository roots (e.g. a backend and its frontend sibling)."),
    as_json: bool = typer.Option(False, "--json", help="Findings as JSON."),
    as_markdown: bool = typer.Option(False, "--markdown", help="A review to paste into an issue."),
    fail_on: str = typer.Option("high", "--fail-on", help="Exit 1 when a finding at or above this severity is present: low, medium, high."),
    only_production: bool = typer.Option(False, "--only-production", help="Only findings in files meant for production "
                                         "(not dev, test or example files; their findings are otherwise one severity lower)."),
) -> None:
    """Review existing repositories as an infrastructure reviewer would: `hardstack check`'s rows on every
    Dockerfile, compose file, script and workflow they hold, plus what only shows across files (secrets,
    dev servers in deployment, paths that break, dev container drift, a predictable superuser, CI that
    tests the wrong thing, env names that disagree, logged payloads). Read only: nothing is executed."""
    from hardstack.audit import SEVERITIES, AuditInputError, markdown
    from hardstack.audit import audit as run_audit

    if fail_on not in SEVERITIES:
        _fail([f"--fail-on must be one of {', '.join(SEVERITIES)}, got {fail_on!r}"], header="hardstack audit:")
    try:
        with err.status(f"Reading {', '.join(str(p) for p in paths)}") if not (as_json or as_markdown) else nullcontext():
            report = run_audit(paths, only_production=only_production)
    except AuditInputError as exc:
        _fail([str(exc)], header="hardstack audit:")
    if as_json:
        print(json.dumps({"roots": [str(r) for r in report.roots], "files_read": report.files_read, "skipped": report.skipped,
                          "errors": report.errors,
                          "findings": [f.as_dict() for f in report.findings]}, indent=2))
    elif as_markdown:
        print(markdown(report), end="")
    else:
        table = Table(title=f"hardstack audit: {report.files_read} files read in {report.seconds:.1f}s")
        for column in ("id", "severity", "where", "finding", "fix"):
            table.add_column(column, overflow="fold")
        style = {"high": "bold red", "medium": "yellow", "low": "dim", "info": "dim italic"}
        for f in report.findings:
            table.add_row(f.id, Text(f.severity, style=style[f.severity]), Text(f.shown_where), Text(f.message),
                          Text(f.fix + (f" (hardstack: {f.fixed_by})" if f.fixed_by else "")))
        out.print(table)
        if first := report.read_first():
            out.print("Read first:")
            for f in first:
                out.print(f"  {f.id} {f.shown_where}: {f.message}", markup=False, highlight=False)
        for error in report.errors:
            err.print(f"could not judge (an error of hardstack, not a finding): {error}", markup=False, highlight=False)
        counts = report.counts()
        out.print(", ".join(f"{n} {s}" for s, n in counts.items()) + (f"; not read: {len(report.skipped)} files" if report.skipped else ""))
    if report.at_or_above(fail_on):
        raise typer.Exit(1)


def _swarm_problems(layout: Path, init_swarm: bool) -> list[str]:
    """Why `up --swarm` cannot deploy on this engine (a swarm is created only when asked)."""
    from hardstack.runtime.swarm import init_single_node, swarm_state

    if not (layout / "stack.yaml").exists():
        return [f"{layout}/stack.yaml is missing: re-render the layout with this hardstack (`hardstack update`)"]
    state = swarm_state()
    if state == "inactive" and init_swarm:
        out.print("Making this engine a one-node swarm (docker swarm init --advertise-addr 127.0.0.1)")
        init_single_node()
        return []
    if state == "inactive":
        return ["--swarm: this engine is not in a swarm; run `docker swarm init` (or `docker swarm join` to an existing one), "
                "or pass --init-swarm to make it a one-node swarm"]
    if state != "active":
        return [f"--swarm: this engine's swarm state is {state!r}; deploy from a manager node (`docker node ls` there)"]
    return []


def _swarm_image_problems(layout: Path, answers: Answers, env: dict[str, str]) -> list[str]:
    """A swarm of several nodes: what this command builds exists on this machine only, so stack.yaml must name the
    layout's own images in a registry (BACKEND_IMAGE, FRONTEND_IMAGE) that every node pulls from."""
    from hardstack.runtime.swarm import node_names

    nodes = node_names()
    unnamed = [answers.image_name_var(part) for part in answers.image_parts if not env.get(answers.image_name_var(part))]
    if len(nodes) < 2 or not unnamed:
        return []
    return [f"--swarm: this swarm has {len(nodes)} nodes ({', '.join(nodes)}), and the images this command builds would exist on "
            f"this machine only: tasks placed on another node would wait on 'No such image'. {' and '.join(unnamed)} must name them "
            "in a registry every node can pull from:",
            f"in {layout}/.env: " + " ".join(f"{v}=<registry>/<path>/{v.removesuffix('_IMAGE').lower()}" for v in unnamed)
            + " APP_VERSION=<version>; `docker login <registry>`; then run this again: it builds, pushes there, and deploys "
            "with --with-registry-auth",
            "or deploy with the Pulumi swarm target, which pulls by digest: hardstack:target=swarm, hardstack:imageRegistry, "
            "hardstack:imageDigests (README, \"Deploy with Pulumi\")"]


def _prove_encrypted_overlays(image: str, header: str) -> None:
    """Before deploying on a swarm of several nodes: an encrypted overlay must carry a request between two of them
    (runtime/overlay.py). Fails with the cause and the ways out; a one-node swarm needs no probe."""
    from hardstack.runtime.compose import StackError
    from hardstack.runtime.overlay import encryption_problem, probe_encrypted_overlay

    try:
        with err.status("Probing the encrypted overlay between two swarm nodes (a task pair, up to a minute)"):
            result = probe_encrypted_overlay(image)
    except StackError as exc:
        _fail([f"the encrypted-overlay probe could not run: {exc}"], header=header)
    if result is None:
        return
    if not result.ok:
        _fail(encryption_problem(result, image), header=header)
    out.print(f"Encrypted overlay proven between nodes: {result.detail}", markup=False, highlight=False)


def _use_deploy_host(config: dict) -> None:
    """hardstack:dockerHost: its host key checked before anything changes, then this whole run talks to it."""
    from hardstack.deploy.remote import HostError, check_host, use_host

    host = config.get("hardstack:dockerHost")
    if host is None:
        return
    try:
        with err.status(f"Reaching {host.value} (host key checked against known_hosts)"):
            version = check_host(host.value)
    except HostError as exc:
        _fail([str(exc)], header="hardstack deploy:")
    use_host(host.value)
    if version:
        out.print(f"Deploying to {host.value} (Docker Engine {version})", markup=False, highlight=False)


def _prove_swarm_target_overlays(config: dict) -> None:
    """`hardstack deploy up` with hardstack:target=swarm: the same probe as `up --swarm`, before Pulumi changes anything."""
    from hardstack.runtime.compose import read_env_file

    target, layout_dir = config.get("hardstack:target"), config.get("hardstack:layoutDir")
    if target is None or target.value != "swarm" or layout_dir is None:
        return  # the program names a missing layoutDir
    layout = Path(layout_dir.value).expanduser().resolve()
    if not (layout / ".hardstack-answers.json").is_file():
        return  # the program says what is wrong with hardstack:layoutDir
    answers = _layout_answers(layout, "hardstack deploy:")
    if not answers.swarm_overlay_encryption:
        return
    env = read_env_file(layout / ".env") if (layout / ".env").exists() else {}
    _prove_encrypted_overlays(env.get("PYTHON_IMAGE", answers.python_image), header="hardstack deploy: nothing was changed:")


def _up_swarm(layout: Path, answers: Answers, env: dict[str, str], wait_timeout: int, show, built: float, compose) -> None:
    from hardstack.runtime.compose import StackError, kept_volume_hint
    from hardstack.runtime.swarm import SwarmStack, label_db_node, node_names

    stack = SwarmStack(layout, answers.compose_project, env)
    try:
        node = label_db_node(answers.swarm_db_label)
        if len(node_names()) > 1:
            _push_for_other_nodes(compose, answers, env)
        stack.env = {**env, **stack.versions(answers)}
        out.print(f"Database placed on node {node[:12]} (label {answers.swarm_db_label}=true)")
        out.print(f"[bold]Deploying[/] (docker stack deploy -c stack.yaml {stack.name}, at most {wait_timeout}s), built in {built:.0f}s")
        took = stack.deploy(echo=show, timeout=wait_timeout)
    except StackError as exc:
        _fail([str(exc)[-2000:], *kept_volume_hint(f"{stack.name}_db-data", str(exc)),
               f"the stack is left as it is for a look (`docker stack ps {stack.name}`); "
               f"remove it with `docker stack rm {stack.name}` (volumes are kept)"],
              header="hardstack up --swarm: the stack did not converge:")
    port = env.get("HTTP_PORT", str(answers.http_port))
    out.print(f"[green]Every service converged healthy[/] in {took:.0f}s")
    out.print(f"URL: http://<any node running the proxy>:{port}/ (published on every interface of that node)")
    out.print(f"Stop: docker stack rm {stack.name}  (volumes stay; `docker volume ls` to see them)")


def _push_for_other_nodes(compose, answers: Answers, env: dict[str, str]) -> None:
    """On several nodes every node pulls the layout's own images: what was just built (compose's local name) is tagged
    with the name stack.yaml gives it in a registry (BACKEND_IMAGE ...; _swarm_image_problems made sure .env sets it)
    and pushed. The stack is deployed with the digests the registry then holds, so every node runs the same build."""
    from hardstack.runtime import images as images_mod
    from hardstack.runtime.compose import StackError

    for part, local in images_mod.built_images(compose, answers).items():
        remote = f"{env[answers.image_name_var(part)]}:{local.rsplit(':', 1)[1]}"
        out.print(f"[bold]Pushing[/] {remote} (built as {local}; every node pulls it)", highlight=False)
        try:
            images_mod.docker("tag", local, remote)
            images_mod.docker("push", remote)
        except StackError as exc:
            _fail([str(exc)], header="hardstack up --swarm: the push failed; nothing was deployed:")


def _layout_answers(layout: Path, header: str) -> Answers:
    """The answers a layout was generated with, or a clear failure when the folder is not a layout."""
    from hardstack.answers import validate

    answers_file = layout / ".hardstack-answers.json"
    if not answers_file.exists():
        _fail([f"{layout} is not a hardstack layout (no .hardstack-answers.json)"], header=header)
    return validate(json.loads(answers_file.read_text()))


def _running_stack(layout: Path, project_name: Optional[str]):
    """The layout's answers and its compose project (the stand-in variables `hardstack up` wrote, if any)."""
    from hardstack.runtime.compose import Stack, read_env_file

    layout = layout.resolve()
    answers = _layout_answers(layout, "hardstack:")
    standins = layout / ".standins.env"
    env = read_env_file(standins) if standins.exists() else {}
    return answers, Stack(layout, project_name or answers.compose_project, env)


PROJECT_OPTION = typer.Option(None, "--project-name", "-p", help="Compose project name (default: the layout's `name:`).")


@app.command()
def backup(
    layout: Path = typer.Argument(..., help="A layout whose stack runs (`hardstack up`)."),
    copy_to: Optional[Path] = typer.Option(None, "--copy-to", help="Also copy the dump to this host folder (e.g. one your off-host sync reads)."),
    then: Optional[str] = typer.Option(None, "--then", help="A host command run after the copy, with the dump's path in $HARDSTACK_BACKUP_FILE "
                                       "(e.g. 'rclone copy \"$HARDSTACK_BACKUP_FILE\" offsite:db'). Needs --copy-to."),
    list_only: bool = typer.Option(False, "--list", help="Only list the dumps in the backups volume, newest first."),
    project_name: Optional[str] = PROJECT_OPTION,
) -> None:
    """Dump the database now into the backups volume (pg_dump, custom format), as the backup service does
    every backup_interval_hours; optionally copy it to the host and run an off-host command on it."""

    from hardstack import backups

    if then and not copy_to:
        _fail(["--then runs on the host copy of the dump: give --copy-to FOLDER as well"], header="hardstack backup:")
    _, stack = _running_stack(layout, project_name)
    try:
        if list_only:
            for name in backups.dumps(stack):
                out.print(name, markup=False, highlight=False)
            return
        with err.status("pg_dump into the backups volume"):
            name = backups.take(stack)
        out.print(f"[green]Backed up[/]: {name} (in the backups volume)")
        if copy_to:
            path = backups.copy_out(stack, name, copy_to.resolve())
            out.print(f"Copied to {path} ({path.stat().st_size} bytes)", markup=False, highlight=False)
            if then:
                proc = subprocess.run(then, shell=True, env={**os.environ, "HARDSTACK_BACKUP_FILE": str(path)})
                if proc.returncode != 0:
                    _fail([f"--then exited {proc.returncode}; the dump is in the volume and at {path}"], header="hardstack backup:")
    except backups.BackupError as exc:
        _fail([str(exc)], header="hardstack backup:")


@app.command()
def restore(
    layout: Path = typer.Argument(..., help="A layout whose stack runs (`hardstack up`)."),
    source: str = typer.Argument("latest", help="latest, a dump's name in the backups volume, or a dump file on the host."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before replacing the database."),
    project_name: Optional[str] = PROJECT_OPTION,
) -> None:
    """Replace the database with a dump. The services that use the database are stopped, the dump is
    restored into a new database (TimescaleDB's pre/post restore around pg_restore) which replaces the
    current one only when complete (kept as <db>_prev), then the stack is started again."""
    from hardstack import backups

    answers, stack = _running_stack(layout, project_name)
    if not yes and not typer.confirm(f"Replace database {answers.db_name} of {stack.project} with {source}?", default=False):
        err.print("Nothing was changed.")
        raise typer.Exit(1)
    try:
        done = backups.restore(stack, answers, source, echo=lambda line: out.print(line, markup=False, highlight=False))
    except backups.BackupError as exc:
        _fail([str(exc)], header="hardstack restore:")
    out.print(f"[green]Restored[/] {done.name} in {done.seconds:.1f}s; {', '.join(done.stopped)} running again")


@app.command()
def rotate(
    layout: Path = typer.Argument(..., help="A layout whose stack runs (`hardstack up`)."),
    role: str = typer.Argument(..., help="The database role: superuser, owner (migrate), app, backup or exporter."),
    project_name: Optional[str] = PROJECT_OPTION,
) -> None:
    """A new random password for one database role: written to its secret files, set by db-setup, and
    the services that log in as it recreated. For a Pulumi deploy set the role's hardstack:db*Password
    key instead and run `hardstack deploy up`."""
    from hardstack import rotate as rotation

    answers, stack = _running_stack(layout, project_name)
    try:
        users = rotation.rotate(stack, answers, role, echo=lambda line: out.print(line, markup=False, highlight=False))
    except rotation.RotateError as exc:
        _fail([str(exc)], header="hardstack rotate:")
    out.print(f"[green]Rotated[/] the {role} role's password; {', '.join(users) or 'no service'} recreated with it")


@app.command()
def deploy(
    action: str = typer.Argument(..., help="up, preview or destroy"),
    stack: str = typer.Option("test", "--stack", "-s", help="Pulumi stack; its config is pulumi/Pulumi.<stack>.yaml"),
    cwd: Optional[Path] = typer.Option(None, "--cwd", help="Pulumi project folder (default: ./pulumi or . inside a layout, "
                                       "else hardstack's own project)"),
    superuser_password_changed: bool = typer.Option(False, "--superuser-password-changed",
                                                    help="hardstack:dbSuperuserPassword was changed and the database's superuser already has the new one"),
    refresh: bool = typer.Option(False, "--refresh", help="up: first read what really runs (containers removed or stopped by hand)"),
    allow_standins: bool = typer.Option(False, "--allow-standins", help="Deploy even when the layout names stand-in images (this run only)"),
    allow_unset_alerts: bool = typer.Option(False, "--allow-unset-alerts", help="Deploy even when the alert receiver is unset: alerts go nowhere (this run only)"),
) -> None:
    """Run the Pulumi program on a layout (inline, real Pulumi CLI); set hardstack:* config first.

    Run inside a layout (or its pulumi/ folder) it uses that layout's pulumi/ project and, unless
    hardstack:layoutDir is set, deploys that layout.
    """
    from pulumi import automation as auto

    from hardstack.deploy import run

    if action not in ("up", "preview", "destroy"):
        _fail([f"action must be up, preview or destroy, got {action!r}"], header="hardstack deploy:")
    from hardstack.deploy.settings import ALLOW_ENV

    for key, given in (("allowStandins", allow_standins), ("allowUnsetAlerts", allow_unset_alerts)):
        if given:
            os.environ[ALLOW_ENV[key]] = "1"  # read by the program (settings.from_pulumi_config), for this run
    work_dir, layout = run.find_project(cwd)
    try:
        selected = run.select(stack, work_dir=work_dir)
        if layout is not None and "hardstack:layoutDir" not in selected.get_all_config():
            selected.set_config("hardstack:layoutDir", auto.ConfigValue(str(layout)))
        show = lambda line: out.print(line, end="", markup=False, highlight=False)  # noqa: E731
        config = selected.get_all_config()
        _use_deploy_host(config)
        # In the project's folder, as `pulumi up` runs a program: a relative hardstack:layoutDir (the deploy
        # workflow's `..`) means the same wherever hardstack deploy is started.
        with contextlib.chdir(work_dir):
            if action == "up":
                _prove_swarm_target_overlays(config)
                result = run.up(selected, on_output=show, superuser_password_changed=superuser_password_changed, refresh=refresh)
            else:
                result = getattr(run, action)(selected, on_output=show)
    except run.DeployError as exc:
        _fail([str(exc)], header="hardstack deploy:")
    except auto.CommandError as exc:
        _fail([str(exc).strip()[-4000:]], header=f"hardstack deploy {action} failed:")
    if action == "up":
        out.print(f"[green]Deployed[/]: {result.outputs['url'].value}")


@app.command()
def update(
    layout: Path = typer.Argument(..., help="A layout written by `hardstack new` (a clean git work tree)."),
    check_only: bool = typer.Option(False, "--check", help="Only check: exit 1 when the template has moved on (for CI)."),
) -> None:
    """Merge the template's latest changes into a layout, keeping local edits (cruft)."""
    from hardstack.update import UpdateError, is_current
    from hardstack.update import update as run_update

    try:
        if check_only:
            if is_current(layout):
                out.print(f"{layout} is up to date with its template")
                return
            err.print(f"{layout} is behind its template: run `hardstack update {layout}` and commit the result")
            raise typer.Exit(1)
        report = run_update(layout)
    except UpdateError as exc:
        _fail([str(exc)], header="hardstack update:")
    if report.conflicts:
        err.print("[bold red]Conflicts[/] between your edits and the template (resolve, then commit):")
        for path in report.conflicts:
            err.print(f"  - {path}", markup=False)
        raise typer.Exit(1)
    if report.new_secrets:
        out.print(f"New secret files with fresh values: secrets/{', secrets/'.join(report.new_secrets)}", markup=False, highlight=False)
    for command in report.chown:
        err.print(f"  run: {command}", markup=False)
    out.print("[green]Updated[/]; review `git diff` and commit" if report.updated else "Nothing to update")


if __name__ == "__main__":
    app()
