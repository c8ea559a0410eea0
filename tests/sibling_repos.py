"""Two sibling repositories that look like a real team's: the fixture for the sibling-mode tests.

`tests/fixtures/sibling/` holds them as files; `make_repos` copies them into a folder, adds the
long migration history a real app has, and commits each as its own git repository, so a test can
assert at the end that nothing in them changed.

shop-api: Django 4.2, settings at shopcore/settings/production.py reading env names of its own
(SHOP_SECRET_KEY, PG*, ALLOWED_HOSTS), no whitenoise, no STATIC_ROOT, no django-prometheus, pyodbc
(its wheel needs libodbc.so.2 at run time), Celery configured in shopcore/tasks_app.py from SHOP_BROKER
(recounts enqueued by a signal on writes, de-duplicated in Redis through SHOP_CACHE; a periodic tick), 56 migrations, a health URL of its own, a dev Dockerfile
and a .env with dev values.
shop-web: Vite + TypeScript, built by `npm run build:prod` into dist/public, reads the API origin
from VITE_BACKEND_ORIGIN and appends /api/... itself, with a dev Dockerfile of its own.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "sibling"
MIGRATIONS = 56

# The answers that point a layout at these repos.
ANSWERS = {
    "include_example_app": "no",
    "backend_context": "../shop-api",
    "frontend_context": "../shop-web",
    "django_settings_module": "shopcore.settings.production",
    "wsgi_app": "shopcore.wsgi:application",
    "health_path": "/status/ready/",
    "env_secret_key": "SHOP_SECRET_KEY",
    "env_debug": "SHOP_DEBUG",
    "env_allowed_hosts": "ALLOWED_HOSTS",
    "env_db_host": "PGHOST",
    "env_db_port": "PGPORT",
    "env_db_name": "PGDATABASE",
    "env_db_user": "PGUSER",
    "env_db_password": "PGPASSWORD",
    "backend_runtime_packages": "libodbc2",
    "frontend_build_command": "npm run build:prod",
    "frontend_dist_dir": "dist/public",
    "frontend_api_url_var": "VITE_BACKEND_ORIGIN",
    "api_url": "",
    "enable_monitoring": "no",
    # Celery, configured by the repo in its own names: the app object, the variables that get the Redis URL.
    "celery_app": "shopcore.tasks_app:app",
    "redis_url_vars": "SHOP_BROKER SHOP_CACHE",
    "backend_env": {"SHOP_TICK_SECONDS": "2"},
    "worker_concurrency": "1",
}

MIGRATION = '''from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inventory", "{previous}")]

    operations = [
        migrations.RunSQL(
            "CREATE TABLE inventory_audit_{n:04d} (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())",
            "DROP TABLE inventory_audit_{n:04d}",
        ),
    ]
'''


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def _commit(repo: Path) -> None:
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A", "-f")
    _git(repo, "-c", "user.name=fixture", "-c", "user.email=fixture@example.com", "commit", "-q", "-m", "fixture")


def make_repos(root: Path) -> tuple[Path, Path]:
    api, web = root / "shop-api", root / "shop-web"
    shutil.copytree(FIXTURES / "shop-api", api)
    shutil.copytree(FIXTURES / "shop-web", web)
    previous = "0001_initial"
    for n in range(2, MIGRATIONS + 1):
        name = f"{n:04d}_audit_{n:04d}"
        (api / "inventory" / "migrations" / f"{name}.py").write_text(MIGRATION.format(previous=previous, n=n))
        previous = name
    for repo in (api, web):
        _commit(repo)
    return api, web


def status(repo: Path) -> str:
    """`git status --porcelain --ignored`: empty when nothing in the repo changed or appeared."""
    return _git(repo, "status", "--porcelain", "--ignored")
