"""The hub's groups in one process (chat/hub.py), counted: one subscription
per group however many sockets are in it, and none left behind once they
are gone.

The sockets go through the real application (Channels' test communicator)
on the real pub/sub layer over the machine's Redis (the `redis_layer`
fixture); what is subscribed is read in three places that must agree: the
hub's own sets, the layer's `groups`, and Redis itself (PUBSUB NUMSUB and
PUBSUB CHANNELS).
"""

import asyncio
import time

import pytest
from redis import asyncio as aioredis

from chat import broadcast, hub
from tests.chat.conftest import RECEIVE_TIMEOUT, alogin, asend, session_key_for
from tests.factories import MembershipFactory, TopicFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.redis,
    pytest.mark.timeout(120),
]

SETTLE_LIMIT = 5.0  # seconds for the hub, the layer and Redis to agree


@pytest.fixture
async def redis(redis_url):
    """A client of our own on the layer's Redis, to read what it holds."""
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def channel_of(layer, group: str) -> str:
    """The Redis channel of `group`, as the layer itself names it."""
    return layer._get_layer()._get_group_channel_name(group)


async def numsub(redis, channels) -> dict[str, int]:
    """PUBSUB NUMSUB: how many connections are subscribed to each channel."""
    if not channels:
        return {}
    return {
        name.decode(): count for name, count in await redis.pubsub_numsub(*channels)
    }


async def group_channels_held(redis, layer) -> set[str]:
    """PUBSUB CHANNELS: every group channel of this run's prefix in Redis."""
    pattern = f"{layer._get_layer().prefix}__group__*"
    return {name.decode() for name in await redis.pubsub_channels(pattern)}


async def settled(probe, expected, seconds: float = SETTLE_LIMIT) -> None:
    """Until `await probe()` equals `expected` (the hub's sets change at once,
    Redis a moment later: the SUBSCRIBE or UNSUBSCRIBE travels on the
    layer's connection, not ours); then it must."""
    deadline = time.monotonic() + seconds
    while (seen := await probe()) != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert seen == expected


async def receive_containing(socket, text: str) -> str:
    """The first frame containing `text` (other frames are skipped)."""
    deadline = time.monotonic() + RECEIVE_TIMEOUT
    while (left := deadline - time.monotonic()) > 0:
        output = await socket.receive_output(timeout=left)
        assert output["type"] == "websocket.send", output
        if text in output["text"]:
            return output["text"]
    pytest.fail(f"no frame containing {text!r} in time")


# --- 1,000 sockets come and go -------------------------------------------------

SOCKETS = 1000
MEMBERS = 20
TOPICS = 10
BATCH = 100  # sockets opened (and closed) at once
GRACE = 0.2  # seconds, hub.GRACE_SECONDS for the test


@pytest.fixture
def crowd(member_factory, community):
    """MEMBERS active members of the community and its TOPICS topics."""
    members = [member_factory(nickname=f"crowd{n}") for n in range(MEMBERS)]
    for each in members:
        MembershipFactory(member=each, community=community)
    topics = [
        TopicFactory(community=community, title=f"Topic {n}") for n in range(TOPICS)
    ]
    return members, [topic.pk for topic in topics]


async def test_a_thousand_sockets_hold_one_subscription_per_group_and_leave_none(
    crowd, redis_layer, redis, open_tab, settings, monkeypatch
):
    """1,000 sockets of 20 members, each watching one to three of 10 topics,
    open in batches. While they are open the process is subscribed exactly
    to the 20 members' groups and the 10 topics' (30 groups, not 1,000 or
    more), each once in Redis. Once they have all closed and the grace
    period has passed, nothing of them is left: not in the hub, not in the
    layer, not in Redis."""
    members, topic_ids = crowd
    settings.LIVE_MAX_SOCKETS_PER_MEMBER = 2 * SOCKETS // MEMBERS
    keys = [await session_key_for(each) for each in members]
    plan = []  # (session key, topic ids) of each socket
    for n in range(SOCKETS):
        count = 1 + n % 3
        plan.append(
            (keys[n % MEMBERS], [topic_ids[(n + 3 * k) % TOPICS] for k in range(count)])
        )
    started = time.monotonic()
    opened = []
    for first in range(0, SOCKETS, BATCH):
        opened += await asyncio.gather(
            *(
                open_tab(key, *ids, timeout=30)
                for key, ids in plan[first : first + BATCH]
            )
        )
    print(f"{SOCKETS} sockets opened in {time.monotonic() - started:.1f} s")

    live = hub.hub()
    assert live.layer is redis_layer
    groups = {broadcast.user_group(each.pk) for each in members} | {
        broadcast.topic_group(topic_id, "en") for topic_id in topic_ids
    }
    channels = {channel_of(redis_layer, group): group for group in groups}
    assert len(groups) == MEMBERS + TOPICS
    assert len(live.outlets) == SOCKETS
    assert set(live.groups) == groups
    assert live.subscribed == groups
    # Every socket is in its member's group and in each of its topics'.
    assert sum(len(outlets) for outlets in live.groups.values()) == sum(
        1 + len(ids) for _key, ids in plan
    )
    assert redis_layer._get_layer().groups == {
        channel: {live.channel} for channel in channels
    }
    await settled(lambda: numsub(redis, list(channels)), dict.fromkeys(channels, 1))
    assert await group_channels_held(redis, redis_layer) == set(channels)

    monkeypatch.setattr(hub, "GRACE_SECONDS", GRACE)
    started = time.monotonic()
    for first in range(0, SOCKETS, BATCH):
        await asyncio.gather(
            *(socket.disconnect(timeout=30) for socket in opened[first : first + BATCH])
        )
    print(f"{SOCKETS} sockets closed in {time.monotonic() - started:.1f} s")

    async def left_over() -> dict[str, int]:
        return {
            "hub groups": len(live.groups),
            "hub subscribed": len(live.subscribed),
            "hub outlets": len(live.outlets),
            "hub grace timers": len(live.idle),
            "hub layer calls under way": len(live.settling),
            "layer groups": len(redis_layer._get_layer().groups),
        }

    await settled(left_over, dict.fromkeys(await left_over(), 0))
    await settled(lambda: numsub(redis, list(channels)), dict.fromkeys(channels, 0))
    assert await group_channels_held(redis, redis_layer) == set()


# --- The grace period ---------------------------------------------------------

SHORT_GRACE = 1.0  # seconds
SAMPLE_EVERY = 0.01  # seconds between two looks at Redis


async def test_a_group_rejoined_within_the_grace_period_is_never_left(
    member, topic, membership, redis_layer, redis, open_tab, monkeypatch
):
    """The last socket of a topic closes and a new one opens in it within the
    grace period (a page reload): the process never leaves the group. Redis,
    looked at every 10 ms from the close until well after the first grace
    period would have ended, shows it subscribed throughout, and the new
    socket receives the topic's next message."""
    monkeypatch.setattr(hub, "GRACE_SECONDS", SHORT_GRACE)
    key = await session_key_for(member)
    live = hub.hub()
    group = broadcast.topic_group(topic.pk, "en")
    channel = channel_of(redis_layer, group)
    first = await open_tab(key, topic)
    await settled(lambda: numsub(redis, [channel]), {channel: 1})

    samples = []
    sampling = True

    async def sample():
        while sampling:
            samples.append((await numsub(redis, [channel]))[channel])
            await asyncio.sleep(SAMPLE_EVERY)

    sampler = asyncio.create_task(sample())
    try:
        await first.disconnect()
        await asyncio.sleep(SHORT_GRACE / 3)
        second = await open_tab(key, topic)
        # Past the end of the first grace period, with a margin.
        await asyncio.sleep(SHORT_GRACE)
    finally:
        sampling = False
        await sampler
    assert len(samples) > 10
    assert set(samples) == {1}, samples
    assert group in live.subscribed

    await asend(await alogin(member), topic, "Still the same subscription")
    await receive_containing(second, "Still the same subscription")


async def test_a_group_rejoined_after_the_grace_period_is_subscribed_again(
    member, topic, membership, redis_layer, redis, open_tab, monkeypatch
):
    """The last socket of a topic closes, the grace period passes and the
    process leaves the group in Redis. A socket opening in the topic after
    that subscribes the process again before it is accepted, and receives
    the topic's next message."""
    monkeypatch.setattr(hub, "GRACE_SECONDS", GRACE)
    key = await session_key_for(member)
    channel = channel_of(redis_layer, broadcast.topic_group(topic.pk, "en"))
    first = await open_tab(key, topic)
    await settled(lambda: numsub(redis, [channel]), {channel: 1})

    # The grace period passes and the process leaves the group in Redis.
    await first.disconnect()
    await settled(lambda: numsub(redis, [channel]), {channel: 0})

    second = await open_tab(key, topic)
    await settled(lambda: numsub(redis, [channel]), {channel: 1})
    await asend(await alogin(member), topic, "Subscribed again")
    await receive_containing(second, "Subscribed again")
