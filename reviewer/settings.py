"""PostgreSQL Reviewer settings: one file, driven by the environment.

Every variable is optional for the local default (SQLite, Redis on 127.0.0.1:6379); the
helpers below fail loudly on a malformed value instead of guessing.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def redis_url_with_db(url: str, db: int) -> str:
    """The same Redis server as `url`, another database number."""
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{db}"))


# Off unless asked for: a debug page shows settings (the DATABASE_URL with its password) to
# anyone who can provoke an error. `make run` turns it on for the local default.
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is false")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
ALLOWED_HOSTS = [h.strip() for h in env_str("DJANGO_ALLOWED_HOSTS", "*" if DEBUG else "").split(",") if h.strip()]
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS is required when DJANGO_DEBUG is false")

# --- HTTPS (production: behind a TLS-terminating proxy; `check --deploy` is clean) ----------
# Every default is the secure one outside DEBUG; each can be relaxed for a deployment that
# knows why (e.g. DJANGO_SECURE_SSL_REDIRECT=false when the proxy redirects itself).
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    # The proxy terminates TLS and says so in X-Forwarded-Proto; only trust it behind one.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env_str("DJANGO_CSRF_TRUSTED_ORIGINS").split(",") if o.strip()]
# Submitting a domain to the browsers' HSTS preload list is its owner's decision, not this
# service's: the preload warning is silenced, DJANGO_HSTS_PRELOAD=true opts in.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

INSTALLED_APPS = [
    "monitoring.apps.ConsoleAdminConfig",  # django.contrib.admin, with the console as its site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc as static files: the API docs need no CDN
    "connections",
    "tasks",
    "notifications",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # /static/ from the web process itself
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The console's messages ("The connection was added") live in the session it already has.
# The default also reads a signed cookie, and sets up its signer on every request, API calls
# from scripts included: a few per cent of a short API request's time.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "reviewer.urls"
# The API answers every documented path with or without a trailing slash itself;
# CommonMiddleware's redirect would turn `curl -X POST` into a GET.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "reviewer.wsgi.application"

# --- Application database -----------------------------------------------------------------
# PostgreSQL in production and in the test suite; SQLite (WAL, busy timeout) as the
# zero-configuration local default so one person can try the service with nothing installed.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    # Persistent connections are one per web thread (scripts/serve.sh: WEB_WORKERS x
    # WEB_THREADS, a fixed pool), so 60 s reuse is bounded. The development server runs a new
    # thread per request, and each would keep its own idle connection: there (DEBUG)
    # connections close after each request unless told otherwise.
    CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 0 if DEBUG else 60)
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=CONN_MAX_AGE, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, with a health check of a kept connection that asks the server
        # only when its socket says something happened (reviewer/postgresql/base.py).
        DATABASES["default"]["ENGINE"] = "reviewer.postgresql"
        # An unreachable application database fails a request or a task, it does not hang it.
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options.setdefault("connect_timeout", 10)
        # Names the service's own sessions in pg_stat_activity.
        options.setdefault("application_name", env_str("DATABASE_APPLICATION_NAME", "postgresql-reviewer-app"))
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# --- Console dates: one 24-hour UTC form, "2026-11-29 00:24 UTC" --------------------------
# A format module, because Django's English formats win over a DATETIME_FORMAT setting.
FORMAT_MODULE_PATH = ["monitoring.console.formats"]

STATIC_URL = "static/"

# --- Redis: broker and cache in different databases ----------------------------------------
# `cache.clear()` must never drop queued runs, so the cache never shares the broker's database.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHE_URL = env_str("CACHE_URL", redis_url_with_db(REDIS_URL, 1))
if urlparse(CACHE_URL)._replace(fragment="") == urlparse(REDIS_URL)._replace(fragment=""):
    raise ImproperlyConfigured("CACHE_URL must not be the broker's Redis database (REDIS_URL)")

REDIS_TIMEOUT_SECONDS = 2
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "reviewer",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": REDIS_TIMEOUT_SECONDS,
            "SOCKET_TIMEOUT": REDIS_TIMEOUT_SECONDS,
            # The cache is an accelerator: with Redis down, reads fall through to the database.
            "IGNORE_EXCEPTIONS": True,
        },
    }
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "reviews"
CELERY_TASK_ROUTES = {
    "tasks.run_execution": {"queue": "reviews"},
    "tasks.dispatch_due_tasks": {"queue": "probes"},
    "tasks.reap_executions": {"queue": "probes"},
    "tasks.purge_execution_history": {"queue": "probes"},
    "connections.*": {"queue": "probes"},
}
# A message is acknowledged only after the run finished; a redelivered one finds the row
# already claimed and runs nothing (see tasks/runner.py).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT_SECONDS
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": REDIS_TIMEOUT_SECONDS,
    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    # Longer than the longest allowed task, so Redis does not hand a running task to a
    # second worker; a dead worker's run is failed by the reaper well before this.
    "visibility_timeout": 6 * 3600,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Vault ------------------------------------------------------------------------------------
VAULT_ADDR = env_str("VAULT_ADDR")
VAULT_TOKEN = env_str("VAULT_TOKEN")
VAULT_ROLE_ID = env_str("VAULT_ROLE_ID")
VAULT_SECRET_ID = env_str("VAULT_SECRET_ID")
VAULT_NAMESPACE = env_str("VAULT_NAMESPACE")
VAULT_TIMEOUT_SECONDS = env_int("VAULT_TIMEOUT_SECONDS", 5, minimum=1)
VAULT_CACERT = env_str("VAULT_CACERT")
VAULT_APPROLE_MOUNT = env_str("VAULT_APPROLE_MOUNT", "approle")  # where AppRole auth is enabled

# --- Probes -----------------------------------------------------------------------------------
PROBE_DEFAULT_CONNECT_TIMEOUT = env_int("PROBE_CONNECT_TIMEOUT", 5, minimum=1)
PROBE_APPLICATION_NAME = "postgresql-reviewer"

# --- REST API ---------------------------------------------------------------------------------
REVIEWER_PUBLIC_READ = env_bool("REVIEWER_PUBLIC_READ", False)
API_LIMIT_MAX = 1000
# A token's user is kept in the cache this long after a lookup (0: look it up on every
# request). Deleting a token or saving its user through the service revokes it at once; a
# change made past the service (raw SQL) applies within this time.
API_TOKEN_CACHE_SECONDS = env_int("API_TOKEN_CACHE_SECONDS", 30)
# The fleet status (GET /connections/status) is cached until a probe result or a connection
# changes; this bounds how long a change the service did not see (raw SQL, Redis down at that
# moment) can go unseen. 0 reads the database on every request. Staleness is judged at read
# time either way.
FLEET_STATUS_CACHE_SECONDS = env_int("FLEET_STATUS_CACHE_SECONDS", 60)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "monitoring.api.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["monitoring.api.permissions.ReadableByPolicy"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "monitoring.api.errors.json_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "PostgreSQL Reviewer monitoring API",
    "DESCRIPTION": "Task executions, connection health and running reviews of a PostgreSQL fleet.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No validator badge: Swagger UI would send the schema's URL to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["monitoring.api.schema.canonical_endpoints"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # hvac and urllib3 may log request URLs; never let them log at DEBUG with tokens.
        "urllib3": {"level": "WARNING"},
        "hvac": {"level": "WARNING"},
        # apprise's own log lines may quote a service URL with its token: they stay inside
        # apprise (notifications/channels.py reads them, scrubbed, as the failure reason).
        "apprise": {"handlers": [], "propagate": False},
    },
}

# --- Execution reliability ---------------------------------------------------------------------
# A running execution's worker touches its heartbeat this often; the reaper fails a run whose
# heartbeat is older than EXECUTION_LOST_AFTER_SECONDS ("worker lost").
EXECUTION_HEARTBEAT_SECONDS = env_int("EXECUTION_HEARTBEAT_SECONDS", 5, minimum=1)
EXECUTION_LOST_AFTER_SECONDS = env_int("EXECUTION_LOST_AFTER_SECONDS", 30, minimum=3)
# A pending execution whose message is in neither the queue nor a worker's hands after this
# long was lost (Redis restarted, or the web process died between commit and publish).
PENDING_LOST_AFTER_SECONDS = env_int("PENDING_LOST_AFTER_SECONDS", 60, minimum=5)

# --- Periodic probes ---------------------------------------------------------------------------
PROBE_INTERVAL_SECONDS = env_int("PROBE_INTERVAL_SECONDS", 60, minimum=5)
# A latest status older than this is reported unhealthy: a dead probe worker must never look
# like a healthy fleet.
PROBE_STALE_AFTER_SECONDS = env_int("PROBE_STALE_AFTER_SECONDS", 3 * PROBE_INTERVAL_SECONDS, minimum=10)
# Probe threads of one chunk (and of one "Check now"). A dead host holds a slot for a whole
# connect_timeout; a chunk no larger than this costs at most one timeout, however many of its
# hosts are dead.
PROBE_CONCURRENCY = env_int("PROBE_CONCURRENCY", 64, minimum=1)
# Rounds shared by every probe worker (connections/rounds.py): beat publishes the due
# connections in chunks of PROBE_CHUNK_SIZE, each one message on the probes queue. A chunk
# runs at most PROBE_MAX_PER_SERVER attempts at once against one (host, port). A connection
# whose latest result is younger than PROBE_FRESH_SECONDS is not due; half an interval, because
# a round's results land up to a round's length after it starts, and a full interval would skip
# them every other round.
# The default equals PROBE_CONCURRENCY, so a chunk of hosts that stay dead (they are chunked
# together, published last) costs one connect_timeout, not two.
PROBE_CHUNK_SIZE = env_int("PROBE_CHUNK_SIZE", PROBE_CONCURRENCY, minimum=1)
PROBE_MAX_PER_SERVER = env_int("PROBE_MAX_PER_SERVER", 8, minimum=1)
PROBE_FRESH_SECONDS = env_int("PROBE_FRESH_SECONDS", PROBE_INTERVAL_SECONDS // 2, minimum=1)

# --- Beat: what runs periodically, and on which queue ------------------------------------------
# Housekeeping goes to the probes queue so that a backlog of long reviews never delays it.
# Each message expires after one period: a backed-up queue skips stale ticks instead of
# replaying them.
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-tasks": {
        "task": "tasks.dispatch_due_tasks",
        "schedule": 10.0,
        "options": {"queue": "probes", "expires": 10},
    },
    "probe-fleet": {
        "task": "connections.probe_round",
        "schedule": float(PROBE_INTERVAL_SECONDS),
        "options": {"queue": "probes", "expires": PROBE_INTERVAL_SECONDS},
    },
    "purge-status-history": {
        "task": "connections.purge_status_history",
        "schedule": 3600.0,
        "options": {"queue": "probes", "expires": 3600},
    },
    "purge-execution-history": {
        "task": "tasks.purge_execution_history",
        "schedule": 3600.0,
        "options": {"queue": "probes", "expires": 3600},
    },
    "reap-executions": {
        "task": "tasks.reap_executions",
        "schedule": 30.0,
        "options": {"queue": "probes", "expires": 30},
    },
}

# --- Retention ---------------------------------------------------------------------------------
# Probe results and finished executions older than this are purged hourly, in small batches.
RETENTION_DAYS = env_int("RETENTION_DAYS", 30, minimum=1)

# --- Log analysis ------------------------------------------------------------------------------
# The `file` source of log_analysis reads only files inside these directories (symlinks are
# followed before checking), separated by ":"; empty disables the file source. Read where it
# is used, not copied at import, so a changed setting applies.
LOG_FILE_ROOTS = [root for root in env_str("LOG_FILE_ROOTS", "/var/log/postgresql").split(":") if root]
if any(not root.startswith("/") for root in LOG_FILE_ROOTS):
    raise ImproperlyConfigured(f"LOG_FILE_ROOTS must list absolute directories, not {LOG_FILE_ROOTS!r}")
# Where log_analysis finds PostgreSQL's message catalogs (postgres-NN.mo), to read logs written
# with a non-English lc_messages: ":"-separated directories laid out like /usr/share/locale
# (<lang>/LC_MESSAGES/), globs allowed.
LOG_LOCALE_DIRS = [
    d for d in env_str("LOG_LOCALE_DIRS", "/usr/share/locale:/usr/lib/postgresql/*/share/locale").split(":") if d
]
if any(not d.startswith("/") for d in LOG_LOCALE_DIRS):
    raise ImproperlyConfigured(f"LOG_LOCALE_DIRS must list absolute directories, not {LOG_LOCALE_DIRS!r}")

# --- Metrics and health endpoints (README "Metrics", "Health endpoints") ------------------------


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated networks in CIDR form ("10.0.0.0/8, 192.168.1.7"); a typo such as
    host bits set (10.0.0.1/8) stops the process instead of allowing the wrong range."""
    networks = []
    for item in env_str(name).split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip()))
            except ValueError as exc:
                raise ImproperlyConfigured(f"{name}: {exc}") from None
    return networks


# Clients in these networks may read /metrics without a token. Empty: a token is always needed.
# Matched against the TCP peer (REMOTE_ADDR) only, never against X-Forwarded-For.
METRICS_ALLOWED_NETWORKS = env_networks("METRICS_ALLOWED_NETWORKS")
# /readyz fails when no worker of a queue, or no beat, recorded liveness for this long. Both
# record every 5 s (tasks/liveness.py).
READINESS_WORKER_SEEN_SECONDS = env_int("READINESS_WORKER_SEEN_SECONDS", 30, minimum=10)
READINESS_BEAT_SEEN_SECONDS = env_int("READINESS_BEAT_SEEN_SECONDS", 60, minimum=10)
CELERY_BEAT_SCHEDULER = "tasks.liveness:LivenessScheduler"
# /healthz and /readyz answer before host validation and the https redirect (the first
# middleware), because load balancers and orchestrators probe a backend by its address over
# plain http. Prometheus scrapes a backend the same way: /metrics is exempt from the redirect
# (a token sent over http has been sent before any redirect could help).
MIDDLEWARE.insert(0, "monitoring.health.HealthEndpointsMiddleware")
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]


# --- Notifications (notifications/) ------------------------------------------------------------
# Deliveries run on their own `notifications` queue and worker: a channel that is down never
# delays probes or runs. The sweep (stale connections, lost delivery messages) and the purge
# are housekeeping, on the probes queue like the rest.
CELERY_TASK_ROUTES["notifications.deliver"] = {"queue": "notifications"}
CELERY_TASK_ROUTES["notifications.sweep"] = {"queue": "probes"}
CELERY_TASK_ROUTES["notifications.purge_history"] = {"queue": "probes"}
CELERY_BEAT_SCHEDULE["notifications-sweep"] = {
    "task": "notifications.sweep",
    "schedule": 60.0,
    "options": {"queue": "probes", "expires": 60},
}
CELERY_BEAT_SCHEDULE["purge-notification-history"] = {
    "task": "notifications.purge_history",
    "schedule": 3600.0,
    "options": {"queue": "probes", "expires": 3600},
}
# A connection is down after this many failed probes in a row (1 pages on any lost probe).
NOTIFY_CONNECTION_DOWN_AFTER = env_int("NOTIFY_CONNECTION_DOWN_AFTER", 2, minimum=1)
# Every send (webhook, SMTP, chat service) is bounded by this.
NOTIFY_TIMEOUT_SECONDS = env_int("NOTIFY_TIMEOUT_SECONDS", 10, minimum=1)


def env_seconds_list(name: str, default: str) -> list[int]:
    raw = env_str(name, default)
    try:
        values = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be whole seconds separated by commas, not {raw!r}") from None
    if any(value < 0 for value in values) or len(values) > 20:
        raise ImproperlyConfigured(f"{name} must list at most 20 delays of 0 s or more, not {raw!r}")
    return values


# The waits between attempts of a delivery: one more attempt than there are delays.
NOTIFY_RETRY_DELAYS_SECONDS = env_seconds_list("NOTIFY_RETRY_DELAYS_SECONDS", "10,30,90,270")
# Finding events per run and kind, worst first; one more event counts the rest.
NOTIFY_FINDINGS_PER_RUN = env_int("NOTIFY_FINDINGS_PER_RUN", 20, minimum=1)
# The console's address as people reach it: the links in messages start with it.
REVIEWER_PUBLIC_URL = env_str("REVIEWER_PUBLIC_URL", "http://127.0.0.1:8000")

# E-mail (mailto: rules) through Django's SMTP backend.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", NOTIFY_TIMEOUT_SECONDS, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "postgresql-reviewer@localhost")


# --- Production serving: state directory and static files ----------------------------------------
# What the service writes at run time (beat's schedule, the collected static files) lives in one
# directory per installation: `var/` in the checkout for `make run`, /var/lib/postgresql-reviewer
# under the systemd units. Never a fixed /tmp path that every checkout on a host would share.
REVIEWER_STATE_DIR = Path(env_str("REVIEWER_STATE_DIR") or BASE_DIR / "var")
STATIC_ROOT = Path(env_str("REVIEWER_STATIC_ROOT") or REVIEWER_STATE_DIR / "static")
for _name, _path in (("REVIEWER_STATE_DIR", REVIEWER_STATE_DIR), ("REVIEWER_STATIC_ROOT", STATIC_ROOT)):
    if not _path.is_absolute():
        raise ImproperlyConfigured(f"{_name} must be an absolute directory, not {str(_path)!r}")
CELERY_BEAT_SCHEDULE_FILENAME = str(REVIEWER_STATE_DIR / "celerybeat-schedule")
# whitenoise serves STATIC_ROOT (filled by `collectstatic`, which scripts/serve.sh runs before
# granian). Outside DEBUG the files get content-hashed names and gzip copies, and hashed names
# are cached for ever by browsers; under DEBUG (`make run`) files are served as they are.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "reviewer.static_storage.GzipManifestStaticFilesStorage"
    },
}
