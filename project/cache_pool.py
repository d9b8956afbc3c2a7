"""One Redis connection pool per process for the cache.

Django keeps a cache object per asyncio context, and under ASGI every request
runs in a context of its own; its Redis cache builds a connection pool per
object. So each request that touched the cache (every send, through the rate
limit; every catch-up that missed a fragment) opened a new connection to
Redis and paid its handshake (connect, HELLO, CLIENT SETINFO twice), and the
pool was left for the garbage collector to close. Under a storm those round
trips waited on a busy process's GIL like every other one.

`SharedConnectionPool` is the cache's `pool_class` (settings.CACHES): its
`from_url` hands every cache object of this process the same pool for the same
server and options. redis-py's pools are thread-safe and notice a fork.
"""

import threading

from redis import ConnectionPool


class SharedConnectionPool(ConnectionPool):
    _pools: dict[str, ConnectionPool] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **options) -> ConnectionPool:
        key = repr((url, sorted(options.items())))
        with cls._lock:
            pool = cls._pools.get(key)
            if pool is None:
                pool = cls._pools[key] = super().from_url(url, **options)
            return pool
