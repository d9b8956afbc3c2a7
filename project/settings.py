"""Enishi settings: one module, read from the environment (12-factor).

Every variable is documented in README.md. The embedded default (no DATABASE_URL,
no REDIS_URL) is SQLite with the in-memory channel layer, so `make run` works on a
bare machine; production sets both.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="enishi-insecure-development-key-only")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DJANGO_DEBUG off Enishi refuses to start "
            "without it: set SECRET_KEY to a long random string (for example the "
            'output of python -c "import secrets; print(secrets.token_urlsafe(50))").'
        )

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "project.admin_apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "allauth",
    "allauth.account",
    "accounts",
    "chat",
    "communities",
    "presence",
    "diary",
    "photos",
    "events",
    "moderation",
    # Last: its ready() connects to the models of the apps above.
    "project",
]

MIDDLEWARE = [
    # First: a catch-up waiting for its turn holds nothing (project/overload.py).
    "project.overload.LoadSheddingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "project.csp.ContentSecurityPolicyMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Refuses control characters, over-long values and damaged cookies before
    # any view (project/input.py), in the member's language.
    "project.input.BadInputMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The member's time zone for the times a page shows and a form reads.
    "project.timezones.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "project.urls"
CSRF_FAILURE_VIEW = "project.views.csrf_failure"
ASGI_APPLICATION = "project.asgi.application"

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
                "accounts.context_processors.navigation",
                "presence.notifications.navigation",
                "chat.context_processors.live",
            ],
        },
    },
]

# --- Data -----------------------------------------------------------------
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
# Under ASGI every request may run in a different thread; persistent connections
# would then pile up one per thread. Keep them short-lived unless told otherwise.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so a server process started by a browser test sees
    # the same test database; one per test process, so two runs side by side
    # do not collide.
    DATABASES["default"]["TEST"] = {
        "NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"]["TEST"] = {
        "NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"
    }
    if env.bool("DB_POOL", default=True):
        # Under ASGI each request runs in a thread of its own; without a pool
        # each in-flight request holds its own connection, and an overloaded
        # process runs PostgreSQL out of connections. A pool bounds them per
        # process (requests wait for one instead) and saves a connect per
        # request. (CONN_MAX_AGE must stay 0 with a pool.)
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["OPTIONS"] = {
            "pool": {
                "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
                # Sends of one topic queue on its row lock, each holding a
                # connection: when a process died and its neighbour took all
                # 20 posters of a room, 10 connections went to them and the
                # sockets' authorization waited out the pool (make faults:
                # handshakes dropped after 20 s); 20 leaves room.
                "max_size": env.int("DB_POOL_MAX_SIZE", default=20),
                # Past this a request is answered 503 with Retry-After
                # (project/overload.py), not left waiting.
                "timeout": env.int("DB_POOL_TIMEOUT", default=5),
            }
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Catch-up requests in progress per process (project/overload.py); one more
# waits up to SHED_WAIT seconds for a place, then is answered 503 with
# Retry-After: SHED_RETRY_AFTER. Keep SHED_CONCURRENCY well under
# DB_POOL_MAX_SIZE: sends and pages need connections too. A catch-up spends
# about half its time waiting on PostgreSQL, so 4 at a time keep a process
# busy where 2 left it waiting; and a 503 costs the page a retry seconds
# later and a place at the back of the queue, so a request rather waits
# for its place: 15 s, the longest wait after a restart of a process holding
# 300 pages (make faults: 2 and 5 s answered 400 to 1,400 of 3,000
# catch-ups 503; 10 s between 143 and 1,100 as the waits grew with each
# fault; 15 s none).
SHED_CONCURRENCY = env.int("SHED_CONCURRENCY", default=4)
SHED_WAIT = env.float("SHED_WAIT", default=15.0)
SHED_RETRY_AFTER = env.int("SHED_RETRY_AFTER", default=2)

REDIS_URL = env.str("REDIS_URL", default="")

# The channel layer may spread its groups over several Redis servers: Redis
# pub/sub runs on one core, and every PUBLISH is copied to each process that
# subscribes to the channel, so a busy site can outgrow one Redis on pub/sub
# alone (README, "Production", says when). channels-redis picks a group's
# server by hashing the group's name over the list, so every process must list
# the same servers in the same order. The cache and the per-member socket count
# (chat/socket_limit.py) stay on REDIS_URL: they are small, and a count must
# live in one place. Blank entries (a trailing comma) are ignored.
CHANNEL_LAYER_REDIS_URLS = [
    url.strip()
    for url in env.str("CHANNEL_LAYER_REDIS_URLS", default="").split(",")
    if url.strip()
] or ([REDIS_URL] if REDIS_URL else [])
if CHANNEL_LAYER_REDIS_URLS and not REDIS_URL:
    raise ImproperlyConfigured(
        "CHANNEL_LAYER_REDIS_URLS is set but REDIS_URL is not. The cache and the "
        "count of each member's open sockets live in the Redis of REDIS_URL, "
        "which may also be one of the layer's servers: set REDIS_URL too."
    )
for _url in CHANNEL_LAYER_REDIS_URLS:
    if urlsplit(_url).scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured(
            f"CHANNEL_LAYER_REDIS_URLS has {_url!r}, which is not a Redis URL. "
            "List the channel layer's Redis servers separated by commas, each as "
            "redis://host:port/db (rediss:// for TLS, unix:///path/to/socket)."
        )
if len(set(CHANNEL_LAYER_REDIS_URLS)) != len(CHANNEL_LAYER_REDIS_URLS):
    raise ImproperlyConfigured(
        "CHANNEL_LAYER_REDIS_URLS lists the same Redis URL twice. Each entry is "
        "a shard of its own; list each Redis server once."
    )

# How the channel layer connects to each of its Redis servers, the same for
# every one. redis-py's defaults (a 5 s socket timeout) would drop an idle
# pub/sub connection; set every connection option deliberately (DESIGN.md,
# traps). The pool is per server and per process.
CHANNEL_LAYER_CONNECTION = {
    "socket_timeout": None,
    "socket_connect_timeout": 5,
    "socket_keepalive": True,
    "health_check_interval": 15,
    "retry_on_timeout": True,
    "max_connections": env.int("REDIS_MAX_CONNECTIONS", 1000),
}

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis' pub/sub layer, telling sockets when it reconnected
            # so pages catch up on what Redis dropped meanwhile (chat/layers.py).
            "BACKEND": "chat.layers.ResyncingRedisPubSubChannelLayer",
            "CONFIG": {
                # Processes sharing one Redis for different sites (or test
                # runs) keep apart by prefix.
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="enishi"),
                "hosts": [
                    {"address": url, **CHANNEL_LAYER_CONNECTION}
                    for url in CHANNEL_LAYER_REDIS_URLS
                ],
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="enishi"),
            # Rate limits read the cache on every write: an unreachable Redis
            # must fail fast (the limiter then lets the write through), not
            # hold the request for the system's connect timeout.
            "OPTIONS": {
                "socket_connect_timeout": 1,
                "socket_timeout": 1,
                # One pool per process, not one per request (project/cache_pool.py).
                "pool_class": "project.cache_pool.SharedConnectionPool",
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            # The process's hub (chat/hub.py) stays in a busy group as long as
            # the process runs: the layer's default would drop it after a day.
            "CONFIG": {"capacity": 1000, "group_expiry": 10 * 365 * 86400},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Open live sockets one member may hold at once, across processes; one more is
# closed with 4429 (chat/socket_limit.py). A tab holds one.
LIVE_MAX_SOCKETS_PER_MEMBER = env.int("LIVE_MAX_SOCKETS_PER_MEMBER", default=20)

# --- Web Push (presence/push.py) ---------------------------------------------
# The site's VAPID key pair (RFC 8292), as `python manage.py generate_vapid_keys`
# prints it: the public key (base64url, the uncompressed P-256 point) is given
# to each browser that subscribes, and push services accept only pushes signed
# with its private key. Keep the private key secret and never change the pair
# on a live site: every subscription made with the old public key stops working.
VAPID_PUBLIC_KEY = env.str("VAPID_PUBLIC_KEY", default="")
VAPID_PRIVATE_KEY = env.str("VAPID_PRIVATE_KEY", default="")
# Who push services may contact about this site's pushes: a mailto: or https:
# URL. Web Push is off unless all three are set (the devices page says so).
VAPID_SUBJECT = env.str("VAPID_SUBJECT", default="")

# --- Accounts ---------------------------------------------------------------
AUTH_USER_MODEL = "accounts.Member"
AUTHENTICATION_BACKENDS = [
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": (
            "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
        ),
        "OPTIONS": {"user_attributes": ["nickname"]},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = "nickname"
ACCOUNT_USER_MODEL_EMAIL_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_PRESERVE_USERNAME_CASING = True
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_FORMS = {"login": "accounts.forms.LoginForm"}
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/300s/key",
    "change_password": "5/m/user",
    "signup": "20/m/ip",
}
# How many reverse proxies of ours append to X-Forwarded-For in front of Daphne.
# allauth's throttles then key on the address the outermost of them saw; at 0
# the header is ignored (anyone could write it) and REMOTE_ADDR counts, which
# behind a proxy is the proxy's own address, shared by every member.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Sign-ups without an invitation (off by default: Enishi is invitation-only).
OPEN_REGISTRATION = env.bool("OPEN_REGISTRATION", default=False)
INVITATION_VALID_DAYS = 7
INVITATION_MAX_OPEN = 10

# Uploaded images (avatars, community icons) are refused before decoding past
# these bounds: the file's bytes, its pixels and each side (a 1 x 40,000,000 PNG
# has few pixels and still costs 40 million rows).
AVATAR_MAX_PIXELS = env.int("AVATAR_MAX_PIXELS", default=50_000_000)
AVATAR_MAX_SIDE = env.int("AVATAR_MAX_SIDE", default=10_000)
AVATAR_MAX_BYTES = env.int("AVATAR_MAX_BYTES", default=10 * 1024 * 1024)
AVATAR_SIZE = 256
# Memory one decode may take (accounts/images.py turns it into a pixel limit for
# each format: WebP and HEIC cost more a pixel than JPEG), decodes running at
# once in one process (parallel uploads would multiply the peak), and how long
# an upload waits for its turn before it is refused.
IMAGE_DECODE_MAX_MB = env.int("IMAGE_DECODE_MAX_MB", default=256)
IMAGE_DECODES_AT_ONCE = env.int("IMAGE_DECODES_AT_ONCE", default=1)
IMAGE_DECODE_WAIT_SECONDS = 30
# An uploaded file past this is spooled to a temporary file, not held in memory
# (parallel uploads would hold one each); project/uploads.py stops keeping a
# file's bytes once it passes AVATAR_MAX_BYTES.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2**20
FILE_UPLOAD_HANDLERS = [
    "project.uploads.FileSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Photos (photos/images.py): each file at most PHOTOS_MAX_BYTES and
# PHOTOS_MAX_PIXELS (fewer for formats that cost more memory to decode, as for
# avatars); a side may be longer than an avatar's so panoramas pass. Two sizes
# are kept, by their longest side, never enlarged.
PHOTOS_MAX_BYTES = env.int("PHOTOS_MAX_BYTES", default=10 * 1024 * 1024)
PHOTOS_MAX_PIXELS = env.int("PHOTOS_MAX_PIXELS", default=40_000_000)
PHOTOS_MAX_SIDE = env.int("PHOTOS_MAX_SIDE", default=20_000)
PHOTOS_THUMBNAIL_SIZE = 320
PHOTOS_DISPLAY_SIZE = 1280
# Every request body: past this, project/body_limit.py answers 413 before Django
# reads it (Django would read it all first). A diary entry with its three
# photos at their largest, and the form around them.
REQUEST_MAX_BYTES = env.int("REQUEST_MAX_BYTES", default=3 * PHOTOS_MAX_BYTES + 2**20)
# The form fields of a request besides its files: the longest text a form takes
# (10,000 characters, up to 4 bytes each, percent-encoded) is about 120 KB.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2**20
# Files in one request: an album upload takes up to 20 (photos/actions.py),
# within REQUEST_MAX_BYTES in all.
DATA_UPLOAD_MAX_NUMBER_FILES = 20
# Photo files are sent by the view that checks who asks (photos/views.py). In
# production the proxy can send the bytes instead: "X-Accel-Redirect" (nginx,
# with PHOTOS_SENDFILE_PREFIX the internal location that maps to
# MEDIA_ROOT/photos/) or "X-Sendfile" (Apache mod_xsendfile, given the file's
# path). Empty: the view sends the bytes itself. See docs/photos.md.
PHOTOS_SENDFILE_HEADER = env.str("PHOTOS_SENDFILE_HEADER", default="")
PHOTOS_SENDFILE_PREFIX = env.str("PHOTOS_SENDFILE_PREFIX", default="/protected-photos/")

# --- Internationalisation ---------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ja", _("Japanese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Tokyo")
USE_I18N = True
USE_TZ = True

# --- Static and media ---------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "servestatic.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp; project/csp.py adds the page's own
# ws(s):// origin to connect-src). Nothing inline: no <script> bodies, on*
# attributes, javascript: URLs, <style> blocks or style attributes; htmx's own
# indicator <style> is off (htmx-config in templates/base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# A scraper sending "Authorization: Bearer <METRICS_TOKEN>" may read /metrics
# (project/metrics.py); staff may with their session. Empty: staff only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Prometheus scrapes each Daphne process on its own port, on the private
# network and not through the TLS proxy (README, "Production"), so over plain
# HTTP: redirecting it to https:// would send it to a port that speaks none.
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
if not DEBUG:
    # Secure by default; a plain-HTTP setup behind a TLS-terminating proxy can
    # turn each one off explicitly.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
        "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True
    )
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", "INFO")},
}
