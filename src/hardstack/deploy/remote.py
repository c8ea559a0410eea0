"""Deploying to another engine: hardstack:dockerHost (ssh://user@host) and the registry login the target pulls with.

- Before anything changes, an ssh:// host's key is checked against known_hosts with StrictHostKeyChecking=yes: an
  unknown or changed key stops the command (check_host).
- The whole run then talks to that engine: DOCKER_HOST is set for this process and its children (the Pulumi CLI,
  the docker provider, `docker` commands and the docker SDK), so nothing can reach the local engine by mistake.
- With registryUsername/registryPassword an explicit docker provider carries the login (registry_auth) and every
  docker resource uses it; without them the default provider stays, so existing stacks see no provider change.
"""

from __future__ import annotations

import os
import subprocess
from urllib.parse import urlsplit

import pulumi
import pulumi_docker as docker

from hardstack.deploy.settings import DeploySettings


class HostError(RuntimeError):
    pass


def ssh_target(host: str) -> list[str]:
    url = urlsplit(host)
    target = f"{url.username}@{url.hostname}" if url.username else url.hostname
    return (["-p", str(url.port)] if url.port else []) + [target]


def check_host(host: str, timeout: int = 30) -> str:
    """The engine version behind an ssh:// host, reached with the host key checked strictly; HostError otherwise."""
    if not host.startswith("ssh://"):
        return ""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", f"ConnectTimeout={timeout}",
            *ssh_target(host), "docker", "version", "--format", "{{.Server.Version}}"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 30)
    said = (proc.stderr or proc.stdout).strip()
    if proc.returncode == 0:
        return proc.stdout.strip()
    target = ssh_target(host)[-1]
    if "Host key verification failed" in said or "HOST IDENTIFICATION HAS CHANGED" in said:
        changed = "HOST IDENTIFICATION HAS CHANGED" in said
        raise HostError(
            f"hardstack:dockerHost {host}: the host key of {target} is {'not the one in your known_hosts (it CHANGED)' if changed else 'not in your known_hosts'}; "
            "nothing was changed. Compare the key's fingerprint with the one the server shows on its console "
            "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub there), then add it: "
            f"ssh-keyscan -t ed25519 {urlsplit(host).hostname} >> ~/.ssh/known_hosts (only after comparing)")
    if "Permission denied" in said:
        raise HostError(f"hardstack:dockerHost {host}: ssh refused the login ({said.splitlines()[-1]}); nothing was changed. "
                        "Load the key for that user (ssh-add) or name it in ~/.ssh/config")
    raise HostError(f"hardstack:dockerHost {host}: `ssh {target} docker version` failed (exit {proc.returncode}): {said[-500:]}; "
                    "nothing was changed. The host needs sshd, the docker CLI on the user's PATH and access to its engine")


def use_host(host: str | None) -> None:
    """Point this process and its children at the deploy's engine (see the module's doc)."""
    if host:
        os.environ["DOCKER_HOST"] = host


def attach_provider(settings: DeploySettings) -> None:
    """With dockerHost or a registry login: one explicit docker provider (that host, that login) that every docker
    resource of the program uses, also when `pulumi up` runs without `hardstack deploy`."""
    if settings.registry_username is None and settings.docker_host is None:
        return
    auth = None
    if settings.registry_username is not None:
        auth = [docker.ProviderRegistryAuthArgs(address=settings.registry_address, username=settings.registry_username,
                                                password=pulumi.Output.secret(settings.registry_password.get_secret_value()))]
    provider = docker.Provider("engine", host=settings.docker_host or os.environ.get("DOCKER_HOST"), registry_auth=auth)

    def use(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.type_.startswith("docker:"):
            return None
        return pulumi.ResourceTransformationResult(args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(provider=provider)))

    pulumi.runtime.register_stack_transformation(use)
