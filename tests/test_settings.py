"""project/settings.py as a deployment sees it: fresh processes, real environment.

Settings are read once per process, so each case starts a new Python with the
environment it describes instead of patching django.conf.settings.
"""

import json
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent

# Everything settings.py reads that could leak in from the shell running pytest
# (CI sets DATABASE_URL, REDIS_URL and CI itself).
SETTINGS_VARIABLES = {
    "ALLOWED_HOSTS",
    "CHANNEL_LAYER_REDIS_URLS",
    "CI",
    "CONN_MAX_AGE",
    "CSRF_COOKIE_SECURE",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "DJANGO_DEBUG",
    "OPEN_REGISTRATION",
    "REDIS_URL",
    "SECRET_KEY",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
}

SHOW_SETTINGS = """
import json
import django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "DEBUG": s.DEBUG,
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT,
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": s.CSRF_COOKIE_SECURE,
    "SECURE_HSTS_SECONDS": s.SECURE_HSTS_SECONDS,
    "DATABASE": {
        key: s.DATABASES["default"].get(key)
        for key in ("ENGINE", "NAME", "HOST", "PORT", "USER")
    },
    "CHANNEL_LAYER": s.CHANNEL_LAYERS["default"],
    "CACHE": s.CACHES["default"],
}, default=str))
"""


def random_secret_key(length: int = 50) -> str:
    alphabet = string.ascii_letters + string.digits + "!#%&*+-=?@^_"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def production_env(**overrides) -> dict[str, str]:
    return environment(
        DJANGO_DEBUG="0",
        SECRET_KEY=random_secret_key(),
        ALLOWED_HOSTS="enishi.example",
        **overrides,
    )


def environment(**overrides) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env["DJANGO_SETTINGS_MODULE"] = "project.settings"
    env.update(overrides)
    return env


def python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_under(env: dict[str, str]) -> dict:
    result = python(["-c", SHOW_SETTINGS], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- The secret key -----------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, ""])
def test_production_refuses_to_start_without_a_secret_key(secret):
    env = environment(DJANGO_DEBUG="0")
    if secret is not None:
        env["SECRET_KEY"] = secret

    result = python(["-c", "import django; django.setup()"], env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_mode_starts_without_a_secret_key():
    result = python(
        ["-c", "import django; django.setup()"], environment(DJANGO_DEBUG="1")
    )

    assert result.returncode == 0, result.stderr


def test_unset_debug_means_production():
    result = python(["-c", "import django; django.setup()"], environment())

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


# --- Deployment checks and secure defaults --------------------------------------------


def test_deploy_check_passes_with_production_settings():
    result = python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        production_env(),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_deploy_check_fails_when_a_secure_setting_is_turned_off():
    # The passing check above means something only if the check can fail.
    result = python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        production_env(SECURE_SSL_REDIRECT="0"),
    )

    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr


def test_production_turns_every_secure_setting_on():
    settings = settings_under(production_env())

    assert settings["DEBUG"] is False
    assert settings["ALLOWED_HOSTS"] == ["enishi.example"]
    assert settings["SECURE_SSL_REDIRECT"] is True
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["CSRF_COOKIE_SECURE"] is True
    assert settings["SECURE_HSTS_SECONDS"] > 0


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SECURE_SSL_REDIRECT", "0", False),
        ("SESSION_COOKIE_SECURE", "0", False),
        ("CSRF_COOKIE_SECURE", "0", False),
        ("SECURE_HSTS_SECONDS", "0", 0),
    ],
)
def test_each_secure_setting_can_be_turned_off_on_its_own(variable, value, expected):
    settings = settings_under(production_env(**{variable: value}))

    assert settings[variable] == expected
    others = {
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
    } - {variable}
    for other in others:
        assert settings[other], other


def test_debug_mode_serves_plain_http_locally():
    settings = settings_under(environment(DJANGO_DEBUG="1"))

    assert settings["DEBUG"] is True
    assert settings["SECURE_SSL_REDIRECT"] is False
    assert settings["SESSION_COOKIE_SECURE"] is False
    assert "localhost" in settings["ALLOWED_HOSTS"]


# --- Embedded default and real services -------------------------------------------


def test_without_service_urls_it_is_sqlite_and_the_in_memory_layer():
    settings = settings_under(environment(DJANGO_DEBUG="1"))

    assert settings["DATABASE"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings["DATABASE"]["NAME"] == str(BASE_DIR / "db.sqlite3")
    assert settings["CHANNEL_LAYER"]["BACKEND"] == (
        "channels.layers.InMemoryChannelLayer"
    )
    assert settings["CACHE"]["BACKEND"] == (
        "django.core.cache.backends.locmem.LocMemCache"
    )


def test_service_urls_switch_to_postgresql_redis_pubsub_and_redis_cache():
    settings = settings_under(
        environment(
            DJANGO_DEBUG="1",
            DATABASE_URL="postgres://enishi@db.internal:5433/enishi_prod",
            REDIS_URL="redis://cache.internal:6380/2",
        )
    )

    assert settings["DATABASE"] == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "enishi_prod",
        "HOST": "db.internal",
        "PORT": 5433,
        "USER": "enishi",
    }
    layer = settings["CHANNEL_LAYER"]
    assert layer["BACKEND"] == "chat.layers.ResyncingRedisPubSubChannelLayer"
    (host,) = layer["CONFIG"]["hosts"]
    assert host["address"] == "redis://cache.internal:6380/2"
    # redis-py's 5 s default would drop an idle pub/sub connection (DESIGN.md).
    assert host["socket_timeout"] is None
    assert settings["CACHE"]["BACKEND"] == (
        "django.core.cache.backends.redis.RedisCache"
    )
    assert settings["CACHE"]["LOCATION"] == "redis://cache.internal:6380/2"


def test_database_url_alone_leaves_the_in_memory_layer():
    settings = settings_under(
        environment(DJANGO_DEBUG="1", DATABASE_URL="postgres://enishi@db/enishi")
    )

    assert settings["DATABASE"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings["CHANNEL_LAYER"]["BACKEND"] == (
        "channels.layers.InMemoryChannelLayer"
    )


# --- The channel layer over several Redis servers -----------------------------------

LAYER_A = "redis://pubsub-a.internal:6379/0"
LAYER_B = "redis://pubsub-b.internal:6380/0"
CACHE_REDIS = "redis://cache.internal:6381/2"


def layer_hosts(**variables) -> tuple[list[dict], dict]:
    """The channel layer's hosts and the cache under `variables`."""
    settings = settings_under(environment(DJANGO_DEBUG="1", **variables))
    layer = settings["CHANNEL_LAYER"]
    assert layer["BACKEND"] == "chat.layers.ResyncingRedisPubSubChannelLayer"
    return layer["CONFIG"]["hosts"], settings["CACHE"]


def test_without_layer_urls_the_layer_is_the_one_redis_of_redis_url():
    hosts, cache = layer_hosts(REDIS_URL=CACHE_REDIS)

    assert [host["address"] for host in hosts] == [CACHE_REDIS]
    assert cache["LOCATION"] == CACHE_REDIS


def test_one_layer_url_is_one_host_and_the_cache_stays_on_redis_url():
    hosts, cache = layer_hosts(REDIS_URL=CACHE_REDIS, CHANNEL_LAYER_REDIS_URLS=LAYER_A)

    assert [host["address"] for host in hosts] == [LAYER_A]
    # The cache (and chat/socket_limit.py, which reads REDIS_URL) stays put.
    assert cache["LOCATION"] == CACHE_REDIS


def test_two_layer_urls_are_two_hosts_in_order_with_the_same_options():
    hosts, cache = layer_hosts(
        REDIS_URL=CACHE_REDIS, CHANNEL_LAYER_REDIS_URLS=f"{LAYER_A},{LAYER_B}"
    )
    (single,), _ = layer_hosts(REDIS_URL=CACHE_REDIS)

    # In the order given: channels-redis hashes a group's name to a place in
    # this list, so the order is part of where each group lives.
    assert [host["address"] for host in hosts] == [LAYER_A, LAYER_B]
    # Each host connects exactly as the single host does (no option lost on
    # the way, such as the socket timeout an idle subscription needs).
    single_options = {k: v for k, v in single.items() if k != "address"}
    for host in hosts:
        assert {k: v for k, v in host.items() if k != "address"} == single_options
    assert single_options["socket_timeout"] is None
    assert cache["LOCATION"] == CACHE_REDIS


def test_blank_entries_in_the_layer_urls_are_ignored():
    hosts, _ = layer_hosts(
        REDIS_URL=CACHE_REDIS, CHANNEL_LAYER_REDIS_URLS=f" {LAYER_A}, ,{LAYER_B}, "
    )

    assert [host["address"] for host in hosts] == [LAYER_A, LAYER_B]


def test_layer_urls_of_only_commas_mean_redis_url_alone():
    hosts, _ = layer_hosts(REDIS_URL=CACHE_REDIS, CHANNEL_LAYER_REDIS_URLS=" , ")

    assert [host["address"] for host in hosts] == [CACHE_REDIS]


@pytest.mark.parametrize(
    ("layer_urls", "reason"),
    [
        (f"{LAYER_A},http://pubsub-b.internal:6380/0", "is not a Redis URL"),
        (f"{LAYER_A},pubsub-b.internal:6380", "is not a Redis URL"),
        (f"{LAYER_A},{LAYER_A}", "lists the same Redis URL twice"),
    ],
)
def test_a_wrong_layer_url_is_refused_at_start_up(layer_urls, reason):
    result = python(
        ["-c", "import django; django.setup()"],
        environment(
            DJANGO_DEBUG="1", REDIS_URL=CACHE_REDIS, CHANNEL_LAYER_REDIS_URLS=layer_urls
        ),
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "CHANNEL_LAYER_REDIS_URLS" in result.stderr
    assert reason in result.stderr


def test_layer_urls_without_redis_url_are_refused_at_start_up():
    # Without REDIS_URL the cache would be each process's own memory and the
    # socket count would have nowhere to live.
    result = python(
        ["-c", "import django; django.setup()"],
        environment(DJANGO_DEBUG="1", CHANNEL_LAYER_REDIS_URLS=LAYER_A),
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "set REDIS_URL too" in result.stderr
