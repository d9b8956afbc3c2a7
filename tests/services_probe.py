"""Probes that tests/test_services.py runs in a pytest of its own, under a
chosen environment, to see what tests/conftest.py makes of missing services.
Not collected in a normal run (the name does not start with test_)."""

import pytest
from django.core.cache import cache
from django.db import connection

from accounts.models import Member


def test_needs_no_service():
    pass


@pytest.mark.django_db
def test_uses_the_database_and_the_cache():
    cache.set("probe", "here")
    assert cache.get("probe") == "here"
    assert not Member.objects.exists()


@pytest.mark.redis
def test_needs_redis(redis_url):
    pass


@pytest.mark.postgres
@pytest.mark.django_db
def test_needs_postgres():
    assert connection.vendor == "postgresql"
