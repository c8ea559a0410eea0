"""The Docker engine through its API (the `docker` SDK's low-level client): inspect, list by label and
remove, with the same JSON the CLI prints but no process per query and no output to scrape.

`docker compose`, `docker stack` and `docker service update` stay CLI: the engine has no API for
compose files or stacks, and those are what a user runs too.
"""

from __future__ import annotations

import os
from functools import lru_cache

import docker
import requests
from docker.errors import APIError, NotFound

__all__ = ["APIError", "NotFound", "api", "ids", "inspect", "remove"]


def _client() -> docker.DockerClient:
    """The engine the `docker` CLI would talk to: DOCKER_HOST, else the CLI's current context, else the
    local socket. ssh:// hosts go through the ssh binary (its config and known_hosts), as the CLI does."""
    return _client_for(os.environ.get("DOCKER_HOST"))


@lru_cache(maxsize=8)
def _client_for(host: str | None) -> docker.DockerClient:
    """One client per DOCKER_HOST value (a test or a deploy may switch engines within one process)."""
    if not host:
        try:
            from docker.context import ContextAPI

            context = ContextAPI.get_current_context()
            host = context.Host if context and context.name != "default" else None
        except Exception:  # noqa: BLE001 - no readable CLI config: the default socket
            host = None
    if host:
        return docker.DockerClient(base_url=host, use_ssh_client=host.startswith("ssh://"))
    return docker.from_env()


def api() -> docker.APIClient:
    host = os.environ.get("DOCKER_HOST") or ""
    return _Retrying(host) if host.startswith("ssh://") else _client().api


class _Retrying:
    """The API client of an ssh:// host, each call retried once on a dropped connection with a fresh client: the SDK
    keeps `ssh ... docker system dial-stdio` processes for reuse, and one that has exited meanwhile fails the next
    request with a broken pipe (seen deploying a swarm stack to a lab host)."""

    def __init__(self, host: str):
        self._host = host

    def __getattr__(self, name: str):
        attr = getattr(_client_for(self._host).api, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            try:
                return attr(*args, **kwargs)
            except requests.exceptions.ConnectionError:
                _client_for.cache_clear()
                return getattr(_client_for(self._host).api, name)(*args, **kwargs)

        return call


def ids(kind: str, label: str, all_: bool = True) -> list[str]:
    """IDs (names, for volumes) of the containers, networks or volumes carrying a label (`key=value`)."""
    filters = {"label": label}
    if kind == "containers":
        return [c["Id"] for c in api().containers(all=all_, filters=filters)]
    if kind == "networks":
        return [n["Id"] for n in api().networks(filters=filters)]
    if kind == "volumes":
        return [v["Name"] for v in api().volumes(filters=filters).get("Volumes") or []]
    raise ValueError(kind)


def inspect(ref: str) -> dict | None:
    """`docker inspect` of a container or else an image (as the CLI's own lookup), None when neither exists."""
    if not ref:
        return None
    for lookup in (api().inspect_container, api().inspect_image):
        try:
            return lookup(ref)
        except NotFound:
            continue
    return None


def remove(kind: str, ref: str) -> bool:
    """Remove a container (forced) or a volume; False when the engine refuses (in use, already gone)."""
    try:
        if kind == "containers":
            api().remove_container(ref, force=True)
        elif kind == "volumes":
            api().remove_volume(ref)
        else:
            raise ValueError(kind)
        return True
    except APIError:
        return False
