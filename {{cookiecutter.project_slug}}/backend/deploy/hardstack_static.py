"""Where the app's collected static files live: its STATIC_ROOT, or hardstack's default."""
DEFAULT_STATIC_ROOT = "/opt/hardstack/static"


def static_root(settings) -> str:
    return str(getattr(settings, "STATIC_ROOT", None) or DEFAULT_STATIC_ROOT)
