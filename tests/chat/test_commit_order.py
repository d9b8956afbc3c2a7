"""Within a topic, messages take their ids in the order they commit.

Catch-up's cursor rests on it (docs/live-protocol.md): an answer holding
message n must hold every message of the topic below n, or a page moving its
cursor to n would never fetch the one that committed late. send_message takes
the topic's row lock before the message's id, so a send that started later
cannot commit a higher id while an earlier one is still open.

PostgreSQL, real transactions in two threads: the first send is held open
right after its insert; the second must neither be visible nor take a lower
id until the first commits.
"""

import threading

import pytest
from django.db import connection
from django.db.models.signals import post_save

from chat import actions
from chat.models import Message
from communities.models import Membership

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HELD = 10  # seconds, the most any step here waits
SECOND_SEND_GRACE = 1.0  # seconds the second send gets to (wrongly) commit


def send(author, topic, body, results):
    try:
        membership = Membership.objects.get(member=author, community=topic.community)
        message, _created = actions.send_message(
            author=author,
            topic=topic,
            membership=membership,
            body=body,
            client_id=body,
        )
        results[body] = message.pk
    finally:
        connection.close()


def test_a_later_send_never_commits_an_id_below_or_around_an_open_one(
    member, membership, other_member, other_membership, topic
):
    inserted, release = threading.Event(), threading.Event()

    def hold_first(sender, instance, created, **kwargs):
        # Inside the first send's transaction, right after its insert.
        if created and instance.body == "first":
            inserted.set()
            release.wait(HELD)

    post_save.connect(hold_first, sender=Message)
    results = {}
    first = threading.Thread(target=send, args=(member, topic, "first", results))
    second = threading.Thread(
        target=send, args=(other_member, topic, "second", results)
    )
    try:
        first.start()
        assert inserted.wait(HELD)
        second.start()
        second.join(SECOND_SEND_GRACE)

        # What a catch-up would read now: nothing of the second send while
        # the first is open (it waits for the topic's lock).
        assert "second" not in results
        assert (
            list(Message.objects.filter(topic=topic).values_list("body", flat=True))
            == []
        )
    finally:
        release.set()
        first.join(HELD)
        second.join(HELD)
        post_save.disconnect(hold_first, sender=Message)

    assert results["first"] < results["second"]
