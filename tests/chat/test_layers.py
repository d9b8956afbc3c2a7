"""chat/layers.py's two signals to this process's sockets, without Redis:
live.degraded once per outage however many reconnect attempts fail in it,
and live.resync when the subscription is back (which starts a new outage's
count). The real path, with a real redis-server stopped and started, is
tests/integration/test_two_processes.py."""

import asyncio

import pytest

from chat.layers import DEGRADED, RESYNC, ResyncingRedisPubSubChannelLayer


@pytest.fixture
def layer():
    # No connection is made until something is sent or subscribed.
    return ResyncingRedisPubSubChannelLayer(hosts=["redis://127.0.0.1:1/0"])


async def queued(layer, channel) -> list[dict]:
    queue = layer._get_layer().channels[channel]
    events = []
    while not queue.empty():
        events.append(layer.deserialize(queue.get_nowait()))
    return events


async def test_every_socket_hears_of_an_outage_once_and_of_its_end(layer):
    loop_layer = layer._get_layer()
    # Two sockets' queues (new_channel would subscribe them in Redis first).
    first, second = "specific.one", "specific.two"
    for channel in (first, second):
        loop_layer.channels[channel] = asyncio.Queue()

    loop_layer.degrade_local_channels()
    loop_layer.degrade_local_channels()  # the next failed attempt
    assert await queued(layer, first) == [DEGRADED]
    assert await queued(layer, second) == [DEGRADED]

    loop_layer.resync_local_channels()
    assert await queued(layer, first) == [RESYNC]

    # The next outage is told again.
    loop_layer.degrade_local_channels()
    assert await queued(layer, first) == [DEGRADED]
    assert await queued(layer, second) == [RESYNC, DEGRADED]
