"""Within a topic, messages take their ids in the order they commit.

Catch-up's cursor rests on it (docs/live-protocol.md): an answer holding
message n must hold every message of the topic below n, or a page moving its
cursor to n would never fetch the one that committed late. send_message takes
the topic's row lock before the message's id, so a send that started later
cannot commit a higher id while an earlier one is still open.

PostgreSQL, real transactions in two threads: the first send is held open
right after its insert (a trigger of the test's waits for an advisory lock
the test holds); the second must neither be visible nor take a lower id until
the first commits.
"""

import threading
import time

import pytest
from django.db import connection

from chat import actions
from chat.models import Message
from communities.models import Membership
from tests import services

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HELD = 10  # seconds, the most any step here waits
SECOND_SEND_GRACE = 1.0  # seconds the second send gets to (wrongly) commit
GATE = 7413  # the advisory lock the first send's insert waits for

HOLD_FIRST = f"""
CREATE FUNCTION test_hold_first() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.body = 'first' THEN
        PERFORM pg_advisory_xact_lock({GATE});
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_hold_first AFTER INSERT ON chat_message
FOR EACH ROW EXECUTE FUNCTION test_hold_first();
"""
UNHOLD = """
DROP TRIGGER IF EXISTS test_hold_first ON chat_message;
DROP FUNCTION IF EXISTS test_hold_first();
"""


def first_send_waiting(gate) -> bool:
    """Whether a send waits for the gate (inside its insert)."""
    waiting = gate.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
        "AND objid = %s AND NOT granted",
        [GATE],
    ).fetchone()[0]
    return waiting == 1


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
    with connection.cursor() as cursor:
        cursor.execute(HOLD_FIRST)
    gate = services.postgres_connection(autocommit=True)
    gate.execute("SELECT pg_advisory_lock(%s)", [GATE])
    results = {}
    first = threading.Thread(target=send, args=(member, topic, "first", results))
    second = threading.Thread(
        target=send, args=(other_member, topic, "second", results)
    )
    try:
        first.start()
        deadline = time.monotonic() + HELD
        while not first_send_waiting(gate):
            assert time.monotonic() < deadline, "the first send never inserted"
            time.sleep(0.01)
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
        gate.execute("SELECT pg_advisory_unlock(%s)", [GATE])
        first.join(HELD)
        second.join(HELD)
        gate.close()
        with connection.cursor() as cursor:
            cursor.execute(UNHOLD)

    assert results["first"] < results["second"]
