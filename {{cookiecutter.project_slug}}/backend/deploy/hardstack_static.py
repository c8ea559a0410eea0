"""Where the app's collected static files live, and whether the app serves them itself."""
import importlib

DEFAULT_STATIC_ROOT = "/opt/hardstack/static"


def static_root(settings) -> str:
    return str(getattr(settings, "STATIC_ROOT", None) or DEFAULT_STATIC_ROOT)


def load(spec: str):
    """The application object of module:attribute. A database connection the import opened is closed: with
    gunicorn_preload the master imports the app, and forked workers must never share one."""
    module, _, attribute = spec.partition(":")
    application = getattr(importlib.import_module(module), attribute or "application")
    from django.db import connections

    connections.close_all()
    return application


def serves_static_itself(settings) -> bool:
    middleware = getattr(settings, "MIDDLEWARE", [])
    return any(m.startswith("whitenoise.") for m in middleware) or "://" in str(settings.STATIC_URL or "")
