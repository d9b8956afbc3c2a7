"""The Redis pub/sub channel layer, plus one signal it lacks: "I reconnected".

Redis pub/sub delivers at most once: whatever is published while a process's
subscription connection is down is gone. redis-py resubscribes on reconnect,
but nobody tells the sockets that they may have missed something, so an open
tab would show message 1, then message 5, and never 2-4. After a reconnect this
layer puts one `live.resync` event in the queue of every local channel (the
process's hub, chat/hub.py, has one); every socket of the process closes with
4503, since a revocation may have been among what was
dropped, and the page reconnects, is authorized again and catches up over
HTTP, as on every socket open (docs/live-protocol.md).

And one more: "I lost Redis". From the moment the subscription connection
fails until it is back, nothing published reaches this process's sockets,
though the writes behind it are saved. Each socket of the process is told
once, with a `live.degraded` event, and its page fetches what is new over
HTTP at a spread interval until its socket opens again (after the resync
above): a long outage is caught up while it lasts rather than by every page
at the same instant when it ends.

channels-redis accepts `on_reconnect` but never calls it (4.3.0), hence this
small subclass at the seams it has: the loop layer's shards and the shard's
PubSub object.
"""

import asyncio

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
    _wrap_close,
)
from channels_redis.utils import create_pool, decode_hosts
from redis import asyncio as aioredis
from redis.asyncio.client import PubSub

from chat import hub

RESYNC = {"type": "live.resync"}
DEGRADED = {"type": "live.degraded"}


class _ResyncingPubSub(PubSub):
    def __init__(self, redis: aioredis.Redis, shard: "_Shard"):
        super().__init__(
            redis.connection_pool, event_dispatcher=redis._event_dispatcher
        )
        self._shard = shard

    async def on_connect(self, connection):
        # redis-py calls this on every reconnect of the subscription connection
        # (not on the first connect) to subscribe again.
        await super().on_connect(connection)
        self._shard.channel_layer.resync_local_channels()

    async def _reconnect(self, conn, error=None, *args, **kwargs):
        # redis-py calls this when a read of the subscription connection
        # failed, before it tries to connect again (which may fail too, for
        # as long as Redis is down).
        if error is not None:
            self._shard.channel_layer.degrade_local_channels()
        return await super()._reconnect(conn, error, *args, **kwargs)


class _Shard(RedisSingleShardConnection):
    def _ensure_redis(self):
        if self._redis is None:
            self._redis = aioredis.Redis(connection_pool=create_pool(self.host))
            self._pubsub = _ResyncingPubSub(self._redis, self)


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, hosts=None, **kwargs):
        super().__init__(*args, hosts=hosts, **kwargs)
        self._shards = [_Shard(host, self) for host in decode_hosts(hosts)]
        self.degraded = False

    def resync_local_channels(self) -> None:
        hub.counters.layer_reconnects += 1
        self.degraded = False
        self._to_local_channels(RESYNC)

    def degrade_local_channels(self) -> None:
        """Once per outage, however many reconnect attempts fail in it."""
        if not self.degraded:
            self.degraded = True
            self._to_local_channels(DEGRADED)

    def _to_local_channels(self, event: dict) -> None:
        data = self.channel_layer.serialize(event)
        for queue in self.channels.values():
            queue.put_nowait(data)


class ResyncingRedisPubSubChannelLayer(RedisPubSubChannelLayer):
    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
