"""Request threads kept for the next request instead of made for each one.

Under ASGI, Django runs a request's synchronous code (sync middleware, the
view, the ORM) on a thread of the request's own: asgiref gives each request a
new one-thread executor and, when the request ends, joins it from yet another
new thread. Starting a thread blocks the caller until the new thread has run,
and the caller is the event loop, which runs every socket of the process.
While the process is busy (a catch-up storm after an outage, with every
thread wanting the GIL) each start waited milliseconds, twice per request:
under `make faults` the event loop spent about a third of its time in thread
starts and joins, and every request and frame queued behind it.

`PooledRequestThreads` wraps Django's ASGI application and hands each request
an idle one-thread executor from this process's pool (a new one only when
none is idle), entered as the request's thread-sensitive context; Django's
own context then finds it set and leaves it alone. When the request ends the
executor goes back to the pool with its thread still running, as a WSGI
server's threads are reused: per-thread state (the database connection
handle, which the connection pool behind it empties at the end of each
request) is what a thread normally carries from one request to the next. One
executor runs one request at a time, so a request that outlives its caller
(a client gone mid-view) only delays the next request given that thread.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext

# Idle executors kept; past this (after a burst) the extra ones are shut down.
MAX_IDLE = 64


class ExecutorPool:
    def __init__(self, max_idle: int = MAX_IDLE):
        self.max_idle = max_idle
        self._idle: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()
        self.created = 0

    def take(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self.created += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(executor)
                return
        # Not joined here: the caller is the event loop.
        executor.shutdown(wait=False)


executors = ExecutorPool()


class PooledRequestThreads:
    """ASGI middleware around Django's application (HTTP only)."""

    def __init__(self, app, pool: ExecutorPool = executors):
        self.app = app
        self.pool = pool

    async def __call__(self, scope, receive, send):
        executor = self.pool.take()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            self.pool.give_back(executor)
