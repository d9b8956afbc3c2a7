"""Redis clients for Enishi's own keys (the socket limit, Who's here).

`loop_client`: for one event loop's own use, a bounded pool, short timeouts,
and health checks, so a Redis that stops answering costs a socket a few
seconds, never the loop. The pool is bound to the loop whose tasks wait on
it; the client closes the pool with itself.

`sync_client`: for threads (a view, a push worker), one per process, with
one-second timeouts: a page or a push must not wait on a Redis that does not
answer.
"""

import threading

import redis
from django.conf import settings
from redis import asyncio as aioredis

_sync_clients: dict[str, redis.Redis] = {}
_sync_lock = threading.Lock()


def key_prefix() -> str:
    """The first part of every key: the channel layer's prefix, so that two
    sites sharing one Redis keep apart."""
    config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
    return config.get("prefix") or "enishi"


def loop_client(*, max_connections: int, wait: float) -> aioredis.Redis:
    """A client of REDIS_URL with at most `max_connections`, a caller waiting
    up to `wait` seconds for one."""
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.REDIS_URL,
        max_connections=max_connections,
        timeout=wait,
        socket_timeout=5,
        socket_connect_timeout=5,
        health_check_interval=15,
    )
    return aioredis.Redis.from_pool(pool)


def sync_client() -> redis.Redis:
    """The process's client of REDIS_URL for threads (its pool is shared by
    them)."""
    with _sync_lock:
        client = _sync_clients.get(settings.REDIS_URL)
        if client is None:
            client = _sync_clients[settings.REDIS_URL] = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
            )
        return client
