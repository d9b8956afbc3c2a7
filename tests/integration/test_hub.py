"""The process-local hub (chat/hub.py) on real processes: Daphne servers, a
redis-server of the test's own, real WebSocket clients (issue 13).

- Every local socket of a group receives every message of it, once and in
  order, whichever of two processes it was posted through; each process is
  subscribed to the group once, however many sockets it holds there; a
  member who blocked the poster receives none of the poster's messages and
  all of the others'.
- A socket whose peer stops reading is closed with 1013 once its backlog is
  full, while its member's other socket receives every frame; the process
  counts the eviction, does not keep the flood in memory, and the page's
  new socket is live again and catches up over HTTP.
- After a Redis restart the process's subscription comes back by itself
  (before any new socket asks for it), the old socket is closed with 4503,
  and a new one is live.
"""

import asyncio
import socket as tcp
import time

import psutil
import pytest
from channels_redis.pubsub import RedisPubSubLoopLayer
from django.conf import settings

from accounts.models import Block
from chat import actions, broadcast, hub
from chat.layers import ResyncingRedisPubSubChannelLayer
from communities.models import Topic
from tests import services
from tests.factories import coffee_club
from tests.integration.floods import (
    FRAME_BYTES,
    flood_frame,
    flood_numbers,
    scrape,
    stalled_socket,
)
from tests.integration.test_layer_shards import frames_within, subscribers
from tests.integration.web import (
    Tab,
    frames_until_close,
    frames_until_message,
    message_ids,
    session_key,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

SUBSCRIBE_LIMIT = 5.0  # seconds for a SUBSCRIBE to show in PUBSUB NUMSUB
DELIVERY_LIMIT = 5.0  # seconds from a post (or a publish) to its frame
QUIET = 0.5  # seconds of listening for a frame too many
RESUBSCRIBE_LIMIT = 15.0  # seconds for a process to find Redis again
METRICS_TOKEN = "hub-test-metrics-token"


def group_channel(server, group: str) -> str:
    """The Redis pub/sub channel of `group` as the Daphne process `server`
    names it: channels-redis' own naming, with the process's prefix
    (project/settings.py, CHANNEL_LAYER_PREFIX)."""
    prefix = server.env.get("CHANNEL_LAYER_PREFIX", "enishi")
    return RedisPubSubLoopLayer(prefix=prefix)._get_group_channel_name(group)


def wait_for_subscribers(url: str, expected: dict[str, int], seconds: float):
    """Until PUBSUB NUMSUB on the Redis at `url` reads `expected` (a socket's
    SUBSCRIBE travels on the process's connection, not ours, so it may show a
    moment after the socket opened); then it must be exact."""
    deadline = time.monotonic() + seconds
    while (seen := subscribers(url, list(expected))) != expected:
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert seen == expected, "PUBSUB NUMSUB"


def posted_id(answer) -> int:
    """The id of the message a composer post created."""
    assert answer.status == 201, (answer.status, answer.text[:2000])
    [message_id] = message_ids(answer.text)
    return message_id


def next_frame(socket, deadline: float) -> str:
    """The socket's next frame; fails at `deadline` (time.monotonic())."""
    try:
        return socket.recv(timeout=max(deadline - time.monotonic(), 0))
    except TimeoutError:
        pytest.fail("no frame in time")


# --- In order, exactly once, every local socket, across two processes ---------

SOCKETS_EACH = 3  # of ben and of daichi, on each process: 6 watching sockets
ROUNDS = 4  # each poster posts through each process this many times


def test_every_local_socket_gets_every_message_once_in_order_across_processes(
    aiko, ben, chika, daichi, redis_server, start_daphnes, sockets
):
    """Two processes, each with six sockets of two members in one topic and
    one socket of chika, who blocked aiko. aiko and ben post in turn through
    both processes; each post is awaited on one reference socket before the
    next, so the order is the order of posting. Every watching socket
    receives every message exactly once, in that order, and nothing after
    the last; chika's sockets receive exactly ben's messages. Redis holds one
    subscriber per process for each group, not one per socket."""
    # Within each poster's write budget, so no post is refused.
    assert 2 * ROUNDS <= actions.RATE_LIMIT
    community = coffee_club(aiko, ben, chika, daichi)
    topic = Topic.objects.create(
        community=community, title="Live chat", created_by=aiko
    )
    Block.objects.create(blocker=chika, blocked=aiko)
    servers = start_daphnes(2)
    keys = {member.pk: session_key(member) for member in (aiko, ben, chika, daichi)}

    watching, blocking = [], []
    for server in servers:
        for member in (ben, daichi):
            tab = Tab(server.url, keys[member.pk])
            for _ in range(SOCKETS_EACH):
                watching.append(sockets.enter_context(tab.live_socket(topic.pk)))
        tab = Tab(server.url, keys[chika.pk])
        blocking.append(sockets.enter_context(tab.live_socket(topic.pk)))
    reference = watching[0]  # ben's, on the first process

    # One subscription per group per process: 14 sockets, 2 subscribers.
    groups = [broadcast.topic_group(topic.pk, "en")] + [
        broadcast.user_group(member.pk) for member in (ben, chika, daichi)
    ]
    wait_for_subscribers(
        redis_server.url,
        {group_channel(servers[0], group): 2 for group in groups},
        SUBSCRIBE_LIMIT,
    )

    # aiko, aiko, ben, ben, ...: each poster through each process in turn.
    tabs = {}
    for member in (aiko, ben):
        for server in servers:
            tab = Tab(server.url, keys[member.pk])
            tabs[member.pk, server.name] = (tab, tab.open_topic(topic.pk))
    posted: list[tuple[int, int]] = []  # (message id, author id)
    seen_on_reference = []
    for n in range(2 * ROUNDS * len(servers)):
        author = (aiko, ben)[(n // 2) % 2]
        tab, csrf = tabs[author.pk, servers[n % 2].name]
        message_id = posted_id(
            tab.send(topic.pk, csrf, f"Message {n} from {author.nickname}")
        )
        posted.append((message_id, author.pk))
        seen_on_reference += frames_until_message(
            reference, message_id, time.monotonic() + DELIVERY_LIMIT
        )

    everything = [message_id for message_id, _ in posted]
    bens = [message_id for message_id, author_id in posted if author_id == ben.pk]
    assert everything == sorted(everything)
    deadline = time.monotonic() + DELIVERY_LIMIT
    received = {id(reference): seen_on_reference}
    for socket in watching[1:]:
        received[id(socket)] = frames_until_message(socket, everything[-1], deadline)
    for socket in blocking:
        received[id(socket)] = frames_until_message(socket, bens[-1], deadline)
    time.sleep(QUIET)
    for socket in watching + blocking:
        received[id(socket)] += frames_within(socket, 0)

    for socket in watching:
        frames = received[id(socket)]
        # One message per frame, each once, in the order posted.
        assert [len(message_ids(frame)) for frame in frames] == [1] * len(frames)
        assert [message_ids(frame)[0] for frame in frames] == everything
    for socket in blocking:
        frames = received[id(socket)]
        assert [len(message_ids(frame)) for frame in frames] == [1] * len(frames)
        assert [message_ids(frame)[0] for frame in frames] == bens


# --- Eviction of a socket that stops reading ----------------------------------

FLOOD_FRAMES = 200
FLOOD_LIMIT = 60.0  # seconds for the whole flood to reach the reading socket
# Frames published and not yet read on the normal socket: fewer than fill a
# backlog (hub.BACKLOG_MAX_BYTES), so only the stalled socket falls behind.
IN_FLIGHT = 2
# How much the server may grow while the flood passes through it: well under
# what it would hold if it kept the flood for the stalled socket.
MEMORY_GROWTH_LIMIT = FLOOD_FRAMES * FRAME_BYTES // 4


# Found a real bug when written: autobahn's sendClose accepts only 1000 and
# 3000-4999, so the consumer's close(code=1013) raised inside the hub's task
# and the evicted socket stayed open and silent. The Daphne outlet now sends
# the close frame itself (chat/hub.py: DaphneOutlet.closing_with).
def test_a_socket_that_stops_reading_is_evicted_and_the_page_catches_up(
    aiko, ben, redis_server, start_daphnes, sockets
):
    """ben has two sockets in one topic on one process: one stops reading,
    the other reads. Another process floods ben's group with 200 fragments
    of 64 KB (12.8 MB). The reading socket receives every one, in order; the
    stalled one is closed with 1013 (one eviction in /metrics) once what it
    could not take passed its backlog's bound, and the server did not keep
    the flood for it. When it reads again it finds the frames its buffers
    held, in order, then the close. The page's new socket is live, and
    catch-up returns what was posted meanwhile."""
    community = coffee_club(aiko, ben)
    topic = Topic.objects.create(
        community=community, title="Live chat", created_by=aiko
    )
    [server] = start_daphnes(1, METRICS_TOKEN=METRICS_TOKEN)
    aiko_tab = Tab(server.url, session_key(aiko))
    csrf = aiko_tab.open_topic(topic.pk)
    last_seen = posted_id(aiko_tab.send(topic.pk, csrf, "Already on ben's page"))
    ben_tab = Tab(server.url, session_key(ben))
    stalled = sockets.enter_context(stalled_socket(ben_tab, topic.pk))
    normal = sockets.enter_context(ben_tab.live_socket(topic.pk))
    group = broadcast.user_group(ben.pk)
    wait_for_subscribers(
        redis_server.url, {group_channel(server, group): 1}, SUBSCRIBE_LIMIT
    )
    assert scrape(server, METRICS_TOKEN)["enishi_live_sockets"] == 2
    server_process = psutil.Process(server.popen.pid)
    memory_before = server_process.memory_info().rss

    # The flood, from another process: the layer as the servers build it.
    elsewhere = ResyncingRedisPubSubChannelLayer(
        hosts=[{"address": redis_server.url}],
        prefix=server.env.get("CHANNEL_LAYER_PREFIX", "enishi"),
    )
    loop = asyncio.new_event_loop()
    received = []
    deadline = time.monotonic() + FLOOD_LIMIT
    try:
        for n in range(FLOOD_FRAMES):
            event = {"type": "live.html", "html": flood_frame(n), "group": group}
            loop.run_until_complete(elsewhere.group_send(group, event))
            while n + 1 - len(received) > IN_FLIGHT:
                received.append(next_frame(normal, deadline))
        while len(received) < FLOOD_FRAMES:
            received.append(next_frame(normal, deadline))
    finally:
        loop.run_until_complete(elsewhere.flush())
        loop.close()
    memory_after = server_process.memory_info().rss

    assert flood_numbers(received) == list(range(FLOOD_FRAMES))
    figures = scrape(server, METRICS_TOKEN)
    assert figures["enishi_live_evictions_total"] == 1
    assert figures["enishi_live_sockets"] == 1
    assert figures["enishi_live_backlog_frames"] == 0
    growth = memory_after - memory_before
    flood_mb = FLOOD_FRAMES * FRAME_BYTES / 1e6
    print(f"server RSS grew {growth / 1e6:.1f} MB during a {flood_mb:.1f} MB flood")
    assert growth < MEMORY_GROWTH_LIMIT, growth

    # Posted while ben's page has no socket that reads.
    meanwhile = posted_id(aiko_tab.send(topic.pk, csrf, "Posted meanwhile"))

    # The stalled socket reads again: what its buffers held, then 1013,
    # within the time the server keeps the close handshake open for it.
    frames, code = frames_until_close(stalled, hub.EVICTED_CLOSE_WAIT)
    assert code == hub.CLOSE_TOO_SLOW
    held = flood_numbers(frames)
    assert held == list(range(len(held)))
    assert 0 < len(held) < FLOOD_FRAMES
    assert not [frame for frame in frames if "Posted meanwhile" in frame]

    # The page reconnects, then catches up from the last message it holds.
    again = sockets.enter_context(ben_tab.live_socket(topic.pk))
    caught_up = ben_tab.get(
        f"/topics/{topic.pk}/messages/?after={last_seen}", htmx=True
    )
    assert caught_up.status == 200, caught_up.status
    assert message_ids(caught_up.text) == [meanwhile]
    live_again = posted_id(aiko_tab.send(topic.pk, csrf, "Live again"))
    frames_until_message(again, live_again, time.monotonic() + DELIVERY_LIMIT)


# --- A Redis restart ------------------------------------------------------------

HOLD = 1.0  # seconds the subscription must stay once it is back


def test_after_a_redis_restart_the_process_subscribes_again_by_itself(
    aiko, ben, redis_server, start_daphnes, sockets
):
    """A socket is open on one process when its Redis restarts. The socket is
    closed with 4503 (its page reconnects and catches up), and the process's
    subscriptions to the topic and to ben's group are back in Redis before
    any new socket asks for them, and stay there (the hub still counts
    itself subscribed: it does not ask again). A new socket is then live."""
    community = coffee_club(aiko, ben)
    topic = Topic.objects.create(
        community=community, title="Live chat", created_by=aiko
    )
    [server] = start_daphnes(1)
    ben_tab = Tab(server.url, session_key(ben))
    old = sockets.enter_context(ben_tab.live_socket(topic.pk))
    channels = [
        group_channel(server, broadcast.topic_group(topic.pk, "en")),
        group_channel(server, broadcast.user_group(ben.pk)),
    ]
    wait_for_subscribers(redis_server.url, dict.fromkeys(channels, 1), SUBSCRIBE_LIMIT)

    redis_server.stop()
    redis_server.start()
    redis_server.wait_until_answering()

    _frames, code = frames_until_close(old, RESUBSCRIBE_LIMIT)
    closed = time.monotonic()
    assert code == broadcast.CLOSE_RESYNC
    wait_for_subscribers(redis_server.url, dict.fromkeys(channels, 1), SUBSCRIBE_LIMIT)
    held_until = time.monotonic() + HOLD
    while time.monotonic() < held_until:
        assert subscribers(redis_server.url, channels) == dict.fromkeys(channels, 1)
        time.sleep(0.05)
    # All of it inside the grace period the emptied groups are kept for.
    assert time.monotonic() - closed < hub.GRACE_SECONDS

    new = sockets.enter_context(ben_tab.live_socket(topic.pk))
    aiko_tab = Tab(server.url, session_key(aiko))
    message_id = posted_id(
        aiko_tab.send(topic.pk, aiko_tab.open_topic(topic.pk), "Back live")
    )
    frames_until_message(new, message_id, time.monotonic() + DELIVERY_LIMIT)


# --- A peer that leaves during its handshake ------------------------------------

ABANDONED = 5  # sockets whose peer leaves before the consumer accepts them


def test_a_socket_whose_peer_left_while_it_was_authorized_is_forgotten(
    ben, start_daphnes, sockets
):
    """Pages open sockets; their session reads wait (the session table is
    locked) and the peers give up and close before the consumer accepts them.
    When the reads go through, the consumer accepts sockets Daphne has
    already lost (Daphne drops such an accept): the hub must not start them,
    and nothing fails. The process then counts no socket open, and a new
    socket is live."""
    community = coffee_club(ben)
    topic = Topic.objects.create(community=community, title="Live chat", created_by=ben)
    [server] = start_daphnes(1, METRICS_TOKEN=METRICS_TOKEN)
    ben_tab = Tab(server.url, session_key(ben))
    handshake = (
        f"GET /ws/live/?topic={topic.pk}&lang=en HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"Origin: {server.url}\r\n"
        f"Cookie: {settings.SESSION_COOKIE_NAME}={ben_tab.session_key}\r\n\r\n"
    ).encode()
    with services.postgres_connection() as locker:
        locker.execute("LOCK TABLE django_session IN ACCESS EXCLUSIVE MODE")
        for _ in range(ABANDONED):
            with tcp.create_connection(("127.0.0.1", server.port)) as peer:
                peer.sendall(handshake)
                time.sleep(0.2)  # the consumer is reading the session
        locker.commit()  # the reads go through; the consumer accepts
    time.sleep(1.0)

    log = server.log.read_text()
    assert "Exception inside application" not in log, log[-4000:]
    assert scrape(server, METRICS_TOKEN)["enishi_live_sockets"] == 0
    live = sockets.enter_context(ben_tab.live_socket(topic.pk))
    message_id = posted_id(
        ben_tab.send(topic.pk, ben_tab.open_topic(topic.pk), "Still live")
    )
    frames_until_message(live, message_id, time.monotonic() + DELIVERY_LIMIT)
