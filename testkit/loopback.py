"""Reaching a swarm stack on loopback only (tests, benchmarks): the proxy publishes in host mode on every
interface (swarm has no bind address), so a copy of stack.yaml without its ports plus a forwarder on
127.0.0.1 stands in. Not part of the installed package."""

from __future__ import annotations

from pathlib import Path

from hardstack.runtime.compose import StackError
from hardstack.runtime.swarm import docker


FORWARDER_CONF = """pid /tmp/nginx.pid;
error_log /dev/stderr warn;
events {}
http {
    access_log off;
    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;
    resolver 127.0.0.11 valid=1s ipv6=off;
    server {
        listen 8080;
        location / {
            set $proxy http://proxy:8080;
            proxy_pass $proxy;
            proxy_set_header Host $http_host;
        }
    }
}
"""


def loopback_copy(layout: Path, name: str = "stack.loopback.yaml") -> str:
    """A copy of stack.yaml without the proxy's published ports and with edge attachable."""
    import yaml

    doc = yaml.safe_load((layout / "stack.yaml").read_text())
    ports = doc["services"]["proxy"].pop("ports")
    if [p["mode"] for p in ports] != ["host"] * len(ports):
        raise StackError(f"stack.yaml: the proxy's ports are not all host mode: {ports}")
    doc["networks"]["edge"]["attachable"] = True
    for key in [k for k in doc if k.startswith("x-")]:
        del doc[key]
    (layout / name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return name


def loopback_forwarder(container: str, network: str, port: int, image: str, conf_dir: Path) -> None:
    """An unprivileged nginx on `network`, published on 127.0.0.1:port, passing everything to `proxy`."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "forwarder.conf").write_text(FORWARDER_CONF)
    docker("run", "-d", "--name", container, "--network", network, "-p", f"127.0.0.1:{port}:8080",
           "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--user", "101:101",
           "-v", f"{conf_dir / 'forwarder.conf'}:/etc/fwd/nginx.conf:ro", image,
           "nginx", "-c", "/etc/fwd/nginx.conf", "-g", "daemon off;")
