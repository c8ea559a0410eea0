"""The Pulumi program's swarm target (hardstack:target = swarm): the layout's stack.yaml as
pulumi-docker Service, Secret, ServiceConfig, overlay Network and Volume resources.

stack.yaml is read through `docker stack config` (anchors merged, defaults applied), so every
setting swarm gets, from users and limits to update and rollback policies, is the generated file's;
nothing is written twice. What differs from `docker stack deploy`:

- secrets come from the Pulumi config (plan.secret_values), configs from the layout's files; both are
  auto-named, so new contents make a new object and the services using it roll.
- migrate and db-setup are replicated services that run once per spec (restart on failure only): the
  provider has no job mode. What needs a job is created or rolled once the job's current spec has
  completed (deploy/watch.wait_for_job), as compose's service_completed_successfully orders it.
- the services are created in dependency order and each long-running one must converge (every task
  healthy) within hardstack:waitTimeout; a new image that never gets healthy fails `up` and swarm
  rolls the service back by its rollback policy.
- the provider has no pids limit for services: `hardstack deploy up` sets them afterwards
  (run.apply_pids_limits, `docker service update --limit-pids`).
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pulumi_docker as docker

from hardstack.catalog import ENGINE_STOP_GRACE, SERVICES
from hardstack.deploy import watch
from hardstack.deploy.plan import LABEL, Plan, ProgramError, local_image_id, needs, registry_refs, start_order, volume_options


def stack_config(layout: Path) -> dict:
    """The layout's stack.yaml as swarm will read it (the layout's .env supplies the variables)."""
    from hardstack.runtime.compose import read_env_file

    env = {**os.environ, **(read_env_file(layout / ".env") if (layout / ".env").exists() else {})}
    proc = subprocess.run(["docker", "stack", "config", "-c", "stack.yaml"], cwd=layout, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ProgramError(f"docker stack config -c stack.yaml: {proc.stderr.strip()[-2000:]}")
    import yaml

    return yaml.safe_load(proc.stdout)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _nanos(cpus: Any) -> int:
    return int(float(cpus or 0) * 1e9)


def _dur(value: Any) -> str | None:
    """A Go duration as the provider reads it back ("2m0s" -> "2m"), so an unchanged spec shows no diff."""
    if value is None:
        return None
    text = str(value)
    for tail in ("h0m0s", "m0s"):
        if text.endswith(tail) and len(text) > len(tail):
            return text[: -len(tail) + 1]
    return text


def _healthcheck(hc: dict | None) -> docker.ServiceTaskSpecContainerSpecHealthcheckArgs | None:
    if not hc or hc.get("disable"):
        return None
    return docker.ServiceTaskSpecContainerSpecHealthcheckArgs(tests=hc["test"], interval=_dur(hc.get("interval")), timeout=_dur(hc.get("timeout")),
                                                              start_period=_dur(hc.get("start_period")), retries=hc.get("retries"))


def _update(cfg: dict | None, rollback: bool = False) -> dict:
    cfg = cfg or {}
    args = {"parallelism": cfg.get("parallelism", 1), "order": cfg.get("order", "stop-first"), "delay": _dur(cfg.get("delay")),
            "monitor": _dur(cfg.get("monitor")), "max_failure_ratio": str(cfg.get("max_failure_ratio", 0))}
    if not rollback:
        args["failure_action"] = cfg.get("failure_action", "pause")
    return {k: v for k, v in args.items() if v is not None}


def deploy_services(plan: Plan) -> dict[str, Any]:
    """Declare every swarm resource; return the stack outputs."""
    settings, prefix = plan.settings, plan.prefix
    stack = stack_config(settings.layout_dir)
    services = stack["services"]
    pulled = registry_refs(plan)
    marker = {LABEL: prefix}

    networks = {}
    for name, spec in (stack.get("networks") or {}).items():
        attachable = name == "edge" and not settings.publish_proxy
        networks[name] = docker.Network(f"net-{name}", name=f"{prefix}-{name}", driver="overlay", internal=bool(spec.get("internal")),
                                        options=dict(spec.get("driver_opts") or {}), attachable=attachable,
                                        labels=[docker.NetworkLabelArgs(label=LABEL, value=prefix)],
                                        # The engine adds its own (vxlanid_list) when it creates an overlay.
                                        opts=pulumi.ResourceOptions(ignore_changes=["options"]))
    volumes = {name: docker.Volume(f"vol-{name}", name=f"{prefix}-{name}", labels=[docker.VolumeLabelArgs(label=LABEL, value=prefix)],
                                   opts=volume_options(settings, name))
               for name in stack.get("volumes") or {}}

    values = plan.secret_values()
    secrets = {name: docker.Secret(f"secret-{name}", data=value.apply(_b64), labels=[docker.SecretLabelArgs(label=LABEL, value=prefix)])
               for name, value in values.items()}
    configs = {name: docker.ServiceConfig(f"config-{name}", data=_b64((settings.layout_dir / spec["file"]).read_text()),
                                          labels=[docker.ServiceConfigLabelArgs(label=LABEL, value=prefix)])
               for name, spec in (stack.get("configs") or {}).items()}

    # compose.yaml's depends_on is the one start order: each service is created after, and so once,
    # the services it needs have converged and the jobs it needs have completed.
    created: dict[str, docker.Service] = {}
    completed: dict[str, pulumi.Output[str]] = {}
    for name in [n for n in start_order(plan.compose["services"]) if n in services]:
        required = [d for d in needs(plan.compose["services"], name) if d in created]
        after = {f"io.hardstack.after.{d}": completed[d] for d in required if d in completed}
        created[name] = _service(plan, name, services[name], pulled, networks, volumes, secrets, configs, marker,
                                 [created[d] for d in required], after)
        if _is_job(services[name]):
            completed[name] = job_completed(created[name], settings.wait_timeout)
    port = next(iter(services["proxy"].get("ports") or []), {}).get("published")
    public = settings.public_port or (int(port) if port else plan.answers.http_port)
    return {
        "url": f"http://127.0.0.1:{public}/" if settings.publish_proxy else f"http://proxy:{SERVICES['proxy'].port}/ on the {prefix}-edge network",
        "services": {name: svc.name for name, svc in created.items()},
        "pidsLimits": {name: int(svc["deploy"]["resources"]["limits"]["pids"]) for name, svc in services.items()
                       if ((svc.get("deploy") or {}).get("resources") or {}).get("limits", {}).get("pids")},
        "dbSuperuserPassword": values["postgres_password"],
        # Run-once services: a finished task is their success, so nothing waits for them to "converge".
        "jobs": [name for name, svc in services.items() if _is_job(svc)],
        "target": "swarm",
    }


def _is_job(svc: dict) -> bool:
    return (svc.get("deploy") or {}).get("mode") == "replicated-job"


def job_completed(job: docker.Service, timeout: int) -> pulumi.Output[str]:
    """The job service's id once its current spec has run to completion; fails the update (and so everything that
    needs it) otherwise. A preview waits for nothing."""

    def wait(ident: str) -> str:
        if not pulumi.runtime.is_dry_run():
            try:
                watch.wait_for_job(ident, timeout)
            except watch.JobError as exc:
                raise ProgramError(str(exc)) from None
        return ident

    return job.id.apply(wait)


def _service(plan: Plan, name: str, svc: dict, pulled: dict, networks: dict, volumes: dict, secrets: dict, configs: dict,
             marker: dict, needs: list, after: dict) -> docker.Service:
    """`after`: service labels whose values resolve once the jobs this service needs have completed (job_completed);
    on the service, not its task template, so they order the update without rolling any task."""
    settings, prefix = plan.settings, plan.prefix
    deploy = svc.get("deploy") or {}
    job = _is_job(svc)
    image = pulled.get(svc["image"], svc["image"])
    uid = str(svc.get("user", "")).split(":")[0]
    # A local build keeps its tag: a counter derived from its image id makes a rebuilt image roll the
    # service (force_update updates it in place; a changed label would replace the service). Only the layout's
    # own builds: a base image (db, proxy) is whatever its reference names, and whether the manager happens to
    # hold a copy must not roll it (it did, on three lab nodes, once the manager had pulled the proxy's image).
    built = {s["image"] for s in plan.services.values() if "build" in s}
    ident = local_image_id(image) if image == svc["image"] and image in built else None
    force_update = int(ident.removeprefix("sha256:")[:7], 16) if ident else 0
    mounts = []
    for v in svc.get("volumes") or []:
        if v["type"] == "volume":
            mounts.append(docker.ServiceTaskSpecContainerSpecMountArgs(type="volume", target=v["target"], source=volumes[v["source"]].name,
                                                                        read_only=bool(v.get("read_only"))))
        elif v["type"] == "tmpfs":
            mounts.append(docker.ServiceTaskSpecContainerSpecMountArgs(type="tmpfs", target=v["target"]))
        else:
            raise ProgramError(f"{name}: a {v['type']} mount in stack.yaml; swarm services take volumes, tmpfs, secrets and configs")
    container_spec = docker.ServiceTaskSpecContainerSpecArgs(
        image=image, user=str(svc.get("user")), read_only=bool(svc.get("read_only")), cap_drops=list(svc.get("cap_drop") or []),
        cap_adds=list(svc.get("cap_add") or []) or None,
        env={k: str(v) for k, v in (svc.get("environment") or {}).items()} or None,
        commands=svc.get("entrypoint"), args=svc.get("command"), mounts=mounts, healthcheck=_healthcheck(svc.get("healthcheck")),
        stop_grace_period=_dur(svc.get("stop_grace_period") or f"{ENGINE_STOP_GRACE}s"), labels=[docker.ServiceTaskSpecContainerSpecLabelArgs(label=k, value=v) for k, v in marker.items()],
        secrets=[docker.ServiceTaskSpecContainerSpecSecretArgs(secret_id=secrets[s["source"]].id, secret_name=secrets[s["source"]].name,
                                                               file_name=f"/run/secrets/{s['source']}", file_uid=str(s.get("uid", uid)),
                                                               file_gid=str(s.get("gid", uid)), file_mode=int(s.get("mode", 0o400)))
                 for s in svc.get("secrets") or [] if s["source"] in secrets],
        configs=[docker.ServiceTaskSpecContainerSpecConfigArgs(config_id=configs[c["source"]].id, config_name=configs[c["source"]].name,
                                                               file_name=c["target"], file_uid=str(c.get("uid", uid)),
                                                               file_gid=str(c.get("gid", uid)), file_mode=int(c.get("mode", 0o444)))
                 for c in svc.get("configs") or []])
    limits = (deploy.get("resources") or {}).get("limits") or {}
    reserve = (deploy.get("resources") or {}).get("reservations") or {}
    restart = deploy.get("restart_policy") or {}
    placement = deploy.get("placement") or {}
    task_spec = docker.ServiceTaskSpecArgs(
        container_spec=container_spec, force_update=force_update,
        resources=docker.ServiceTaskSpecResourcesArgs(
            limits=docker.ServiceTaskSpecResourcesLimitsArgs(nano_cpus=_nanos(limits.get("cpus")), memory_bytes=int(limits.get("memory") or 0)),
            reservation=docker.ServiceTaskSpecResourcesReservationArgs(nano_cpus=_nanos(reserve.get("cpus")), memory_bytes=int(reserve.get("memory") or 0))
            if reserve else None),
        restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(condition=restart.get("condition", "any"), delay=_dur(restart.get("delay")),
                                                               max_attempts=restart.get("max_attempts"), window=_dur(restart.get("window", "0s"))),
        placement=docker.ServiceTaskSpecPlacementArgs(constraints=placement.get("constraints"), max_replicas=placement.get("max_replicas_per_node")),
        networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=networks[n].id, aliases=[name]) for n in svc.get("networks") or {}],
        log_driver=docker.ServiceTaskSpecLogDriverArgs(name=(svc.get("logging") or {}).get("driver", "json-file"),
                                                       options={k: str(v) for k, v in ((svc.get("logging") or {}).get("options") or {}).items()}))
    ports = [] if (name == "proxy" and not settings.publish_proxy) else [
        docker.ServiceEndpointSpecPortArgs(target_port=int(p["target"]), published_port=(settings.public_port if name == "proxy" and settings.public_port and int(p["target"]) == SERVICES["proxy"].port else int(p["published"])),
                                           publish_mode=p.get("mode", "host"), protocol=p.get("protocol", "tcp"))
        for p in svc.get("ports") or []]
    replicas = 1 if job else int(deploy.get("replicas", 1))
    return docker.Service(
        f"svc-{name}", name=f"{prefix}-{name}", task_spec=task_spec,
        mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=replicas)),
        endpoint_spec=docker.ServiceEndpointSpecArgs(mode=deploy.get("endpoint_mode", "dnsrr"), ports=ports or None),
        # A job's finished task is no failure: its update must not pause on it.
        update_config=docker.ServiceUpdateConfigArgs(**_update(deploy.get("update_config"))) if not job
        else docker.ServiceUpdateConfigArgs(failure_action="continue"),
        rollback_config=docker.ServiceRollbackConfigArgs(**_update(deploy.get("rollback_config"), rollback=True)) if not job else None,
        converge_config=None if job else docker.ServiceConvergeConfigArgs(delay="1s", timeout=f"{settings.wait_timeout}s"),
        labels=[docker.ServiceLabelArgs(label=k, value=v) for k, v in {LABEL: prefix, **after}.items()],
        opts=pulumi.ResourceOptions(depends_on=needs))

