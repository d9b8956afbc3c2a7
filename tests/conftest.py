import itertools
import os

import factory
import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils import translation

from accounts.models import Member
from project import socket_auth
from tests import services

PASSWORD = "correct-horse-battery"

# Runs side by side on one Redis must not hear each other's groups (ids start
# at 1 in every test database): one layer prefix per run, also for the server
# processes the browser and integration tests start (they inherit os.environ).
os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"test{os.getpid()}")
_layer_config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
if "prefix" in _layer_config:
    _layer_config["prefix"] = os.environ["CHANNEL_LAYER_PREFIX"]

# A REDIS_URL whose Redis does not answer would make every test error in the
# cache or the layer. It is a missing service like any other (tests/services.py):
# outside CI the run goes on without Redis and the Redis tests skip; in CI
# every test fails with the reason (pytest_runtest_setup below).
REDIS_PROBLEM = (
    services.redis_problem(services.GIVEN_REDIS_URL)
    if services.GIVEN_REDIS_URL
    else None
)
if REDIS_PROBLEM and not services.IN_CI:
    services.use_embedded_layer_and_cache(settings)


def pytest_report_header(config):
    if REDIS_PROBLEM and not services.IN_CI:
        return [
            f"{REDIS_PROBLEM}: running on the embedded channel layer and cache;"
            " tests that need Redis are skipped"
        ]
    return []


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # Before any fixture: in CI, a Redis that does not answer fails each test
    # with the reason (not with whichever fixture touched the cache first); a
    # PostgreSQL test on another database would start its servers only to
    # prove nothing (the `postgres` marker, pyproject.toml).
    if REDIS_PROBLEM and services.IN_CI:
        services.missing(REDIS_PROBLEM)
    if item.get_closest_marker("postgres"):
        services.require_postgres(settings.DATABASES["default"]["ENGINE"])


# project/settings.py names the test database after the process that read the
# settings, and the layer prefix above is that process's too. mutmut runs the
# tests several times in one process and then once per mutant in processes
# forked from it: each of those runs needs a database of its own (a new SQLite
# file beside the write-ahead log of an old one with its name reads as
# malformed), and a forked process needs its own layer prefix.
_SETTINGS_PID = os.getpid()
_TEST_DATABASE_NAMES = {
    alias: database.get("TEST", {}).get("NAME")
    for alias, database in settings.DATABASES.items()
}
_sessions = itertools.count()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    session = next(_sessions)
    if os.getpid() == _SETTINGS_PID and session == 0:
        return
    for alias, name in _TEST_DATABASE_NAMES.items():
        if name:
            settings.DATABASES[alias]["TEST"]["NAME"] = (
                f"{name}_{os.getpid()}_{session}"
            )


@pytest.fixture(scope="session", autouse=True)
def _layer_prefix_of_this_process():
    if os.getpid() == _SETTINGS_PID:
        return
    os.environ["CHANNEL_LAYER_PREFIX"] = f"test{os.getpid()}"
    if "prefix" in _layer_config:
        _layer_config["prefix"] = os.environ["CHANNEL_LAYER_PREFIX"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's, plus: let the test database be dropped at the end.
    Consumers' database work runs on asgiref's one shared thread and on the
    live socket's own threads (project/socket_auth.py), whose connections
    outlive the tests (Channels' test communicator skips their clean-up); with
    them (or the pool) still open, PostgreSQL refuses to drop the database and
    every run left one behind."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
    socket_auth.close_thread_connections()
    for connection in connections.all(initialized_only=True):
        connection.close()
        if hasattr(connection, "close_pool"):
            connection.close_pool()


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member
        skip_postgeneration_save = True

    nickname = factory.Sequence(lambda n: f"member{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


@pytest.fixture
def member_factory(db):
    return MemberFactory


# The cast of the tests (and of seed_demo): one member each, by nickname.
@pytest.fixture
def aiko(member_factory):
    return member_factory(nickname="aiko")


@pytest.fixture
def ben(member_factory):
    return member_factory(nickname="ben")


@pytest.fixture
def chika(member_factory):
    return member_factory(nickname="chika")


@pytest.fixture
def daichi(member_factory):
    return member_factory(nickname="daichi")


@pytest.fixture
def member(aiko):
    """The member a test acts as: aiko."""
    return aiko


@pytest.fixture
def other_member(ben):
    """A second member: ben."""
    return ben


def client_for(member, **kwargs) -> Client:
    """A test client logged in as `member` (a real session)."""
    client = Client(**kwargs)
    client.force_login(member)
    return client


@pytest.fixture
def member_client(member):
    return client_for(member)


@pytest.fixture
def other_client(other_member):
    return client_for(other_member)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _require_real_services_in_ci(request):
    """With DATABASE_URL/REDIS_URL set (as .ci/run does), the suite must really be
    running on PostgreSQL and the Redis pub/sub layer."""
    if not services.IN_CI:
        return
    if "db" in request.fixturenames or "transactional_db" in request.fixturenames:
        engine = settings.DATABASES["default"]["ENGINE"]
        assert engine == "django.db.backends.postgresql", engine
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    assert backend == "chat.layers.ResyncingRedisPubSubChannelLayer", backend


@pytest.fixture
def redis_url():
    return services.redis_url()


@pytest.fixture(autouse=True)
def _default_language():
    # LocaleMiddleware leaves the last request's language active in the test
    # client's thread; a page fetched in Japanese must not make the next
    # test's messages Japanese.
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _clear_cache():
    # allauth's rate limits live in the cache; one test's failed logins must not
    # lock out the next test.
    from django.core.cache import cache

    from chat.fragments import local_fragments
    from project import cache_guard

    cache.clear()
    local_fragments.clear()
    # A test that made the cache fail must not leave the next one skipping it.
    cache_guard.reset()
    yield
