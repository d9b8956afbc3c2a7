"""The channel layer over two Redis servers: groups spread, messages still
reach every process once.

One Redis carries every live event of the site: each PUBLISH is copied to
every process subscribed to its group, on one core. Past what that core can
do, CHANNEL_LAYER_REDIS_URLS names more Redis servers (project/settings.py)
and channels-redis spreads the groups over them: it names a group's pub/sub
channel `<prefix>__group__<group>` and consistent-hashes that name to one
server of the list, for subscribing and publishing alike. That only works if
every process hashes every group to the same server, so every process must
list the same servers in the same order (README, "Production").

Here two redis-servers of the test's own and two Daphne processes that both
list them, with REDIS_URL (the cache, the socket count) on the first:

- the groups are spread: the topics are chosen so that some hash to each
  server (with channels-redis' own `_get_shard`, not by hoping), and with a
  socket on each of them in both processes, each server holds exactly the
  topic subscriptions that hash to it, two subscribers each (one per
  process), and none of the others;
- a message posted in a topic on the first server and one posted in a topic
  on the second each arrive exactly once on the sockets of that topic in
  BOTH processes, and on no other socket;
- when the second server stops, the topics on the first keep their live
  delivery in both processes; a post in a topic on the second is still saved,
  and the sockets of that topic are told to poll (live-degraded) instead of
  receiving it.
"""

import time
import uuid

import pytest
import redis
from channels_redis.pubsub import RedisPubSubLoopLayer

from chat import broadcast
from communities.models import Topic
from tests.factories import coffee_club
from tests.integration.web import Tab, frames_until, message_ids, session_key

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

PREFIX = "shards"  # CHANNEL_LAYER_PREFIX of both processes
TOPICS_PER_SHARD = 2
MAX_TOPICS = 64  # topics made while looking for TOPICS_PER_SHARD on each server
SUBSCRIBE_LIMIT = 5.0  # seconds for the subscriptions to show on the servers
DELIVERY_LIMIT = 2.0  # seconds from a post to its frame on every socket
QUIET = 0.5  # seconds of listening for a copy too many
DEGRADED = '<template id="live-degraded"'


def group_channel(topic_id: int) -> str:
    """The Redis pub/sub channel of a topic's English group, as channels-redis
    names it (its layer connects to nothing until it is used)."""
    layer = RedisPubSubLoopLayer(prefix=PREFIX)
    return layer._get_group_channel_name(broadcast.topic_group(topic_id, "en"))


def shard_of(topic_id: int, urls: list[str]) -> int:
    """Which of `urls` carries the topic's English group, as channels-redis
    itself decides it."""
    layer = RedisPubSubLoopLayer(hosts=urls, prefix=PREFIX)
    shard = layer._get_shard(group_channel(topic_id))
    return [each.host["address"] for each in layer._shards].index(shard.host["address"])


def topics_on_each_shard(community, owner, urls: list[str]) -> list[list[int]]:
    """TOPICS_PER_SHARD topic ids whose group hashes to each of `urls`, in the
    order of `urls`. Topic ids come from the database's sequence, so topics are
    made until each server has its share (about four are needed)."""
    chosen: list[list[int]] = [[] for _ in urls]
    for n in range(MAX_TOPICS):
        topic = Topic.objects.create(
            community=community, title=f"Topic {n}", created_by=owner
        )
        on = chosen[shard_of(topic.pk, urls)]
        if len(on) < TOPICS_PER_SHARD:
            on.append(topic.pk)
        if all(len(each) == TOPICS_PER_SHARD for each in chosen):
            return chosen
    pytest.fail(f"{MAX_TOPICS} topics did not hash onto every server: {chosen}")


def subscribers(url: str, channels: list[str]) -> dict[str, int]:
    """PUBSUB NUMSUB on the Redis at `url`: subscribers of each channel."""
    with redis.Redis.from_url(url, socket_timeout=5) as client:
        return {name.decode(): count for name, count in client.pubsub_numsub(*channels)}


def topic_channels_held(url: str) -> set[str]:
    """PUBSUB CHANNELS on the Redis at `url`: the topic groups it carries."""
    with redis.Redis.from_url(url, socket_timeout=5) as client:
        pattern = f"{PREFIX}__group__topic.*"
        return {name.decode() for name in client.pubsub_channels(pattern)}


def wait_for_subscriptions(urls: list[str], expected: list[dict[str, int]]) -> None:
    """Until PUBSUB NUMSUB on each server reads as expected. A socket's groups
    are joined before it is accepted, but the SUBSCRIBE travels on another
    connection than ours, so it may reach Redis a moment after the socket
    opened; then it must be exact."""
    pairs = list(zip(urls, expected, strict=True))
    deadline = time.monotonic() + SUBSCRIBE_LIMIT
    while True:
        seen = [subscribers(url, list(want)) for url, want in pairs]
        if seen == expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for (url, want), got in zip(pairs, seen, strict=True):
        assert got == want, f"PUBSUB NUMSUB on {url}"


def frames_within(socket, seconds: float) -> list[str]:
    """Every frame `socket` receives in the next `seconds` (frames already
    waiting count even when `seconds` is 0)."""
    frames = []
    deadline = time.monotonic() + seconds
    while True:
        try:
            frames.append(socket.recv(timeout=max(deadline - time.monotonic(), 0)))
        except TimeoutError:
            return frames


def post(tab: Tab, topic_id: int, body: str) -> int:
    csrf = tab.open_topic(topic_id)
    posted = tab.send(topic_id, csrf, body)
    assert posted.status == 201, (posted.status, posted.text[:2000])
    [message_id] = message_ids(posted.text)
    return message_id


def assert_once_on_each(watching: list, body: str, sentinel: str) -> None:
    """`body` arrives on each socket in `watching`, exactly once before
    `sentinel` (posted after it in the same topic, so a second copy sent along
    with the first would show before it)."""
    deadline = time.monotonic() + DELIVERY_LIMIT
    for socket in watching:
        frames = frames_until(socket, sentinel, deadline)
        copies = [frame for frame in frames if body in frame]
        assert len(copies) == 1, (body, frames)


def test_groups_spread_over_two_redis_servers_and_reach_both_processes(
    aiko, ben, redis_server, start_redis, start_daphnes, sockets
):
    servers = [redis_server, start_redis()]
    urls = [server.url for server in servers]
    community = coffee_club(aiko, ben)
    on_shard = topics_on_each_shard(community, aiko, urls)
    topic_ids = [topic_id for ids in on_shard for topic_id in ids]
    first, second = start_daphnes(
        2, CHANNEL_LAYER_REDIS_URLS=",".join(urls), CHANNEL_LAYER_PREFIX=PREFIX
    )
    processes = [first, second]

    # ben watches every topic, one socket per topic on each process.
    socket_of = {}
    for process in processes:
        ben_there = Tab(process.url, session_key(ben))
        for topic_id in topic_ids:
            socket = sockets.enter_context(ben_there.live_socket(topic_id))
            socket_of[process.name, topic_id] = socket

    # (a) The groups are spread: each server carries the topics hashed to it,
    # with one subscriber in each process, and nothing of the other's.
    expected = [
        {
            group_channel(topic_id): 2 if topic_id in on_shard[shard] else 0
            for topic_id in topic_ids
        }
        for shard in range(len(urls))
    ]
    wait_for_subscriptions(urls, expected)
    for shard, url in enumerate(urls):
        assert topic_channels_held(url) == {
            group_channel(topic_id) for topic_id in on_shard[shard]
        }, f"PUBSUB CHANNELS on server {shard + 1}"

    # (b) A post in a topic of each server, each through another process,
    # reaches ben's sockets of that topic on both processes exactly once.
    # Every body is new to the run, so a frame containing it is this post's.
    sent: dict[int, list[str]] = {}
    for shard, poster in ((0, first), (1, second)):
        topic_id = on_shard[shard][0]
        aiko_there = Tab(poster.url, session_key(aiko))
        body = f"On server {shard + 1}, through {poster.name} {uuid.uuid4().hex}"
        sentinel = f"Sentinel {shard + 1} {uuid.uuid4().hex}"
        started = time.monotonic()
        post(aiko_there, topic_id, body)
        post(aiko_there, topic_id, sentinel)
        watching = [socket_of[process.name, topic_id] for process in processes]
        assert_once_on_each(watching, body, sentinel)
        print(
            f"topic {topic_id} on server {shard + 1}: two posts -> frames on both"
            f" processes in {(time.monotonic() - started) * 1000:.0f} ms"
        )
        sent[topic_id] = [body, sentinel]
    # Nothing more anywhere: no late second copy, no frame on another topic.
    time.sleep(QUIET)
    for (name, topic_id), socket in socket_of.items():
        for frame in frames_within(socket, 0):
            for other_topic, bodies in sent.items():
                for body in bodies:
                    assert body not in frame, (name, topic_id, other_topic, frame)

    # (c) The second server stops. Topics on the first keep live delivery in
    # both processes; a post in a topic of the second is saved, and its
    # sockets are told to poll instead.
    servers[1].stop()
    aiko_on_second = Tab(second.url, session_key(aiko))
    body = f"While server 2 is down {uuid.uuid4().hex}"
    sentinel = f"Sentinel while down {uuid.uuid4().hex}"
    post(aiko_on_second, on_shard[0][0], body)
    post(aiko_on_second, on_shard[0][0], sentinel)
    assert_once_on_each(
        [socket_of[process.name, on_shard[0][0]] for process in processes],
        body,
        sentinel,
    )
    lost = f"Not live, only saved {uuid.uuid4().hex}"
    saved_id = post(aiko_on_second, on_shard[1][0], lost)
    for process in processes:
        socket = socket_of[process.name, on_shard[1][0]]
        frames = frames_until(socket, DEGRADED, time.monotonic() + DELIVERY_LIMIT)
        frames += frames_within(socket, QUIET)
        assert not [frame for frame in frames if lost in frame], frames
    caught_up = Tab(first.url, session_key(ben)).get(
        f"/topics/{on_shard[1][0]}/messages/?after={saved_id - 1}", htmx=True
    )
    assert caught_up.status == 200, caught_up.status
    assert message_ids(caught_up.text) == [saved_id]
