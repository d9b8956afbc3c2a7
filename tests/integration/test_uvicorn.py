"""uvicorn, the measured alternative to Daphne (`SERVER=uvicorn make run`, the
Procfile's commented uvicorn line), on the live path.

On a real uvicorn process started with the Procfile's options, over the test
database and a redis-server of the test's own (conftest.py):

- A member's socket receives each message posted over HTTP once, in the order
  posted; a member who blocked the poster receives none of those, and does
  receive the next member's.
- A socket whose peer stops reading is closed with 1013 once its backlog is
  full, while its member's other socket receives every frame of the flood in
  order; the server counts one eviction and did not keep the flood in
  memory; the stalled socket, reading again, finds what its buffers held and
  then the close; the page's new socket is live.

In this test's own event loop, a uvicorn server (the Procfile's options) on
the real application, so that the test can look at the hub's outlets, which
another process would hide:

- Each socket's outlet is chat/hub.py's UvicornOutlet: one event to two
  sockets is serialized once (websockets' Frame.serialize, called once) and
  reaches both. A socket that negotiated permessage-deflate, on a server that
  leaves it on (uvicorn's default), goes through the ASGI send instead.
- A socket that falls behind has its frames wait in its backlog while its
  transport is paused, and receives every one, in order, once it reads again.
- A socket evicted that never reads again is dropped EVICTED_CLOSE_WAIT
  later: its connection, its consumer and its count are gone.

And the Makefile: `SERVER=uvicorn make run` serves with uvicorn and the
Procfile's options, without SERVER with Daphne, and any other value is
refused with a message before anything is installed.
"""

import asyncio
import contextlib
import gc
import logging
import os
import shlex
import socket as sockets_module
import subprocess
import time

import psutil
import pytest
import uvicorn as uvicorn_module
from asgiref.sync import sync_to_async
from channels.layers import channel_layers, get_channel_layer
from django.conf import settings
from uvicorn.main import main as uvicorn_cli
from websockets.asyncio.client import connect as async_connect
from websockets.client import ClientProtocol
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from accounts.models import Block
from chat import actions, broadcast, hub, reconnect
from chat.layers import ResyncingRedisPubSubChannelLayer
from communities.models import Topic
from project.asgi import application
from tests.factories import coffee_club
from tests.integration.floods import (
    FRAME_BYTES,
    flood_frame,
    flood_numbers,
    scrape,
    small_receive_buffer,
    stalled_socket,
)
from tests.integration.test_layer_shards import frames_within
from tests.integration.web import (
    OPEN_TIMEOUT,
    Tab,
    frames_until_close,
    frames_until_message,
    message_ids,
    session_key,
)
from tests.servers import ROOT, free_port, procfile_uvicorn_args, server_env, uvicorn

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

DELIVERY_LIMIT = 5.0  # seconds from a post (or a publish) to its frame
QUIET = 0.5  # seconds of listening for a frame too many
METRICS_TOKEN = "uvicorn-test-metrics-token"


@pytest.fixture
def start_uvicorn(transactional_db, redis_server, tmp_path):
    """Start a uvicorn process with the Procfile's options on the test
    database and our redis-server, and wait for it; returns it. Keyword
    arguments are more environment for it. Stopped (and its log printed) at
    the end of the test."""
    servers = []

    def start(**extra_env: str):
        env = server_env(REDIS_URL=redis_server.url, **extra_env)
        server = uvicorn(f"uvicorn-{len(servers) + 1}", log_dir=tmp_path, env=env)
        servers.append(server)
        server.start()
        server.wait_until_answering()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            server.report()


# --- Once, in order, and a block, on a real uvicorn process ---------------------

POSTS = 10


def test_each_message_reaches_a_socket_once_in_order_and_a_block_filters(
    aiko, ben, chika, start_uvicorn, sockets
):
    """aiko posts ten messages over HTTP, each awaited on ben's socket before
    the next: ben receives each once, one per frame, in the order posted,
    and nothing after. chika blocked aiko: her socket receives none of them,
    and receives ben's message after them."""
    assert POSTS <= actions.RATE_LIMIT  # no post refused
    community = coffee_club(aiko, ben, chika)
    topic = Topic.objects.create(
        community=community, title="Live chat", created_by=aiko
    )
    Block.objects.create(blocker=chika, blocked=aiko)
    server = start_uvicorn()
    aiko_tab = Tab(server.url, session_key(aiko))
    ben_tab = Tab(server.url, session_key(ben))
    watching = sockets.enter_context(ben_tab.live_socket(topic.pk))
    blocking = sockets.enter_context(
        Tab(server.url, session_key(chika)).live_socket(topic.pk)
    )

    csrf = aiko_tab.open_topic(topic.pk)
    posted, frames = [], []
    for n in range(POSTS):
        answer = aiko_tab.send(topic.pk, csrf, f"Message {n} from aiko")
        assert answer.status == 201, (answer.status, answer.text[:2000])
        [message_id] = message_ids(answer.text)
        posted.append(message_id)
        frames += frames_until_message(
            watching, message_id, time.monotonic() + DELIVERY_LIMIT
        )
    answer = ben_tab.send(topic.pk, ben_tab.open_topic(topic.pk), "From ben")
    assert answer.status == 201, (answer.status, answer.text[:2000])
    [bens] = message_ids(answer.text)
    deadline = time.monotonic() + DELIVERY_LIMIT
    frames += frames_until_message(watching, bens, deadline)
    held = frames_until_message(blocking, bens, deadline)
    time.sleep(QUIET)
    frames += frames_within(watching, 0)
    held += frames_within(blocking, 0)

    assert posted == sorted(posted)
    assert [message_ids(frame) for frame in frames] == [[i] for i in [*posted, bens]]
    assert [message_ids(frame) for frame in held] == [[bens]]


# --- Eviction of a socket that stops reading, on a real uvicorn process ---------

FLOOD_FRAMES = 200
# Frames published and not yet read on the reading socket: fewer than fill a
# backlog (hub.BACKLOG_MAX_BYTES), so only the stalled socket falls behind.
IN_FLIGHT = 2
# How much the server may grow while the flood passes through it: well under
# what it would hold if it kept the flood for the stalled socket.
MEMORY_GROWTH_LIMIT = FLOOD_FRAMES * FRAME_BYTES // 4


def test_a_socket_that_stops_reading_is_evicted_with_1013(
    aiko, ben, redis_server, start_uvicorn, sockets
):
    """ben has two sockets in one topic: one stops reading, the other reads.
    Another process floods ben's group with 200 fragments of 64 KB (12.8 MB)
    through the layer. The reading socket receives every one, in order; the
    stalled one is evicted (one eviction in /metrics, one socket left) and
    the server did not keep the flood for it. Reading again, it finds the
    frames its buffers held, in order, then 1013, within the time the server
    keeps the connection for it; the page's new socket is live."""
    community = coffee_club(aiko, ben)
    topic = Topic.objects.create(
        community=community, title="Live chat", created_by=aiko
    )
    server = start_uvicorn(METRICS_TOKEN=METRICS_TOKEN)
    ben_tab = Tab(server.url, session_key(ben))
    stalled = sockets.enter_context(stalled_socket(ben_tab, topic.pk))
    reading = sockets.enter_context(ben_tab.live_socket(topic.pk))
    assert scrape(server, METRICS_TOKEN)["enishi_live_sockets"] == 2
    server_process = psutil.Process(server.popen.pid)
    memory_before = server_process.memory_info().rss

    # The flood, from this process: the layer as the servers build it, on the
    # same Redis with the server's prefix; each event names its group, as
    # chat/broadcast.py's do. Each publish is awaited before the next, so
    # they reach the server in order.
    group = broadcast.user_group(ben.pk)
    elsewhere = ResyncingRedisPubSubChannelLayer(
        hosts=[{"address": redis_server.url}],
        prefix=server.env.get("CHANNEL_LAYER_PREFIX", "enishi"),
    )
    loop = asyncio.new_event_loop()
    received = []
    deadline = time.monotonic() + 60
    try:
        for n in range(FLOOD_FRAMES):
            event = {"type": "live.html", "html": flood_frame(n), "group": group}
            loop.run_until_complete(elsewhere.group_send(group, event))
            while n + 1 - len(received) > IN_FLIGHT:
                received.append(reading.recv(timeout=deadline - time.monotonic()))
        while len(received) < FLOOD_FRAMES:
            received.append(reading.recv(timeout=deadline - time.monotonic()))
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

    # Reading again: what its buffers held, in order, then the close.
    frames, code = frames_until_close(stalled, hub.EVICTED_CLOSE_WAIT)
    assert code == hub.CLOSE_TOO_SLOW
    held = flood_numbers(frames)
    assert held == list(range(len(held)))
    assert 0 < len(held) < FLOOD_FRAMES

    # The page's new socket is live.
    again = sockets.enter_context(ben_tab.live_socket(topic.pk))
    aiko_tab = Tab(server.url, session_key(aiko))
    answer = aiko_tab.send(topic.pk, aiko_tab.open_topic(topic.pk), "Live again")
    assert answer.status == 201, (answer.status, answer.text[:2000])
    [message_id] = message_ids(answer.text)
    frames_until_message(again, message_id, time.monotonic() + DELIVERY_LIMIT)


# --- In this process: the outlet, the backlog, the drop ---------------------------


def procfile_uvicorn_config(**changes) -> dict:
    """uvicorn.Config's arguments for the Procfile's uvicorn options, as
    uvicorn's own command line reads them (those that matter in a process
    that is not uvicorn's: the event loop is the test's)."""
    context = uvicorn_cli.make_context(
        "uvicorn", [*procfile_uvicorn_args(), "project.asgi:application"]
    )
    kept = (
        "ws",
        "ws_max_size",
        "ws_ping_interval",
        "ws_ping_timeout",
        "ws_per_message_deflate",
        "lifespan",
        "proxy_headers",
        "timeout_keep_alive",
        "timeout_graceful_shutdown",
        "http",
    )
    return {name: context.params[name] for name in kept} | changes


@contextlib.asynccontextmanager
async def uvicorn_here(**changes):
    """A uvicorn server in this test's event loop on the real application,
    with the Procfile's options (`changes` override some); yields it. Its
    live sockets are in this loop's hub, which is shut down after it."""
    channel_layers.backends.clear()
    config = uvicorn_module.Config(
        application,
        host="127.0.0.1",
        port=free_port(),
        log_config=None,
        **procfile_uvicorn_config(**changes),
    )
    server = uvicorn_module.Server(config)
    serving = asyncio.get_running_loop().create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        if serving.done():
            serving.result()
        assert time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 15)
        await hub.shut_down()
        for layer in list(channel_layers.backends.values()):
            await layer.flush()
        channel_layers.backends.clear()


def ws_url(server, topic_id: int) -> str:
    return f"ws://127.0.0.1:{server.config.port}/ws/live/?topic={topic_id}&lang=en"


@contextlib.asynccontextmanager
async def tab_socket(server, member, topic_id: int, **options):
    """A page's live socket on `server`, for `member`, in this loop."""
    key = await sync_to_async(session_key)(member)
    client = await async_connect(
        ws_url(server, topic_id),
        origin=f"http://127.0.0.1:{server.config.port}",
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={key}"},
        open_timeout=OPEN_TIMEOUT,
        close_timeout=2,
        **options,
    )
    try:
        yield client
    finally:
        await client.close()


def outlets_of(member_id: int) -> list[hub.Outlet]:
    """This loop's outlets in the member's own group."""
    return list(hub.hub().groups.get(broadcast.user_group(member_id), ()))


def small_send_buffer(outlet: hub.UvicornOutlet) -> None:
    """A 16 KB kernel send buffer on the server's end of the socket. On
    loopback Linux grows it to megabytes, which a congested network would
    not: the transport's own buffer then fills after a few frames."""
    raw = outlet.protocol.transport.get_extra_info("socket")
    raw.setsockopt(sockets_module.SOL_SOCKET, sockets_module.SO_SNDBUF, 16 * 1024)


@pytest.fixture
def live_topic(aiko, ben):
    """A topic of a community aiko and ben belong to."""
    community = coffee_club(aiko, ben)
    return Topic.objects.create(community=community, title="Live chat", created_by=aiko)


@pytest.fixture
def serializations(monkeypatch):
    """Every frame hub.py serializes (websockets' Frame.serialize), counted:
    uvicorn's own frames (the handshake's, pongs, closes) are not."""
    made = []

    class Counted(hub.WireFrame):
        def serialize(self, **kwargs):
            data = super().serialize(**kwargs)
            made.append(data)
            return data

    monkeypatch.setattr(hub, "WireFrame", Counted)
    return made


async def test_one_event_to_two_sockets_is_serialized_once(
    aiko, ben, live_topic, serializations
):
    text = '<div id="once">one frame for all</div>'
    async with (
        uvicorn_here() as server,
        tab_socket(server, aiko, live_topic.pk) as first,
        tab_socket(server, ben, live_topic.pk) as second,
    ):
        live = hub.hub()
        assert {type(outlet) for outlet in live.outlets} == {hub.UvicornOutlet}
        assert len(live.outlets) == 2
        delivered = hub.counters.deliveries
        group = broadcast.topic_group(live_topic.pk, "en")
        await get_channel_layer().group_send(
            group, {"type": "live.html", "html": text, "group": group}
        )
        assert await asyncio.wait_for(first.recv(), DELIVERY_LIMIT) == text
        assert await asyncio.wait_for(second.recv(), DELIVERY_LIMIT) == text
        assert len(serializations) == 1
        assert hub.counters.deliveries == delivered + 2


async def test_a_socket_with_permessage_deflate_goes_through_the_asgi_send(
    aiko, ben, live_topic, serializations
):
    """On a server that leaves permessage-deflate on (uvicorn's default): a
    client that offers it (websockets' default) gets it, and its frames go
    through uvicorn's send, which compresses them for that socket; a client
    that does not is written to directly. Both receive the event."""
    text = '<div id="deflate">' + "compressible " * 100 + "</div>"
    async with (
        uvicorn_here(ws_per_message_deflate=True) as server,
        tab_socket(server, aiko, live_topic.pk) as deflating,
        tab_socket(server, ben, live_topic.pk, compression=None) as plain,
    ):
        [deflating_outlet] = outlets_of(aiko.pk)
        [plain_outlet] = outlets_of(ben.pk)
        assert type(deflating_outlet) is hub.AsgiOutlet
        assert type(plain_outlet) is hub.UvicornOutlet
        group = broadcast.topic_group(live_topic.pk, "en")
        await get_channel_layer().group_send(
            group, {"type": "live.html", "html": text, "group": group}
        )
        assert await asyncio.wait_for(deflating.recv(), DELIVERY_LIMIT) == text
        assert await asyncio.wait_for(plain.recv(), DELIVERY_LIMIT) == text
        assert len(serializations) == 1


CATCH_UP_FRAME_BYTES = 16_000


async def test_a_socket_that_falls_behind_gets_every_frame_in_order_once_it_reads(
    ben, live_topic
):
    """A client that does not read: the hub writes until the transport pauses
    it, then keeps frames in the socket's backlog (fewer than its bound);
    once the client reads, the transport drains, and the backlog follows in
    order, without an eviction."""
    async with uvicorn_here() as server:
        raw = small_receive_buffer(server.config.port)
        async with tab_socket(
            server, ben, live_topic.pk, sock=raw, max_queue=1
        ) as slow:
            [outlet] = outlets_of(ben.pk)
            small_send_buffer(outlet)
            live = hub.hub()
            group = broadcast.topic_group(live_topic.pk, "en")
            evictions = hub.counters.evictions
            delivered = hub.counters.deliveries
            # Nothing runs in the loop between these: the client reads
            # nothing, and only the kernel's buffers and the transport's take
            # frames before the outlet must keep them.
            sent = 0
            while not (outlet.backlog and len(outlet.backlog) >= 3):
                assert sent < 100, "the transport never paused"
                html = flood_frame(sent, CATCH_UP_FRAME_BYTES)
                live.dispatch({"type": "live.html", "html": html, "group": group})
                sent += 1
            assert not outlet.protocol.writable.is_set()
            assert outlet.waiter is not None
            assert outlet.backlog_bytes < hub.BACKLOG_MAX_BYTES

            got = [await asyncio.wait_for(slow.recv(), 5) for _ in range(sent)]
            assert flood_numbers(got) == list(range(sent))
            assert outlet.backlog is None
            assert hub.counters.evictions == evictions
            assert hub.counters.deliveries == delivered + sent
            await asyncio.sleep(0)
            assert outlet.waiter is None


def stalled_peer(server, member, topic_id: int) -> sockets_module.socket:
    """A peer that opens the page's live socket and then never reads again: a
    plain TCP socket with a 4 KB receive buffer, through which websockets'
    sans-I/O client does the handshake (in a thread: the server runs in this
    loop). Nothing on the client's side reads or buffers past that: a client
    library would go on reading into its own queue."""
    port = server.config.port
    raw = small_receive_buffer(port)
    client = ClientProtocol(
        parse_uri(ws_url(server, topic_id)), origin=f"http://127.0.0.1:{port}"
    )
    request = client.connect()
    request.headers["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={session_key(member)}"
    client.send_request(request)
    raw.sendall(b"".join(client.data_to_send()))
    while client.state is not State.OPEN:
        data = raw.recv(1024)
        assert data, "the server closed the connection during the handshake"
        client.receive_data(data)
        for event in client.events_received():
            assert not isinstance(event, Response) or event.status_code == 101, event
    return raw


async def test_an_evicted_socket_that_never_reads_again_is_dropped(
    ben, live_topic, monkeypatch, caplog
):
    """Evicted, the socket's close frame waits behind buffers its peer never
    reads. Without more, uvicorn would close it gracefully, which waits for
    those buffers for ever: the connection, its consumer and its place in
    the count would stay. It is dropped EVICTED_CLOSE_WAIT after, and the
    consumer's close has gone out by then (a close still waiting for the
    transport when it is dropped would fail, and its task log an error)."""
    monkeypatch.setattr(hub, "EVICTED_CLOSE_WAIT", 0.3)
    async with uvicorn_here() as server:
        raw = await sync_to_async(stalled_peer)(server, ben, live_topic.pk)
        try:
            [outlet] = outlets_of(ben.pk)
            small_send_buffer(outlet)
            protocol = outlet.protocol
            open_before = reconnect.open_sockets()
            live = hub.hub()
            group = broadcast.topic_group(live_topic.pk, "en")
            evictions = hub.counters.evictions
            sent = 0
            while not outlet.closing:
                assert sent < 200, "never evicted"
                html = flood_frame(sent)
                live.dispatch({"type": "live.html", "html": html, "group": group})
                sent += 1
            assert hub.counters.evictions == evictions + 1
            # Still there just after the eviction: nothing reads its buffers.
            await asyncio.sleep(0.1)
            assert server.server_state.connections
            deadline = time.monotonic() + 5
            while (
                server.server_state.connections
                or reconnect.open_sockets() != open_before - 1
            ):
                assert time.monotonic() < deadline, "the evicted socket stayed"
                await asyncio.sleep(0.05)
            assert protocol.disconnected
            assert protocol.close_sent
        finally:
            raw.close()
    gc.collect()
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


# --- The Makefile ----------------------------------------------------------------


def make_run(server: str | None) -> subprocess.CompletedProcess:
    """`make -n run` (what it would run, without running it) with SERVER, or
    without SERVER anywhere (the environment's is left out too). As typed at
    a shell: under `make test` (CI's .ci/run) the environment carries the
    outer make's MAKELEVEL and MAKEFLAGS, and a nested make then prints its
    "Entering directory" lines."""
    command = ["make", "--no-print-directory", "-n", "run", "PORT=8000"]
    if server is not None:
        command.append(f"SERVER={server}")
    outer_make = {"SERVER", "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"}
    env = {name: value for name, value in os.environ.items() if name not in outer_make}
    return subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def served_with(output: str) -> list[str]:
    """The command that starts the server, among those `make -n run` prints."""
    for line in output.replace("\\\n", " ").splitlines():
        words = shlex.split(line)
        if words and words[0].endswith(("/daphne", "/uvicorn")):
            return words
    pytest.fail(f"no server command in:\n{output}")


def test_make_run_serves_with_uvicorn_when_asked_and_daphne_by_default():
    uvicorn_run = make_run("uvicorn")
    assert uvicorn_run.returncode == 0, uvicorn_run.stderr
    words = served_with(uvicorn_run.stdout)
    assert words[0] == ".venv/bin/uvicorn"
    assert words[1:5] == ["--host", "127.0.0.1", "--port", "8000"]
    assert words[5:-1] == procfile_uvicorn_args()
    assert words[-1] == "project.asgi:application"

    default = make_run(None)
    assert default.returncode == 0, default.stderr
    assert served_with(default.stdout)[0] == ".venv/bin/daphne"

    refused = make_run("bogus")
    assert refused.returncode != 0
    assert "SERVER=bogus: make run serves with daphne (the default) or uvicorn" in (
        refused.stderr
    )
    assert refused.stdout == ""
