"""Where the app's collected static files live, and whether the app serves them itself."""
import importlib

DEFAULT_STATIC_ROOT = "/opt/hardstack/static"


def static_root(settings) -> str:
    return str(getattr(settings, "STATIC_ROOT", None) or DEFAULT_STATIC_ROOT)


def load(spec: str):
    """The application object of module:attribute."""
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute or "application")


def serves_static_itself(settings) -> bool:
    middleware = getattr(settings, "MIDDLEWARE", [])
    return any(m.startswith("whitenoise.") for m in middleware) or "://" in str(settings.STATIC_URL or "")
