"""Local development: debug on, SQLite under var/ unless DATABASE_URL says otherwise."""

from .base import *  # noqa: F403

DEBUG = True

# Serve static files straight from the source folders: no collectstatic needed to develop.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Webhooks may point at this machine (a local receiver, the README's curl session).
WEBHOOK_ALLOW_PRIVATE_TARGETS = True
