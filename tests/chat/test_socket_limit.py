"""A member may hold at most LIVE_MAX_SOCKETS_PER_MEMBER open sockets, counted
across processes (chat/socket_limit.py); one more is closed with 4429.

Each case runs on both counters: in memory (the embedded default, one
process) and in Redis (several processes), through the real application."""

import asyncio
import runpy
import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from redis import asyncio as aioredis

from chat import broadcast, socket_limit
from communities.models import Membership
from project.asgi import application
from tests import services
from tests.chat.conftest import (
    NOTHING_TIMEOUT,
    RECEIVE_TIMEOUT,
    socket_path,
    tab_headers,
)
from tests.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

LIMIT = 20


@pytest.fixture
async def redis_counter(settings, live_layer, monkeypatch):
    """The Redis counter, with the pub/sub layer exactly as project/settings.py
    builds it; yields a client to look at the counts."""
    settings.LIVE_MAX_SOCKETS_PER_MEMBER = LIMIT
    redis_url = services.redis_url()
    monkeypatch.setenv("REDIS_URL", redis_url)
    built = runpy.run_path(str(settings.BASE_DIR / "project/settings.py"))
    settings.CHANNEL_LAYERS = built["CHANNEL_LAYERS"]
    settings.REDIS_URL = redis_url
    channel_layers.backends.clear()
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()
    await get_channel_layer().flush()
    channel_layers.backends.clear()


@pytest.fixture
def memory_counter(settings, live_layer):
    settings.LIVE_MAX_SOCKETS_PER_MEMBER = LIMIT
    settings.REDIS_URL = ""


@pytest.fixture(params=["memory_counter", "redis_counter"])
def counter(request):
    """Each test of both counters runs once with each."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def sockets(open_tab):
    async def open_(member, *topics):
        client = await database_sync_to_async(client_for)(member)
        key = client.cookies[settings.SESSION_COOKIE_NAME].value
        # Sockets opened together wait for the consumers' one database thread.
        return await open_tab(key, *topics, timeout=10)

    return open_


async def is_open(socket) -> bool:
    return await socket.receive_nothing(timeout=NOTHING_TIMEOUT)


async def closed_with(socket) -> int | None:
    output = await socket.receive_output(timeout=RECEIVE_TIMEOUT)
    return output.get("code") if output["type"] == "websocket.close" else None


async def test_the_socket_past_the_limit_is_closed_with_4429_and_others_stay(
    counter, member, other_member, sockets
):
    held = [await sockets(member) for _ in range(LIMIT)]

    one_too_many = await sockets(member)

    assert await closed_with(one_too_many) == broadcast.CLOSE_TOO_MANY_SOCKETS == 4429
    assert all([await is_open(socket) for socket in held])
    # The limit is per member: someone else is not affected.
    assert await is_open(await sockets(other_member))
    # The held sockets still get their member's events.
    await broadcast.asend_html_to_member(member.pk, "<p id='n'>hi</p>")
    assert await held[-1].receive_from(timeout=RECEIVE_TIMEOUT) == "<p id='n'>hi</p>"


async def test_closing_a_socket_frees_its_place(counter, member, sockets):
    held = [await sockets(member) for _ in range(LIMIT)]

    await held[0].disconnect()

    assert await is_open(await sockets(member))
    assert await closed_with(await sockets(member)) == 4429


async def test_sockets_opening_at_the_same_moment_cannot_pass_the_limit(
    counter, member, sockets
):
    opened = await asyncio.gather(*(sockets(member) for _ in range(LIMIT + 5)))

    refused = [code for code in await asyncio.gather(*map(outcome, opened)) if code]

    assert refused == [4429] * 5


async def outcome(socket) -> int | None:
    """The close code, or None when the socket stays open."""
    if await socket.receive_nothing(timeout=NOTHING_TIMEOUT):
        return None
    return await closed_with(socket)


async def test_a_refused_stream_does_not_count(counter, member, topic, sockets):
    # Not a member of the topic's community: 4403, and no place taken.
    for _ in range(LIMIT + 1):
        assert await closed_with(await sockets(member, topic)) == 4403

    held = [await sockets(member) for _ in range(LIMIT)]

    assert all([await is_open(socket) for socket in held])


async def test_a_socket_closed_by_revocation_gives_its_place_back(
    counter, member, membership, topic, community, sockets
):
    held = [await sockets(member, topic) for _ in range(LIMIT)]

    @database_sync_to_async
    def ban():
        Membership.objects.filter(pk=membership.pk).update(
            status=Membership.Status.BANNED
        )

    await ban()
    for socket in held:
        assert await closed_with(socket) == broadcast.CLOSE_RECHECK
        await socket.disconnect()

    # Their places are free again (the topic itself is refused now).
    assert await is_open(await sockets(member))


# --- Across processes (Redis) ----------------------------------------------------


async def test_sockets_on_other_processes_count_too(member, sockets, redis_counter):
    # Another process holds all but one of the member's places.
    key = socket_limit.redis_key(member.pk)
    await redis_counter.zadd(
        key, {f"elsewhere.{n}": time.time() + 60 for n in range(LIMIT - 1)}
    )

    assert await is_open(await sockets(member))
    assert await closed_with(await sockets(member)) == 4429
    assert await redis_counter.zcard(key) == LIMIT


async def test_the_places_of_a_process_that_died_lapse(member, sockets, redis_counter):
    key = socket_limit.redis_key(member.pk)
    await redis_counter.zadd(key, {f"dead.{n}": time.time() - 1 for n in range(LIMIT)})

    assert await is_open(await sockets(member))
    assert await redis_counter.zcard(key) == 1


async def test_a_living_sockets_place_is_refreshed_before_it_lapses(
    member, sockets, redis_counter, monkeypatch
):
    monkeypatch.setattr(socket_limit, "ENTRY_TTL", 1)
    monkeypatch.setattr(socket_limit, "REFRESH_EVERY", 0.2)
    socket = await sockets(member)
    key = socket_limit.redis_key(member.pk)

    await asyncio.sleep(2)

    [(name, lapses_at)] = await redis_counter.zrange(key, 0, -1, withscores=True)
    assert lapses_at > time.time()
    await socket.disconnect()
    assert await redis_counter.zcard(key) == 0


async def test_the_count_is_kept_per_member_in_redis(
    member, other_member, sockets, redis_counter
):
    for _ in range(3):
        await sockets(member)
    await sockets(other_member)

    assert await redis_counter.zcard(socket_limit.redis_key(member.pk)) == 3
    assert await redis_counter.zcard(socket_limit.redis_key(other_member.pk)) == 1


async def test_a_socket_whose_layer_fails_while_connecting_gives_its_place_back(
    counter, member, topic, membership, settings, monkeypatch
):
    # Redis going away between counting the socket and joining its streams:
    # the connect fails (the page retries), and its place must not leak, or
    # a few retries would lock the member out of live updates.
    settings.LIVE_MAX_SOCKETS_PER_MEMBER = 1
    layer = get_channel_layer()
    real_group_add = layer.group_add

    async def failing_for_topics(group, channel):
        if group.startswith("topic."):
            raise ConnectionError("Redis went away")
        await real_group_add(group, channel)

    key = (
        (await database_sync_to_async(client_for)(member))
        .cookies[settings.SESSION_COOKIE_NAME]
        .value
    )
    headers = tab_headers(key)
    monkeypatch.setattr(layer, "group_add", failing_for_topics)
    for _ in range(3):
        failed = WebsocketCommunicator(application, socket_path([topic]), headers)
        with pytest.raises(ConnectionError):
            # The app fails without answering: the communicator reports it
            # when its wait ends.
            await failed.connect(timeout=1)
    monkeypatch.setattr(layer, "group_add", real_group_add)

    socket = WebsocketCommunicator(application, socket_path([topic]), headers)
    connected, _ = await socket.connect(timeout=10)
    try:
        assert connected
        assert await is_open(socket)
    finally:
        await socket.disconnect()


# --- Many sockets at once (one process's share of a reconnect storm) -------------

AT_ONCE = 300  # more than the pool holds


async def test_more_sockets_at_once_than_the_pool_holds_are_all_counted_and_released(
    member, redis_counter, settings, caplog
):
    # When Redis comes back after a restart, every socket of a process opens
    # again at the same moment. Each one must wait its turn for a connection
    # rather than fail: a failed count lets the socket in uncounted, and a
    # failed release leaves its place taken until it lapses.
    settings.LIVE_MAX_SOCKETS_PER_MEMBER = AT_ONCE
    key = socket_limit.redis_key(member.pk)
    names = [f"storm.{n}" for n in range(AT_ONCE)]

    taken = await asyncio.gather(
        *(socket_limit.acquire(member.pk, name) for name in names)
    )

    assert taken == [True] * AT_ONCE
    assert await redis_counter.zcard(key) == AT_ONCE

    await asyncio.gather(*(socket_limit.release(member.pk, name) for name in names))

    assert await redis_counter.zcard(key) == 0
    assert "Live socket" not in caplog.text


async def test_more_sockets_at_once_than_the_pool_holds_cannot_pass_the_limit(
    member, redis_counter, caplog
):
    key = socket_limit.redis_key(member.pk)
    names = [f"storm.{n}" for n in range(AT_ONCE)]

    taken = await asyncio.gather(
        *(socket_limit.acquire(member.pk, name) for name in names)
    )

    assert taken.count(True) == LIMIT
    assert await redis_counter.zcard(key) == LIMIT
    held = [name for name, ok in zip(names, taken, strict=True) if ok]
    await asyncio.gather(*(socket_limit.release(member.pk, name) for name in held))
    assert await redis_counter.zcard(key) == 0
    assert "Live socket" not in caplog.text


async def test_with_redis_unreachable_sockets_are_let_in_and_released(
    member, settings, caplog
):
    # The limit protects the server, it is not an access check: a socket
    # opening while Redis is away is let in, uncounted.
    settings.LIVE_MAX_SOCKETS_PER_MEMBER = 1
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    names = [f"outage.{n}" for n in range(3)]

    taken = await asyncio.gather(
        *(socket_limit.acquire(member.pk, name) for name in names)
    )
    await asyncio.gather(*(socket_limit.release(member.pk, name) for name in names))

    assert taken == [True] * 3
    assert "Live socket limit not checked" in caplog.text
    assert "Live socket count not released" in caplog.text


def closed_port() -> int:
    """A local port nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
