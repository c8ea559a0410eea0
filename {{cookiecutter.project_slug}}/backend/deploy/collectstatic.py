"""Build step: import the app's settings, load its Celery app, collect its static files, or say which answer is wrong.

Runs in the image's build stage with throwaway values for the variables the settings read
(HARDSTACK_APP_ENV), so settings that require them at import time still load. An app without
STATIC_ROOT gets its files collected into /opt/hardstack/static (served by WhiteNoise, see hardstack_wsgi.py).
"""
import os
import secrets
import sys

from hardstack_static import DEFAULT_STATIC_ROOT, static_root

PLACEHOLDERS = {"PORT": "5432", "DEBUG": "0", "HOSTS": "localhost", "URL": "postgres://localhost:5432/build"}


def placeholder(name: str) -> str:
    return next((v for suffix, v in PLACEHOLDERS.items() if name.endswith(suffix)), secrets.token_urlsafe(32))


def fail(answer: str, value: str, why: str, fix: str) -> None:
    print(f"hardstack: {answer}={value}: {why}; {fix}", file=sys.stderr)
    sys.exit(1)


def load_celery_app(name: str) -> None:
    """The Celery app the worker and beat run, found as `celery -A` finds it (celery.app.utils.find_app): a
    wrong celery_app stops the build instead of a worker that restarts forever."""
    fix = "set celery_app to the module that defines your Celery app (e.g. shop or shop.celery:app), or to empty for no workers"
    try:
        from celery.app.utils import find_app
    except ImportError as err:
        fail("celery_app", name, f"`celery -A {name}` cannot load it (celery does not import: {err})",
             "add celery to the backend's requirements, or " + fix)
    try:
        find_app(name)
    except Exception as err:  # noqa: BLE001 - whatever stops celery -A stops the worker
        fail("celery_app", name, f"`celery -A {name}` cannot load it ({type(err).__name__}: {err})", fix)


def main() -> None:
    for name in os.environ.get("HARDSTACK_APP_ENV", "").split():
        os.environ.setdefault(name, placeholder(name))
    for name in os.environ.get("HARDSTACK_REDIS_URL_VARS", "").split():
        os.environ.setdefault(name, "redis://localhost:6379/0")
    sys.path.insert(0, os.getcwd())
    module = os.environ["DJANGO_SETTINGS_MODULE"]
    try:
        import django

        django.setup()
    except ImportError as err:
        fail("django_settings_module", module, f"does not import ({err})",
             "set django_settings_module to the dotted path of your settings, relative to your repo's root, "
             "and check that backend_requirements lists everything they import")
    except Exception as err:  # noqa: BLE001 - any failure here means the settings cannot load
        fail("django_settings_module", module, f"fails to load ({type(err).__name__}: {err})",
             "fix the settings, or name in the env_* answers the variables they read")
    if os.environ.get("HARDSTACK_CELERY_APP"):
        load_celery_app(os.environ["HARDSTACK_CELERY_APP"])
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings

    if "django.contrib.staticfiles" not in settings.INSTALLED_APPS:
        print("hardstack: django.contrib.staticfiles is not installed; no static files to collect")
        return
    root = static_root(settings)
    with override_settings(STATIC_ROOT=root):
        call_command("collectstatic", "--noinput", verbosity=1)
    if root == DEFAULT_STATIC_ROOT:
        print(f"hardstack: STATIC_ROOT is not set; collected into {root} (served by WhiteNoise)")


if __name__ == "__main__":
    main()
