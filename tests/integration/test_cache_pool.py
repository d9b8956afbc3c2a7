"""The cache's Redis connections belong to the process, not to each request
(project/cache_pool.py). Under Daphne each request runs on a thread of its
own and Django keeps a cache object per thread, so with redis-py's own pool
every request that touched the cache (every send, through the rate limit)
opened a connection to Redis, paid its handshake, and left it to the garbage
collector."""

import pytest
import redis

from communities.models import Topic
from tests.factories import coffee_club
from tests.integration.web import Tab, session_key

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

SENDS = 8  # under one member's writes budget (chat.actions.RATE_LIMIT)


def connections_received(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        return client.info("stats")["total_connections_received"]


def test_sends_open_no_redis_connection_of_their_own(aiko, redis_server, start_daphnes):
    community = coffee_club(aiko)
    topic = Topic.objects.create(community=community, title="t", created_by=aiko)
    [server] = start_daphnes(1)
    tab = Tab(server.url, session_key(aiko))
    csrf = tab.open_topic(topic.pk)
    assert tab.send(topic.pk, csrf, "The process's first connections").status == 201

    before = connections_received(redis_server.url)
    for n in range(SENDS):
        assert tab.send(topic.pk, csrf, f"Message {n}").status == 201
    # One for the count itself; none for the sends.
    assert connections_received(redis_server.url) - before == 1
