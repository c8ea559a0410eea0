"""The Pulumi program: deploy a layout written by `hardstack new` to a Docker host, on pulumi-docker.

It reads the settings (deploy/settings.py), derives the plan (deploy/plan.py: every refusal comes
before any resource), builds the layout's images when nothing is pulled, then hands the plan to the
target the settings name: containers on one engine (deploy/containers.py, the default) or swarm
services (deploy/services.py, hardstack:target = swarm).
"""

from __future__ import annotations

import pulumi

from hardstack.deploy.containers import deploy_containers
from hardstack.deploy.plan import build_images, make_plan, registry_refs
from hardstack.deploy.remote import attach_provider, use_host
from hardstack.deploy.services import deploy_services
from hardstack.deploy.settings import from_pulumi_config

TARGETS = {"compose": deploy_containers, "swarm": deploy_services}


def program() -> None:
    """Entry point for `pulumi up` (pulumi/__main__.py) and the inline Automation API run."""
    settings = from_pulumi_config()  # fails here, before any resource, on bad config
    use_host(settings.docker_host)
    plan = make_plan(settings, pulumi.get_stack())
    registry_refs(plan)  # a missing digest refuses before the provider, the first resource
    attach_provider(settings)
    build_images(plan)
    for key, value in TARGETS[settings.target](plan).items():
        pulumi.export(key, value)
