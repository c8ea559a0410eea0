"""gunicorn's entry with uvicorn workers (server=uvicorn): the app's own ASGI application (ASGI_APP),
with its collected static files served by WhiteNoise when the app does not serve them itself.
WhiteNoise speaks WSGI: asgiref (a Django dependency) runs it for requests under STATIC_URL only.
Forwarded headers count only from the proxy (hardstack_forwarded.py)."""
import os

from hardstack_static import load, serves_static_itself, static_root

app = load(os.environ["ASGI_APP"])
application = app

from django.conf import settings  # noqa: E402 - settings are configured by loading the app

if settings.STATIC_URL and not serves_static_itself(settings):
    from asgiref.wsgi import WsgiToAsgi
    from whitenoise import WhiteNoise

    def _not_found(environ, start_response):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]

    prefix = str(settings.STATIC_URL)
    static = WsgiToAsgi(WhiteNoise(_not_found, root=static_root(settings), prefix=prefix, max_age=3600))

    async def application(scope, receive, send):  # noqa: F811 - the wrapped app replaces the bare one
        if scope["type"] == "http" and scope["path"].startswith(prefix):
            return await static(scope, receive, send)
        return await app(scope, receive, send)

from hardstack_forwarded import asgi as forwarded_only_from_the_proxy  # noqa: E402

application = forwarded_only_from_the_proxy(application)
