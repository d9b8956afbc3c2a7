"""The rate limit holds across processes: one member's posts, alternating
between two Daphne processes that share one Redis, are refused at the budget
(chat.actions.WRITES) however they are spread over the two, and the refusal
says when to try again (429 in X-Refused, Retry-After, the seconds in its
words). Counted in Redis by project/ratelimit.py, not per process.

The redis-server is the test's own, on a spare port (conftest.py)."""

import re

import pytest

from chat.actions import RATE_LIMIT, RATE_WINDOW
from chat.models import Message
from communities.models import Topic
from tests.factories import coffee_club
from tests.integration.web import Tab, session_key

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

TOO_FAST = re.compile(
    r"You are sending messages too fast\. Try again in (\d+) seconds?\."
)


def header(response, name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in response.headers.items() if k.lower() == wanted), None)


def test_one_members_posts_on_two_processes_share_one_budget(
    aiko, redis_server, start_daphnes
):
    community = coffee_club(aiko)
    topic = Topic.objects.create(community=community, title="Quick", created_by=aiko)
    first, second = start_daphnes(2)
    key = session_key(aiko)
    tabs = [Tab(first.url, key), Tab(second.url, key)]
    tokens = [tab.open_topic(topic.pk) for tab in tabs]

    # The budget's posts, in turn on each server: each server alone has seen
    # only half of them, and every one is let through.
    for n in range(RATE_LIMIT):
        tab, token = tabs[n % 2], tokens[n % 2]
        posted = tab.send(topic.pk, token, f"quick {n}")
        assert posted.status == 201, (n, posted.status, posted.text[:500])

    # One more, on either server, is refused: the count is the two's.
    for tab, token in zip(tabs, tokens, strict=True):
        response = tab.send(topic.pk, token, "one too many")
        assert response.status == 200, response.status
        assert header(response, "X-Refused") == "429"
        found = TOO_FAST.fullmatch(response.text)
        assert found, response.text
        retry_after = header(response, "Retry-After")
        assert retry_after == found.group(1)
        assert 1 <= int(retry_after) <= RATE_WINDOW
    assert Message.objects.filter(topic=topic).count() == RATE_LIMIT
