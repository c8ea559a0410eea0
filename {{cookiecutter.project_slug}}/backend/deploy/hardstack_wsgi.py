"""gunicorn's entry: the app's own WSGI application (WSGI_APP), with its collected static files
served by WhiteNoise when the app does not serve them itself, so the admin's CSS loads through the proxy,
and forwarded headers only from the proxy (hardstack_forwarded.py)."""
import os

from hardstack_static import load, serves_static_itself, static_root

application = load(os.environ["WSGI_APP"])

from django.conf import settings  # noqa: E402 - settings are configured by loading the app

if settings.STATIC_URL and not serves_static_itself(settings):
    from whitenoise import WhiteNoise

    application = WhiteNoise(application, root=static_root(settings), prefix=str(settings.STATIC_URL), max_age=3600)

from hardstack_forwarded import wsgi as forwarded_only_from_the_proxy  # noqa: E402

application = forwarded_only_from_the_proxy(application)
