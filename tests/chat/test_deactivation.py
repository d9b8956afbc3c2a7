"""A member deactivated by staff in the admin loses their open sockets.

Behaviour only, however the closing is done: staff untick "active" on the
admin change form (a real POST by a staff client), and the member's socket,
open through project.asgi.application, is closed within a second; a message
posted in the topic right afterwards never reaches that member, and their
session cannot open a new socket.
"""

import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.urls import reverse

from accounts.models import Member
from project.asgi import application
from tests.chat.conftest import (
    RECEIVE_TIMEOUT,
    alogin,
    asend,
    session_key_for,
    socket_path,
)
from tests.conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db(transaction=True)

WITHIN = 1.0  # seconds from the admin's answer to the socket's close


@database_sync_to_async
def deactivate_in_the_admin(member) -> None:
    staff = Member.objects.create_superuser("staff", PASSWORD)
    response = client_for(staff).post(
        reverse("admin:accounts_member_change", args=[member.pk]),
        {
            "nickname": member.nickname,
            "introduction": "",
            # An unticked checkbox is left out of the form: not active.
            "is_staff": "",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    member.refresh_from_db()
    assert not member.is_active


async def outputs_until_close(socket) -> tuple[list[dict], float]:
    """What reached the client: every output up to and including the close
    (a server sends nothing after its close), and when the close came."""
    outputs = []
    while True:
        output = await socket.receive_output(timeout=RECEIVE_TIMEOUT)
        outputs.append(output)
        if output["type"] == "websocket.close":
            return outputs, time.monotonic()


async def test_member_deactivated_in_the_admin_loses_their_socket_within_a_second(
    member, other_member, membership, other_membership, topic, open_socket
):
    socket = await open_socket(member, topic)
    watcher = await open_socket(other_member, topic)

    await deactivate_in_the_admin(member)
    deactivated_at = time.monotonic()
    await asend(await alogin(other_member), topic, "posted after deactivation")

    assert "posted after deactivation" in await watcher.receive_from(
        timeout=RECEIVE_TIMEOUT
    )
    outputs, closed_at = await outputs_until_close(socket)
    assert closed_at - deactivated_at < WITHIN
    assert not any(
        "posted after deactivation" in output.get("text", "") for output in outputs
    ), outputs


async def test_a_deactivated_members_session_cannot_open_a_socket_again(
    member, membership, topic, live_layer
):
    # A login made before the deactivation, as a tab that reconnects has.
    key = await session_key_for(member)
    await deactivate_in_the_admin(member)
    cookie = f"{settings.SESSION_COOKIE_NAME}={key}".encode()
    again = WebsocketCommunicator(
        application,
        socket_path([topic]),
        headers=[
            (b"host", b"127.0.0.1"),
            (b"origin", b"http://127.0.0.1"),
            (b"cookie", cookie),
        ],
    )
    try:
        connected, _ = await again.connect()

        assert connected
        output = await again.receive_output(timeout=RECEIVE_TIMEOUT)
        assert output == {"type": "websocket.close", "code": 4401}
    finally:
        if not again.future.done():
            await again.disconnect()
