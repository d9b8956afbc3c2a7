"""Where the real services are, and what to do when one is missing.

Tests that need Redis, PostgreSQL or Chromium are skipped with a reason on a
machine without them; with CI=true a missing service fails the run instead.

A test marked `postgres` needs the run's database to be PostgreSQL
(require_postgres, called for each such test by tests/conftest.py). A REDIS_URL
naming a Redis that does not answer is a missing service too: outside CI the run
goes on with the embedded channel layer and cache, and the tests that need Redis
skip (tests/conftest.py); in CI every test fails with the reason.
"""

import os
import runpy
import shutil
from pathlib import Path

import pytest
import redis
from django.core.signals import setting_changed

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRESQL = "django.db.backends.postgresql"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# REDIS_URL as this run was started with: tests/conftest.py takes an unusable
# one out of the environment, and the Redis tests must then skip on it rather
# than reach for the default.
GIVEN_REDIS_URL = os.environ.get("REDIS_URL", "")
SETTINGS_FILE = Path(__file__).resolve().parents[1] / "project" / "settings.py"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
]


def missing(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service fails the run)")
    pytest.skip(reason)


def redis_problem(url: str) -> str | None:
    """Why the Redis at `url` cannot be used, or None when it answers a PING
    (which also selects the URL's database)."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    except ValueError as exc:
        return f"REDIS_URL {url!r} is not a Redis URL ({exc})"
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis is not reachable at {url} ({exc})"
    finally:
        client.close()
    return None


def redis_url() -> str:
    """The Redis the Redis tests use: REDIS_URL, else the default local one."""
    url = GIVEN_REDIS_URL or DEFAULT_REDIS_URL
    if problem := redis_problem(url):
        missing(problem)
    return url


def use_embedded_layer_and_cache(settings) -> None:
    """Run without Redis from here on: the channel layer and cache that
    project/settings.py makes without REDIS_URL, in this process and in the
    server processes the tests start (they inherit the environment)."""
    os.environ.pop("REDIS_URL", None)
    embedded = runpy.run_path(str(SETTINGS_FILE))
    for name in ("CHANNEL_LAYERS", "CACHES"):
        setattr(settings, name, embedded[name])
        # Drops the cache and layer instances built from the old setting.
        setting_changed.send(
            sender=type(settings), setting=name, value=embedded[name], enter=True
        )


def require_postgres(engine: str) -> None:
    """For a test marked `postgres`: skip it (fail it in CI) unless the run's
    database is PostgreSQL."""
    if engine != POSTGRESQL:
        missing(
            f"needs PostgreSQL, and this run's database is {engine} "
            "(set DATABASE_URL=postgres://...)"
        )


def chromium_path() -> str:
    path = shutil.which(CHROMIUM) or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if not path:
        missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    return path


def postgres_connection(**options):
    """A PostgreSQL connection of the test's own to the test database, beside
    Django's (to hold a lock while the code under test runs)."""
    import psycopg
    from django.db import connection

    database = connection.settings_dict
    return psycopg.connect(
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        user=database["USER"],
        dbname=database["NAME"],
        **options,
    )
