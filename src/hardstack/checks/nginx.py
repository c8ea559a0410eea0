"""Bar rows N1-N10: the proxy's nginx/ and the frontend image's nginx.conf.

`nginx -t` and gixy run on a staged copy in which the container paths (/etc/nginx/...) point at
the copy, with a throwaway certificate when TLS is on; `nginx -t` runs in a private mount
namespace whose /etc/hosts resolves the compose service names (upstreams must resolve).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from hardstack.checks import tools
from hardstack.checks.result import NA, Result, check

HEADERS = ["X-Content-Type-Options", "Referrer-Policy", "Content-Security-Policy", "Permissions-Policy"]
MOZILLA_INTERMEDIATE = set(
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305".split(":")
)
SERVICE_NAMES = "backend frontend db proxy prometheus postgres-exporter"
MINIMAL_MIME = "types {\n    text/html html;\n    text/css css;\n    application/javascript js;\n}\n"


def conf_files(layout: Path) -> list[Path]:
    return sorted((layout / "nginx").rglob("*.conf"))


def proxy_text(layout: Path) -> str:
    return "\n".join(p.read_text() for p in conf_files(layout))


def frontend_conf(layout: Path) -> Path:
    return layout / "frontend" / "deploy" / "nginx.conf"


def tls_on(layout: Path) -> bool:
    return (layout / "nginx" / "snippets" / "tls.conf").exists()


def strip_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def blocks(text: str, head: str) -> list[str]:
    """Bodies of every `head ... { ... }` block (brace-matched) in text."""
    found = []
    for m in re.finditer(head + r"[^{;]*\{", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        found.append(text[m.start():i])
    return found


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
            (etc / "tls").mkdir()
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                            "-keyout", str(etc / "tls" / "tls_certificate_key"), "-out", str(etc / "tls" / "tls_certificate")],
                           check=True, capture_output=True)
        mains = [etc / "hardstack" / "nginx.conf"]
        if frontend_conf(layout).exists():
            shutil.copy(frontend_conf(layout), etc / "frontend.conf")
            mains.append(etc / "frontend.conf")
        for conf in etc.rglob("*.conf"):
            conf.write_text(conf.read_text().replace("/etc/nginx/", f"{etc}/").replace("/run/secrets/", f"{etc}/tls/"))
        (root / "hosts").write_text(f"127.0.0.1 localhost {SERVICE_NAMES}\n")
        yield root, mains


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
    return check("N1", problems, "nginx -t passes (proxy and frontend)")


def n2_server_tokens(layout: Path) -> Result:
    problems = [f"{name}: no `server_tokens off`" for name, text in
                (("proxy", proxy_text(layout)), ("frontend", frontend_conf(layout).read_text()))
                if not re.search(r"^\s*server_tokens\s+off;", text, re.M)]
    return check("N2", problems, "server_tokens off")


def n3_headers(layout: Path) -> Result:
    snippet = (layout / "nginx" / "snippets" / "security-headers.conf").read_text()
    problems = []
    for header in HEADERS:
        m = re.search(rf'^\s*add_header\s+{header}\s+"([^"]*)"\s+always;', snippet, re.M)
        if not m:
            problems.append(f"{header} missing or without `always`")
        elif header == "Content-Security-Policy" and "frame-ancestors" not in m.group(1):
            problems.append("Content-Security-Policy has no frame-ancestors")
    main = strip_comments((layout / "nginx" / "nginx.conf").read_text())
    servers = blocks(main, r"\bserver\s")
    missing = [i for i, s in enumerate(servers) if "security-headers.conf" not in s]
    if missing:
        problems.append(f"{len(missing)} server block(s) do not include security-headers.conf")
    return check("N3", problems, "security headers with `always` in every server")


def n4_hsts(layout: Path) -> Result:
    if not tls_on(layout):
        return Result("N4", NA, "TLS off")
    m = re.search(r'Strict-Transport-Security\s+"max-age=(\d+)', proxy_text(layout))
    ok = m and int(m.group(1)) >= 31536000
    return check("N4", [] if ok else ["HSTS missing or max-age < 31536000"], f"HSTS max-age={m.group(1) if m else '?'}")


def n5_tls(layout: Path) -> Result:
    if not tls_on(layout):
        return Result("N5", NA, "TLS off")
    text = strip_comments((layout / "nginx" / "snippets" / "tls.conf").read_text())
    problems = []
    protocols = re.search(r"ssl_protocols\s+([^;]+);", text)
    if not protocols or set(protocols.group(1).split()) - {"TLSv1.2", "TLSv1.3"}:
        problems.append("ssl_protocols must be TLSv1.2 TLSv1.3 only")
    ciphers = re.search(r"ssl_ciphers\s+([^;]+);", text)
    if not ciphers or set(ciphers.group(1).strip("'\"").split(":")) - MOZILLA_INTERMEDIATE:
        problems.append("ssl_ciphers must be a subset of Mozilla intermediate")
    if not re.search(r"ssl_session_tickets\s+off;", text):
        problems.append("ssl_session_tickets not off")
    return check("N5", problems, "TLS 1.2/1.3, Mozilla intermediate, no session tickets")


def n6_limits(layout: Path) -> Result:
    text = strip_comments(proxy_text(layout))
    need = ["client_max_body_size", "proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout"]
    return check("N6", [f"{d} not set" for d in need if not re.search(rf"\b{d}\s+\S+;", text)], "body size and proxy timeouts set")


def n7_rate_limits(layout: Path) -> Result:
    main = strip_comments((layout / "nginx" / "nginx.conf").read_text())
    locations = blocks(main, r"\blocation\s")
    problems = []
    for needle in ("api", "admin/login"):
        routed = [loc for loc in locations if needle in loc.split("{", 1)[0]]
        if not routed:
            problems.append(f"no location routes {needle}")
        problems += [f"location {loc.split('{', 1)[0].strip()!r} has no limit_req" for loc in routed if "limit_req " not in loc]
    return check("N7", problems, "limit_req on API and auth locations")


def n8_dotfiles_logs(layout: Path) -> Result:
    problems = []
    for name, text in (("proxy", proxy_text(layout)), ("frontend", frontend_conf(layout).read_text())):
        text = strip_comments(text)
        if not re.search(r"location\s+~\s+/\\\.[^{]*\{\s*deny\s+all;", text):
            problems.append(f"{name}: dotfiles not denied")
        if re.search(r"\$(request_body|response_body|http_authorization|http_cookie)", text):
            problems.append(f"{name}: a log format records bodies or credentials")
    return check("N8", problems, "dotfiles denied; logs hold no bodies")


def n9_caching(layout: Path) -> Result:
    text = strip_comments(frontend_conf(layout).read_text())
    locations = blocks(text, r"\blocation\s")
    assets = [loc for loc in locations if "/assets/" in loc.split("{", 1)[0]]
    index = [loc for loc in locations if re.match(r"location\s+(=\s*/index\.html|/)\s*\{", loc)]
    problems = []
    if not any('Cache-Control "public, max-age=31536000, immutable"' in loc for loc in assets):
        problems.append("hashed assets (/assets/) not cached `public, max-age=31536000, immutable`")
    if not any('Cache-Control "no-cache"' in loc for loc in index):
        problems.append("index.html not served with `no-cache`")
    return check("N9", problems, "assets immutable for a year, index.html no-cache (live probe: stack tier R2)")


def n10_gixy(layout: Path) -> Result:
    problems = []
    with staged(layout) as (_, mains):
        for main in mains:
            out = tools.run("gixy", "-f", "json", str(main))
            try:
                issues = json.loads(out.out[out.out.index("["):]) if "[" in out.out else []
            except ValueError:
                problems.append(f"{main.name}: gixy: {tools.first_lines(out.out)}")
                continue
            problems += [f"{main.name}: {i.get('plugin')}: {i.get('summary')}" for i in issues]
    return check("N10", problems, "gixy: 0 findings (proxy and frontend)")


ROWS = [("N1", n1_nginx_t), ("N2", n2_server_tokens), ("N3", n3_headers), ("N4", n4_hsts), ("N5", n5_tls),
        ("N6", n6_limits), ("N7", n7_rate_limits), ("N8", n8_dotfiles_logs), ("N9", n9_caching), ("N10", n10_gixy)]
