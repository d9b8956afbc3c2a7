"""The Redis pub/sub channel layer, plus one signal it lacks: "I reconnected".

Redis pub/sub delivers at most once: whatever is published while a process's
subscription connection is down is gone. redis-py resubscribes on reconnect,
but nobody tells the sockets that they may have missed something, so an open
tab would show message 1, then message 5, and never 2-4. After a reconnect this
layer puts one `live.resync` event in the queue of every socket of the process;
the consumer closes with 4503, since a revocation may have been among what was
dropped, and the page reconnects, is authorized again and catches up over
HTTP, as on every socket open (docs/live-protocol.md).

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

RESYNC = {"type": "live.resync"}


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


class _Shard(RedisSingleShardConnection):
    def _ensure_redis(self):
        if self._redis is None:
            self._redis = aioredis.Redis(connection_pool=create_pool(self.host))
            self._pubsub = _ResyncingPubSub(self._redis, self)


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, hosts=None, **kwargs):
        super().__init__(*args, hosts=hosts, **kwargs)
        self._shards = [_Shard(host, self) for host in decode_hosts(hosts)]

    def resync_local_channels(self) -> None:
        data = self.channel_layer.serialize(RESYNC)
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
