"""`hardstack images`: build the layout's own images, push them to a registry, and say their digests.

The deploy then pulls exactly those digests (hardstack:imageRegistry + hardstack:imageDigests): a tag moved after
the push changes nothing that deploys. The images workflow runs this command; the lab tests run it against a real
registry. The part names (backend, frontend) are the ones `deploy.plan.registry_refs` looks up.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from hardstack import engine
from hardstack.runtime.compose import Stack, StackError, compose_model


def built_images(stack: Stack, answers) -> dict[str, str]:
    """part -> local image reference, for each image the layout builds itself (backend, frontend)."""
    config = compose_model(stack.layout, env=stack.env)
    parts: dict[str, str] = {}
    for svc in config.get("services", {}).values():
        if "build" in svc:
            part = answers.image_part(svc["image"])
            parts.setdefault(part, svc["image"])
    return parts


def push(stack: Stack, answers, registry: str, tag: str, echo=print) -> dict[str, str]:
    """Build, then push each image as <registry>/<part>:<tag>; part -> the digest the registry holds."""
    stack.build(echo=echo)
    digests = {}
    for part, local in built_images(stack, answers).items():
        remote = f"{registry}/{part}:{tag}"
        docker("tag", local, remote)
        echo(f"pushing {remote}")
        docker("push", remote)
        repo_digests = engine.api().inspect_image(remote).get("RepoDigests") or []
        mine = [d for d in repo_digests if d.startswith(f"{registry}/{part}@")]
        if not mine:
            raise StackError(f"pushed {remote}, but the engine reports no digest for it in {registry}: {repo_digests}")
        digests[part] = mine[0].split("@", 1)[1]
    return digests


def docker(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip()
        hint = ""
        if "no basic auth credentials" in said or "unauthorized" in said or "authentication required" in said:
            hint = " (log in first: docker login <registry>)"
        elif "certificate signed by unknown authority" in said:
            hint = " (the registry's CA is not trusted: /etc/docker/certs.d/<registry>/ca.crt)"
        raise StackError(f"docker {' '.join(args)} failed{hint}: {said[-1500:]}")
    return proc


def write_digests(digests: dict[str, str], path: Path | None) -> str:
    text = json.dumps(digests, sort_keys=True)
    if path is not None:
        path.write_text(text + "\n")
    return text
