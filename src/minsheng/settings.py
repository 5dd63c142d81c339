"""Django settings, read from ``MINSHENG_*`` environment variables.

With no variables at all the platform runs on an embedded SQLite file under ``./var`` (WAL mode),
which is what ``minsheng demo`` and the test suite use. Production sets at least
``MINSHENG_DATABASE_URL``, ``MINSHENG_SECRET_KEY`` and ``MINSHENG_ALLOWED_HOSTS``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"MINSHENG_{name}", default)


def _env_bool(name: str, default: bool = False) -> bool:
    raw = _env(name)
    if not raw:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in _env(name, default).split(",") if item.strip()]


PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(_env("DATA_DIR", str(Path.cwd() / "var"))).resolve()
MEDIA_ROOT = DATA_DIR / "attachments"
STATIC_ROOT = DATA_DIR / "static"

DEBUG = _env_bool("DEBUG")
# The embedded default gets a per-install key kept in the data directory, so a demo is never
# signed with a key that is published in the source.
SECRET_KEY = _env("SECRET_KEY")
if not SECRET_KEY:
    from minsheng.core.secret import data_dir_secret_key

    SECRET_KEY = data_dir_secret_key(DATA_DIR)

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ninja",  # serves the API docs' Swagger UI from our static files, never a CDN
    "minsheng.core",
    "minsheng.org",
    "minsheng.appeals",
    "minsheng.notify",
    "minsheng.supervision",
    "minsheng.analytics",
    "minsheng.dispatch",
    "minsheng.ui",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "minsheng.core.middleware.RequestSizeLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "minsheng.urls"
WSGI_APPLICATION = "minsheng.wsgi.application"

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
                "minsheng.ui.context_processors.ui",
                "minsheng.notify.context_processors.bell",
                "minsheng.supervision.context_processors.nav",
            ],
        },
    },
]


def _database() -> dict:
    url = _env("DATABASE_URL")
    if url:
        # Persistent connections are checked at the start of each request, so after a
        # database restart the app reconnects by itself instead of failing on a dead socket.
        config = dj_database_url.parse(
            url, conn_max_age=int(_env("DB_CONN_MAX_AGE", "60")), conn_health_checks=True
        )
        if config["ENGINE"] == "django.db.backends.postgresql":
            # No JIT: a scoped queue's plan is costed far above the JIT threshold, and PostgreSQL
            # spent ~150 ms compiling plans that run in ~35 ms (bench/pages.py, 100k appeals).
            # Short interactive queries never win back the compile time.
            options = config.setdefault("OPTIONS", {})
            options["options"] = (options.get("options", "") + " -c jit=off").strip()
        config.setdefault("TEST", {})
        if _env("TEST_DATABASE_NAME"):
            config["TEST"]["NAME"] = _env("TEST_DATABASE_NAME")
        return config
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "minsheng.sqlite3"),
        # A file, not shared-cache memory: tests then lock like production (WAL, busy timeout),
        # which the concurrency tests rely on. One file per process, so runs never collide.
        "TEST": {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")},
        "OPTIONS": {
            # IMMEDIATE takes the write lock at BEGIN, so two transitions of one appeal queue up
            # instead of failing half-way with "database is locked".
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        },
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "org.User"
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# AUTH_PASSWORD_VALIDATORS: see "Staff login security" below.

_redis = _env("REDIS_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis}
        if _redis
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

TASKS = {
    "default": {
        "BACKEND": _env("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on a missing directory
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads: the platform checks content itself; Django only bounds what it buffers.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
MINSHENG_ATTACHMENT_MAX_BYTES = int(_env("ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
MINSHENG_ATTACHMENTS_PER_APPEAL = 6
# The largest request body accepted at all: one attachment plus form overhead.
MINSHENG_MAX_REQUEST_BYTES = MINSHENG_ATTACHMENT_MAX_BYTES + 1024 * 1024
# Tracking-code look-ups per client address per minute.
MINSHENG_TRACKING_RATE = int(_env("TRACKING_RATE", "10"))
# How often an unsatisfied rating may reopen an appeal (不满意重办), by policy.
MINSHENG_MAX_REOPENS = int(_env("MAX_REOPENS", "1"))
# 回访: days after closing during which an unrated appeal waits for the callback (the home
# page's "closed, not yet rated"); a citizen may still rate later.
MINSHENG_CALLBACK_DAYS = int(_env("CALLBACK_DAYS", "7"))
MINSHENG_ALLOW_DEMO_ACCOUNTS = _env_bool("ALLOW_DEMO_ACCOUNTS")
# Text messages (login codes): a dotted path to a class with ``send(phone, text)``; the default
# writes each message to the log, for a demo or a network without an SMS gateway.
MINSHENG_SMS_BACKEND = _env("SMS_BACKEND", "minsheng.notify.sms.LogBackend")
# The SMS gateway adapter ``minsheng.notify.sms.WebhookBackend`` posts {"phone", "text"} as JSON
# here, waiting at most TIMEOUT seconds; TOKEN, if set, goes in an Authorization: Bearer header.
MINSHENG_SMS_WEBHOOK_URL = _env("SMS_WEBHOOK_URL")
MINSHENG_SMS_WEBHOOK_TIMEOUT = float(_env("SMS_WEBHOOK_TIMEOUT", "5"))
MINSHENG_SMS_WEBHOOK_TOKEN = _env("SMS_WEBHOOK_TOKEN")
# How long a citizen's one-time login code stays valid.
MINSHENG_SMS_CODE_TTL_SECONDS = int(_env("SMS_CODE_TTL_SECONDS", "300"))
# Rankings leave out units with fewer appeals than this in the rate's denominator (docs/kpi.md).
MINSHENG_RANKING_MIN_SAMPLE = int(_env("RANKING_MIN_SAMPLE", "10"))
# How long the rollup refresher keeps looking for an event id that was missing (a transaction
# still open when it read): longer than any transaction of the application lasts.
MINSHENG_ROLLUP_OVERLAP_SECONDS = int(_env("ROLLUP_OVERLAP_SECONDS", "3600"))
# How often ``minsheng worker`` refreshes the daily rollups the dashboards read (0: never).
MINSHENG_ROLLUP_SECONDS = int(_env("ROLLUP_SECONDS", "120"))
# How often ``minsheng worker`` deletes uploads no submission took (after a day) and old
# one-time login codes (0: never).
MINSHENG_HOUSEKEEPING_SECONDS = int(_env("HOUSEKEEPING_SECONDS", "3600"))
# A queue export of more appeals than this is written by a worker (a download link on the
# exports page when it is done); smaller ones download at once.
MINSHENG_EXPORT_INLINE_ROWS = int(_env("EXPORT_INLINE_ROWS", "5000"))
# Days a finished (or failed) background export is kept before housekeeping deletes it.
MINSHENG_EXPORT_KEEP_DAYS = int(_env("EXPORT_KEEP_DAYS", "7"))
# Parallel audit chains: concurrent writers append to different heads instead of queueing on one.
MINSHENG_AUDIT_CHAINS = int(_env("AUDIT_CHAINS", "16"))
# --- Separated duties and audit retention (三员分立, GB/T 22239 level 3) ---
# The admin opens by duty (org/permissions.py), not by the is_staff flag, and logs in through
# the console's login page (lockout and two-factor included): core/admin_audit.DutyAdminSite.
INSTALLED_APPS[INSTALLED_APPS.index("django.contrib.admin")] = (
    "minsheng.core.apps.MinshengAdminConfig"
)
# Days an audit record is kept before `minsheng audit purge` may delete it: at least 180 (logs
# kept six months, GB/T 22239 level 3 and the Cybersecurity Law art. 21; a check refuses less).
MINSHENG_AUDIT_KEEP_DAYS = int(_env("AUDIT_KEEP_DAYS", "365"))
# --- end Separated duties ---


def _email() -> dict[str, object]:
    """Django's EMAIL_* settings: the console by default, SMTP from ``MINSHENG_EMAIL_URL``
    (``smtp://user:password@host:587?tls=1``, or ``smtps://…`` for implicit TLS)."""
    from urllib.parse import parse_qs, unquote, urlsplit

    url = _env("EMAIL_URL")
    if not url:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("MINSHENG_EMAIL_URL must start with smtp:// or smtps://")
    query = parse_qs(parts.query)
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or (465 if parts.scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        "EMAIL_USE_TLS": query.get("tls", ["0"])[0] in ("1", "true", "yes"),
    }


_EMAIL = _email()
EMAIL_BACKEND = _EMAIL["EMAIL_BACKEND"]
EMAIL_HOST = _EMAIL.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _EMAIL.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _EMAIL.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _EMAIL.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_SSL = _EMAIL.get("EMAIL_USE_SSL", False)
EMAIL_USE_TLS = _EMAIL.get("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = _env("EMAIL_FROM", "minsheng@localhost")

# Notifications (minsheng.notify): the channels besides the in-app bell (sms, email); how often
# a delivery is tried, first retry after RETRY seconds, doubling; a delivery left "sending" by a
# dead worker for STALE seconds is settled as "unknown" (at most once) or, with RESEND_STALE,
# sent again (at least once).
MINSHENG_NOTIFY_CHANNELS = _env_list("NOTIFY_CHANNELS", "sms,email")
MINSHENG_NOTIFY_MAX_ATTEMPTS = int(_env("NOTIFY_MAX_ATTEMPTS", "5"))
MINSHENG_NOTIFY_RETRY_SECONDS = int(_env("NOTIFY_RETRY_SECONDS", "30"))
MINSHENG_NOTIFY_STALE_SECONDS = int(_env("NOTIFY_STALE_SECONDS", "600"))
MINSHENG_NOTIFY_RESEND_STALE = _env_bool("NOTIFY_RESEND_STALE")

# Supervision (minsheng.supervision): a yellow warning when this share of a time limit is used
# (docs: "what 75% used means"); a supervision order must be answered within RESPONSE_DAYS
# working days; ``minsheng worker`` sweeps the deadlines every SWEEP_SECONDS (0: never).
MINSHENG_WARNING_SHARE = float(_env("WARNING_SHARE", "0.75"))
MINSHENG_SUPERVISION_RESPONSE_DAYS = int(_env("SUPERVISION_RESPONSE_DAYS", "1"))
MINSHENG_SWEEP_SECONDS = int(_env("SWEEP_SECONDS", "60"))

# Smart dispatch (minsheng.dispatch): an appeal still waiting at intake is dispatched by itself
# when the category model's top suggestion reaches this confidence (0 < value ≤ 1); unset or
# "off" (the default), every appeal waits for a dispatcher. The model lives in DATA_DIR/models.


def _confidence(name: str) -> float | None:
    raw = _env(name).strip().lower()
    if raw in ("", "off", "none", "0"):
        return None
    value = float(raw)
    if not 0 < value <= 1:
        raise ValueError(f"MINSHENG_{name} must be between 0 and 1 (or off), not {raw!r}")
    return value


MINSHENG_AUTO_DISPATCH_CONFIDENCE = _confidence("AUTO_DISPATCH_CONFIDENCE")
MINSHENG_DISPATCH_MODEL_DIR = DATA_DIR / "models"
# 并单 suggestions look this many days back for open appeals about the same problem.
MINSHENG_DUPLICATE_DAYS = int(_env("DUPLICATE_DAYS", "30"))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts, styles and everything else from this origin
# only — no inline script or style, no eval, no plugins, no framing — so an injected tag does
# nothing. The pages were written for it (no inline code; htmx told not to add its style). The
# admin is left out: Django's admin pages use inline styles.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/admin/"],
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Staff login security (GB/T 22239 level 3: lockout, password rules, idle timeout, 2FA) ---
# Applies to staff accounts only (console, admin, session-authenticated API); citizens have no
# accounts and API tokens are untouched. docs: src/minsheng/org/security/__init__.py.
INSTALLED_APPS += [
    "axes",  # django-axes: failed-login tracking and lockout
    "django_otp",
    "django_otp.plugins.otp_totp",  # TOTP devices (authenticator apps)
]
# Axes' backend refuses a locked-out username before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1,
    "minsheng.core.middleware.StaffSessionMiddleware",  # idle timeout, 2FA and password gates
)
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # turns a lockout into our 429 page
# Lock the USERNAME (not the address, not username+address) after 5 failures for
# LOCKOUT_MINUTES: staff sit behind shared office NAT addresses (locking an address locks a
# whole office), and per username+address a botnet gets 5 guesses per address. Wrong 2FA codes
# count too. A security administrator unlocks at /console/security/ (audited).
MINSHENG_LOCKOUT_MINUTES = int(_env("LOCKOUT_MINUTES", "30"))
AXES_FAILURE_LIMIT = 5
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_COOLOFF_TIME = timedelta(minutes=MINSHENG_LOCKOUT_MINUTES)
# A guess during a lockout neither counts nor extends it: the page's "try again at" holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Failures are cleared by a complete login (after the second factor), not by the password
# alone, so a stolen password cannot buy unlimited 2FA guesses (minsheng.org.security).
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "minsheng.org.views.locked_out"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
# axes.W006 asks for the address in the lockout key; leaving it out is the choice above (and
# rotating user agents or cookies gains nothing against a per-username count).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
# Axes' lockout is the one throttle of second-factor codes (no growing per-device delays).
OTP_TOTP_THROTTLE_FACTOR = 0
# Passwords: length, three of four character classes, not like the account, not common.
MINSHENG_PASSWORD_MIN_LENGTH = int(_env("PASSWORD_MIN_LENGTH", "10"))
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "display_name", "phone", "email")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": MINSHENG_PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "minsheng.org.passwords.CharacterClassesValidator"},
    {"NAME": "minsheng.org.passwords.NotContainingUsernameValidator"},
]
# Staff must change a password this old (days; 0: never). Demo accounts are exempt.
MINSHENG_PASSWORD_MAX_AGE_DAYS = int(_env("PASSWORD_MAX_AGE_DAYS", "90"))
# A staff session unused this long is signed out (checked without a write per request).
MINSHENG_IDLE_TIMEOUT_MINUTES = int(_env("IDLE_TIMEOUT_MINUTES", "30"))
# Roles that must confirm a TOTP code after the password.
MINSHENG_TWO_FACTOR_ROLES = _env_list(
    "TWO_FACTOR_ROLES", "center_admin,supervisor,auditor,security_admin"
)
OTP_TOTP_ISSUER = "Minsheng"
# --- end Staff login security ---

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": _env("LOG_LEVEL", "WARNING")},
    "loggers": {"minsheng": {"level": _env("LOG_LEVEL", "INFO")}},
}

# Metrics (core/metrics.py, docs/deploy.md): Prometheus scrapes /metrics from these addresses or
# networks, or with "Authorization: Bearer MINSHENG_METRICS_TOKEN"; anyone else gets a 404.
# Under `minsheng serve` the workers share their counters through files in
# MINSHENG_METRICS_DIR/<host>-<port>, emptied at each start: keep it on a local disk (a tmpfs
# such as /run/minsheng is best), never on a filesystem shared between machines.
MINSHENG_METRICS_ALLOWED_IPS = _env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
for _entry in MINSHENG_METRICS_ALLOWED_IPS:  # a typo fails at start, not at every scrape
    try:
        __import__("ipaddress").ip_network(_entry, strict=False)
    except ValueError:
        raise ValueError(
            f"MINSHENG_METRICS_ALLOWED_IPS: not an address or network: {_entry!r}"
        ) from None
MINSHENG_METRICS_TOKEN = _env("METRICS_TOKEN")
MINSHENG_METRICS_DIR = Path(_env("METRICS_DIR", str(DATA_DIR / "metrics"))).resolve()
MIDDLEWARE.insert(0, "minsheng.core.metrics.MetricsMiddleware")  # times all the others too

# Behind a proxy (docs/deploy.md): nginx terminates TLS and says so in X-Forwarded-Proto. Trust
# that header only when MINSHENG_BEHIND_PROXY=1 and the app port is reachable from the proxy
# alone; otherwise a client could claim HTTPS. Needed for secure cookies and CSRF origin checks.
# With it, per-address rate limits key on the X-Real-IP the proxy sets (core/ratelimit.py).
MINSHENG_BEHIND_PROXY = _env_bool("BEHIND_PROXY")
if MINSHENG_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
