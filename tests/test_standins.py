"""The stand-in images honour the contracts written beside their recipes (standins/*/CONTRACT.md)."""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from hardstack.runtime.compose import standin_env

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from test_stack import require_engine

    require_engine()
    return standin_env(tmp_path_factory.mktemp("standins") / "standins.env")


def run(image: str, *cmd: str, args: tuple = ()) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "run", "--rm", *args, image, *cmd], capture_output=True, text=True, timeout=120)


def test_env_file_points_every_image_variable_at_a_stand_in(images):
    for var in ("PYTHON_IMAGE", "NODE_IMAGE", "NGINX_IMAGE", "DB_IMAGE", "PROMETHEUS_IMAGE", "POSTGRES_EXPORTER_IMAGE", "ALERTMANAGER_IMAGE",
                "REDIS_IMAGE", "REDIS_EXPORTER_IMAGE"):
        assert images[var].startswith("hardstack-standin/"), var
    assert images["BUILD_NETWORK"] == "host"


def test_every_stand_in_is_slim_as_debian_slim_images_are(images):
    """No documentation but copyright files, no man pages, no message catalogues (scripts/stand-in-images: slim), in
    every stand-in; the database's without its JIT. Less to push to a registry and to pull on every lab host."""
    script = ("test -z \"$(find /usr/share/doc -type f ! -name copyright | head -1)\" && test -z \"$(ls /usr/share/man)\" && "
              "test -z \"$(find /usr/share/locale -mindepth 1 ! -name locale.alias | head -1)\" && "
              "grep -qx 'path-exclude /usr/share/doc/\\*' /etc/dpkg/dpkg.cfg.d/hardstack-slim")
    for var, image in images.items():
        if var.endswith("_IMAGE"):
            out = run(image, "sh", "-c", script, args=("--entrypoint", ""))
            assert out.returncode == 0, (var, out.stdout + out.stderr)
    out = run(images["DB_IMAGE"], "sh", "-c", "ls /usr/lib/postgresql/*/lib/ | grep -c llvm; ls /usr/lib/*/libLLVM* 2>&1",
              args=("--entrypoint", ""))
    assert out.stdout.splitlines()[0] == "0" and "No such file" in out.stdout, out.stdout


@pytest.mark.parametrize("version", ["3.13", "3.11"])
def test_python_contract(images, version):
    """Each Python stand-in runs the version its tag names (PYTHON_IMAGE the default), with venv, pip in a
    venv and none without, the C headers wheels compile against, and the tools the Dockerfile uses."""
    from hardstack.catalog import DEFAULT_PYTHON
    from hardstack.runtime.compose import standin_pythons

    assert DEFAULT_PYTHON == "3.13" and set(standin_pythons(images)) == {"3.13", "3.11"}
    script = ("python -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])' && python -m venv /tmp/v && /tmp/v/bin/pip --version && "
              "python -m venv --without-pip /tmp/bare && test ! -e /tmp/bare/bin/pip && "
              "test -f \"$(python -c 'import sysconfig; print(sysconfig.get_paths()[\"include\"])')/Python.h\" && "
              "command -v groupadd && command -v useradd && command -v apt-get")
    out = run(standin_pythons(images)[version], "sh", "-c", script)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[0] == version
    assert "pip " in out.stdout and "useradd" in out.stdout


def test_node_contract(images):
    out = run(images["NODE_IMAGE"], "sh", "-c", "node --version && npm --version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("v")


def test_nginx_unprivileged_contract(images):
    out = run(images["NGINX_IMAGE"], "sh", "-c", "id -u && id -g && test -f /etc/nginx/mime.types && curl --version | head -1",
              args=("--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[:2] == ["101", "101"]
    name = f"hs-nginx-{uuid.uuid4().hex[:6]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", images["NGINX_IMAGE"]],
                   check=True, capture_output=True)
    try:
        for _ in range(20):
            probe = subprocess.run(["docker", "exec", name, "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/"], capture_output=True)
            if probe.returncode in (0, 22):  # 22: an HTTP error (403 on an empty root) is still an answer
                break
            time.sleep(0.5)
        assert probe.returncode in (0, 22), probe.stderr
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_timescaledb_contract(images, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("a-long-random-test-password")
    secret.chmod(0o600)
    import os

    os.chown(secret, 70, 70)
    name = f"hs-db-{uuid.uuid4().hex[:6]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--user", "70:70", "--read-only", "--cap-drop", "ALL",
                    "--security-opt", "no-new-privileges:true", "--tmpfs", "/tmp", "--tmpfs", "/var/run/postgresql:uid=70,gid=70,mode=0775",
                    "-e", "POSTGRES_USER=app", "-e", "POSTGRES_DB=app", "-e", "POSTGRES_PASSWORD_FILE=/run/secrets/pw",
                    "-v", f"{secret}:/run/secrets/pw:ro", "-v", f"{name}:/var/lib/postgresql/data", images["DB_IMAGE"]],
                   check=True, capture_output=True)
    try:
        for _ in range(60):
            if subprocess.run(["docker", "exec", name, "pg_isready", "-q", "-h", "127.0.0.1", "-U", "app", "-d", "app"]).returncode == 0:
                break
            time.sleep(1)
        else:
            pytest.fail(subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr[-2000:])
        ext = subprocess.run(["docker", "exec", name, "psql", "-U", "app", "-d", "app", "-tAc",
                              "SELECT extname FROM pg_extension; SHOW shared_preload_libraries"], capture_output=True, text=True)
        assert "timescaledb" in ext.stdout.split("\n")[0:3] or "timescaledb" in ext.stdout, ext
        tcp_ok = subprocess.run(["docker", "exec", "-e", "PGPASSWORD=a-long-random-test-password", name, "psql", "-h", "127.0.0.1",
                                 "-U", "app", "-d", "app", "-tAc", "SELECT 1"], capture_output=True, text=True)
        assert tcp_ok.stdout.strip() == "1", tcp_ok.stderr
        tcp_bad = subprocess.run(["docker", "exec", "-e", "PGPASSWORD=wrong", name, "psql", "-h", "127.0.0.1",
                                  "-U", "app", "-d", "app", "-tAc", "SELECT 1"], capture_output=True, text=True)
        assert tcp_bad.returncode != 0 and "password authentication failed" in tcp_bad.stderr
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True)
        subprocess.run(["docker", "volume", "rm", name], capture_output=True)


def test_prometheus_contract(images):
    out = run(images["PROMETHEUS_IMAGE"], "--version")
    assert out.returncode == 0 and "prometheus" in (out.stdout + out.stderr)
    who = run(images["PROMETHEUS_IMAGE"], "-c", "id -u && stat -c %u /prometheus && wget --version | head -1", args=("--entrypoint", "sh"))
    assert who.stdout.splitlines()[:2] == ["65534", "65534"], who


def test_postgres_exporter_contract(images):
    out = run(images["POSTGRES_EXPORTER_IMAGE"], "--version")
    assert out.returncode == 0 and "postgres_exporter" in (out.stdout + out.stderr)
    assert run(images["POSTGRES_EXPORTER_IMAGE"], "-c", "command -v wget", args=("--entrypoint", "sh")).returncode == 0


def test_alertmanager_contract(images, tmp_path):
    out = run(images["ALERTMANAGER_IMAGE"], "--version")
    assert out.returncode == 0 and "alertmanager" in (out.stdout + out.stderr)
    who = run(images["ALERTMANAGER_IMAGE"], "-c", "id -u && stat -c %u /alertmanager && wget --version | head -1", args=("--entrypoint", "sh"))
    assert who.stdout.splitlines()[:2] == ["65534", "65534"], who
    # url_file (0.26+): a config that reads the webhook URL from a secret file loads.
    (tmp_path / "am.yml").write_text("route: {receiver: team}\nreceivers:\n  - name: team\n    webhook_configs: [{url_file: /run/secrets/url}]\n")
    (tmp_path / "url").write_text("http://sink:8080/\n")
    for f in tmp_path.iterdir():
        f.chmod(0o644)
    check = run(images["ALERTMANAGER_IMAGE"], "check-config", "/etc/alertmanager/alertmanager.yml",
                args=("--entrypoint", "amtool", "-v", f"{tmp_path / 'am.yml'}:/etc/alertmanager/alertmanager.yml:ro",
                      "-v", f"{tmp_path / 'url'}:/run/secrets/url:ro"))
    assert check.returncode == 0, check.stdout + check.stderr


def test_timescaledb_has_the_backup_tools_and_folder(images):
    out = run(images["DB_IMAGE"], "-c", "command -v pg_dump && command -v pg_restore && stat -c %u /var/lib/postgresql", args=("--entrypoint", "sh"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "70"


def test_redis_and_its_exporter_contract(images, tmp_path):
    """redis: UID 999 owns /data; redis-server reads a config file with include/requirepass/noeviction/AOF, and
    redis-cli authenticates from REDISCLI_AUTH. The exporter: /redis_exporter with a shell and wget, REDIS_PASSWORD
    from its environment, redis_up and the queue length it was asked for."""
    who = run(images["REDIS_IMAGE"], "sh", "-c", "id -u && stat -c %u /data && command -v redis-server redis-cli", args=("--user", "999:999"))
    assert who.returncode == 0, who.stderr
    assert who.stdout.splitlines()[:2] == ["999", "999"]
    (tmp_path / "redis.conf").write_text("port 6379\ndir /data\nappendonly yes\nmaxmemory 16mb\nmaxmemory-policy noeviction\n"
                                         "include /etc/hs/auth.conf\n")
    (tmp_path / "auth.conf").write_text('requirepass "s3cret-for-the-contract"\n')
    tmp_path.chmod(0o755)
    for f in tmp_path.iterdir():
        f.chmod(0o644)
    net, name, exporter = (f"hs-redis-{uuid.uuid4().hex[:6]}" for _ in range(3))
    subprocess.run(["docker", "network", "create", net], check=True, capture_output=True)
    try:
        subprocess.run(["docker", "run", "-d", "--name", name, "--network", net, "--network-alias", "redis", "--user", "999:999",
                        "--read-only", "--cap-drop", "ALL", "-v", f"{tmp_path}:/etc/hs:ro", images["REDIS_IMAGE"],
                        "redis-server", "/etc/hs/redis.conf"], check=True, capture_output=True)
        for _ in range(30):
            pong = subprocess.run(["docker", "exec", "-e", "REDISCLI_AUTH=s3cret-for-the-contract", name, "redis-cli", "--no-auth-warning", "ping"],
                                  capture_output=True, text=True)
            if pong.stdout.strip() == "PONG":
                break
            time.sleep(0.3)
        assert pong.stdout.strip() == "PONG", pong.stdout + pong.stderr
        config = subprocess.run(["docker", "exec", "-e", "REDISCLI_AUTH=s3cret-for-the-contract", name, "redis-cli", "--no-auth-warning",
                                 "config", "get", "maxmemory-policy"], capture_output=True, text=True).stdout
        assert "noeviction" in config
        refused = subprocess.run(["docker", "exec", name, "redis-cli", "ping"], capture_output=True, text=True).stdout
        assert "NOAUTH" in refused
        subprocess.run(["docker", "exec", "-e", "REDISCLI_AUTH=s3cret-for-the-contract", name, "redis-cli", "--no-auth-warning",
                        "rpush", "celery", "a", "b"], check=True, capture_output=True)
        subprocess.run(["docker", "run", "-d", "--name", exporter, "--network", net, "--user", "999:999", "--read-only", "--cap-drop", "ALL",
                        "-e", "REDIS_ADDR=redis://redis:6379", "-e", "REDIS_PASSWORD=s3cret-for-the-contract",
                        "-e", "REDIS_EXPORTER_CHECK_SINGLE_KEYS=db0=celery", "--entrypoint", "sh", images["REDIS_EXPORTER_IMAGE"],
                        "-c", "exec /redis_exporter"], check=True, capture_output=True)
        for _ in range(30):
            metrics = subprocess.run(["docker", "exec", exporter, "wget", "-q", "-O", "-", "http://127.0.0.1:9121/metrics"],
                                     capture_output=True, text=True).stdout
            if "redis_up 1" in metrics:
                break
            time.sleep(0.3)
        assert "redis_up 1" in metrics and 'redis_key_size{db="db0",key="celery"} 2' in metrics and "redis_pubsub_patterns" in metrics
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name, exporter], capture_output=True)  # -v: the image's anonymous /data volume
        subprocess.run(["docker", "network", "rm", net], capture_output=True)
