"""The live socket, driven through the real ASGI application.

Every socket here goes through `project.asgi.application`, so the origin check
and the session/auth middleware are part of what is tested. Members are logged
in with a real session (django.test.Client) and the socket presents its cookie,
as a browser tab would.
"""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse

from chat import broadcast
from chat.consumers import MAX_CLIENT_FRAME
from project.asgi import application

# live_layer (conftest.py): a fresh channel layer for every test.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("live_layer"),
]

LIVE_PATH = "/ws/live/"
OWN_ORIGIN = b"http://127.0.0.1"
# Long enough for a wrongly routed event to arrive, since the right socket has
# already received the same event by the time we look.
NOTHING_TIMEOUT = 0.5


def socket_headers(session_key=None, origin=OWN_ORIGIN):
    headers = [(b"host", b"127.0.0.1")]
    if origin is not None:
        headers.append((b"origin", origin))
    if session_key is not None:
        cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}"
        headers.append((b"cookie", cookie.encode()))
    return headers


@database_sync_to_async
def log_in(member):
    """A fresh login session for `member`: the client and its session key."""
    client = Client()
    client.force_login(member)
    return client, client.cookies[settings.SESSION_COOKIE_NAME].value


@database_sync_to_async
def log_out(client):
    return client.post(reverse("account_logout"))


def error_code(frame: str) -> str | None:
    if 'id="live-error"' not in frame:
        return None
    return frame.split('data-code="', 1)[1].split('"', 1)[0]


def is_pong(frame: str) -> bool:
    return 'id="live-pong"' in frame


async def disconnect_all(communicators):
    for communicator in communicators:
        # A communicator whose application already ended (or was cancelled by
        # a timed-out receive) has nothing left to disconnect.
        if not communicator.future.done():
            await communicator.disconnect()


@pytest.fixture
async def open_socket():
    """Open a socket through the real application; closed at teardown."""
    opened = []

    async def open_(session_key=None, *, origin=OWN_ORIGIN, expect_accept=True):
        communicator = WebsocketCommunicator(
            application, LIVE_PATH, headers=socket_headers(session_key, origin)
        )
        opened.append(communicator)
        connected, _ = await communicator.connect()
        assert connected is expect_accept
        return communicator

    yield open_
    await disconnect_all(opened)


# --- Who may connect ----------------------------------------------------------


async def test_anonymous_socket_is_accepted_then_closed_with_4401(open_socket):
    socket = await open_socket()

    assert await socket.receive_output() == {
        "type": "websocket.close",
        "code": broadcast.CLOSE_UNAUTHENTICATED,
    }
    assert broadcast.CLOSE_UNAUTHENTICATED == 4401


async def test_socket_with_unknown_session_cookie_is_closed_with_4401(open_socket):
    socket = await open_socket("a" * 32)

    assert await socket.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_logged_in_member_socket_is_accepted_and_stays_open(member, open_socket):
    _, session_key = await log_in(member)

    socket = await open_socket(session_key)

    assert await socket.receive_nothing(timeout=NOTHING_TIMEOUT)


@pytest.mark.parametrize(
    "origin",
    [b"http://evil.example", b"http://127.0.0.1.evil.example", b"null", None],
    ids=["foreign", "lookalike", "null", "missing"],
)
async def test_socket_from_foreign_origin_is_refused_at_handshake(
    member, open_socket, origin
):
    # The member's own valid cookie, sent by a page on another site: this is
    # cross-site WebSocket hijacking, and the handshake must fail.
    _, session_key = await log_in(member)

    socket = await open_socket(session_key, origin=origin, expect_accept=False)

    assert await socket.receive_nothing(timeout=NOTHING_TIMEOUT)


# --- Events reach exactly their member ------------------------------------------


async def _send_sync(member_id, html):
    # The way a view or an action's on_commit sends: from a sync thread.
    await sync_to_async(broadcast.send_html_to_member)(member_id, html)


@pytest.mark.parametrize(
    "send",
    [broadcast.asend_html_to_member, _send_sync],
    ids=["async", "sync"],
)
async def test_event_for_a_member_reaches_their_socket_and_not_another_members(
    member, other_member, open_socket, send
):
    _, aiko_key = await log_in(member)
    _, ben_key = await log_in(other_member)
    aiko = await open_socket(aiko_key)
    ben = await open_socket(ben_key)
    html = '<div id="notification-1" hx-swap-oob="afterbegin">縁 &amp; hi</div>'

    await send(member.pk, html)

    assert await aiko.receive_from() == html
    assert await ben.receive_nothing(timeout=NOTHING_TIMEOUT)


async def test_event_for_a_member_reaches_every_open_tab(
    member, other_member, open_socket
):
    _, session_key = await log_in(member)
    first_tab = await open_socket(session_key)
    second_tab = await open_socket(session_key)
    html = '<span id="badge-notifications">3</span>'

    await broadcast.asend_html_to_member(member.pk, html)

    assert await first_tab.receive_from() == html
    assert await second_tab.receive_from() == html
    assert await first_tab.receive_nothing(timeout=NOTHING_TIMEOUT)
    assert await second_tab.receive_nothing(timeout=0.01)


# --- Revocation -----------------------------------------------------------------


async def test_logout_ends_that_sessions_sockets_and_the_others_reconnect(
    member, open_socket
):
    # More cases, over Redis, in test_revocation.py.
    client, session_key = await log_in(member)
    _, other_session_key = await log_in(member)
    assert session_key != other_session_key
    first_tab = await open_socket(session_key)
    second_tab = await open_socket(session_key)
    other_device = await open_socket(other_session_key)

    response = await log_out(client)

    assert response.status_code == 302
    # Every socket of the member is authorized again (one revocation path)...
    for tab in (first_tab, second_tab, other_device):
        assert await tab.receive_output() == {
            "type": "websocket.close",
            "code": broadcast.CLOSE_RECHECK,
        }
    # ...the ended session cannot open a new one...
    reopened = await open_socket(session_key)
    assert await reopened.receive_output() == {"type": "websocket.close", "code": 4401}
    # ...and the other device's reconnect is accepted and streams on.
    other_device = await open_socket(other_session_key)
    html = '<div id="notification-2">still here</div>'
    await broadcast.asend_html_to_member(member.pk, html)
    assert await other_device.receive_from() == html


async def test_a_layer_resync_makes_the_socket_authorize_again(member, open_socket):
    # chat/layers.py queues live.resync for every local socket after a Redis
    # reconnect: what was dropped meanwhile may have been a revocation, so the
    # socket closes to be authorized again (the page reconnects and catches up).
    # Its own code tells the page that every socket of the process got it at
    # once, so it spreads its reconnect (a revocation's 4408 comes back at once).
    _, session_key = await log_in(member)
    socket = await open_socket(session_key)
    layer = get_channel_layer()

    await layer.group_send(broadcast.user_group(member.pk), {"type": "live.resync"})

    assert await socket.receive_output() == {
        "type": "websocket.close",
        "code": broadcast.CLOSE_RESYNC,
    }


async def test_a_layer_outage_tells_the_page_to_poll_and_keeps_the_socket(
    member, open_socket, monkeypatch
):
    # chat/layers.py queues live.degraded for every local socket when its
    # Redis connection fails: the page then fetches what is new over HTTP
    # every data-poll ms (chat/reconnect.py) until its socket opens again.
    from chat import reconnect

    _, session_key = await log_in(member)
    socket = await open_socket(session_key)
    monkeypatch.setattr(reconnect, "_open_sockets", 180)
    layer = get_channel_layer()

    await layer.group_send(broadcast.user_group(member.pk), {"type": "live.degraded"})

    poll = 180 * reconnect.POLL_MS_PER_SOCKET
    assert await socket.receive_from() == (
        f'<template id="live-degraded" data-poll="{poll}"></template>'
    )
    # The socket stays open: it is the layer, not the socket, that failed.
    html = '<span id="badge-notifications">1</span>'
    await broadcast.asend_html_to_member(member.pk, html)
    assert await socket.receive_from() == html


async def test_a_closing_socket_is_not_told_to_poll(member, open_socket):
    _, session_key = await log_in(member)
    socket = await open_socket(session_key)
    layer = get_channel_layer()
    group = broadcast.user_group(member.pk)

    await layer.group_send(group, {"type": "live.close", "code": 4408, "group": group})
    await layer.group_send(group, {"type": "live.degraded"})

    assert await socket.receive_output() == {"type": "websocket.close", "code": 4408}
    assert await socket.receive_nothing(timeout=NOTHING_TIMEOUT)


# --- Bad client frames ------------------------------------------------------------


def padded_ping(length: int) -> str:
    """A valid ping frame of exactly `length` characters."""
    frame = json.dumps({"type": "ping", "pad": ""})
    frame = frame.replace('""', '"' + "x" * (length - len(frame)) + '"')
    assert len(frame) == length
    return frame


OVERSIZED_PING = padded_ping(MAX_CLIENT_FRAME + 1)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"text_data": "not json {"}, "bad_json"),
        ({"text_data": '{"type": "subscribe", "topic": 1}'}, "unknown_type"),
        ({"text_data": '["ping"]'}, "unknown_type"),
        ({"text_data": OVERSIZED_PING}, "bad_frame"),
        ({"bytes_data": b'{"type": "ping"}'}, "bad_frame"),
    ],
    ids=["not-json", "unknown-type", "not-an-object", "oversized", "binary"],
)
async def test_bad_client_frame_gets_an_error_frame_and_socket_stays_open(
    member, open_socket, frame, code
):
    _, session_key = await log_in(member)
    socket = await open_socket(session_key)

    await socket.send_to(**frame)

    assert error_code(await socket.receive_from()) == code
    assert await socket.receive_nothing(timeout=NOTHING_TIMEOUT)
    await socket.send_json_to({"type": "ping"})
    assert is_pong(await socket.receive_from())
    html = '<div id="notification-3">after the bad frame</div>'
    await broadcast.asend_html_to_member(member.pk, html)
    assert await socket.receive_from() == html


async def test_socket_survives_a_run_of_bad_frames(member, open_socket):
    _, session_key = await log_in(member)
    socket = await open_socket(session_key)

    await socket.send_to(text_data="not json {")
    await socket.send_to(text_data='{"type": "nope"}')
    await socket.send_to(text_data=OVERSIZED_PING)
    await socket.send_to(bytes_data=b"\x00\xff")
    await socket.send_json_to({"type": "ping"})

    codes = [error_code(await socket.receive_from()) for _ in range(4)]
    assert codes == ["bad_json", "unknown_type", "bad_frame", "bad_frame"]
    assert is_pong(await socket.receive_from())


async def test_ping_of_exactly_the_frame_limit_is_answered(member, open_socket):
    _, session_key = await log_in(member)
    socket = await open_socket(session_key)

    await socket.send_to(text_data=padded_ping(MAX_CLIENT_FRAME))

    assert is_pong(await socket.receive_from())


# --- Real Redis -------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.timeout(60)
async def test_idle_member_socket_on_real_redis_stays_open_and_still_receives(
    member, redis_layer
):
    _, session_key = await log_in(member)
    socket = WebsocketCommunicator(
        application, LIVE_PATH, headers=socket_headers(session_key)
    )
    try:
        connected, _ = await socket.connect()
        assert connected

        # redis-py's default 5 s socket timeout would drop an idle pub/sub
        # connection (DESIGN.md, known traps): idle for twice that.
        assert await socket.receive_nothing(timeout=10.5, interval=0.1)

        html = '<div id="notification-4">after 10 s of silence</div>'
        await broadcast.asend_html_to_member(member.pk, html)
        assert await socket.receive_from(timeout=3) == html
        await _send_sync(member.pk, html + "<!-- sync -->")
        assert await socket.receive_from(timeout=3) == html + "<!-- sync -->"
    finally:
        await disconnect_all([socket])
