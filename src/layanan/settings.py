"""Django settings, every one read from ``LAYANAN_*`` environment variables.

The defaults run a demo on one machine: SQLite under ``var/``, the in-memory
channel layer, mail kept in the outbox. ``LAYANAN_DEPLOYMENT=production`` makes
the missing secrets and unsafe values fatal instead.
"""

import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import django_stubs_ext

from layanan import env

# Lets ModelAdmin[Model] and QuerySet[Model] work at run time, as the stubs type them.
django_stubs_ext.monkeypatch()

PACKAGE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(env.text("VAR_DIR", str(Path.cwd() / "var"))).resolve()

DEPLOYMENT = env.text("DEPLOYMENT", "demo")
if DEPLOYMENT not in {"demo", "production"}:
    raise env.ConfigurationError(
        f"LAYANAN_DEPLOYMENT={DEPLOYMENT!r} is invalid: use demo or production."
    )
PRODUCTION = DEPLOYMENT == "production"

DEBUG = env.flag("DEBUG", False)
if PRODUCTION and DEBUG:
    raise env.ConfigurationError(
        "LAYANAN_DEBUG is on in production: unset it, because debug pages leak data."
    )


def _demo_secret_key() -> str:
    """Return the demo's secret key, generated once and kept under var/."""
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


_secret = env.optional_text("SECRET_KEY")
if _secret is None and PRODUCTION:
    raise env.ConfigurationError(
        "LAYANAN_SECRET_KEY is missing: production needs a long random secret key."
    )
SECRET_KEY = _secret or _demo_secret_key()

HOST = env.text("HOST", "127.0.0.1")
PORT = env.integer("PORT", 8000, minimum=1, maximum=65535)
BASE_URL = env.text("BASE_URL", f"http://{HOST}:{PORT}").rstrip("/")
_base = urlsplit(BASE_URL)
if _base.scheme not in {"http", "https"} or not _base.hostname:
    raise env.ConfigurationError(
        f"LAYANAN_BASE_URL={BASE_URL!r} is invalid: use http(s)://host[:port]."
    )
BASE_ORIGIN = f"{_base.scheme}://{_base.netloc}"

ALLOWED_HOSTS = env.word_list(
    "ALLOWED_HOSTS",
    [_base.hostname] if PRODUCTION else [_base.hostname, "127.0.0.1", "localhost"],
)
CSRF_TRUSTED_ORIGINS = [BASE_ORIGIN]

# Portals that may embed the widget (CSP frame-ancestors). "*" suits the demo only.
# A browser's Origin never ends in a slash, so one typed into the list would
# never match.
WIDGET_ORIGINS = [
    origin.rstrip("/")
    for origin in env.word_list("WIDGET_ORIGINS", [] if PRODUCTION else ["*"])
]
if PRODUCTION and "*" in WIDGET_ORIGINS:
    raise env.ConfigurationError(
        "LAYANAN_WIDGET_ORIGINS contains * in production: list the portal origins, "
        "such as https://jeb.example.ac.id."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "layanan.audit",
    "layanan.jobs",
    "layanan.catalog",
    "layanan.people",
    "layanan.mail",
    "layanan.chat",
    "layanan.tickets",
    "layanan.console",
    "layanan.dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "layanan.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "layanan.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "layanan.urls"
ASGI_APPLICATION = "layanan.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "layanan.context_processors.layanan",
            ],
        },
    },
]

DATABASES = {
    "default": env.database_url("DATABASE_URL", str(VAR_DIR / "layanan.sqlite3")),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_redis_url = env.optional_text("REDIS_URL")
if _redis_url:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [_redis_url]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "console:login"

LANGUAGE_CODE = env.text("LANGUAGE", "id")
LANGUAGES = [("id", "Bahasa Indonesia"), ("en", "English")]
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise env.ConfigurationError(
        f"LAYANAN_LANGUAGE={LANGUAGE_CODE!r} is not supported: use id or en."
    )
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = env.text("TIME_ZONE", "Asia/Jakarta")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# Uploads live outside the web root and are only ever served by access-checked views.
UPLOAD_ROOT = VAR_DIR / "uploads"
UPLOAD_MAX_MB = env.integer("UPLOAD_MAX_MB", 10, minimum=1, maximum=1024)
UPLOAD_MAX_BYTES = UPLOAD_MAX_MB * 1024 * 1024
# Django's own request limits must let a whole upload through; the view checks size.
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _base.scheme == "https"
CSRF_COOKIE_SECURE = _base.scheme == "https"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

TICKET_PREFIX = env.text("TICKET_PREFIX", "EKB")
if not TICKET_PREFIX.isalnum() or not TICKET_PREFIX.isascii():
    raise env.ConfigurationError(
        f"LAYANAN_TICKET_PREFIX={TICKET_PREFIX!r} is invalid: use letters and digits."
    )
# A resolved ticket closes by itself this many days after it was resolved. A reply
# from the requester reopens a closed ticket for REOPEN_DAYS after it closed; a
# later reply opens a new ticket that follows it.
AUTOCLOSE_DAYS = env.integer("AUTOCLOSE_DAYS", 7, minimum=1, maximum=365)
REOPEN_DAYS = env.integer("REOPEN_DAYS", 14, minimum=1, maximum=365)
NPM_PATTERN = env.text("NPM_PATTERN", r"\d{8,12}")
try:
    re.compile(NPM_PATTERN)
except re.error as error:
    raise env.ConfigurationError(
        f"LAYANAN_NPM_PATTERN={NPM_PATTERN!r} is not a valid regular expression "
        f"({error}); use one such as \\d{{8,12}}."
    ) from None
CHAT_IDLE_MINUTES = env.integer("CHAT_IDLE_MINUTES", 30, minimum=1, maximum=24 * 60)
# When the weekly digest goes out, in TIME_ZONE: a weekday and a 24-hour time.
DIGEST_SCHEDULE = env.text("DIGEST_SCHEDULE", "MON 07:00")
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_digest_match = re.fullmatch(
    r"(MON|TUE|WED|THU|FRI|SAT|SUN) ([01]\d|2[0-3]):([0-5]\d)",
    DIGEST_SCHEDULE.strip().upper(),
)
if _digest_match is None:
    raise env.ConfigurationError(
        f"LAYANAN_DIGEST_SCHEDULE={DIGEST_SCHEDULE!r} is invalid: use a weekday "
        "and a 24-hour time, such as MON 07:00."
    )
# Monday is 0, as in date.weekday().
DIGEST_WEEKDAY = _WEEKDAYS.index(_digest_match.group(1))
DIGEST_TIME = (int(_digest_match.group(2)), int(_digest_match.group(3)))
# Round-robin routing: seconds an offered chat waits for its agent before it is
# offered to the next one.
CHAT_OFFER_SECONDS = env.integer("CHAT_OFFER_SECONDS", 60, minimum=10, maximum=3600)
# Key of the HMAC-SHA256 signature with which a portal vouches for its signed-in
# user in the widget's data-identity. Empty turns signed identities off.
IDENTITY_SECRET = env.optional_text("IDENTITY_SECRET") or ""
if IDENTITY_SECRET and len(IDENTITY_SECRET) < 32:
    raise env.ConfigurationError(
        "LAYANAN_IDENTITY_SECRET is shorter than 32 characters: use a long random "
        "string, such as the output of `python -c 'import secrets; "
        "print(secrets.token_hex(32))'`."
    )
DEMO_PASSWORD = env.optional_text("DEMO_PASSWORD")

SMTP = env.smtp_url("SMTP_URL")
# Inbound mail: the mailbox the worker polls, and how often. None turns polling off.
IMAP = env.imap_url("IMAP_URL")
IMAP_POLL_SECONDS = env.integer("IMAP_POLL_SECONDS", 60, minimum=10, maximum=3600)
MAIL_ADDRESS = env.text("MAIL_ADDRESS", f"layanan@{_base.hostname}")
MAIL_FROM = env.text("MAIL_FROM", f"Layanan <{MAIL_ADDRESS}>")
DEFAULT_FROM_EMAIL = MAIL_FROM
# Loop guard: at most this many automatic mails to one address in the window.
AUTO_MAIL_LIMIT = env.integer("AUTO_MAIL_LIMIT", 10, minimum=1, maximum=1000)
AUTO_MAIL_WINDOW_HOURS = env.integer(
    "AUTO_MAIL_WINDOW_HOURS", 3, minimum=1, maximum=7 * 24
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "filters": {"redact_links": {"()": "layanan.logfilters.RedactLinkTokens"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_links"],
        }
    },
    "loggers": {
        "layanan": {"handlers": ["console"], "level": env.text("LOG_LEVEL", "INFO")},
        "django": {"handlers": ["console"], "level": "WARNING"},
    },
}
