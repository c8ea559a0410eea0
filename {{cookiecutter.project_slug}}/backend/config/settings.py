"""Settings of the example backend. Secrets come from the environment or from NAME_FILE files;
nothing here has a default that would be unsafe in production."""
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str:
    """NAME from the environment, else the content of the file NAME_FILE points at."""
    if name in os.environ:
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    if default is None:
        raise ImproperlyConfigured(f"set {name} (or {name}_FILE)")
    return default


SECRET_KEY = env("{{ cookiecutter.env_secret_key }}")
DEBUG = env("{{ cookiecutter.env_debug }}", "0") == "1"
ALLOWED_HOSTS = [h.strip() for h in env("{{ cookiecutter.env_allowed_hosts }}", "localhost").split(",") if h.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "drf_spectacular",
    "demo",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": env("{{ cookiecutter.env_db_host }}", "localhost"),
        "PORT": env("{{ cookiecutter.env_db_port }}", "5432"),
        "NAME": env("{{ cookiecutter.env_db_name }}", "app"),
        "USER": env("{{ cookiecutter.env_db_user }}", "app"),
        "PASSWORD": env("{{ cookiecutter.env_db_password }}", ""),
        # Reuse connections, but check them first: a restarted database heals without a manual step.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": 3},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Uploads: the layout mounts a volume at MEDIA_ROOT and the proxy serves it under MEDIA_URL.
MEDIA_ROOT = env("MEDIA_ROOT", str(BASE_DIR / "media"))
MEDIA_URL = env("MEDIA_URL", "/media/")

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Behind the proxy: trust its X-Forwarded-Proto, keep cookies secure when served over TLS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = False
SESSION_COOKIE_HTTPONLY = True

# HTTPS: the layout sets DJANGO_HTTPS=1 when its proxy terminates TLS. Then cookies are secure, HSTS is
# on and plain HTTP is redirected (except the container's health probe and Prometheus's scrape, which
# stay inside the private networks). A plain-HTTP layout cannot have these, so `check --deploy` is told
# which of its warnings do not apply; HSTS preload is a lasting opt-in left to the owner of the domain.
HTTPS = env("DJANGO_HTTPS", "0") == "1"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 63072000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^{{ cookiecutter.health_path.lstrip('/') }}$", r"^{{ cookiecutter.metrics_path.lstrip('/') }}$"]
SILENCED_SYSTEM_CHECKS = ["security.W021"] + ([] if HTTPS else ["security.W004", "security.W008", "security.W012", "security.W016"])
# The layout names the origins forms are posted from (https:// only when its proxy terminates TLS: a form
# posted over http is then refused). Without it (a dev server), the allowed hosts over either scheme.
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env("{{ cookiecutter.env_csrf_trusted_origins }}", "").split(",") if o.strip()] or \
    [f"https://{h}" for h in ALLOWED_HOSTS] + ([] if HTTPS else [f"http://{h}" for h in ALLOWED_HOSTS])

# Background work (Celery with Redis). The layout composes CELERY_BROKER_URL from its redis password
# file at start. A task is acknowledged only when it has finished (acks_late), and a task whose worker
# died is handed out again: at once when only the pool process died (reject_on_worker_lost), after the
# visibility timeout when the whole worker was killed. Keep that timeout longer than the longest task.
# Empty (a layout without workers, the test runner): writes enqueue nothing.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(env("CELERY_VISIBILITY_TIMEOUT", "3600")),
    # Look for the tasks of a killed worker every 10 s (kombu's default: every 100 s).
    "unacked_restore_throttle": 1,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
# The example's periodic task; its interval is a setting of the app (the layout's backend_env answer).
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "demo.tasks.heartbeat", "schedule": float(env("DEMO_HEARTBEAT_SECONDS", "300"))},
}

# OpenAPI schema (CI validates it and publishes it for the frontend).
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
SPECTACULAR_SETTINGS = {"TITLE": {{ (cookiecutter.project_name ~ " API") | tojson }}, "VERSION": "0.1.0"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
