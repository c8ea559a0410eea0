"""Build step: import the app's settings and collect its static files, or say which answer is wrong.

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


def main() -> None:
    for name in os.environ.get("HARDSTACK_APP_ENV", "").split():
        os.environ.setdefault(name, placeholder(name))
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
