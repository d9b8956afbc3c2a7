"""Who is behind a live socket: the session cookie's member, found on threads
of the socket path's own.

Channels' AuthMiddlewareStack did this through database_sync_to_async, which
is thread-sensitive: every socket of the process queued on asgiref's one
shared thread, one after the other. When a process died and its tabs
reconnected to a survivor at once, Daphne dropped the handshakes still waiting
after its connect timeout (issue 7: 97 of 150). Here the session and the
member are read in one hop to a small pool of threads of our own, and the
consumer's authorization (chat/consumers.py) uses the same pool.

The pool is smaller than the database pool, so a burst of sockets never takes
every pooled connection from the requests (posts, catch-ups) that need one.
Each hop closes its connection when it ends (channels.db.DatabaseSyncToAsync:
with CONN_MAX_AGE 0 that hands it back to the pool).

The rules are Channels' (channels.auth.get_user), which are Django's for a
request: the session names a member and an authentication backend still
configured; the backend returns the member only while active; the session's
password hash must match the member's current one, else the session is
flushed. Anything else is anonymous, and the consumer closes with 4401.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connections
from django.http import parse_cookie
from django.utils.crypto import constant_time_compare


def _thread_count() -> int:
    # At most half the database pool (DB_POOL_MAX_SIZE, 10 by default), and 4
    # at most: the hops are a few short queries each; more threads would only
    # take connections and contend for the GIL.
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    if isinstance(pool, dict) and pool.get("max_size"):
        return max(1, min(4, pool["max_size"] // 2))
    return 4


EXECUTOR = ThreadPoolExecutor(
    max_workers=_thread_count(), thread_name_prefix="live-socket-db"
)


def close_thread_connections() -> None:
    """Close the database connection of each of EXECUTOR's threads.

    Every hop closes its own, except under Channels' test communicator, which
    turns that clean-up off; the tests call this at the end so that
    PostgreSQL can drop the test database."""
    workers = EXECUTOR._max_workers
    # Each task waits for all the others: with as many tasks as threads, every
    # thread runs exactly one.
    everyone = threading.Barrier(workers)

    def close() -> None:
        connections.close_all()
        everyone.wait(timeout=10)

    for done in [EXECUTOR.submit(close) for _ in range(workers)]:
        done.result()


def off_the_shared_thread(func):
    """`func` as a coroutine function run on the socket path's own threads
    (not thread-sensitive), closing its database connection around the call."""
    return database_sync_to_async(func, thread_sensitive=False, executor=EXECUTOR)


def session_member(session):
    """The active member `session` belongs to, or None. Two queries: the
    session, then the member."""
    try:
        member_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except (KeyError, ValidationError):
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    # The backend's get_user answers None for an inactive member.
    member = load_backend(backend_path).get_user(member_id)
    if member is None:
        return None
    session_hash = session.get(HASH_SESSION_KEY)
    if not (
        session_hash
        and constant_time_compare(session_hash, member.get_session_auth_hash())
    ):
        # The password changed since this session logged in: the session is
        # over, as the next page load would find too.
        session.flush()
        return None
    return member


def session_store(session_key: str | None):
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key)


def member_of_session_key(session_key: str | None):
    """session_member of the session stored under `session_key`, read afresh."""
    if not session_key:
        return None
    return session_member(session_store(session_key))


@off_the_shared_thread
def _resolve(session_key: str):
    session = session_store(session_key)
    return session, session_member(session)


class SessionMemberMiddleware:
    """ASGI middleware for the live socket: scope["session"] and
    scope["user"] (the member, or AnonymousUser) from the session cookie, in
    one hop to the socket path's threads; no hop at all without a cookie."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        session_key = _session_cookie(scope)
        member = None
        if session_key:
            session, member = await _resolve(session_key)
        else:
            session = session_store(None)
        scope = {**scope, "session": session, "user": member or AnonymousUser()}
        return await self.application(scope, receive, send)


def _session_cookie(scope) -> str | None:
    # The first Cookie header, as Channels' CookieMiddleware reads it.
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            return parse_cookie(value.decode("latin-1")).get(
                settings.SESSION_COOKIE_NAME
            )
    return None
