"""Bar rows N1-N11: the proxy's nginx/ and the frontend image's nginx.conf.

`nginx -t` and gixy run on a staged copy in which the container paths (/etc/nginx/...) point at
the copy, with a throwaway certificate when TLS is on; `nginx -t` runs in a private mount
namespace whose /etc/hosts resolves the compose service names (upstreams must resolve).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from hardstack.catalog import ACME_STATE, BOUNDS, SERVICES, bounds_text
from hardstack.checks import inprocess, tools
from hardstack.checks.layout import layout_answers
from hardstack.checks.result import NA, Result, check

HEADERS = ["X-Content-Type-Options", "Referrer-Policy", "Content-Security-Policy", "Permissions-Policy"]
MOZILLA_INTERMEDIATE = set(
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305".split(":")
)
MINIMAL_MIME = "types {\n    text/html html;\n    text/css css;\n    application/javascript js;\n}\n"


def conf_files(layout: Path) -> list[Path]:
    return sorted((layout / "nginx").rglob("*.conf"))


def frontend_conf(layout: Path) -> Path:
    return layout / "frontend" / "deploy" / "nginx.conf"


def tls_on(layout: Path) -> bool:
    return (layout / "nginx" / "snippets" / "tls.conf").exists()


@lru_cache(maxsize=1)
def throwaway_certificate() -> Path:
    """A self-signed certificate and key for `nginx -t` on TLS layouts, made once per process."""
    import atexit

    folder = Path(tempfile.mkdtemp(prefix="hardstack-tls-"))
    atexit.register(shutil.rmtree, folder, True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(folder / "tls_certificate_key"), "-out", str(folder / "tls_certificate")],
                   check=True, capture_output=True)
    return folder


@contextmanager
def staged(layout: Path) -> Iterator[tuple[Path, list[Path]]]:
    """A copy of the proxy config (and the frontend's) with /etc/nginx/ paths pointing into it."""
    with tempfile.TemporaryDirectory(prefix="hardstack-nginx-") as tmp:
        root = Path(tmp)
        etc = root / "etc-nginx"
        shutil.copytree(layout / "nginx", etc / "hardstack")  # compose mounts nginx/ at /etc/nginx/hardstack
        mime = Path("/etc/nginx/mime.types")
        (etc / "mime.types").write_text(mime.read_text() if mime.exists() else MINIMAL_MIME)
        if tls_on(layout):
            shutil.copytree(throwaway_certificate(), etc / "tls")
        mains = [etc / "hardstack" / "nginx.conf"]
        if frontend_conf(layout).exists():
            shutil.copy(frontend_conf(layout), etc / "frontend.conf")
            mains.append(etc / "frontend.conf")
        for conf in etc.rglob("*.conf"):
            conf.write_text(conf.read_text().replace("/etc/nginx/", f"{etc}/").replace("/run/secrets/", f"{etc}/tls/")
                            .replace(f"{ACME_STATE}/live/fullchain.pem", f"{etc}/tls/tls_certificate")
                            .replace(f"{ACME_STATE}/live/privkey.pem", f"{etc}/tls/tls_certificate_key"))
        (root / "hosts").write_text(f"127.0.0.1 localhost {' '.join(SERVICES)}\n")
        yield root, mains


def trees(layout: Path) -> dict[str, list[dict]]:
    """name ('proxy', 'frontend') -> the config as nginx reads it, includes inlined (crossplane). Eight rows read
    it: staged and parsed once per contents of the files it reads (kept as JSON, so each row gets its own copy)."""
    import crossplane

    # What staged() copies: nginx/, the frontend's config, this host's mime.types.
    key = tools.contents_digest([layout / "nginx", frontend_conf(layout), Path("/etc/nginx/mime.types")], layout)
    with _TREES_LOCK:  # the rows run in threads and start together: the first parses, the others wait for it
        if key not in _TREES:
            found = {}
            with staged(layout) as (_, mains):
                for name, main in zip(("proxy", "frontend"), mains):
                    parsed = crossplane.parse(str(main), combine=True, catch_errors=True)
                    found[name] = parsed["config"][0]["parsed"] if parsed["config"] else []
            _TREES[key] = json.dumps(found)
            while len(_TREES) > 64:  # the last few dozen layouts (a test process checks hundreds)
                del _TREES[next(iter(_TREES))]
        return json.loads(_TREES[key])


_TREES: dict[str, str] = {}
_TREES_LOCK = threading.Lock()


def walk(block: list[dict]) -> Iterator[dict]:
    for d in block:
        yield d
        yield from walk(d.get("block", []))


def servers(tree: list[dict]) -> list[list[dict]]:
    return [d["block"] for d in walk(tree) if d["directive"] == "server" and "block" in d]


def route(server: list[dict], path: str) -> dict | None:
    """The location block nginx picks for path (exact, then ^~ prefix, then regex in order, then longest prefix)."""
    locations = [d for d in server if d["directive"] == "location"]
    prefix = None
    for loc in locations:
        args = loc["args"]
        if args[0] == "=" and args[1] == path:
            return loc
        uri = args[-1]
        if (len(args) == 1 or args[0] == "^~") and path.startswith(uri):
            if prefix is None or len(uri) > len(prefix["args"][-1]):
                prefix = loc
    if prefix and prefix["args"][0] == "^~":
        return prefix
    for loc in locations:
        if loc["args"][0] in ("~", "~*"):
            flags = re.I if loc["args"][0] == "~*" else 0
            try:
                if re.search(loc["args"][1], path, flags):
                    return loc
            except re.error:
                continue
    return prefix


def returns(loc: dict | None) -> list[int]:
    return [int(d["args"][0]) for d in (loc or {}).get("block", []) if d["directive"] == "return" and d["args"][0].isdigit()]


def refuses(loc: dict | None) -> bool:
    """The location denies, answers 4xx or redirects, and never passes the request on."""
    if loc is None:
        return False
    denied = any(d["directive"] == "deny" and d["args"] == ["all"] for d in loc.get("block", []))
    return denied or any(300 <= code < 500 for code in returns(loc))


def values(tree: list[dict], directive: str) -> list[list[str]]:
    return [d["args"] for d in walk(tree) if d["directive"] == directive]


def upstreams(tree: list[dict], within: dict | None = None) -> list[str]:
    """proxy_pass targets (of the location `within`, else all) with tree's `set` variables replaced by their values."""
    variables = {d["args"][0]: d["args"][1] for d in walk(tree) if d["directive"] == "set" and len(d["args"]) == 2}
    targets = values(tree if within is None else within.get("block", []), "proxy_pass")
    return [re.sub(r"\$\w+", lambda m: variables.get(m.group(0), m.group(0)), args[0]) for args in targets]


def upstream_problems(layout: Path, name: str, tree: list[dict]) -> list[str]:
    """Every proxy_pass reaches a compose service on the port it listens on; variables need a resolver."""
    from hardstack.checks.compose import services

    existing, ports = services(layout), layout_answers(layout).ports
    problems = []
    for target in upstreams(tree):
        m = re.fullmatch(r"https?://([^:/$]+):(\d+)/?", target)
        if not m:
            problems.append(f"{name}: proxy_pass {target} is not http://<service>:<port>")
        elif m.group(1) not in existing:
            problems.append(f"{name}: proxy_pass {target}: {m.group(1)} is not a service of compose.yaml")
        elif ports.get(m.group(1)) and int(m.group(2)) != ports[m.group(1)]:
            problems.append(f"{name}: proxy_pass {target}, but {m.group(1)} listens on {ports[m.group(1)]}")
    if any("$" in args[0] for args in values(tree, "proxy_pass")) and not values(tree, "resolver"):
        problems.append(f"{name}: proxy_pass uses a variable but no resolver is set (resolver 127.0.0.11)")
    return list(dict.fromkeys(problems))


def size_bytes(text: str) -> int:
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", text)
    if not m:
        raise ValueError(text)
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2).lower()]


def seconds(text: str) -> float:
    total = 0.0
    for number, unit in re.findall(r"(\d+)(ms|s|m|h|d)?", text):
        total += int(number) * {"ms": 0.001, "s": 1, "": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    return total


def n1_nginx_t(layout: Path) -> Result:
    nginx = tools.find("nginx")
    unshare = tools.find("unshare")
    problems = []
    with staged(layout) as (root, mains):
        for main in mains:
            script = f'mount --bind "{root}/hosts" /etc/hosts && exec "{nginx}" -t -q -p "{root}" -c "{main}"'
            ns = ["-m"] if os.geteuid() == 0 else ["-r", "-m"]
            proc = subprocess.run([unshare, *ns, "sh", "-c", script], capture_output=True, text=True, timeout=60)
            if proc.returncode != 0:
                problems.append(f"{main.name}: {tools.first_lines(proc.stderr.replace(str(root), ''))}")
    for name, tree in trees(layout).items():
        problems += upstream_problems(layout, name, tree)
    return check("N1", problems, "nginx -t passes (proxy and frontend); upstreams are services on their ports")


def n2_server_tokens(layout: Path) -> Result:
    problems = []
    for name, tree in trees(layout).items():
        if ["off"] not in values(tree, "server_tokens"):
            problems.append(f"{name}: no `server_tokens off`")
        # nginx drops the upstream's Server header (gunicorn/23.0.0) unless told to pass it on.
        problems += [f"{name}: proxy_pass_header {args[0]} passes the upstream's version on" for args in values(tree, "proxy_pass_header")
                     if args and args[0].lower() in ("server", "x-powered-by", "x-runtime", "x-version")]
    return check("N2", problems, "server_tokens off; upstream Server headers not passed on")


def headers_of(block: list[dict]) -> dict[str, list[str]]:
    """add_header directives set directly in a block (includes inlined): header -> [value, flags...]."""
    return {d["args"][0]: d["args"][1:] for d in block if d["directive"] == "add_header" and d["args"]}


def csp_problems(policy: str) -> list[str]:
    """What weakens a Content-Security-Policy: wildcards, inline or eval scripts, framing allowed."""
    directives = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    problems = []
    default = directives.get("default-src")
    if default is None or set(default) - {"'self'", "'none'"}:
        problems.append(f"CSP default-src must be 'self' or 'none' (is {' '.join(default or ['missing'])})")
    scripts = directives.get("script-src", default or [])
    weak = [w for w in scripts if w in ("*", "'unsafe-inline'", "'unsafe-eval'", "data:", "http:", "https:", "blob:")]
    if weak:
        problems.append(f"CSP lets scripts run from {' '.join(weak)}")
    if directives.get("object-src", default) not in (["'none'"],):
        problems.append("CSP object-src must be 'none'")
    if directives.get("frame-ancestors") not in (["'none'"], ["'self'"]):
        problems.append(f"CSP frame-ancestors must be 'none' or 'self' (is {' '.join(directives.get('frame-ancestors', ['missing']))})")
    if directives.get("base-uri") not in (["'self'"], ["'none'"]):
        problems.append("CSP base-uri must be 'self' or 'none'")
    return problems


SAFE_HEADER_VALUES = {
    "X-Content-Type-Options": {"nosniff"},
    "Referrer-Policy": {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"},
    "X-Frame-Options": {"DENY", "SAMEORIGIN"},
}


def n3_headers(layout: Path) -> Result:
    """Every server of the proxy sends each security header with `always` (its snippet included at server
    level), the CSP strict and the framing and referrer values safe."""
    problems = []
    server_blocks = servers(trees(layout)["proxy"])
    for i, server in enumerate(server_blocks, 1):
        headers = headers_of(server)
        missing = [h for h in HEADERS if h not in headers or headers[h][1:] != ["always"]]
        if missing:
            problems.append(f"server block {i}: {', '.join(missing)} missing or without `always` (include security-headers.conf)")
    headers = headers_of(server_blocks[0]) if server_blocks else {}
    if "Content-Security-Policy" in headers:
        problems += csp_problems(headers["Content-Security-Policy"][0])
    for header, safe in SAFE_HEADER_VALUES.items():
        if header in headers and headers[header][0].strip() not in safe:
            problems.append(f"{header} {headers[header][0].strip()!r} is not one of {', '.join(sorted(safe))}")
    return check("N3", problems, "security headers with `always` in every server, CSP and framing strict")


def n4_hsts(layout: Path) -> Result:
    if not tls_on(layout):
        return Result("N4", NA, "TLS off")
    hsts = [args[1:] for args in values(trees(layout)["proxy"], "add_header") if args[:1] == ["Strict-Transport-Security"]]
    age = re.match(r"max-age=(\d+)", hsts[0][0]) if hsts and hsts[0] else None
    problems = []
    if not age or int(age.group(1)) < 31536000:
        problems.append("HSTS missing or max-age < 31536000")
    elif hsts[0][1:] != ["always"]:
        problems.append("HSTS without `always` is left off error responses")
    return check("N4", problems, f"HSTS max-age={age.group(1) if age else '?'}, always")


def n5_tls(layout: Path) -> Result:
    if not tls_on(layout):
        return Result("N5", NA, "TLS off")
    tree = trees(layout)["proxy"]
    problems = []
    protocols = values(tree, "ssl_protocols")
    if not protocols or set(protocols[0]) - {"TLSv1.2", "TLSv1.3"}:
        problems.append("ssl_protocols must be TLSv1.2 TLSv1.3 only")
    ciphers = values(tree, "ssl_ciphers")
    if not ciphers or set(ciphers[0][0].split(":")) - MOZILLA_INTERMEDIATE:
        problems.append("ssl_ciphers must be a subset of Mozilla intermediate")
    if ["off"] not in values(tree, "ssl_session_tickets"):
        problems.append("ssl_session_tickets not off")
    return check("N5", problems, "TLS 1.2/1.3, Mozilla intermediate, no session tickets")


CHALLENGE = "/.well-known/acme-challenge/"


def redirects_to_https(block: list[dict]) -> bool:
    return any(d["directive"] == "return" and len(d["args"]) == 2 and d["args"][0] in ("301", "302", "307", "308")
               and d["args"][1].startswith("https://") for d in block)


def n11_plain_http(layout: Path) -> Result:
    """With TLS, plain HTTP only redirects to HTTPS; with ACME it also serves the CA's HTTP-01 challenges from the
    issuer's webroot, and nothing else."""
    if not tls_on(layout):
        return Result("N11", NA, "TLS off: the proxy serves plain HTTP")
    acme = layout_answers(layout).uses_acme
    webroot = f"{ACME_STATE}/webroot"
    plain = [s for s in servers(trees(layout)["proxy"]) if not any("ssl" in d["args"] for d in s if d["directive"] == "listen")]
    problems = [] if plain or not acme else [f"no plain-HTTP server: the ACME CA's requests for {CHALLENGE} cannot reach the issuer"]
    for server in plain:
        port = next((d["args"][0] for d in server if d["directive"] == "listen"), "?")
        if redirects_to_https(server):
            continue  # a server-level return: every request is redirected
        for loc in (d for d in walk(server) if d["directive"] == "location"):
            block, where = loc.get("block", []), f"plain HTTP (listen {port}) location {' '.join(loc['args'])}"
            if acme and loc["args"] == ["^~", CHALLENGE]:
                served = [d["args"] for d in block if d["directive"] in ("root", "alias", "proxy_pass")]
                if served != [[webroot]]:
                    problems.append(f"{where} serves {served or 'nothing'}: only `root {webroot};` (the issuer's challenge files)")
            elif not (redirects_to_https(block) or any(d["directive"] == "deny" and d["args"] == ["all"] for d in block)
                      or any(400 <= code < 500 for code in returns(loc))):
                problems.append(f"{where} serves content: plain HTTP only redirects to https://{' (and answers ACME challenges)' if acme else ''}")
        if route(server, "/") is None:
            problems.append(f"plain HTTP (listen {port}) serves / from files: add `location / {{ return 301 https://$host$request_uri; }}`")
        if acme and (route(server, CHALLENGE + "token") or {}).get("args") != ["^~", CHALLENGE]:
            problems.append(f"plain HTTP (listen {port}) does not route {CHALLENGE} to the issuer's webroot: include snippets/acme-challenge.conf")
    only = "the redirect to HTTPS and the ACME challenges" if acme else "the redirect to HTTPS"
    return check("N11", problems, f"plain HTTP serves {only}, nothing else")


def bounded(name: str, raw: str, value: float) -> list[str]:
    low, high = BOUNDS[name]
    return [] if low <= value <= high else [f"{name} {raw} is outside {bounds_text(name)}" + (" (0 means no limit)" if value == 0 else "")]


def n6_limits(layout: Path) -> Result:
    tree = trees(layout)["proxy"]
    problems = []
    for name in ("client_max_body_size", "proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout",
                 "client_body_timeout", "client_header_timeout", "send_timeout", "keepalive_timeout"):
        found = values(tree, name)
        if not found and name in ("client_max_body_size", "proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout"):
            problems.append(f"{name} not set")
        for args in found:
            try:
                value = size_bytes(args[0]) if name == "client_max_body_size" else seconds(args[0])
            except ValueError:
                problems.append(f"{name} {args[0]!r} is not a size or time")
                continue
            problems += bounded(name, args[0], value)
    return check("N6", problems, "body size and timeouts set, each within its bounds")


def rate_per_second(rate: str) -> float:
    m = re.fullmatch(r"(\d+)r/([sm])", rate)
    if not m:
        raise ValueError(rate)
    return int(m.group(1)) / (1 if m.group(2) == "s" else 60)


def n7_rate_limits(layout: Path) -> Result:
    answers = layout_answers(layout)
    tree = trees(layout)["proxy"]
    problems = []
    zones = {}
    for args in values(tree, "limit_req_zone"):
        opts = dict(a.split("=", 1) for a in args if "=" in a)
        name = opts.get("zone", "").split(":")[0]
        try:
            zones[name] = rate_per_second(opts.get("rate", ""))
        except ValueError:
            problems.append(f"limit_req_zone {name}: rate {opts.get('rate')!r} is not N r/s or N r/m")
            continue
        problems += bounded("limit_req_zone rate", f"{name}={opts['rate']}", zones[name])
    probes = {f"{answers.api_path.rstrip('/')}/": "limit_req_zone rate", "/admin/": "limit_req_zone rate",
              "/admin/login/": "auth rate"}
    for server in servers(tree):
        for path, bound in probes.items():
            loc = route(server, path)
            limits = [d["args"] for d in (loc or {}).get("block", []) if d["directive"] == "limit_req"]
            if refuses(loc):
                continue  # denied or redirected (HTTP to HTTPS): nothing reaches the backend here
            if not limits:
                problems.append(f"{path} is served by {' '.join(loc['args']) if loc else 'no location'} without limit_req")
                continue
            for args in limits:
                opts = dict(a.split("=", 1) for a in args if "=" in a)
                zone = opts.get("zone")
                if zone not in zones:
                    problems.append(f"{path}: limit_req zone {zone!r} is not defined by a limit_req_zone")
                elif bound == "auth rate":
                    problems += [f"{path} (login): {p}" for p in bounded("auth rate", f"{zone}", zones[zone])]
                if "burst" in opts:
                    problems += bounded("limit_req burst", f"{zone} burst={opts['burst']}", float(opts["burst"]))
    # Rate limits count the real client: a client address from a header only from the configured load balancers.
    trusted = {str(ipaddress.ip_network(r, strict=False)) for r in answers.trusted_proxies.split()}
    for args in values(tree, "set_real_ip_from"):
        try:
            net = ipaddress.ip_network(args[0], strict=False)
        except ValueError:
            continue  # unix: sockets, not a client
        if net.prefixlen == 0 or str(net) not in trusted:
            problems.append(f"set_real_ip_from {args[0]}: not one of trusted_proxies ({answers.trusted_proxies or 'none'}); "
                            "a client there chooses the address its rate limit counts")
    if values(tree, "real_ip_header") and not trusted:
        problems.append("real_ip_header without trusted_proxies: set trusted_proxies to the load balancers' range")
    return check("N7", problems, "API, admin and login rate limited, rates and bursts within bounds"
                 + (f"; client address from {answers.trusted_proxies} only" if trusted else ""))


PRIVATE_UPSTREAMS = re.compile(r"^https?://(db|prometheus|postgres-exporter)(:\d+)?(/|$)")


def n8_dotfiles_logs(layout: Path) -> Result:
    answers = layout_answers(layout)
    problems = []
    for name, tree in trees(layout).items():
        for server in servers(tree):
            for path in ("/.env", "/.git/config", "/app/.env.production"):
                if not refuses(route(server, path)):
                    problems.append(f"{name}: {path} is not denied (a location must deny dotfiles)")
            if name == "proxy" and not refuses(route(server, answers.metrics_path)):
                loc = route(server, answers.metrics_path)
                if any("backend" in target for target in upstreams(server, loc or {})):
                    problems.append(f"proxy: {answers.metrics_path} reaches the backend's metrics publicly; deny it")
        if any(args[:1] == ["on"] for args in values(tree, "autoindex")):
            problems.append(f"{name}: autoindex on lists directories")
        problems += [f"{name}: proxy_pass {target} exposes a private service" for target in upstreams(tree)
                     if PRIVATE_UPSTREAMS.match(target)]
        formats = " ".join(" ".join(args) for args in values(tree, "log_format"))
        if re.search(r"\$(request_body|response_body|http_authorization|http_cookie)", formats):
            problems.append(f"{name}: a log format records bodies or credentials")
    return check("N8", problems, "dotfiles, metrics and private services denied; no autoindex; logs hold no bodies")


def n9_caching(layout: Path) -> Result:
    if not frontend_conf(layout).exists():
        return Result("N9", NA, "no SPA (frontend_context empty): the backend serves its pages and static files")
    locations = [d for d in walk(trees(layout)["frontend"]) if d["directive"] == "location"]
    assets = [headers_of(loc.get("block", [])) for loc in locations if "/assets/" in " ".join(loc["args"])]
    index = [headers_of(loc.get("block", [])) for loc in locations if loc["args"] in (["=", "/index.html"], ["/"])]
    problems = []
    if not any(h.get("Cache-Control", [""])[0] == "public, max-age=31536000, immutable" for h in assets):
        problems.append("hashed assets (/assets/) not cached `public, max-age=31536000, immutable`")
    if not any(h.get("Cache-Control", [""])[0] == "no-cache" for h in index):
        problems.append("index.html not served with `no-cache`")
    return check("N9", problems, "assets immutable for a year, index.html no-cache (live probe: stack tier R2)")


def n10_gixy(layout: Path) -> Result:
    problems = []
    with staged(layout) as (staged_root, mains):
        for main in mains:
            out = inprocess.gixy(main, reads=[staged_root], root=staged_root)
            try:
                issues = json.loads(out.out[out.out.index("["):]) if "[" in out.out else []
            except ValueError:
                problems.append(f"{main.name}: gixy: {tools.first_lines(out.out)}")
                continue
            problems += [f"{main.name}: {i.get('plugin')}: {i.get('summary')}" for i in issues]
            if not out.ok and not issues:  # gixy failed without a finding: no verdict is not a pass
                problems.append(f"{main.name}: gixy exited {out.code} without a report: {tools.first_lines(out.out)}")
    return check("N10", problems, "gixy: 0 findings (proxy and frontend)")


ROWS = [("N1", n1_nginx_t), ("N2", n2_server_tokens), ("N3", n3_headers), ("N4", n4_hsts), ("N5", n5_tls),
        ("N6", n6_limits), ("N7", n7_rate_limits), ("N8", n8_dotfiles_logs), ("N9", n9_caching), ("N10", n10_gixy),
        ("N11", n11_plain_http)]
