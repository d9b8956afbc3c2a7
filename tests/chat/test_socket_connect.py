"""What opening a live socket costs, where it runs, and what it cannot miss.

A socket's session and member are read in one hop (project/socket_auth.py),
then the consumer joins the member's group, then one more hop checks the
session again, authorizes every topic in one query and loads the members
hidden by a block (chat/consumers.py). Both hops run on the socket path's own
threads, not on asgiref's one shared thread, so a crowd of sockets opening at
once is not served one after the other (issue 7).
"""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db.backends.utils import CursorWrapper
from django.urls import reverse

from accounts.models import Member
from chat import broadcast, hub, reconnect
from chat.consumers import MAX_STREAMS
from tests.chat.conftest import NOTHING_TIMEOUT, close_code, session_key_for
from tests.conftest import client_for
from tests.factories import TopicFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

# Session and member (the middleware); session and member again, the topics
# and the hidden members (the consumer).
CONNECT_QUERIES = 6


@pytest.fixture
def queries(monkeypatch):
    """Every SQL statement run while the test runs, on any thread, with the
    name of the thread that ran it."""
    seen: list[tuple[str, str]] = []
    execute = CursorWrapper._execute

    def recording(self, sql, *args):
        seen.append((threading.current_thread().name, sql))
        return execute(self, sql, *args)

    monkeypatch.setattr(CursorWrapper, "_execute", recording)
    return seen


def topic_queries(seen) -> list[str]:
    return [sql for _thread, sql in seen if '"communities_topic"' in sql]


@pytest.mark.parametrize("streams", [1, MAX_STREAMS])
async def test_a_socket_opens_in_the_same_few_queries_whatever_its_topics(
    member, membership, community, open_tab, queries, streams
):
    topics = await database_sync_to_async(TopicFactory.create_batch)(
        streams, community=community
    )
    key = await session_key_for(member)
    queries.clear()

    socket = await open_tab(key, *topics)

    assert await socket.receive_nothing(timeout=NOTHING_TIMEOUT)
    assert len(queries) == CONNECT_QUERIES, queries
    # All the topics in one query, not one per topic.
    assert len(topic_queries(queries)) == 1
    # None on the thread every other sync_to_async of the process shares.
    assert all(thread.startswith("live-socket-db_") for thread, _sql in queries)


async def test_a_socket_with_no_topics_skips_the_topic_query(member, open_tab, queries):
    key = await session_key_for(member)
    queries.clear()

    socket = await open_tab(key)

    assert await socket.receive_nothing(timeout=NOTHING_TIMEOUT)
    assert len(queries) == CONNECT_QUERIES - 1
    assert topic_queries(queries) == []


async def test_sockets_opening_together_share_their_hops_and_queries(
    member, other_member, membership, other_membership, topic, open_tab, queries
):
    # Thirty tabs opening at the same moment (a deploy, a reconnect storm):
    # their session reads and authorizations go a crowd at a time
    # (project/socket_auth.py: Batched), so the queries grow with the hops,
    # not with the sockets. One query per socket per step would be 180.
    keys = [await session_key_for(member), await session_key_for(other_member)]
    queries.clear()

    sockets = await asyncio.gather(
        *(open_tab(keys[n % 2], topic, timeout=10) for n in range(30))
    )

    for socket in sockets:
        assert await socket.receive_nothing(timeout=0.01)
    assert len(queries) < 30 * CONNECT_QUERIES // 2, len(queries)
    assert len(topic_queries(queries)) < 30 // 2


def test_one_hop_gives_each_socket_of_a_crowd_its_own_answer(
    member,
    other_member,
    chika,
    membership,
    other_membership,
    topic,
    django_assert_num_queries,
):
    # The authorizations of sockets that opened together, in one hop: each
    # gets exactly what it alone would have got, in four queries for all.
    from accounts.models import Block
    from chat.consumers import SessionEnded, _authorize_many
    from communities.access import AccessDenied
    from tests.factories import CommunityFactory

    Block.objects.create(blocker=member, blocked=chika)
    elsewhere = TopicFactory(community=CommunityFactory(owner=chika))
    aiko = client_for(member).cookies[settings.SESSION_COOKIE_NAME].value
    ben = client_for(other_member).cookies[settings.SESSION_COOKIE_NAME].value
    logged_out = client_for(other_member)
    gone = logged_out.cookies[settings.SESSION_COOKIE_NAME].value
    logged_out.logout()

    with django_assert_num_queries(4):
        answers = _authorize_many(
            [
                (aiko, member.pk, [str(topic.pk), str(topic.pk)]),
                (ben, member.pk, [str(topic.pk)]),  # not ben's member
                (gone, other_member.pk, [str(topic.pk)]),  # logged out
                (ben, other_member.pk, [str(topic.pk), str(elsewhere.pk)]),
                (ben, other_member.pk, ["x"]),
                (ben, other_member.pk, []),
                (None, member.pk, []),
            ]
        )

    assert answers[0] == ([topic.pk], frozenset({chika.pk}))
    assert isinstance(answers[1], SessionEnded)
    assert isinstance(answers[2], SessionEnded)
    assert isinstance(answers[3], AccessDenied)
    assert isinstance(answers[4], AccessDenied)
    assert answers[5] == ([], frozenset())
    assert isinstance(answers[6], SessionEnded)


async def test_a_socket_opens_while_the_shared_sync_thread_is_busy(
    member, membership, topic, open_tab
):
    # asgiref runs every thread-sensitive sync_to_async of the process on one
    # thread. Hold it, and a socket must still open: its session, member and
    # streams are read elsewhere.
    key = await session_key_for(member)
    holding, release = threading.Event(), threading.Event()

    def hold():
        holding.set()
        release.wait(timeout=30)

    held = asyncio.ensure_future(sync_to_async(hold, thread_sensitive=True)())
    try:
        while not holding.is_set():
            await asyncio.sleep(0.01)

        socket = await open_tab(key, topic, timeout=3)

        assert await socket.receive_nothing(timeout=NOTHING_TIMEOUT)
    finally:
        release.set()
        await held


@database_sync_to_async
def log_out(client):
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302


@database_sync_to_async
def change_password(member):
    member = Member.objects.get(pk=member.pk)
    member.set_password("another-horse-battery-staple")
    member.save()


@database_sync_to_async
def deactivate(member):
    Member.objects.filter(pk=member.pk).update(is_active=False)


@pytest.mark.parametrize("change", ["log_out", "change_password", "deactivate"])
async def test_a_session_ended_between_reading_it_and_joining_closes_the_socket(
    member, membership, topic, open_tab, monkeypatch, change
):
    # The middleware found the member; before the consumer joins their group,
    # the session ends. The revocation it sends (4408 to user.<id>) reaches no
    # socket of this one yet, so the consumer must see it for itself.
    client = await database_sync_to_async(client_for)(member)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    join = hub.Hub.join

    async def ending_before_the_join(self, group, outlet):
        if group == broadcast.user_group(member.pk):
            if change == "log_out":
                await log_out(client)
            elif change == "change_password":
                await change_password(member)
            else:
                await deactivate(member)
        await join(self, group, outlet)

    monkeypatch.setattr(hub.Hub, "join", ending_before_the_join)

    socket = await open_tab(key, topic)

    assert await close_code(socket) == broadcast.CLOSE_UNAUTHENTICATED
    assert await socket.receive_nothing(timeout=NOTHING_TIMEOUT)


# --- This process's open sockets and the spread of a mass reconnect ----------


async def test_the_process_counts_its_open_sockets(
    member, other_member, membership, topic, open_tab
):
    before = reconnect.open_sockets()
    first = await open_tab(await session_key_for(member), topic)
    second = await open_tab(await session_key_for(member))
    # Refused sockets are closed at once and do not count.
    refused = await open_tab(await session_key_for(other_member), topic)
    anonymous = await open_tab(None)
    assert await close_code(refused) == broadcast.CLOSE_FORBIDDEN
    assert await close_code(anonymous) == broadcast.CLOSE_UNAUTHENTICATED

    assert reconnect.open_sockets() == before + 2

    await first.disconnect()
    assert reconnect.open_sockets() == before + 1
    await second.disconnect()
    assert reconnect.open_sockets() == before


async def test_a_socket_closed_by_the_server_stops_counting_when_it_is_gone(
    member, open_tab
):
    before = reconnect.open_sockets()
    socket = await open_tab(await session_key_for(member))
    assert reconnect.open_sockets() == before + 1

    await sync_to_async(broadcast.recheck_member_sockets)([member.pk])
    assert await close_code(socket) == broadcast.CLOSE_RECHECK
    await socket.disconnect(code=broadcast.CLOSE_RECHECK)

    assert reconnect.open_sockets() == before


@pytest.mark.parametrize(
    ("open_sockets", "spread"),
    [
        (0, reconnect.MIN_SPREAD_MS),
        (1, reconnect.MIN_SPREAD_MS),
        (1000, 1000 * reconnect.MS_PER_SOCKET),
        (10**6, reconnect.MAX_SPREAD_MS),
    ],
)
def test_the_spread_grows_with_the_open_sockets_within_its_bounds(
    monkeypatch, open_sockets, spread
):
    monkeypatch.setattr(reconnect, "_open_sockets", open_sockets)

    assert reconnect.spread_ms() == spread
    assert reconnect.MIN_SPREAD_MS == 500
    assert reconnect.MAX_SPREAD_MS == 10_000


@pytest.mark.parametrize("open_sockets", [0, 1000, 10**6])
def test_the_page_tells_its_live_socket_the_spread(
    member_client, monkeypatch, open_sockets
):
    monkeypatch.setattr(reconnect, "_open_sockets", open_sockets)

    page = member_client.get(reverse("home")).content.decode()

    assert f'data-reconnect-spread="{reconnect.spread_ms()}"' in page


@pytest.mark.parametrize(
    ("open_sockets", "poll"),
    [
        (0, reconnect.MIN_POLL_MS),
        (40, reconnect.MIN_POLL_MS),
        (300, 300 * reconnect.POLL_MS_PER_SOCKET),
        (10_000, 10_000 * reconnect.POLL_MS_PER_SOCKET),
    ],
)
def test_pages_poll_no_more_often_than_every_2_s_and_slower_with_more_sockets(
    monkeypatch, open_sockets, poll
):
    monkeypatch.setattr(reconnect, "_open_sockets", open_sockets)

    assert reconnect.poll_ms() == poll
    assert reconnect.MIN_POLL_MS == 2000
    assert reconnect.POLL_MS_PER_SOCKET == 50
