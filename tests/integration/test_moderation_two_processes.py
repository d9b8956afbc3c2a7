"""Two Daphne processes, one Redis, one database: moderation in the room
across processes (docs/moderation.md).

daichi moderates aiko's club. aiko's and ben's pages hold their sockets on
both servers. daichi, on the second server, deletes ben's message: the
socket on the first has the tombstone within a second. He pins a message:
the pinned list reaches the sockets on both. He bans ben through the first
server: ben's sockets on both servers are closed (the revocation path)
within a second, and opening one again is refused.

The redis-server here is the test's own, on a spare port (conftest.py).
"""

import time

import pytest
from django.urls import reverse

from chat import broadcast
from communities import actions
from communities.models import Membership, Topic
from tests.factories import MessageFactory, coffee_club
from tests.integration.web import (
    Tab,
    close_code_within,
    frames_until,
    session_key,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

DELIVERY_LIMIT = 1.0  # seconds from acting on one server to the frame on the other
CLOSE_LIMIT = 1.0  # seconds from the ban to the banned member's sockets closing


def act(tab: Tab, path: str, csrf: str, form=None, *, topic_id: int):
    """A POST from the topic page, as htmx makes it."""
    return tab.request(
        "POST",
        path,
        form={"csrfmiddlewaretoken": csrf, **(form or {})},
        headers={
            "HX-Request": "true",
            "X-CSRFToken": csrf,
            "Origin": tab.base_url,
            "Referer": f"{tab.base_url}/topics/{topic_id}/",
        },
    )


def test_delete_pin_and_ban_take_effect_on_both_processes(
    aiko, ben, daichi, redis_server, start_daphnes, sockets
):
    club = coffee_club(aiko, daichi, ben)
    actions.set_role(
        community=club, member_id=daichi.pk, role=Membership.Role.MODERATOR
    )
    topic = Topic.objects.create(community=club, title="Live chat", created_by=aiko)
    warm_up = MessageFactory(topic=topic, author=ben, body="First spam")
    spam = MessageFactory(topic=topic, author=ben, body="Cheap followers here")
    notice = MessageFactory(topic=topic, author=aiko, body="Tasting on Saturday")
    first, second = start_daphnes(2)
    daichi_on_second = Tab(second.url, session_key(daichi))
    daichi_on_first = Tab(first.url, session_key(daichi))
    csrf_second = daichi_on_second.open_topic(topic.pk)
    csrf_first = daichi_on_first.open_topic(topic.pk)
    aiko_key, ben_key = session_key(aiko), session_key(ben)
    aiko_first = sockets.enter_context(Tab(first.url, aiko_key).live_socket(topic.pk))
    aiko_second = sockets.enter_context(Tab(second.url, aiko_key).live_socket(topic.pk))
    ben_first = sockets.enter_context(Tab(first.url, ben_key).live_socket(topic.pk))
    ben_second = sockets.enter_context(Tab(second.url, ben_key).live_socket(topic.pk))

    def delete(message, deadline):
        started = time.monotonic()
        deleted = act(
            daichi_on_second,
            reverse("chat:message-delete", kwargs={"message_id": message.pk}),
            csrf_second,
            {"rule": "spam"},
            topic_id=topic.pk,
        )
        assert deleted.status == 200, deleted.status
        assert "X-Refused" not in deleted.headers, deleted.text
        return started, frames_until(
            aiko_first, f'<article id="message-{message.pk}"', started + deadline
        )

    # The first deletion a fresh server makes is slow (its first renders of
    # these fragments, a notification's first path): not what is timed.
    delete(warm_up, 10 * DELIVERY_LIMIT)
    # A deletion on the second server reaches the socket on the first.
    started, frames = delete(spam, DELIVERY_LIMIT)
    print(f"delete on two -> frame on one: {time.monotonic() - started:.3f} s")
    assert "This message was deleted." in frames[-1]
    assert "Cheap followers" not in frames[-1]

    # A pin made on the second server appears on both.
    started = time.monotonic()
    pinned = act(
        daichi_on_second,
        reverse("moderation:pin", kwargs={"message_id": notice.pk}),
        csrf_second,
        topic_id=topic.pk,
    )
    assert pinned.status == 200 and "X-Refused" not in pinned.headers, pinned.text
    for socket in (aiko_first, aiko_second):
        frames = frames_until(
            socket, f'<section id="topic-{topic.pk}-pins"', started + DELIVERY_LIMIT
        )
        assert "Tasting on Saturday" in frames[-1]

    # A ban made on the first server closes ben's sockets on both.
    started = time.monotonic()
    banned = daichi_on_first.request(
        "POST",
        reverse(
            "moderation:ban", kwargs={"community_id": club.pk, "member_id": ben.pk}
        ),
        form={"csrfmiddlewaretoken": csrf_first, "reason": "Spam", "rule": "spam"},
        headers={"Origin": first.url, "Referer": f"{first.url}/topics/{topic.pk}/"},
    )
    assert banned.status == 302, (banned.status, banned.text[:2000])
    assert close_code_within(ben_first, CLOSE_LIMIT) == broadcast.CLOSE_RECHECK
    assert close_code_within(ben_second, CLOSE_LIMIT) == broadcast.CLOSE_RECHECK
    print(f"ban on one -> both sockets closed: {time.monotonic() - started:.3f} s")
    assert Membership.objects.get(community=club, member=ben).status == "banned"
    # Reconnecting, as the page does, is refused on either server.
    for server in (first, second):
        with Tab(server.url, ben_key).live_socket(topic.pk) as again:
            assert close_code_within(again, CLOSE_LIMIT * 3) == (
                broadcast.CLOSE_FORBIDDEN
            )
    # aiko stays.
    assert aiko_first.protocol.state.name == "OPEN"
