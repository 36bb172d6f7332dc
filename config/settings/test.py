"""Test settings: fast hashing, in-memory email, tasks run in-process."""

import os

from .base import *  # noqa: F403
from .base import Q_CLUSTER

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = os.path.join(os.environ.get("TMPDIR", "/tmp"), "aftersales-test-media")
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
AXES_ENABLED = True
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
CARRIER_SIMULATED_LATENCY = 0.0
# Tests assert English messages; the Chinese default is tested explicitly, and the browser tests
# ask for Chinese the way a browser does (Accept-Language: zh-CN).
LANGUAGE_CODE = "en"
# SQLite tests use a file, not the shared-cache memory database: there, concurrent writers fail with
# "database table is locked" instead of queueing behind the IMMEDIATE lock as they do in production,
# and the threaded tests (e.g. the API's concurrent payments) could not run on SQLite.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(os.environ.get("TMPDIR", "/tmp"), f"aftersales-test-{os.getpid()}.sqlite3")
    }

# Webhooks may point at this machine (a local receiver, the README's curl session).
WEBHOOK_ALLOW_PRIVATE_TARGETS = True
