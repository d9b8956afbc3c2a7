"""A Redis client for one event loop's own use (the socket limit, Who's
here): a bounded pool, short timeouts, and health checks, so a Redis that
stops answering costs a socket a few seconds, never the loop.

The pool is bound to the loop whose tasks wait on it; the client closes the
pool with itself.
"""

from django.conf import settings
from redis import asyncio as aioredis


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
