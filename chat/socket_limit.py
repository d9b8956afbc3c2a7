"""How many live sockets one member may hold open at once, counted across
every process.

A tab holds one socket; a member with more open than LIVE_MAX_SOCKETS_PER_MEMBER
(20 by default) is refusing nothing useful and may be a script. The next one
is closed with 4429, which the page shows instead of reconnecting in a loop.

With Redis (REDIS_URL) the count lives there, so it holds across processes:
one sorted set per member whose entries are this process's socket names,
scored by when they lapse. An entry lapses unless refreshed, so the sockets of
a process that died without closing them stop counting after ENTRY_TTL
seconds; each process refreshes its own sockets' entries in one pipeline every
REFRESH_EVERY seconds. Checking and adding is one Lua script, so two sockets
opening at once cannot both take the last place. Without Redis (the embedded
default, one process) the count is kept in memory.

When Redis cannot be reached the socket is let in: the limit protects the
server from a runaway client, it is not an access check.

Every socket of a process opens again at the same moment when Redis comes
back after a restart, so the client waits in line for one of a few pooled
connections (POOL_SIZE) instead of failing: a count that failed would let the
socket in uncounted, and a release that failed would keep its place taken
against the member until it lapsed.
"""

import asyncio
import logging
import time

from django.conf import settings
from redis import asyncio as aioredis

from project import loop_redis

logger = logging.getLogger(__name__)

ENTRY_TTL = 120  # seconds
REFRESH_EVERY = 40  # seconds
# Each call is one short command (the script, a ZREM, one pipeline) that
# takes well under a millisecond, so a few connections serve thousands of
# sockets, and Redis (one thread) runs them no faster over more: 1,000
# acquires at once took 0.15 to 0.2 s in all with 5, 20 or 50 connections.
# redis-py's default pool instead opens up to 100 and then raises
# MaxConnectionsError at once; in the fault run (issue 7) the ~150 sockets per
# process reopening after a Redis restart got 50 to 145 of those per process.
POOL_SIZE = 20
# How long a call waits for a free connection before it fails like any other
# Redis error (the socket let in, the release left to lapse): as long as a
# command itself may take (socket_timeout), well inside Daphne's connect
# timeout.
POOL_WAIT = 5  # seconds

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def limit() -> int:
    return settings.LIVE_MAX_SOCKETS_PER_MEMBER


def redis_key(member_id: int) -> str:
    return f"{loop_redis.key_prefix()}:live-sockets:{member_id}"


class _Process:
    """This process's open sockets per member, and (with Redis) the client and
    the task that keeps their entries from lapsing. One per event loop."""

    def __init__(self):
        self.sockets: dict[int, set[str]] = {}
        self.redis: aioredis.Redis | None = None
        self.refresher: asyncio.Task | None = None
        if settings.REDIS_URL:
            # Bound to this loop (its waiters are), like the rest of _Process;
            # the client closes the pool with itself.
            self.redis = loop_redis.loop_client(
                max_connections=POOL_SIZE, wait=POOL_WAIT
            )
            self.acquire_script = self.redis.register_script(_ACQUIRE)

    async def refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_EVERY)
            try:
                await self.refresh()
            except Exception:
                logger.warning("Could not refresh live socket counts", exc_info=True)

    async def refresh(self) -> None:
        expires = time.time() + ENTRY_TTL
        async with self.redis.pipeline(transaction=False) as pipe:
            for member_id, names in self.sockets.items():
                key = redis_key(member_id)
                # xx: only entries still there. A socket released while this
                # pipeline was on its way must not come back as a ghost.
                pipe.zadd(key, dict.fromkeys(names, expires), xx=True)
                pipe.expire(key, ENTRY_TTL)
            await pipe.execute()

    async def close(self) -> None:
        if self.refresher is not None:
            self.refresher.cancel()
            self.refresher = None
        if self.redis is not None:
            await self.redis.aclose()


_processes: dict[asyncio.AbstractEventLoop, _Process] = {}


def _process() -> _Process:
    loop = asyncio.get_running_loop()
    process = _processes.get(loop)
    if process is None:
        process = _processes[loop] = _Process()
    return process


async def acquire(member_id: int, socket_name: str) -> bool:
    """Count this socket for its member; False when they already hold the
    limit (the socket is then not counted)."""
    process = _process()
    if process.redis is None:
        if len(process.sockets.get(member_id, ())) >= limit():
            return False
    else:
        now = time.time()
        try:
            taken = await process.acquire_script(
                keys=[redis_key(member_id)],
                args=[now, now + ENTRY_TTL, limit(), socket_name, ENTRY_TTL],
            )
        except Exception:
            logger.warning("Live socket limit not checked", exc_info=True)
            taken = 1
        if not taken:
            return False
        # Looked up again: the last socket of this loop may have closed while
        # the script ran, taking that bookkeeping with it.
        process = _process()
        if process.refresher is None:
            process.refresher = asyncio.create_task(process.refresh_forever())
    process.sockets.setdefault(member_id, set()).add(socket_name)
    return True


def has_open_socket(member_id: int) -> bool:
    """Whether the member holds a live socket in any process (Web Push skips
    a member who would see the notification in an open tab). Synchronous,
    for a worker thread: with Redis it reads the member's sorted set (entries
    not yet lapsed); without Redis, the sockets of this process's loops.
    When Redis cannot be asked, False: one push too many beats one missed."""
    if not settings.REDIS_URL:
        # A copy: the loops add and remove sockets while this thread reads.
        return any(member_id in p.sockets for p in list(_processes.values()))
    try:
        client = loop_redis.sync_client()
        return client.zcount(redis_key(member_id), time.time(), "+inf") > 0
    except Exception:
        logger.warning("Open live sockets not read", exc_info=True)
        return False


async def release(member_id: int, socket_name: str) -> None:
    loop = asyncio.get_running_loop()
    process = _processes.get(loop)
    if process is None:
        return
    names = process.sockets.get(member_id, set())
    names.discard(socket_name)
    if not names:
        process.sockets.pop(member_id, None)
    # Nothing left to refresh on this loop: drop the bookkeeping now (before
    # any await, so a socket opening meanwhile starts afresh), then stop its
    # task and client rather than leave them to a loop that may end.
    idle = not process.sockets
    if idle:
        del _processes[loop]
    if process.redis is not None:
        try:
            await process.redis.zrem(redis_key(member_id), socket_name)
        except Exception:
            logger.warning("Live socket count not released", exc_info=True)
    if idle:
        await process.close()
