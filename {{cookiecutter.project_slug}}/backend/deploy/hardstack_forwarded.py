"""Forwarded headers (X-Forwarded-*, X-Real-IP, Forwarded) count only when the proxy sent them.

The backend sits on more networks than the proxy's (the database's, monitoring's), so any container
there could claim `X-Forwarded-Proto: https` or a client address. A request whose peer is not one of
the addresses the proxy's service name resolves to loses those headers before the app (and Django's
SECURE_PROXY_SSL_HEADER) sees them. The proxy's addresses are looked up again when an unknown peer
arrives (at most once a second): a restarted or scaled proxy is found without a restart here.
gunicorn itself trusts none (forwarded_allow_ips in gunicorn.conf.py).
"""
import os
import socket
import threading
import time

FORWARDED = ("x-forwarded-", "x-real-ip", "forwarded")


class ProxyAddresses:
    def __init__(self, host: str, min_interval: float = 1.0):
        self.host, self.min_interval = host, min_interval
        self.addresses: frozenset[str] = frozenset()
        self.looked_up = float("-inf")
        self.lock = threading.Lock()

    def _lookup(self) -> None:
        try:
            infos = socket.getaddrinfo(self.host, None, proto=socket.IPPROTO_TCP)
            self.addresses = frozenset(info[4][0] for info in infos)
        except OSError:
            pass  # the proxy is not up (yet): nobody's headers count
        self.looked_up = time.monotonic()

    def __contains__(self, address: str | None) -> bool:
        if not address:
            return False
        if address in self.addresses:
            return True
        with self.lock:
            if time.monotonic() - self.looked_up >= self.min_interval:
                self._lookup()
        return address in self.addresses


PROXY = ProxyAddresses(os.environ.get("HARDSTACK_PROXY_HOST", "proxy"))


def _forwarded_key(key: str) -> bool:
    return key.startswith("HTTP_") and key[5:].lower().replace("_", "-").startswith(FORWARDED)


def wsgi(app):
    def application(environ, start_response):
        if environ.get("REMOTE_ADDR") not in PROXY:
            for key in [k for k in environ if _forwarded_key(k)]:
                del environ[key]
            environ["wsgi.url_scheme"] = "http"
        return app(environ, start_response)

    return application


def asgi(app):
    async def application(scope, receive, send):
        if scope["type"] in ("http", "websocket") and (scope.get("client") or (None,))[0] not in PROXY:
            scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if not k.decode("latin-1").lower().startswith(FORWARDED)],
                         scheme="ws" if scope["type"] == "websocket" else "http")
        return await app(scope, receive, send)

    return application
