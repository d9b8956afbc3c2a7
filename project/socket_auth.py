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

import asyncio
import threading
import weakref
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
from django.utils import timezone
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


def _members_of(sessions: dict) -> dict:
    """The active member each session belongs to (its decoded data, keyed by
    its key), read in one query for all. A session whose password hash no longer
    matches its member's is deleted, as the next page load would find too."""
    claims = {}
    for key, data in sessions.items():
        try:
            member_id = get_user_model()._meta.pk.to_python(data[SESSION_KEY])
            backend_path = data[BACKEND_SESSION_KEY]
        except (KeyError, ValidationError):
            continue
        if backend_path in settings.AUTHENTICATION_BACKENDS:
            claims[key] = (member_id, backend_path)
    if not claims:
        return {}
    # What the backend's get_user reads, for every session at once; the
    # backend still says who may authenticate (only an active member).
    found = get_user_model()._default_manager.in_bulk(
        {member_id for member_id, _ in claims.values()}
    )
    members = {}
    for key, (member_id, backend_path) in claims.items():
        member = found.get(member_id)
        if member is None or not load_backend(backend_path).user_can_authenticate(
            member
        ):
            continue
        session_hash = sessions[key].get(HASH_SESSION_KEY)
        if not (
            session_hash
            and constant_time_compare(session_hash, member.get_session_auth_hash())
        ):
            # The password changed since this session logged in.
            session_store(key).delete(key)
            continue
        members[key] = member
    return members


def session_store(session_key: str | None):
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key)


def read_sessions(keys) -> dict[str, dict]:
    """The data of each of these sessions that exists and has not expired,
    keyed by session key: one query with the database engine, one read each
    with another."""
    keys = {key for key in keys if key}
    if not keys:
        return {}
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return {key: data for key in keys if (data := session_store(key).load())}
    store = session_store(None)
    rows = store.model.objects.filter(
        session_key__in=keys, expire_date__gt=timezone.now()
    ).values_list("session_key", "session_data")
    return {key: store.decode(data) for key, data in rows}


def members_of_session_keys(keys) -> dict:
    """The active member of each session stored under these keys, read
    afresh: two queries for all of them. Keys of no active member are left
    out."""
    return _members_of(read_sessions(keys))


# --- Sockets opening together share their hops --------------------------------

# Requests answered by one hop at most; a crowd larger than this is served
# by several hops, side by side on the threads.
BATCH_MAX = 100


class Batched:
    """`work` (a function from a list of requests to their answers, in order;
    an answer that is an exception is raised to its caller) run on the socket
    path's threads for every request waiting at the time.

    When a thousand sockets open at once, each one's session, member, topics
    and blocks would otherwise cost each its own hop and queries: make bench
    found two thirds of the server's core building and reading those queries
    (Django's ORM, about 0.7 ms each) while sockets opened. Here a request
    starts a hop at once while fewer hops than threads are running; the
    others wait for the next free thread and go together, so the number of
    queries grows with the number of hops, not of sockets, and a lone socket
    waits for nobody. One per event loop (its futures belong to it)."""

    def __init__(self, work):
        self.work = off_the_shared_thread(work)
        self.loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def __call__(self, request):
        loop = asyncio.get_running_loop()
        state = self.loops.get(loop)
        if state is None:
            state = self.loops[loop] = {"waiting": [], "running": 0, "hops": set()}
        future = loop.create_future()
        state["waiting"].append((request, future))
        if state["running"] < EXECUTOR._max_workers:
            self._start(loop, state)
        return await future

    def _start(self, loop, state) -> None:
        batch = state["waiting"][:BATCH_MAX]
        del state["waiting"][:BATCH_MAX]
        state["running"] += 1
        # Held until done: asyncio keeps only weak references to tasks.
        hop = loop.create_task(self._run(loop, state, batch))
        state["hops"].add(hop)
        hop.add_done_callback(state["hops"].discard)

    async def _run(self, loop, state, batch) -> None:
        try:
            # Requests whose socket went away meanwhile are not read.
            batch = [(request, f) for request, f in batch if not f.done()]
            if batch:
                answers = await self.work([request for request, _ in batch])
                for (_, future), answer in zip(batch, answers, strict=True):
                    if future.done():
                        continue
                    if isinstance(answer, BaseException):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            state["running"] -= 1
            if state["waiting"]:
                self._start(loop, state)


def _resolve_many(keys: list[str]) -> list:
    members = members_of_session_keys(keys)
    return [(session_store(key), members.get(key)) for key in keys]


_resolve = Batched(_resolve_many)


class SocketMember:
    """Who a live socket belongs to, as far as the socket needs to know: the
    member's id. The middleware hands this on rather than the member's row,
    which every open socket would keep (through the scope) for as long as it
    stays open: a KB and more a socket, ten thousand sockets a process."""

    __slots__ = ("pk",)
    is_authenticated = True
    is_anonymous = False

    def __init__(self, pk: int):
        self.pk = pk


class SessionMemberMiddleware:
    """ASGI middleware for the live socket: scope["session"] and
    scope["user"] (a SocketMember, or AnonymousUser) from the session cookie, in
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
        user = SocketMember(member.pk) if member is not None else AnonymousUser()
        scope = {**scope, "session": session, "user": user}
        return await self.application(scope, receive, send)


def _session_cookie(scope) -> str | None:
    # The first Cookie header, as Channels' CookieMiddleware reads it.
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            return parse_cookie(value.decode("latin-1")).get(
                settings.SESSION_COOKIE_NAME
            )
    return None


def visible_to_many(model, visible_q, asked: dict) -> dict:
    """For the live sockets opening together (chat/consumers.py), whether each
    may see the things it asks for (diary entries, events). `asked` maps a key
    to (a member or a SocketMember, ids); `visible_q(viewer)` is the pages'
    own rule as a filter on `model`. The answer maps each key to its ids, or
    to Http404 when its member may not see one of them. One query for all,
    whatever their number: the rows annotated with the rule once per member
    asking (the very rule, not a copy of it)."""
    from django.db.models import BooleanField, Case, Value, When
    from django.http import Http404

    viewers = {member.pk: member for member, ids in asked.values() if ids}
    visible: set[tuple[int, int]] = set()
    if viewers:
        wanted = {pk for _member, ids in asked.values() for pk in ids}
        flags = {
            f"seen_by_{pk}": Case(
                When(visible_q(viewer), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
            for pk, viewer in viewers.items()
        }
        rows = (
            model.objects.filter(pk__in=wanted).annotate(**flags).values("pk", *flags)
        )
        for row in rows:
            for pk in viewers:
                if row[f"seen_by_{pk}"]:
                    visible.add((pk, row["pk"]))
    return {
        key: (ids if all((member.pk, pk) in visible for pk in ids) else Http404())
        for key, (member, ids) in asked.items()
    }
