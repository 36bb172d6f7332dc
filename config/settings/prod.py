"""Production: every secret comes from the environment; refuse to start without one."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DEVELOPMENT_SECRETS, database_from_url


def required_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"Environment variable {name} is required in production.")
    return value


def required_secret(setting: str) -> str:
    """The secret's environment variable, refused when missing or equal to its public development default."""
    variable, default = DEVELOPMENT_SECRETS[setting]
    value = required_env(variable)
    if value == default:
        raise ImproperlyConfigured(
            f"Environment variable {variable} is set to its public development default; "
            "production needs a random value of its own."
        )
    return value


DEBUG = False
# Every secret of DEVELOPMENT_SECRETS: a forged carrier callback or platform event is only one
# public default away.
SECRET_KEY = required_secret("SECRET_KEY")
PLATFORM_EVENTS_SECRET = required_secret("PLATFORM_EVENTS_SECRET")
CARRIER_CALLBACK_SECRET = required_secret("CARRIER_CALLBACK_SECRET")
ALLOWED_HOSTS = [h.strip() for h in required_env("DJANGO_ALLOWED_HOSTS").split(",") if h.strip()]
DATABASES = {"default": database_from_url(required_env("DATABASE_URL"))}
CSRF_TRUSTED_ORIGINS = [f"https://{h}" for h in ALLOWED_HOSTS if not h.startswith(".")]

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SECURE_SSL_REDIRECT", "1") == "1"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
