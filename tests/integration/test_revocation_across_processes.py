"""Revocation across processes: a change made through one Daphne process
reaches the member's socket on another within a second, through Redis.

Real servers, real HTTP with CSRF, real sockets (tests/integration/web.py).
"""

import time
from contextlib import ExitStack

import pytest

from chat import broadcast
from communities.models import Topic
from tests.conftest import PASSWORD
from tests.factories import coffee_club
from tests.integration.web import Tab, close_code_within, session_key

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

WITHIN = 1.0  # seconds
NEW_PASSWORD = "another-horse-battery-staple"


@pytest.fixture
def sockets():
    with ExitStack() as stack:
        yield stack


@pytest.fixture
def topic(aiko, ben):
    community = coffee_club(aiko, ben)
    return Topic.objects.create(community=community, title="Live chat", created_by=aiko)


def post_form(tab: Tab, path: str, csrf: str, form: dict):
    return tab.request(
        "POST",
        path,
        form={"csrfmiddlewaretoken": csrf, **form},
        headers={"Origin": tab.base_url, "Referer": f"{tab.base_url}/"},
    )


def test_leaving_through_one_server_takes_the_topic_off_a_socket_on_the_other(
    ben, topic, start_daphnes, sockets
):
    first, second = start_daphnes(2)
    key = session_key(ben)
    ben_on_first = Tab(first.url, key)
    ben_on_second = Tab(second.url, key)
    socket = sockets.enter_context(ben_on_first.live_socket(topic.pk))
    csrf = ben_on_second.open_topic(topic.pk)

    started = time.monotonic()
    left = post_form(
        ben_on_second, f"/communities/{topic.community_id}/leave/", csrf, {}
    )

    assert left.status == 302, (left.status, left.text[:2000])
    assert close_code_within(socket, WITHIN) == broadcast.CLOSE_RECHECK
    took = time.monotonic() - started
    print(f"leave on server two -> close on server one: {took:.3f} s")
    # The page's reconnect, on the first server, is refused the topic.
    again = sockets.enter_context(ben_on_first.live_socket(topic.pk))
    assert close_code_within(again, 5) == broadcast.CLOSE_FORBIDDEN


def test_a_password_change_on_one_server_ends_other_sessions_sockets_on_the_other(
    ben, topic, start_daphnes, sockets
):
    first, second = start_daphnes(2)
    phone = Tab(first.url, session_key(ben))
    laptop = Tab(second.url, session_key(ben))
    on_phone = sockets.enter_context(phone.live_socket(topic.pk))
    csrf = laptop.open_topic(topic.pk)

    changed = post_form(
        laptop,
        "/accounts/password/change/",
        csrf,
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert changed.status == 302, (changed.status, changed.text[:2000])
    assert close_code_within(on_phone, WITHIN) == broadcast.CLOSE_RECHECK
    # The phone's session no longer matches the password: its reconnect is
    # refused as its next page would be.
    again = sockets.enter_context(phone.live_socket(topic.pk))
    assert close_code_within(again, 5) == broadcast.CLOSE_UNAUTHENTICATED
