"""Settings for the StreamrP2P coordinator site.

Nothing is required to run locally: every value has an embedded default (SQLite, in-memory
channel layer, django-q2's ORM broker). Production sets ``DATABASE_URL``, ``REDIS_URL``,
``SECRET_KEY``, ``HOOK_SECRET``, ``ALLOWED_HOSTS`` and ``DEBUG=false``; see README.md.
"""

from __future__ import annotations

import ipaddress
from decimal import Decimal
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_decimal, env_int, env_list, env_str, env_url

# Lets Django's generic classes be subscripted at run time (admin.ModelAdmin[Stream]) for mypy.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Core -------------------------------------------------------------------------------------
# Development defaults, refused below when DEBUG is off.
DEVELOPMENT_SECRET_KEY = "django-insecure-streamrp2p-development-key-do-not-use-in-production"  # noqa: S105
DEVELOPMENT_HOOK_SECRET = "dev-hook-secret"  # noqa: S105

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "DEBUG is off but SECRET_KEY is the development key: set SECRET_KEY to a long random value."
    )

# The origin media server's hook URLs carry this as ?secret=…; compared in constant time.
HOOK_SECRET = env_str("HOOK_SECRET", DEVELOPMENT_HOOK_SECRET)
if not DEBUG and HOOK_SECRET == DEVELOPMENT_HOOK_SECRET:
    raise ImproperlyConfigured(
        "DEBUG is off but HOOK_SECRET is the development secret: set HOOK_SECRET "
        "(and put the same value in the origin's hook URLs)."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Behind a TLS-terminating proxy (the production setup): trust its X-Forwarded-Proto and send
# cookies over HTTPS only.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS only whenever DEBUG is off (issue 17: `check --deploy` clean with the production variables
# alone). INSECURE_HTTP=true is for plain-http test setups (benches, a production-mode run on one
# machine): no redirect, no HSTS, cookies over http; `check --deploy` then warns, as it should.
INSECURE_HTTP = env_bool("INSECURE_HTTP", False)
HTTPS_ONLY = not DEBUG and not INSECURE_HTTP
SECURE_SSL_REDIRECT = HTTPS_ONLY
# The machines call these over plain http inside the network (SRS and nginx-rtmp: the hooks; load
# balancers and Prometheus: health and metrics): a redirect would refuse every publish.
SECURE_REDIRECT_EXEMPT = [r"^hooks/", r"^healthz$", r"^livez$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS_ONLY or BEHIND_TLS_PROXY
# HSTS (sent on https answers only): a year, as browsers' guidance and Django's check expect. It
# covers the names *under* the site's (for streamr.example.org: *.streamr.example.org, none of
# which should ever be plain http), not its siblings; a site on a bare domain whose other names
# still serve plain http sets SECURE_HSTS_INCLUDE_SUBDOMAINS=false. Preload stays off: the preload list pins the
# whole registered domain in browsers for months and only its owner should opt in
# (SECURE_HSTS_PRELOAD=true); its check is silenced below while it is off.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS_ONLY else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Origin hooks only from these addresses or networks (e.g. "10.0.0.0/8,192.0.2.7"); unset: from
# anywhere, with the secret. The address is the peer the ASGI server reports: the socket's, or
# X-Forwarded-For's when the peer is a trusted proxy (uvicorn's FORWARDED_ALLOW_IPS).
HOOK_ALLOWED_ORIGINS = env_list("HOOK_ALLOWED_ORIGINS", [])
for _origin in HOOK_ALLOWED_ORIGINS:
    try:
        ipaddress.ip_network(_origin, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"HOOK_ALLOWED_ORIGINS must list IP addresses or networks (CIDR), got {_origin!r}"
        ) from None

# Where viewers and node agents find a stream at the origin; {app} and {stream} are filled in.
ORIGIN_RTMP_URL = env_str("ORIGIN_RTMP_URL", "rtmp://127.0.0.1:1935/{app}/{stream}")
ORIGIN_HLS_URL = env_str("ORIGIN_HLS_URL", "http://127.0.0.1:8080/{app}/{stream}.m3u8")
# Where the coordinator's own spot-checker reads the origin's HLS; unset: ORIGIN_HLS_URL.
ORIGIN_HLS_INTERNAL_URL = env_str("ORIGIN_HLS_INTERNAL_URL", "")
for _name, _template in (
    ("ORIGIN_RTMP_URL", ORIGIN_RTMP_URL),
    ("ORIGIN_HLS_URL", ORIGIN_HLS_URL),
    ("ORIGIN_HLS_INTERNAL_URL", ORIGIN_HLS_INTERNAL_URL or ORIGIN_HLS_URL),
):
    if "{stream}" not in _template:
        raise ImproperlyConfigured(f"{_name} must contain {{stream}}, got {_template!r}")

# A live session whose origin sent signs of life (nginx on_update, SRS on_hls) but none for this
# long counts as lost: a new publisher with the right key may then take the stream over.
STREAM_SESSION_SILENCE_SECONDS = env_int("STREAM_SESSION_SILENCE_SECONDS", 60, minimum=1)

# --- Node network ---------------------------------------------------------------------------
# Node public URLs on loopback/private addresses: fine on one machine, refused in production (the
# spot-checker fetches these URLs from inside your network).
NODE_ALLOW_PRIVATE_URLS = env_bool("NODE_ALLOW_PRIVATE_URLS", DEBUG)
# New nodes wait for an admin's approval before they get an assignment (in production by default:
# an unreviewed node would relay, and be paid, at once).
NODE_APPROVAL_REQUIRED = env_bool("NODE_APPROVAL_REQUIRED", not DEBUG)
# Nodes one account may register: each node takes its own share of a stream-minute.
NODE_MAX_PER_USER = env_int("NODE_MAX_PER_USER", 3, minimum=1)
HEARTBEAT_INTERVAL_SECONDS = env_int("HEARTBEAT_INTERVAL_SECONDS", 10, minimum=1)
# A node is stale after missing ~2 heartbeats and offline after ~6.
NODE_STALE_AFTER_INTERVALS = 2.5
NODE_OFFLINE_AFTER_INTERVALS = 6
# At most this many heartbeats per node per interval (the agent sends one; retries need room).
HEARTBEAT_RATE_LIMIT = env_int("HEARTBEAT_RATE_LIMIT", 5, minimum=1)
# Threads per web process recording heartbeats in batches (nodes/batching.py), one connection each.
# One measured best here (3,187 beats/s against 1,873 with two: they split the batches and fight
# over the GIL); more can pay when PostgreSQL is far away and round trips dominate.
HEARTBEAT_BATCH_THREADS = env_int("HEARTBEAT_BATCH_THREADS", 1, minimum=1)
# /metrics: open when unset (bind it to a private network), else scrapers send it as a Bearer token.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# /metrics reads its database aggregates at most this often per process (0: on every scrape).
METRICS_CACHE_SECONDS = env_int("METRICS_CACHE_SECONDS", 30, minimum=0)
INVITE_TTL_DAYS = env_int("INVITE_TTL_DAYS", 7, minimum=1)
# The site's public address, for links made outside a request (invite links from the command line).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
ENROLLMENT_TOKEN_TTL_HOURS = env_int("ENROLLMENT_TOKEN_TTL_HOURS", 24, minimum=1)
# Physical bounds for what a heartbeat may claim; beyond them values are clamped and flagged.
NODE_MAX_UPLINK_MBPS = env_int("NODE_MAX_UPLINK_MBPS", 1_000, minimum=1)
NODE_MAX_VIEWERS = env_int("NODE_MAX_VIEWERS", 10_000, minimum=1)
NODE_MAX_REQUESTS_PER_SECOND = env_int("NODE_MAX_REQUESTS_PER_SECOND", 5_000, minimum=1)

# --- Validation -----------------------------------------------------------------------------
SPOT_CHECK_MIN_OVERLAP = 0.9  # share of a node's frames that must be in the origin's live window
SPOT_CHECK_FAILURES_TO_SUSPEND = env_int("SPOT_CHECK_FAILURES_TO_SUSPEND", 3, minimum=1)
# Graded penalties (validation/services/penalties.py): the first failed check that counts warns the
# owner (on /me and by email), SPOT_CHECK_FAILURES_TO_SUSPEND in a row suspend the node. Its owner
# may appeal from /me: the node relays again on probation for one re-check, which decides. One
# appeal per node per APPEAL_INTERVAL_MINUTES; the re-check waits up to APPEAL_RELAY_WAIT_SECONDS
# for the node's heartbeats to say it relays again (its agent stopped when it was suspended).
APPEAL_INTERVAL_MINUTES = env_int("APPEAL_INTERVAL_MINUTES", 60, minimum=1)
APPEAL_RELAY_WAIT_SECONDS = env_int("APPEAL_RELAY_WAIT_SECONDS", 60, minimum=0)
# Every online relaying node is checked again within this many seconds (sooner when new, failing
# or less trusted); coverage holds while the workers keep up (/metrics: streamr_spot_checks_overdue).
SPOT_CHECK_INTERVAL_SECONDS = env_int("SPOT_CHECK_INTERVAL_SECONDS", 780, minimum=60)
# Reachability probes (validation/reachability.py): the site fetches a node's /healthz from outside
# on its first heartbeat, a new public URL, its owner's click and periodically (a failed probe again
# after REACHABILITY_RETRY_MINUTES, a passed one after REACHABILITY_REFRESH_HOURS, at most
# REACHABILITY_PROBES_PER_RUN online nodes per 5-minute run). Each connect and read waits at most
# REACHABILITY_TIMEOUT_SECONDS; one node and URL is probed at most once per REACHABILITY_CLAIM_SECONDS
# by the queued jobs (an owner's click always probes, within its throttle).
REACHABILITY_TIMEOUT_SECONDS = float(env_decimal("REACHABILITY_TIMEOUT_SECONDS", Decimal("5")))
if not 0 < REACHABILITY_TIMEOUT_SECONDS <= 30:
    raise ImproperlyConfigured("REACHABILITY_TIMEOUT_SECONDS must be above 0 and at most 30")
REACHABILITY_CLAIM_SECONDS = env_int("REACHABILITY_CLAIM_SECONDS", 60, minimum=1)
REACHABILITY_RETRY_MINUTES = env_int("REACHABILITY_RETRY_MINUTES", 15, minimum=1)
REACHABILITY_REFRESH_HOURS = env_int("REACHABILITY_REFRESH_HOURS", 6, minimum=1)
REACHABILITY_PROBES_PER_RUN = env_int("REACHABILITY_PROBES_PER_RUN", 40, minimum=1)
SPOT_CHECK_CONCURRENCY = env_int("SPOT_CHECK_CONCURRENCY", 16, minimum=1)  # checks in flight per run
# Spot-check runs started each minute, side by side on as many django-q2 workers (one core each).
SPOT_CHECK_RUNS = env_int("SPOT_CHECK_RUNS", 2, minimum=1)
# Segments from nodes are parsed (libav) in separate processes without secrets (validation.media_sandbox):
# at most this many per site process, each with this much address space and CPU per segment (an honest
# 8 Mbit/s segment takes ~20 ms); beyond either the segment is bad media.
MEDIA_PARSER_PROCESSES = env_int("MEDIA_PARSER_PROCESSES", 2, minimum=1)
MEDIA_PARSER_MEMORY_MB = env_int("MEDIA_PARSER_MEMORY_MB", 512, minimum=256)
MEDIA_PARSER_CPU_SECONDS = env_int("MEDIA_PARSER_CPU_SECONDS", 5, minimum=1)
ORIGIN_HISTORY_SECONDS = 600  # origin fingerprints kept per stream to recognise stale recordings
# A viewer draws at most this much per minute (8 Mbit/s with headroom); beyond: a fraud flag.
FRAUD_MAX_BYTES_PER_VIEWER_MINUTE = env_int("FRAUD_MAX_BYTES_PER_VIEWER_MINUTE", 150_000_000, minimum=1)

# Playback tickets: a viewer routed to a node reports the segments it loaded with one; reports
# renew it, so only an idle or copied ticket runs out.
PLAYBACK_TICKET_SECONDS = env_int("PLAYBACK_TICKET_SECONDS", 900, minimum=60)
PLAYBACK_REPORT_MIN_SECONDS = env_int("PLAYBACK_REPORT_MIN_SECONDS", 5, minimum=1)  # per ticket
# Tickets one client address gets a minute: beyond, playback works but is neither counted nor paid.
PLAYBACK_TICKETS_PER_ADDRESS_MINUTE = env_int("PLAYBACK_TICKETS_PER_ADDRESS_MINUTE", 30, minimum=1)
# People one client address can count as at once (a household, a small office; a campus NAT more).
PLAYBACK_WATCHERS_PER_ADDRESS = env_int("PLAYBACK_WATCHERS_PER_ADDRESS", 20, minimum=1)

# --- Throttles (core/throttle.py; login: accounts/login_throttle.py) ----------------------------
# Counted in the cache (Redis in production: one count for all processes) in fixed windows; a
# refused request gets HTTP 429 with Retry-After. With the cache unreachable every limit fails open
# (allowed, one log line a minute): a Redis outage must not lock everyone out.
# Login (/accounts/login/ and /admin/login/): after LOGIN_FAILURE_LIMIT wrong passwords for one
# account (from any address), or LOGIN_CLIENT_FAILURE_LIMIT from one address (for any accounts),
# within one LOGIN_COOLOFF_SECONDS window, that account / address is refused until the window ends.
# Refused attempts are not counted, so strangers cannot keep the real owner out longer than the
# cool-off: the right password works again within a minute; and one address keeps at most
# LOGIN_CLIENT_FAILURE_LIMIT / LOGIN_FAILURE_LIMIT (4) accounts locked at a time.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_CLIENT_FAILURE_LIMIT = env_int("LOGIN_CLIENT_FAILURE_LIMIT", 20, minimum=1)
LOGIN_COOLOFF_SECONDS = env_int("LOGIN_COOLOFF_SECONDS", 60, minimum=1)
# Everything else: scope -> (requests, per seconds), counted per signed-in account, else per client
# address (IPv6 by /64). Each allows many times what legitimate use needs.
THROTTLE_RATES: dict[str, tuple[int, int]] = {
    # POST /api/v1/nodes/register: one per node, a few retries; guessing enrollment tokens is not.
    "register": (env_int("THROTTLE_REGISTER_PER_HOUR", 30, minimum=1), 3600),
    # /accounts/invite/<token>, any method: opening the link and a few tries at a valid password.
    "invite": (env_int("THROTTLE_INVITE_PER_HOUR", 30, minimum=1), 3600),
    # POST /nodes/add (a new enrollment token), per friend.
    "enrollment-token": (env_int("THROTTLE_ENROLLMENT_TOKENS_PER_HOUR", 20, minimum=1), 3600),
    # GET /api/v1/streams/<slug>/playback: a watch page asks once, again when a source fails and every
    # 5 s while the stream is off; a household of PLAYBACK_WATCHERS_PER_ADDRESS viewers shares an address.
    "playback": (env_int("THROTTLE_PLAYBACK_PER_MINUTE", 300, minimum=1), 60),
    # GET /payouts (public settled earnings; hours_back is capped at 720 by the view).
    "public-payouts": (env_int("THROTTLE_PUBLIC_PAYOUTS_PER_MINUTE", 60, minimum=1), 60),
    # POST /api/v1/payouts (a payout request), per friend.
    "payout-request": (env_int("THROTTLE_PAYOUT_REQUESTS_PER_HOUR", 10, minimum=1), 3600),
    # POST /me/nodes/<pk>/probe (a reachability probe now), per friend.
    "reachability-probe": (env_int("THROTTLE_REACHABILITY_PROBES_PER_HOUR", 30, minimum=1), 3600),
    # POST /me/nodes/<pk>/appeal, per friend (the service allows one per node per APPEAL_INTERVAL_MINUTES).
    "appeal": (env_int("THROTTLE_APPEALS_PER_HOUR", 10, minimum=1), 3600),
}

# --- Rewards ------------------------------------------------------------------------------------
# A node's share of a stream-hour's pool: this weight on its share of relayed minutes, the rest on
# its share of bytes served (all bytes weight goes to minutes when nobody reports bytes).
SETTLEMENT_MINUTES_WEIGHT = env_decimal("SETTLEMENT_MINUTES_WEIGHT", Decimal("0.7"))
if not Decimal(0) <= SETTLEMENT_MINUTES_WEIGHT <= Decimal(1):
    raise ImproperlyConfigured("SETTLEMENT_MINUTES_WEIGHT must be between 0 and 1")
SETTLEMENT_GRACE_SECONDS = env_int("SETTLEMENT_GRACE_SECONDS", 120, minimum=0)  # late heartbeats
# A credit is payable once a later passing check of its node covers its hour, or after this many
# hours with no failed check; a failed check first claws back the node's unvested credits.
VESTING_HOURS = env_int("VESTING_HOURS", 24, minimum=1)
# Retention (rewards.services.retention, hourly): what grows with nodes x time or viewers x time is
# pruned once nothing needs it. Minute buckets of settled hours (settlement reads an hour once,
# within a day of its end), passing spot-checks, closed origin connections, failed task records:
# kept this many days, so every hour a clawback (up to VESTING_HOURS after it) or an appeal may
# question still has its buckets and checks. Unsettled hours, unvested credits' checks, the
# ledger, settlements, payouts and the audit log are never pruned.
RETENTION_DAYS = env_int("RETENTION_DAYS", 7, minimum=2)
if RETENTION_DAYS * 24 < VESTING_HOURS + 24 + 1:
    raise ImproperlyConfigured(
        f"RETENTION_DAYS ({RETENTION_DAYS}) must cover VESTING_HOURS ({VESTING_HOURS}) plus a day of "
        "settlement: a clawed-back hour would lose its evidence before its credit could vest."
    )
# Confirmed failed spot-checks (the record behind clawbacks and suspensions) are kept longer.
SPOT_CHECK_FAILURE_RETENTION_DAYS = env_int("SPOT_CHECK_FAILURE_RETENTION_DAYS", 365, minimum=1)
if SPOT_CHECK_FAILURE_RETENTION_DAYS < RETENTION_DAYS:
    raise ImproperlyConfigured(
        f"SPOT_CHECK_FAILURE_RETENTION_DAYS ({SPOT_CHECK_FAILURE_RETENTION_DAYS}) must be at least "
        f"RETENTION_DAYS ({RETENTION_DAYS})"
    )
# Rows one DELETE statement removes at most (each its own short transaction: no long locks).
RETENTION_CHUNK_ROWS = env_int("RETENTION_CHUNK_ROWS", 10_000, minimum=100)
# Payouts: the smallest amount a friend may request, and the one currency of the ledger (PayPal
# bulk files hold a single currency).
PAYOUT_MINIMUM = env_decimal("PAYOUT_MINIMUM", Decimal("5.00"))
if PAYOUT_MINIMUM <= 0 or PAYOUT_MINIMUM.quantize(Decimal("0.01")) != PAYOUT_MINIMUM:
    raise ImproperlyConfigured(f"PAYOUT_MINIMUM must be a positive amount in whole cents, got {PAYOUT_MINIMUM}")
# Four eyes (rewards.services.payouts): what one admin may move alone. A correction, or one admin's
# own corrections within 24 h added up (absolute amounts), above CORRECTION_SECOND_ADMIN_OVER is a
# proposal another admin confirms; payouts one admin approves alone for one friend within 24 h
# above PAYOUT_SECOND_ADMIN_OVER need a second, different approver.
CORRECTION_SECOND_ADMIN_OVER = env_decimal("CORRECTION_SECOND_ADMIN_OVER", Decimal("50.00"))
PAYOUT_SECOND_ADMIN_OVER = env_decimal("PAYOUT_SECOND_ADMIN_OVER", Decimal("100.00"))
if CORRECTION_SECOND_ADMIN_OVER < 0 or PAYOUT_SECOND_ADMIN_OVER < 0:
    raise ImproperlyConfigured("CORRECTION/PAYOUT_SECOND_ADMIN_OVER must not be negative (0: always two admins)")
CURRENCY = env_str("CURRENCY", "USD").upper()
if not (len(CURRENCY) == 3 and CURRENCY.isalpha() and CURRENCY.isascii()):
    raise ImproperlyConfigured(f"CURRENCY must be a three-letter ISO 4217 code, got {CURRENCY!r}")

# --- Email notifications (accounts/notifications.py) --------------------------------------------
# Django's email backend: printed to the console locally; production sets EMAIL_BACKEND to
# django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST/EMAIL_PORT/EMAIL_HOST_USER/
# EMAIL_HOST_PASSWORD/EMAIL_USE_TLS. Mail is sent by a django-q2 job after the change commits.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)  # a slow mail server never holds a worker long
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "StreamrP2P <noreply@localhost>")
# A node whose heartbeats stopped this long ago: its owner gets one email per outage.
NODE_OFFLINE_NOTIFY_MINUTES = env_int("NODE_OFFLINE_NOTIFY_MINUTES", 10, minimum=1)
# Admins hear of payouts waiting for approval at most once per this many minutes each.
PAYOUTS_WAITING_NOTIFY_MINUTES = env_int("PAYOUTS_WAITING_NOTIFY_MINUTES", 30, minimum=1)

INSTALLED_APPS = [
    "daphne",
    # First among the apps with templates: the site's own pages (login, password change) win over
    # the admin's copies of the same names, for the admin's password change too.
    "web",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "django_q",
    "streamrp2p_site.apps.SiteConfig",
    "core",  # its one table: the local live-push outbox (core/live_outbox.py)
    "streams",
    "nodes",
    "validation",
    "rewards",
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A database outage answers 503 with Retry-After, not a 500 per request (core/middleware.py).
    "core.middleware.DatabaseOutageMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Refuses login attempts (site and admin) past the failure limits: HTTP 429 with Retry-After.
    "accounts.middleware.LoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "streamrp2p_site.urls"
ASGI_APPLICATION = "streamrp2p_site.asgi.application"
WSGI_APPLICATION = "streamrp2p_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],  # every template lives in its app (web's pages, rewards' admin forms)
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

# --- Database ---------------------------------------------------------------------------------
DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
    schemes=("sqlite", "postgres", "postgresql", "pgsql"),
)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL or "", conn_max_age=60)}
# PostgreSQL: a bounded pool of connections per process. Under ASGI, sync views run in a thread
# pool and each thread used to keep its own connection: 16 concurrent clients were enough for
# "sorry, too many clients already". A request now borrows one of DB_POOL_SIZE and waits up to
# DB_POOL_TIMEOUT seconds for it. Processes x DB_POOL_SIZE must stay below max_connections (100).
DB_POOL_SIZE = env_int("DB_POOL_SIZE", 8, minimum=1)
DB_POOL_TIMEOUT = env_int("DB_POOL_TIMEOUT", 10, minimum=1)
# Once a request found the database down (a restart), the wait is cut to this until a connection
# is made again: requests answer 503 with Retry-After within about a second (core/database.py).
DB_OUTAGE_TIMEOUT = env_int("DB_OUTAGE_TIMEOUT", 1, minimum=1)
# The pool reconnects in the background with backoff (1 s, 2 s, 4 s, ...); an attempt gives up
# after this long and the next request starts a fresh one, so the gap between tries, and the
# time to recover once the database is back, stays a second or two however long it was down.
DB_RECONNECT_SECONDS = env_int("DB_RECONNECT_SECONDS", 3, minimum=1)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_SIZE,
        "timeout": DB_POOL_TIMEOUT,
        "reconnect_timeout": DB_RECONNECT_SECONDS,
    }
    # A server that does not answer at all (a dead host, not a refused port) fails a connection
    # attempt in seconds instead of the OS's minutes.
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", DB_RECONNECT_SECONDS)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (ASGI server + qcluster) share the file: wait for locks instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # A file, not shared-cache memory, for the test database: tests that run real threads or a
    # live server then see the same locking as `make run` does.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, django-q2 broker, cache ---------------------------------------------
REDIS_URL = env_url("REDIS_URL", None, schemes=("redis", "rediss", "unix"))
if not DEBUG and not REDIS_URL:
    # Without Redis each process has its own channel layer: pushes from the worker (spot-checks,
    # settlements) and from other web processes would never reach a dashboard.
    raise ImproperlyConfigured("DEBUG is off but REDIS_URL is not set: production needs Redis.")
# Redis answers in well under a millisecond; without timeouts a hung or unreachable one held every
# heartbeat for the OS's connect timeout. The heartbeat path goes on without Redis (core/outages.py):
# the rate limiter lets beats through, pushes are dropped, and after a failure Redis is skipped for
# REDIS_RETRY_SECONDS instead of every request paying a timeout.
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": 0.25, "socket_timeout": 0.5}
REDIS_CHANNEL_HOST_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 15, "max_connections": 2000}
REDIS_RETRY_SECONDS = env_int("REDIS_RETRY_SECONDS", 5, minimum=1)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 times reads out after 5 s, as long as channels_redis blocks waiting for a
            # message: idle sockets died with TimeoutError; and it refuses (MaxConnectionsError)
            # past 100 connections instead of waiting, which a burst of pushes reaches
            # (redis/redis-py#4091, django/channels_redis#422; seen in bench/fanout.py).
            # The read timeout stays above channels_redis's 5 s blocking pop; connecting is bounded
            # short, so a dead Redis costs a push a fraction of a second (core/live.py drops it).
            "CONFIG": {"hosts": [{"address": REDIS_URL, **REDIS_CHANNEL_HOST_OPTIONS}]},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": REDIS_CACHE_OPTIONS,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

Q_CLUSTER = {
    "name": "streamrp2p",
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": 120,
    "retry": 180,
    "max_attempts": 3,
    "queue_limit": 100,
    "catch_up": False,
    "label": "Django Q2",
    **({"redis": REDIS_URL} if REDIS_URL else {"orm": "default"}),
}

# --- Auth, i18n, static -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "landing"  # web/views/landing.py: admins, streamers and friends each to their own page
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# The friend's agent, served as a wheel at /agent/… (web/agent_wheel.py): built from AGENT_SOURCE_DIR
# with the image (docker/Dockerfile) or on first request, cached under AGENT_WHEEL_DIR.
AGENT_SOURCE_DIR = Path(env_str("AGENT_SOURCE_DIR", str(BASE_DIR / "node_agent")))
AGENT_WHEEL_DIR = Path(env_str("AGENT_WHEEL_DIR", str(BASE_DIR / ".local" / "agent")))
# Our JS and CSS and the vendored libraries live in web/static (no CDN: the site works offline).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed names and compressed copies; a page whose files were never collected still
        # renders (plain names, a warning in the log) instead of answering 500.
        "BACKEND": "streamrp2p_site.staticfiles.ManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# In development WhiteNoise serves straight from the apps' static folders (no collectstatic); in
# production too while nothing was collected (`manage.py web` collects first; a server started
# some other way would otherwise answer every page unstyled).
WHITENOISE_USE_FINDERS = DEBUG or not (STATIC_ROOT / "staticfiles.json").is_file()

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.SafeJSONParser"],
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "StreamrP2P coordinator API",
    "DESCRIPTION": "Public stream listing, the node API and friends' earnings and payouts (under /api/v1/).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {"PayoutMethodEnum": "rewards.models.MethodKind"},
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "nodeApiKey": {"type": "http", "scheme": "bearer", "description": "The node's API key (nk_…)."}
        }
    },
}

# --- Logging: human-readable one-liners on stderr ---------------------------------------------
LOG_FORMAT = env_str("LOG_FORMAT", "line")
if LOG_FORMAT not in ("line", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'line' or 'json', got {LOG_FORMAT!r}")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
ACCESS_LOG = env_bool("ACCESS_LOG", True)  # one line per request, hook secrets redacted
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every line goes out with the hook secret scrubbed; request targets are redacted (issue 17:
    # SRS's hook URLs carry ?secret=…, and it calls on_hls for every segment).
    "formatters": {
        "line": {
            "()": "streamrp2p_site.redaction.LineFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
        "json": {"()": "streamrp2p_site.redaction.JsonFormatter"},
    },
    "filters": {"redact_paths": {"()": "streamrp2p_site.redaction.RedactRequestPaths"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # uvicorn (`manage.py web`) through the same handler: its access log ("POST /hooks/srs?…"
        # 200; INFO lines: ACCESS_LOG=false or LOG_LEVEL=WARNING turns it off), its websocket and
        # error lines.
        "uvicorn": {"handlers": ["console"], "propagate": False},
        "uvicorn.error": {"filters": ["redact_paths"]},
        "uvicorn.access": {
            "handlers": ["console"],
            "level": LOG_LEVEL if ACCESS_LOG else "WARNING",
            "propagate": False,
            "filters": ["redact_paths"],
        },
        # daphne's runserver prints each request's target here.
        "django.channels.server": {"filters": ["redact_paths"]},
        # Django's own DEBUG-only console handler would print every request warning twice.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # django-q2 attaches a handler of its own; don't print its lines twice through root.
        "django-q": {"level": "INFO", "propagate": False},
    },
}
