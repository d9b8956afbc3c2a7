"""The page hears why the server closed its socket, through a real Daphne.

Both closes are 4408, "authorize again"; the reason tells them apart. A
resync ("resync": this process's layer reconnected to Redis, so every socket
of the process got it at the same instant) makes the page spread its
reconnect over seconds; a revocation (no reason: one member's access
narrowed) makes it come back at once. Daphne 4.2 drops the reason Channels
gives (project/daphne_close_reason.py), so this is checked from outside, as a
browser sees it.
"""

import asyncio
import os
import time
from contextlib import ExitStack

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer
from websockets.exceptions import ConnectionClosed

from chat import broadcast
from communities.models import Topic
from tests.factories import coffee_club
from tests.integration.web import Tab, session_key

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

WITHIN = 5.0  # seconds


@pytest.fixture
def sockets():
    with ExitStack() as stack:
        yield stack


def send_to_member(redis_url: str, member_id: int, event: dict) -> None:
    """What the server's own layer would queue for the member's sockets,
    published through the same Redis under the same prefix."""

    async def send():
        layer = RedisPubSubChannelLayer(
            hosts=[redis_url], prefix=os.environ["CHANNEL_LAYER_PREFIX"]
        )
        try:
            await layer.group_send(broadcast.user_group(member_id), event)
        finally:
            await layer.flush()

    asyncio.run(send())


def closed_with(socket) -> tuple[int, str]:
    deadline = time.monotonic() + WITHIN
    while (left := deadline - time.monotonic()) > 0:
        try:
            socket.recv(timeout=left)
        except TimeoutError:
            break
        except ConnectionClosed as closed:
            return closed.rcvd.code, closed.rcvd.reason
    pytest.fail(f"the socket was not closed within {WITHIN} s")


def test_a_resync_and_a_revocation_reach_the_page_with_their_reasons(
    aiko, redis_server, start_daphnes, sockets
):
    topic = Topic.objects.create(
        community=coffee_club(aiko), title="Live chat", created_by=aiko
    )
    [server] = start_daphnes(1)
    tab = Tab(server.url, session_key(aiko))

    resynced = sockets.enter_context(tab.live_socket(topic.pk))
    send_to_member(redis_server.url, aiko.pk, {"type": "live.resync"})
    assert closed_with(resynced) == (broadcast.CLOSE_RECHECK, "resync")

    revoked = sockets.enter_context(tab.live_socket(topic.pk))
    send_to_member(
        redis_server.url,
        aiko.pk,
        {"type": "live.close", "code": broadcast.CLOSE_RECHECK},
    )
    assert closed_with(revoked) == (broadcast.CLOSE_RECHECK, "")
