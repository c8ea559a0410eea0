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
    """The proxy's addresses, looked up by name in a thread of their own: a name Docker's DNS does not
    know (the proxy not started yet) takes seconds to fail, and no request waits longer than `wait`."""

    def __init__(self, host: str, min_interval: float = 1.0, wait: float = 0.25):
        self.host, self.min_interval, self.wait = host, min_interval, wait
        self.addresses = frozenset()
        self.looked_up = float("-inf")
        self.done = threading.Event()
        self.done.set()
        self.lock = threading.Lock()

    def _lookup(self) -> None:
        try:
            infos = socket.getaddrinfo(self.host, None, proto=socket.IPPROTO_TCP)
            self.addresses = frozenset(info[4][0] for info in infos)
        except OSError:
            pass  # the proxy is not up (yet): nobody's headers count
        finally:
            self.done.set()

    def __contains__(self, address) -> bool:
        if not address or address in self.addresses:
            return bool(address)
        if address.startswith("127.") or address == "::1":
            return False  # the container itself (its healthcheck), never the proxy
        with self.lock:
            if self.done.is_set() and time.monotonic() - self.looked_up >= self.min_interval:
                self.looked_up = time.monotonic()
                self.done.clear()
                threading.Thread(target=self._lookup, daemon=True).start()
        self.done.wait(self.wait)
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
