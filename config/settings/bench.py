"""`make bench`: the development settings with debug off, as a server runs (no query log, no debug pages)."""

from .dev import *  # noqa: F403

DEBUG = False
WHITENOISE_AUTOREFRESH = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
