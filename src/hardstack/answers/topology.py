"""What runs where: the services present, their networks, ports, roll order, volumes and secrets
(catalog.SERVICES/VOLUMES/SECRETS filtered by the answers), for compose.yaml, stack.yaml and the deploy.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from hardstack.catalog import CELERY_BEACON_EVERY, CELERY_BEACON_MAX_AGE, COMMANDS, NGINX_SNIPPET_NEEDS, DB_ROLE_SUFFIXES, DB_SUPERUSER, HEALTH, LIMITS, REDIS_MAXMEMORY, SECRETS, SERVICES, STOP_GRACE, UIDS, VOLUMES, GUNICORN_GRACEFUL, Secret


class Topology:
    """Which services, networks, volumes, secrets and ports this layout has, derived once from the answers."""

    @property
    def has_frontend(self) -> bool:
        """An SPA of its own (frontend_context set); without one the proxy sends / to the backend."""
        return bool(self.frontend_context)

    @property
    def uses_redis(self) -> bool:
        """Background work: Celery workers and their Redis broker (celery_app set)."""
        return bool(self.celery_app)

    @property
    def runs_beat(self) -> bool:
        return self.uses_redis and self.enable_beat

    @property
    def services(self) -> list[str]:
        def wanted(name: str, svc) -> bool:
            return ((self.enable_monitoring or not svc.monitoring) and (self.uses_redis or not svc.celery) and (name != "beat" or self.runs_beat)
                    and (name != "frontend" or self.has_frontend) and (self.uses_acme or not svc.acme))

        return [name for name, svc in SERVICES.items() if wanted(name, svc)]

    @property
    def app_services(self) -> list[str]:
        """The services that run the backend image with the app's environment (one definition for all)."""
        return [name for name in ("migrate", "backend", "worker", "beat", "superuser") if name in self.services]

    @property
    def db_roles(self) -> dict[str, str]:
        """The database's login roles (db/setup.sh makes them): what each is for -> its name."""
        roles = {"superuser": DB_SUPERUSER, "owner": self.db_user + DB_ROLE_SUFFIXES["owner"], "app": self.db_user,
                 "backup": self.db_user + DB_ROLE_SUFFIXES["backup"]}
        if self.enable_monitoring:
            roles["exporter"] = self.db_user + DB_ROLE_SUFFIXES["exporter"]
        return roles

    @property
    def secret_specs(self) -> dict[str, Secret]:
        """Every runtime secret of this layout: the catalog's that apply, then the app's own (backend_secrets)."""
        specs = {name: s for name, s in SECRETS.items() if s.needs is None or getattr(self, s.needs)}
        for name, file in self.app_secret_files.items():
            specs[file] = Secret("app", file, None, tuple(self.app_services))
        return specs

    @property
    def secrets(self) -> dict[str, list[str]]:
        """Runtime secret -> the services of this layout that mount it."""
        return {name: [svc for svc in s.services if svc in self.services] for name, s in self.secret_specs.items()}

    def secrets_of(self, service: str) -> str:
        """The runtime secrets a service mounts, as compose lists them."""
        return ", ".join(name for name, users in self.secrets.items() if service in users)

    def swarm_secrets(self, service: str) -> list[tuple[str, int]]:
        """The runtime secrets a swarm service mounts, each with the UID that owns it (mode 0400)."""
        specs = self.secret_specs
        return [(name, UIDS[specs[name].uid]) for name, users in self.secrets.items() if service in users]

    @property
    def replicas(self) -> dict[str, int]:
        return {"backend": self.backend_replicas, "frontend": self.frontend_replicas, "proxy": self.proxy_replicas, "worker": self.worker_replicas}

    @property
    def swarm_configs(self) -> dict[str, dict[str, Any]]:
        """Swarm config -> its file in the layout, the services that mount it and where: the read-only
        folders compose bind-mounts, as configs every node receives from the managers."""
        nginx = ["nginx.conf"] + [f"snippets/{f}" for f in self.nginx_snippets] + (["watch-certificate.sh"] if self.uses_acme else [])
        files = [(("proxy",), f"nginx/{f}", f"/etc/nginx/hardstack/{f}") for f in nginx]
        files.append((("db-setup",), "db/setup.sh", "/etc/hardstack/db/setup.sh"))
        files.append((("backup",), "backup/backup.sh", "/etc/hardstack/backup/backup.sh"))
        if self.uses_redis:
            readers = ("redis", "redis-exporter") if self.enable_monitoring else ("redis",)
            files += [(readers, f"redis/{f}", f"/etc/hardstack/redis/{f}") for f in ("redis.conf", "start.sh")]
        if self.enable_monitoring:
            files += [(("prometheus",), "prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml"),
                      (("prometheus",), "prometheus/rules/alerts.yml", "/etc/prometheus/rules/alerts.yml"),
                      (("alertmanager",), "alertmanager/alertmanager.yml", "/etc/alertmanager/alertmanager.yml")]
        return {re.sub(r"[^a-z0-9]+", "_", path.removesuffix(".conf").removesuffix(".yml").removesuffix(".sh")): {"services": svcs, "file": path, "target": target}
                for svcs, path, target in files}

    def swarm_configs_of(self, service: str) -> dict[str, str]:
        return {name: c["target"] for name, c in self.swarm_configs.items() if service in c["services"]}

    @property
    def swarm_db_label(self) -> str:
        """The node label that places the database (and its volume) on one node."""
        return f"{self.project_slug}.db"

    @property
    def service_networks(self) -> dict[str, list[str]]:
        """Service -> the networks it joins (catalog.Service.networks, monitoring for what Prometheus scrapes,
        egress with backend_egress), as compose.yaml and stack.yaml list them."""
        return {name: [*svc.networks, *(["acme"] if svc.challenges and self.uses_acme else []),
                       *(["monitoring"] if svc.scraped and self.enable_monitoring else []),
                       *(["egress"] if svc.egress and self.backend_egress else [])]
                for name, svc in SERVICES.items()}

    @property
    def outside_networks(self) -> dict[str, set[str]]:
        """The networks that reach outside, each with the only services that may join it: the proxy's
        edge (published ports), Alertmanager's way to the webhook or mail server, the backend's opt-in
        egress. Row C17 holds a layout to this."""
        nets = {"edge": {"proxy"}}
        if self.uses_acme:
            nets["acme"] = {"acme", *(n for n, svc in SERVICES.items() if svc.challenges)}  # the issuer to the CA and to the proxy
        if self.enable_monitoring:
            nets["alerting"] = {"alertmanager"}
        if self.backend_egress:
            nets["egress"] = {name for name, svc in SERVICES.items() if svc.egress and name in self.services}
        return nets

    @property
    def networks(self) -> dict[str, bool]:
        """Compose network -> internal."""
        nets = {"app": True, "data": True}
        if self.enable_monitoring:
            nets["monitoring"] = True
        return {"edge": False, **nets, **{name: False for name in self.outside_networks if name != "edge"}}

    @property
    def ports(self) -> dict[str, int | None]:
        return {name: self.backend_port if name == "backend" else svc.port for name, svc in SERVICES.items()}

    @property
    def limits(self) -> dict[str, tuple[str, str, int]]:
        return LIMITS

    @property
    def uids(self) -> dict[str, int]:
        return UIDS

    @property
    def bind_host(self) -> str:
        """The bind address as it is written before `:port` (IPv6 in brackets)."""
        return f"[{self.bind_address}]" if ":" in self.bind_address else self.bind_address

    @property
    def publishes_on_all_interfaces(self) -> bool:
        return ipaddress.ip_address(self.bind_address).is_unspecified

    @property
    def nginx_snippets(self) -> list[str]:
        """The proxy's snippets, as the template's nginx/snippets/ holds them (NGINX_SNIPPET_NEEDS: tls.conf with
        TLS only, ...): a new snippet reaches stack.yaml's configs without being listed again."""
        from hardstack.resources import template_dir

        folder = template_dir() / "{{cookiecutter.project_slug}}" / "nginx" / "snippets"
        return sorted(p.name for p in folder.glob("*.conf") if getattr(self, NGINX_SNIPPET_NEEDS.get(p.name, "project_slug")))

    def healthcheck(self, name: str, swarm: bool = False) -> str:
        """The lines under a service's `healthcheck:` (catalog.HEALTH), indented for compose.yaml and
        stack.yaml: the same test and timings on both, a longer start period for a swarm task."""
        health = HEALTH["proxy-tls" if name == "proxy" and self.tls_on else name]
        if health is None:
            return "      disable: true"
        fill = {"port": 8443 if name == "proxy" and self.tls_on else self.ports[name], "superuser": self.db_roles["superuser"], "db": self.db_name}
        test = json.dumps([part.format(**fill) for part in health.test])
        return "\n".join([*([f"      # {health.note}"] if health.note and not swarm else []), f"      test: {test}",
                          f"      interval: {health.interval}", f"      timeout: {health.timeout}", f"      retries: {health.retries}",
                          f"      start_period: {(health.swarm_start_period if swarm else None) or health.start_period}"])

    def command(self, name: str) -> str:
        """A service's command (catalog.COMMANDS) as compose.yaml and stack.yaml write it: the same on both."""
        fill = {"celery_app": self.celery_app, "worker_concurrency": self.worker_concurrency}
        return json.dumps([part.format(**fill) for part in COMMANDS[name]])

    @property
    def celery_beacon(self) -> dict[str, dict[str, int]]:
        """celery_run.py's liveness beacons, per role: seconds between writes (every) and the probe's limit (max_age)."""
        return {role: {"every": CELERY_BEACON_EVERY[role], "max_age": CELERY_BEACON_MAX_AGE[role]} for role in CELERY_BEACON_EVERY}

    @property
    def rolls(self) -> dict[str, str]:
        """Service -> stack.yaml's update_config anchor (catalog.Service.roll)."""
        return {name: svc.roll for name, svc in SERVICES.items()}

    @property
    def volumes(self) -> list[str]:
        """The named volumes of this layout (catalog.VOLUMES), as compose.yaml and stack.yaml declare them."""
        return [name for name, v in VOLUMES.items() if v.needs is None or getattr(self, v.needs)]

    @property
    def alerts_by_webhook(self) -> bool:
        return self.enable_monitoring and self.alert_receiver == "webhook"

    @property
    def alerts_by_email(self) -> bool:
        return self.enable_monitoring and self.alert_receiver == "email"

    @property
    def redis_maxmemory(self) -> str:
        return REDIS_MAXMEMORY

    @property
    def worker_stop_grace(self) -> int:
        return STOP_GRACE["worker"]

    @property
    def stop_grace(self) -> dict[str, int]:
        """Service -> seconds from its stop signal to SIGKILL (catalog.STOP_GRACE), for compose.yaml and stack.yaml."""
        return STOP_GRACE

    @property
    def gunicorn_graceful(self) -> int:
        return GUNICORN_GRACEFUL

    @property
    def compose_project(self) -> str:
        return self.project_slug.replace("_", "-")

    def stack_prefix(self, stack: str) -> str:
        """What a Pulumi stack's resources are named and labelled with: <compose project>-<stack>."""
        return f"{self.compose_project}-{stack}"

    def image_part(self, ref: str) -> str:
        """The part an image of the layout's own builds is pushed as, and the key of hardstack:imageDigests:
        backend for hardstack-demo-backend:local."""
        return ref.rsplit("/", 1)[-1].split("@")[0].split(":")[0].removeprefix(f"{self.compose_project}-")
