"""Lab hosts: several "machines" on this one, for tests and for trying a remote deploy (scripts/lab).

Each host is a network namespace on a bridge of the lab's own, with:
- its own Docker engine in its default configuration (iptables on), started with nsenter and its own hostname;
- sshd on the host's address, with a host key written to the lab's known_hosts and a key made for the lab;
- no images: it pulls them from the lab's registry, into a tmpfs of its own (its engine's data root).

One more namespace runs a real registry (Debian's docker-registry, distribution 2.8) with TLS from a CA of the
lab's own and htpasswd auth. Every engine of this machine (the local one included) trusts that CA through
/etc/docker/certs.d/<registry address>/ca.crt. Its storage outlives `down` ($HARDSTACK_CACHE/lab/registry-store,
emptied at `up` once it holds more than REGISTRY_STORE_MAX_BYTES), as a registry's does: a layer pushed before is
not compressed and uploaded again, as a CI runner pushing to the same registry skips the base layers. The hosts
start empty each time and pull everything.

Everything started is stopped by the PID in its pidfile (`down`); the lab's state is one folder,
$HARDSTACK_CACHE/lab. Facts behind the choices: ../shared/lab-hosts.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("HARDSTACK_CACHE", Path.home() / ".cache" / "hardstack"))
LAB = CACHE / "lab"
BRIDGE = "hslab0"
SUBNET = "10.77.0"
GATEWAY = f"{SUBNET}.1"
REGISTRY_NAME = "registry"
REGISTRY_ADDRESS = f"{SUBNET}.10"
REGISTRY_PORT = 5000
REGISTRY_USER = "lab"
REGISTRY_STORE_MAX_BYTES = 4 * 2**30  # each run adds only the layers its own builds changed (a few MB)
DEFAULT_HOSTS = ("node1", "node2", "node3")
USER = "root"
CERTS_D = Path("/etc/docker/certs.d")
PACKAGES = {"sshd": "openssh-server", "docker-registry": "docker-registry"}


class LabError(RuntimeError):
    pass


@dataclass(frozen=True)
class Host:
    name: str
    address: str

    @property
    def netns(self) -> str:
        return f"hslab-{self.name}"

    @property
    def dir(self) -> Path:
        return LAB / "hosts" / self.name

    @property
    def socket(self) -> Path:
        return Path(f"/run/hslab-{self.name}.sock")

    @property
    def docker_host(self) -> str:
        return f"ssh://{USER}@{self.address}"

    @property
    def local_docker_host(self) -> str:
        """The engine's socket on this machine (the lab's own set-up; users go through ssh)."""
        return f"unix://{self.socket}"


def say(message: str) -> None:
    print(f"[lab] {message}", flush=True)


def run(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(args)} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-800:]}")
    return proc


def in_netns(host_netns: str, *args: str) -> list[str]:
    # nsenter --net, not `ip netns exec`: the latter also makes a mount namespace, where dockerd fails
    # ("Devices cgroup isn't mounted").
    return ["nsenter", f"--net=/var/run/netns/{host_netns}", *args]


def hosts_for(names) -> list[Host]:
    return [Host(name, f"{SUBNET}.{11 + i}") for i, name in enumerate(names)]


# --- state ----------------------------------------------------------------------------------------------------

def state_file() -> Path:
    return LAB / "state.json"


def read_state() -> dict | None:
    try:
        return json.loads(state_file().read_text())
    except FileNotFoundError:
        return None


def status() -> dict:
    """What tests and users read (scripts/lab status --json)."""
    state = read_state()
    if not state:
        raise LabError("the lab is not up: run scripts/lab up")
    hosts = hosts_for(state["hosts"])
    return {
        "hosts": [{"name": h.name, "address": h.address, "docker_host": h.docker_host,
                   "ssh_key": str(LAB / "id_ed25519"), "known_hosts": str(LAB / "known_hosts"),
                   "ssh_config": str(LAB / "ssh_config"), "socket": str(h.socket),
                   "running": alive(h.dir / "dockerd.pid") and alive(h.dir / "sshd.pid")} for h in hosts],
        "registry": {"address": f"{REGISTRY_ADDRESS}:{REGISTRY_PORT}", "ca_file": str(LAB / "ca" / "ca.crt"),
                     "username": REGISTRY_USER, "password_file": str(LAB / "registry" / "password"),
                     "running": alive(LAB / "registry" / "registry.pid")},
        "ssh_bin": str(LAB / "bin"),
    }


def alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return False
    return running(pid)


def running(pid: int) -> bool:
    """The process exists and has not exited. An exited one whose parent has not reaped it yet (a zombie: a process
    that `up` started in an earlier run belongs to init now, which reaps it a second or two later) answers signal 0
    too, so its state decides."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


# --- up -------------------------------------------------------------------------------------------------------

def up(names=DEFAULT_HOSTS) -> dict:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, engines, sshd)")
    need_tools()
    if read_state():
        say("a lab is up already: taking it down first")
        down()
    hosts = hosts_for(names)
    LAB.mkdir(parents=True, exist_ok=True)
    (LAB / "state.json").write_text(json.dumps({"hosts": [h.name for h in hosts]}))
    started = time.monotonic()
    try:
        make_bridge()
        make_keys()
        make_ca()
        for host in hosts:
            make_netns(host.netns, host.address)
            start_engine(host)
        make_netns(f"hslab-{REGISTRY_NAME}", REGISTRY_ADDRESS)
        start_registry()
        for host in hosts:
            start_sshd(host)
        write_ssh_client(hosts)
        for host in hosts:
            wait_engine(host)
        wait_port(REGISTRY_ADDRESS, REGISTRY_PORT, "the registry")
    except BaseException:
        say("start failed: taking down what was started")
        down(quiet=True)
        raise
    say(f"up in {time.monotonic() - started:.1f}s: {', '.join(f'{h.name} {h.address}' for h in hosts)}, "
        f"registry {REGISTRY_ADDRESS}:{REGISTRY_PORT}")
    return status()


def need_tools() -> None:
    missing = [pkg for tool, pkg in PACKAGES.items() if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")]
    if missing:
        raise LabError(f"missing Debian packages: {' '.join(missing)} (scripts/bootstrap --tests installs them)")


def make_bridge() -> None:
    run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")
    # The local engine sets FORWARD to DROP and, with br_netfilter, bridged frames cross iptables: let the
    # lab's hosts talk to each other, and out (NAT through this machine's route) as a server reaches package
    # indexes: `hardstack up --swarm` builds on the manager. Removed by `down`.
    for table, chain, *spec in lab_rules():
        run("iptables", "-t", table, "-I", chain, *spec, check=False)


def lab_rules() -> list[list[str]]:
    """(table, chain, rule...) for each iptables rule the lab adds."""
    chain = "DOCKER-USER" if run("iptables", "-S", "DOCKER-USER", check=False).returncode == 0 else "FORWARD"
    return [["filter", chain, "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"],
            ["filter", chain, "-i", BRIDGE, "!", "-o", BRIDGE, "-j", "ACCEPT"],
            ["filter", chain, "-o", BRIDGE, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
            ["nat", "POSTROUTING", "-s", f"{SUBNET}.0/24", "!", "-o", BRIDGE, "-j", "MASQUERADE"]]


def make_netns(netns: str, address: str) -> None:
    veth = "v" + netns.removeprefix("hslab-")[:10]
    run("ip", "netns", "add", netns)
    run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
    run("ip", "link", "set", veth, "master", BRIDGE)
    run("ip", "link", "set", veth, "up")
    for args in (["addr", "add", f"{address}/24", "dev", "eth0"], ["link", "set", "eth0", "up"],
                 ["link", "set", "lo", "up"], ["route", "add", "default", "via", GATEWAY]):
        run("ip", "-n", netns, *args)


def make_keys() -> None:
    key = LAB / "id_ed25519"
    if not key.exists():
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hardstack-lab", "-f", str(key))
    shutil.copy(LAB / "id_ed25519.pub", LAB / "authorized_keys")
    (LAB / "authorized_keys").chmod(0o600)


def make_ca() -> None:
    ca = LAB / "ca"
    ca.mkdir(exist_ok=True)
    if not (ca / "ca.crt").exists():
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", "/CN=hardstack lab CA",
            "-keyout", str(ca / "ca.key"), "-out", str(ca / "ca.crt"))
    registry = LAB / "registry"
    registry.mkdir(exist_ok=True)
    ext = registry / "san.cnf"
    ext.write_text(f"subjectAltName=IP:{REGISTRY_ADDRESS}\nextendedKeyUsage=serverAuth\n")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={REGISTRY_ADDRESS}",
        "-keyout", str(registry / "tls.key"), "-out", str(registry / "tls.csr"))
    run("openssl", "x509", "-req", "-in", str(registry / "tls.csr"), "-CA", str(ca / "ca.crt"), "-CAkey",
        str(ca / "ca.key"), "-CAcreateserial", "-days", "30", "-extfile", str(ext), "-out", str(registry / "tls.crt"))
    trusted = CERTS_D / f"{REGISTRY_ADDRESS}:{REGISTRY_PORT}"
    trusted.mkdir(parents=True, exist_ok=True)
    shutil.copy(ca / "ca.crt", trusted / "ca.crt")


def start_engine(host: Host, fresh: bool = True) -> None:
    host.dir.mkdir(parents=True, exist_ok=True)
    if fresh:
        shutil.rmtree(host.dir / "exec", ignore_errors=True)
        fresh_tmpfs(host.dir / "data")  # no images of its own: it pulls them
    log = open(host.dir / "dockerd.log", "w" if fresh else "a")
    # unshare --uts: each engine reports its own hostname (swarm node names), the file system stays shared.
    subprocess.Popen(
        in_netns(host.netns, "unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', host.name,
                 "dockerd", "--data-root", str(host.dir / "data"), "--exec-root", str(host.dir / "exec"),
                 "-H", host.local_docker_host, "--pidfile", str(host.dir / "dockerd.pid")),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def fresh_tmpfs(folder: Path) -> None:
    """An empty tmpfs at folder (a lab host's images): unpacking a pull is faster in memory, and
    `down` lets it go with one unmount, where removing three hosts' unpacked images from disk took 36 s."""
    unmount_under(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    run("mount", "-t", "tmpfs", "-o", "mode=0711", f"hslab-{folder.parent.name}-{folder.name}", str(folder))


def wait_engine(host: Host, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run("docker", "-H", host.local_docker_host, "info", "--format", "{{.Name}}", check=False).returncode == 0:
            return
        time.sleep(0.5)
    tail = (host.dir / "dockerd.log").read_text()[-1500:]
    raise LabError(f"{host.name}: the engine did not answer in {timeout:.0f}s; its log ends:\n{tail}")


def wait_port(address: str, port: int, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((address, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise LabError(f"{what} did not listen on {address}:{port} in {timeout:.0f}s")


def start_sshd(host: Host) -> None:
    key = host.dir / "ssh_host_ed25519_key"
    if not key.exists():
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    config = host.dir / "sshd_config"
    config.write_text(f"""ListenAddress {host.address}
Port 22
HostKey {key}
PidFile {host.dir / 'sshd.pid'}
AuthorizedKeysFile {LAB / 'authorized_keys'}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
# The docker CLI and pulumi-docker run `docker system dial-stdio` here: point it at this host's engine.
SetEnv DOCKER_HOST={host.local_docker_host}
""")
    run(*in_netns(host.netns, "/usr/sbin/sshd", "-f", str(config), "-E", str(host.dir / "sshd.log")))
    wait_port(host.address, 22, f"{host.name}: sshd")


def write_ssh_client(hosts: list[Host]) -> None:
    """known_hosts with each host's key, an ssh_config naming the lab key, and bin/ssh that uses it: the docker
    CLI runs plain `ssh`, so PATH=<lab>/bin:$PATH makes `docker -H ssh://root@host` use the lab's files."""
    lines = []
    for host in hosts:
        pub = (host.dir / "ssh_host_ed25519_key.pub").read_text().split()
        lines.append(f"{host.address} {pub[0]} {pub[1]}")
    (LAB / "known_hosts").write_text("\n".join(lines) + "\n")
    (LAB / "ssh_config").write_text(f"""Host {SUBNET}.*
  User {USER}
  IdentityFile {LAB / 'id_ed25519'}
  IdentitiesOnly yes
  UserKnownHostsFile {LAB / 'known_hosts'}
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
  # One ssh connection per host, shared by every docker call (each opened its own: 440 -> 208 ms per `docker -H
  # ssh://` call here). `down` closes them.
  ControlMaster auto
  ControlPath {LAB}/mux-%C
  ControlPersist 60s
""")
    bin_dir = LAB / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "ssh"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F "{LAB / "ssh_config"}" "$@"\n')
    wrapper.chmod(0o755)


def start_registry() -> None:
    registry = LAB / "registry"
    password_file = registry / "password"
    if not password_file.exists():
        password_file.write_text(os.urandom(12).hex())
        password_file.chmod(0o600)
    (registry / "htpasswd").write_text(f"{REGISTRY_USER}:{bcrypt_hash(password_file.read_text())}\n")
    store = registry_store()
    config = registry / "config.yml"
    config.write_text(json.dumps({
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(store)}, "delete": {"enabled": True}},
        "http": {"addr": f"{REGISTRY_ADDRESS}:{REGISTRY_PORT}",
                 "tls": {"certificate": str(registry / "tls.crt"), "key": str(registry / "tls.key")}},
        "auth": {"htpasswd": {"realm": "hardstack-lab", "path": str(registry / "htpasswd")}},
    }, indent=2))
    log = open(registry / "registry.log", "w")
    proc = subprocess.Popen(in_netns(f"hslab-{REGISTRY_NAME}", "docker-registry", "serve", str(config)),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (registry / "registry.pid").write_text(str(proc.pid))


def registry_store() -> Path:
    """The registry's storage, kept from the lab's last run unless it has grown past REGISTRY_STORE_MAX_BYTES.
    Measured on this machine: pushing the lab's base images (the Python, database and nginx stand-ins, 900 MB before
    they were slimmed) cost the local engine 37 s of CPU, gzip almost all of it, at every run."""
    store = LAB / "registry-store"
    if store.is_dir() and sum(f.stat().st_size for f in store.rglob("*") if f.is_file()) > REGISTRY_STORE_MAX_BYTES:
        shutil.rmtree(store)
    store.mkdir(parents=True, exist_ok=True)
    return store


# bcrypt's lowest cost (2^4 rounds): the registry verifies the password on every request, and at the default cost
# (12) each verify took 0.25 s of CPU: about 90 s per run of the lab tier (369 requests), mostly while nodes pulled.
# The password is a random throwaway of this lab; the cost only slows guessing it from a stolen htpasswd file.
BCRYPT_COST = 4


def bcrypt_hash(password: str) -> str:
    """htpasswd's bcrypt line: the registry accepts nothing else."""
    try:
        import bcrypt
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_COST)).decode()
    except ImportError:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # libxcrypt (Debian) makes $2b$ hashes
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2 ** BCRYPT_COST))


# --- down -----------------------------------------------------------------------------------------------------

def down(quiet: bool = False) -> None:
    state = read_state() or {"hosts": []}
    hosts = hosts_for(state["hosts"])
    shared = (LAB / "ssh_config").exists()  # the client's connections (its ControlMaster), closed before sshd goes
    for host in hosts:
        if shared:
            run("ssh", "-F", str(LAB / "ssh_config"), "-O", "exit", host.address, check=False, timeout=10)
        stop(host.dir / "sshd.pid", f"{host.name}: sshd")
    in_parallel([lambda host=host: end_engine(host) for host in hosts]
                + [lambda: stop(LAB / "registry" / "registry.pid", "registry")])
    for host in hosts:
        unmount_under(host.dir)
    in_parallel([lambda path=host.dir / sub: shutil.rmtree(path, ignore_errors=True) for host in hosts for sub in ("data", "exec")])
    for netns in [h.netns for h in hosts] + [f"hslab-{REGISTRY_NAME}"]:
        run("ip", "netns", "del", netns, check=False)  # its veth end goes with it, and the peer too
    if run("ip", "link", "show", BRIDGE, check=False).returncode == 0:
        for table, chain, *spec in lab_rules():
            while run("iptables", "-t", table, "-D", chain, *spec, check=False).returncode == 0:
                pass
        run("ip", "link", "del", BRIDGE, check=False)
    shutil.rmtree(CERTS_D / f"{REGISTRY_ADDRESS}:{REGISTRY_PORT}", ignore_errors=True)
    unmount_under(LAB / "registry")  # a tmpfs of a lab from before the store was kept
    shutil.rmtree(LAB / "registry" / "data", ignore_errors=True)
    state_file().unlink(missing_ok=True)
    if not quiet:
        say("down")


def in_parallel(jobs) -> None:
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def end_engine(host: Host) -> None:
    """For `down` only (a failing server is `stop_engine`): SIGKILL the engine's containers, then stop the engine.
    A graceful stop waited out every container's stop timeout, then the engine was killed and its containers kept
    running; the lab's data goes away anyway."""
    if alive(host.dir / "dockerd.pid"):
        docker = ("docker", "-H", host.local_docker_host)
        try:
            if ids := run(*docker, "ps", "-q", check=False, timeout=30).stdout.split():
                run(*docker, "kill", *ids, check=False, timeout=60)
        except subprocess.TimeoutExpired:
            pass  # the engine's own stop below still ends them
    stop(host.dir / "dockerd.pid", f"{host.name}: dockerd", 30)


def stop(pidfile: Path, what: str, timeout: float = 10) -> None:
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pidfile.unlink(missing_ok=True)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reap(pid) or not running(pid):
            break
        time.sleep(0.1)
    else:
        say(f"{what} (pid {pid}) did not stop in {timeout:.0f}s: killing it")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pidfile.unlink(missing_ok=True)


def reap(pid: int) -> bool:
    """A child of this process (started by `up` in the same process) must be waited for, or it stays a zombie."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        return False


def unmount_under(folder: Path) -> None:
    """Lazily unmount whatever is mounted at or below folder, the deepest first."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m == str(folder) or m.startswith(str(folder) + "/")), key=len, reverse=True):
        run("umount", "-l", mount, check=False)


# --- a host's engine stopped and started again (a server that fails) ------------------------------------------

def host_named(name: str) -> Host:
    state = read_state()
    if not state or name not in state["hosts"]:
        raise LabError(f"no lab host {name!r} is up")
    return next(h for h in hosts_for(state["hosts"]) if h.name == name)


def stop_engine(name: str) -> None:
    """Stop a host's dockerd (its containers stop with it), as a failing server would; sshd stays."""
    host = host_named(name)
    stop(host.dir / "dockerd.pid", f"{name}: dockerd", timeout=60)


def start_engine_again(name: str) -> None:
    """Start a stopped host's engine on its old data (its swarm membership included)."""
    host = host_named(name)
    start_engine(host, fresh=False)
    wait_engine(host)
