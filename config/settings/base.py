"""Settings shared by every environment. Environment-specific files import * from here."""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

# Secrets with a development default. The defaults are public (they are in this file): production
# settings refuse to start without each variable or with its default (prod.py), and
# `manage.py check --deploy` fails on a default (shop.checks).
DEVELOPMENT_SECRETS = {
    # setting: (environment variable, development and test default)
    "SECRET_KEY": ("DJANGO_SECRET_KEY", "dev-insecure-secret-key-change-me"),
    "PLATFORM_EVENTS_SECRET": ("PLATFORM_EVENTS_SECRET", "dev-platform-secret"),
    "CARRIER_CALLBACK_SECRET": ("CARRIER_CALLBACK_SECRET", "dev-carrier-secret"),
}


def secret_from_env(setting: str) -> str:
    variable, default = DEVELOPMENT_SECRETS[setting]
    return os.environ.get(variable, default)


SECRET_KEY = secret_from_env("SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS: list[str] = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_tables2",
    "django_q",
    "axes",
    "shop",
    "aftersales",
    "interception",
    "settlement",
    "ninja",  # its templates and static files: the API docs come from here, not from a CDN
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "shop.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The signed machine endpoints are answered here, without the browser middlewares below.
    "shop.middleware.MachineEndpointMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CsrfViewMiddleware, which reads the POST data: a body too large is refused unread.
    "shop.request_limits.RequestLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers locked-out logins itself.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.context_processors.staff_permissions",
            ],
        },
    },
]


def database_from_url(url: str) -> dict:
    """Parse DATABASE_URL; SQLite gets WAL and IMMEDIATE transactions so writers queue, not fail."""
    config = dj_database_url.parse(url, conn_max_age=60 if not url.startswith("sqlite") else 0)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    else:
        config["CONN_HEALTH_CHECKS"] = True
    return config


DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))}
if "DATABASE_URL" not in os.environ:
    # var/ is not in the repository: a fresh clone gets it on first use of the embedded database.
    VAR_DIR.mkdir(exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "shop.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, the user's shop and outlet read with the user (one query less a page). A
    # session made under the former "django.contrib.auth.backends.ModelBackend" logs in again once.
    "shop.backends.ShopModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"


def networks_from_env(name: str) -> list[str]:
    """Comma-separated addresses or CIDRs from the environment, each checked; empty: none."""
    networks = []
    for item in os.environ.get(name, "").split(","):
        if item.strip():
            try:
                networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
            except ValueError:
                raise ImproperlyConfigured(f"{name}: {item.strip()!r} is not an IP address or CIDR.") from None
    return networks


# Login throttling (shop.login_throttle, on django-axes); the README's deploy table lists them.
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))  # failures that lock a username, any address
LOGIN_COOLOFF_MINUTES = int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15"))  # ... for this long
# Failures from one client address (any usernames) within the cool-off that pause its logins.
LOGIN_ADDRESS_FAILURE_LIMIT = int(os.environ.get("LOGIN_ADDRESS_FAILURE_LIMIT", "30"))
# More failures than this across all usernames within the window: a notice on the admin's index.
LOGIN_ALARM_FAILURES = int(os.environ.get("LOGIN_ALARM_FAILURES", "50"))
LOGIN_ALARM_WINDOW_MINUTES = int(os.environ.get("LOGIN_ALARM_WINDOW_MINUTES", "10"))
# Direct peers whose X-Forwarded-For is believed (the TLS proxy); empty: the peer is the client.
TRUSTED_PROXIES = networks_from_env("TRUSTED_PROXIES")

AXES_HANDLER = "shop.login_throttle.LoginThrottleHandler"
AXES_CLIENT_IP_CALLABLE = "shop.login_throttle.client_address"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks for "ip_address" in the parameters above: the per-address limit is ours, with its own figure.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "shop.login_throttle.lockout_response"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
# django-filter's empty choice of every filter reads 全部 ("All"), not "---------".
FILTERS_EMPTY_CHOICE_LABEL = gettext_lazy("All")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files browsers ask for at the site's root (/favicon.ico), served by WhiteNoise like the static files.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Exports and evidence: on several machines, a volume every web and worker machine mounts.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "media/"

# Request bodies (shop.request_limits): a page that declares no limit of its own (the uploads do)
# takes at most this much, refused on its Content-Length before it is read. Uploaded files above
# FILE_UPLOAD_MAX_MEMORY_SIZE are streamed to a temporary file instead of memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Everything is served by the app itself: no third-party origin is ever allowed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

DJANGO_TABLES2_TEMPLATE = "partials/_table.html"
DJANGO_TABLES2_TABLE_ATTRS = {"class": "table"}

# Inbound platform events (platform-api.md): shared HMAC secret and the accepted clock skew.
PLATFORM_EVENTS_SECRET = secret_from_env("PLATFORM_EVENTS_SECRET")
PLATFORM_EVENTS_MAX_SKEW_SECONDS = 300

# django-q2: ORM broker on the same database by default; REDIS_URL switches to Redis.
Q_TIMEOUT = int(os.environ.get("Q_TIMEOUT", "120"))
Q_RETRY = int(os.environ.get("Q_RETRY", str(Q_TIMEOUT + 60)))
if Q_RETRY <= Q_TIMEOUT:
    raise ImproperlyConfigured(
        f"Q_RETRY ({Q_RETRY} s) must exceed Q_TIMEOUT ({Q_TIMEOUT} s): a slow task would run twice"
    )
Q_CLUSTER = {
    # Q_NAME: the cluster's queue (and signing salt); a benchmark runs its own cluster beside yours.
    # Not Q_CLUSTER_NAME: django-q2 reads that one itself, for multi-cluster setups.
    "name": os.environ.get("Q_NAME", "backoffice"),
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    # Q_TIMEOUT / Q_RETRY: seconds a task may run, and after which an unacknowledged one (its worker
    # died) is delivered again by the ORM broker. The fault tests use a few seconds.
    "timeout": Q_TIMEOUT,
    "retry": Q_RETRY,  # must exceed timeout, or a slow task runs twice
    "max_attempts": 5,
    "ack_failures": True,
    "save_limit": 250,
    "catch_up": False,
    "label": "Django Q2",
}
if os.environ.get("REDIS_URL"):
    Q_CLUSTER["redis"] = os.environ["REDIS_URL"]
else:
    Q_CLUSTER["orm"] = "default"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django-q": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
AXES_VERBOSE = False

# After-sales figures that domain.md marks as inferred or configurable (aftersales.rules reads them).
AFTERSALES_UNSUPPORTED_REFUSAL_CATEGORIES = ["fresh", "virtual", "customized"]
AFTERSALES_ABUSE_THRESHOLD_COUNT = 4  # refund-only requests by one buyer in 90 days that earn a warning
AFTERSALES_ABUSE_THRESHOLD_AMOUNT = "1000.00"  # ... or this much refunded on refund-only requests, in yuan
# Buyer notifications are POSTed here, signed like inbound events; empty: recorded, not sent.
BUYER_NOTIFICATIONS_URL = os.environ.get("BUYER_NOTIFICATIONS_URL", "")

# Carrier gateway for interceptions: "simulated" (in-process, default) or "http" (CARRIER_API_URL).
CARRIER_GATEWAY = os.environ.get("CARRIER_GATEWAY", "simulated")
CARRIER_SIMULATED_LATENCY = float(os.environ.get("CARRIER_SIMULATED_LATENCY", "0.2"))  # seconds
CARRIER_SIMULATED_FAILURE_RATE = float(os.environ.get("CARRIER_SIMULATED_FAILURE_RATE", "0.5"))  # out for delivery
CARRIER_API_URL = os.environ.get("CARRIER_API_URL", "http://127.0.0.1:8090")
CARRIER_CALLBACK_SECRET = secret_from_env("CARRIER_CALLBACK_SECRET")  # signs the carrier's callbacks
# Where the carrier POSTs results (sent with each launch); signed callbacks older than the window are refused.
CARRIER_CALLBACK_URL = os.environ.get("CARRIER_CALLBACK_URL", "http://127.0.0.1:8000/api/carrier/callback")
CARRIER_CALLBACK_MAX_SKEW_SECONDS = 300
CARRIER_HTTP_TIMEOUT = float(os.environ.get("CARRIER_HTTP_TIMEOUT", "5"))  # seconds, per connect and per read
CARRIER_HTTP_RETRIES = 3
# Carrier calls a worker task runs at once (threads). Each call mostly waits on the carrier (0.2 s and
# more), so one worker gets through a bulk interception about this many times faster than in series;
# no database work in those threads. Keep it within what the carrier allows per client.
CARRIER_CONCURRENCY = int(os.environ.get("CARRIER_CONCURRENCY", "16"))
# Threads of a worker task applying the carrier's answers, each with a database connection of its own
# (so each worker process holds up to this many more connections while a chunk runs). 1: one at a time.
CARRIER_RESULT_APPLIERS = int(os.environ.get("CARRIER_RESULT_APPLIERS", "4"))

# Claims (settlement.claims.rules): a submitted claim the outlet has not answered after this many days goes
# to platform arbitration (domain.md: our reading, configurable).
SETTLEMENT_CLAIM_ANSWER_DAYS = int(os.environ.get("SETTLEMENT_CLAIM_ANSWER_DAYS", "3"))
# A claim the outlet accepted but the merchant has not recorded as paid: the outlet is reminded after this
# many days, and the claim goes to platform arbitration after that many (counted from the acceptance).
SETTLEMENT_CLAIM_PAYMENT_REMINDER_DAYS = int(os.environ.get("SETTLEMENT_CLAIM_PAYMENT_REMINDER_DAYS", "7"))
SETTLEMENT_CLAIM_PAYMENT_ESCALATION_DAYS = int(os.environ.get("SETTLEMENT_CLAIM_PAYMENT_ESCALATION_DAYS", "14"))

# Merchant open API (merchant-api.md): per-token rate limit (token bucket) and the largest body read.
API_RATE_LIMIT_PER_SECOND = 20
API_RATE_LIMIT_BURST = 40
# With REDIS_URL: the buckets' keys start with this (one Redis may serve several deployments).
API_RATE_LIMIT_REDIS_PREFIX = os.environ.get("API_RATE_LIMIT_REDIS_PREFIX", "api-rate:")
API_MAX_BODY_BYTES = 16 * 1024 * 1024
# Rate-limit counters go to Redis when it is set (shared by every web process), else to the database.
REDIS_URL = os.environ.get("REDIS_URL", "")
# Merchant webhooks go to public addresses only (api/webhooks.py); dev and test settings allow this machine.
WEBHOOK_ALLOW_PRIVATE_TARGETS = False
