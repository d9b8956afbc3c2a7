"""Pages catching up together share one read of the topic (chat/catchup.py):
a read serves every request that arrived before it began, and never one that
arrived after (that request might be owed a message committed meanwhile); a
request waits for a read in progress that began after it arrived rather than
making its own; a member hidden from someone by a block always reads for
themselves (tests/chat/test_messages.py checks what they see)."""

import threading
import time

import pytest

from accounts.models import Block
from chat import views
from chat.catchup import SharedReads
from tests.chat.conftest import HTMX, client_for
from tests.chat.test_catch_up import catch_up_url
from tests.chat.test_messages import ids_in
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db

WAIT = 5.0  # seconds, for a thread that should finish at once


@pytest.fixture
def posts(other_member, other_membership, topic):
    return MessageFactory.create_batch(3, topic=topic, author=other_member)


def test_requests_that_arrived_before_a_read_began_share_it(topic, posts):
    reads = SharedReads(limit=500)
    arrived = time.monotonic()

    first = reads.rows_after(topic.pk, 0, arrived)
    second = reads.rows_after(topic.pk, 0, arrived)

    assert second is first
    assert [row.pk for row in first.rows] == [m.pk for m in posts]
    assert reads.reads == 1


def test_a_request_that_arrived_after_a_read_began_reads_again(
    other_member, topic, posts
):
    reads = SharedReads(limit=500)
    reads.rows_after(topic.pk, 0, time.monotonic())
    later = MessageFactory(topic=topic, author=other_member)

    again = reads.rows_after(topic.pk, 0, time.monotonic())

    assert [row.pk for row in again.rows] == [m.pk for m in [*posts, later]]
    assert reads.reads == 2


def test_another_cursor_or_topic_is_another_read(topic, posts):
    reads = SharedReads(limit=500)
    arrived = time.monotonic()
    reads.rows_after(topic.pk, 0, arrived)

    after_first = reads.rows_after(topic.pk, posts[0].pk, arrived)

    assert [row.pk for row in after_first.rows] == [m.pk for m in posts[1:]]
    assert reads.reads == 2


def test_the_rows_stop_one_past_the_limit(topic, posts):
    read = SharedReads(limit=2).rows_after(topic.pk, 0, time.monotonic())

    assert [row.pk for row in read.rows] == [m.pk for m in posts]


class HeldReads(SharedReads):
    """Reads that wait to be let go, and say when they began."""

    def __init__(self):
        super().__init__(limit=500)
        self.began = threading.Event()
        self.release = threading.Event()

    def _read(self, topic_id, after):
        self.reads += 1
        self.began.set()
        assert self.release.wait(WAIT)
        return (f"read {self.reads}",)


def in_thread(work) -> tuple[threading.Thread, list]:
    result = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    return thread, result


def test_a_request_waits_for_a_read_in_progress_that_began_after_it_arrived():
    reads = HeldReads()
    arrived = time.monotonic()
    first, first_result = in_thread(lambda: reads.rows_after(1, 0, arrived))
    assert reads.began.wait(WAIT)

    # Arrived before that read began: it waits for it.
    second, second_result = in_thread(lambda: reads.rows_after(1, 0, arrived))
    second.join(0.2)
    assert second.is_alive()

    reads.release.set()
    first.join(WAIT)
    second.join(WAIT)
    assert second_result[0] is first_result[0]
    assert reads.reads == 1


def test_a_request_that_arrived_during_a_read_does_not_wait_for_it():
    reads = HeldReads()
    first, _ = in_thread(lambda: reads.rows_after(1, 0, time.monotonic()))
    assert reads.began.wait(WAIT)
    time.sleep(0.01)

    # Arrived after that read began: its own read, not the one under way.
    second, second_result = in_thread(lambda: reads.rows_after(1, 0, time.monotonic()))
    deadline = time.monotonic() + WAIT
    while reads.reads < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    reads.release.set()
    first.join(WAIT)
    second.join(WAIT)

    assert reads.reads == 2
    assert second_result[0].rows == ("read 2",)


def test_catch_up_reads_through_the_shared_reads_only_for_a_member_hidden_from_no_one(
    member, membership, other_member, other_membership, third_member, topic, posts
):
    before = views.shared_reads.reads
    html = client_for(member).get(catch_up_url(topic, after=0), **HTMX)
    assert ids_in(html.content.decode()) == [m.pk for m in posts]
    assert views.shared_reads.reads == before + 1

    Block.objects.create(blocker=third_member, blocked=member)
    html = client_for(member).get(catch_up_url(topic, after=0), **HTMX)

    assert ids_in(html.content.decode()) == [m.pk for m in posts]
    assert views.shared_reads.reads == before + 1
