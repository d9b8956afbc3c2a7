"""Who's here: the members on a topic's page right now, listed live on it as
they come and go.

State. Each open socket watching a topic is one entry, "<member id>:<socket
name>", in the topic's sorted set, scored by when it lapses (milliseconds,
Redis' own clock); the list is the members of the entries that have not
lapsed, so a member with two tabs counts once and stays listed until the last
one closes. With REDIS_URL the sets live in Redis, so every process reads the
same list; without it (the embedded default, one process) in this process's
memory. No process keeps anything another one needs.

Lapsing. A socket closed cleanly leaves at once (the consumer's disconnect).
Each process refreshes its own sockets' entries every REFRESH_EVERY seconds,
each to ENTRY_TTL from then. A socket dropped without a close frame (a closed
laptop, a lost network) is closed by Daphne's keepalive (a ping every 20 s,
closed after 30 s without a pong) and leaves then. A process that died
leaves its entries behind: they lapse at most ENTRY_TTL after its last
refresh, and the next refresh of any process with a socket on that topic
sweeps them and pushes the new list, so a dead tab is off every list within
ENTRY_TTL + REFRESH_EVERY = 60 s. Reads skip lapsed entries anyway.

Hiding. A member whose shows_presence is off is never stored, and the list
is read with shows_presence=True, so one who turned it off a moment ago is
not shown either; project/revocation.py reconnects their sockets when the
setting changes, which takes them off (or puts them on) at once. Their
typing is not shown either (presence/typing.py): it would say they are here.

Pushes. A change schedules a push of the topic's list, at most one per
PUSH_EVERY per topic per process, so a burst of arrivals (a process
restarting, a thousand tabs coming back) costs one push, not a thousand. The
push reads the list (one Redis call, one query), renders it once per language
(chat/topic_detail.html#here-frame) and sends it, through chat/broadcast.py,
to the pages that show the list: a topic page opens its socket with
`?here=1` (chat/consumers.py), which puts it on the lists and in the groups
of presence frames; other sockets on the topic get none of it.

Blocks. That fragment is the same for every socket, and a member must never
see someone they blocked or who blocked them. So it is sent with every
listed member as an author (`author_ids`): the hub (chat/hub.py) drops it for
every socket hidden from any one of them, as it drops their messages. Right
after it, every socket gets a bare "the list changed" frame that carries only
the list's version, no name; a page that did not get the list at that version
(it was dropped for it, or lost) fetches its own list over HTTP
(presence/here_views.py), read for that viewer without the members hidden
from them (Block.hidden_id_set). Sockets hidden from nobody, nearly all of
them, cost nothing more than the two frames. Not chosen: one frame per
arrival and departure (lists drift when frames from two processes cross or
one is lost); a full list filtered by the page's script (the blocked
member's name would reach the browser); every page fetching on every change
(a thousand requests per change in a room of a thousand).

Versions. Every change gives the topic's list a new, larger version (Redis'
clock in microseconds, or one more than the last if that is larger), read
together with the list; a page keeps the highest it has shown, so a list
from another process that arrives late never replaces a newer one, and the
version key may expire without ever going back.
"""

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field

import redis
from django.conf import settings
from redis import asyncio as aioredis

from chat import broadcast, fragments
from project import loop_redis
from project.socket_auth import Batched, off_the_shared_thread

logger = logging.getLogger(__name__)

ENTRY_TTL = 45  # seconds an entry lives unless refreshed
REFRESH_EVERY = 15  # seconds between a process's refreshes of its entries
PUSH_EVERY = 1.0  # seconds, at least, between two pushes of a topic's list
# Pushes wait this long for the arrivals that come with the first.
PUSH_GATHER = 0.05  # seconds
# Names listed; past this, "and N more".
SHOWN_MAX = 50
VERSION_TTL = 86400  # seconds

POOL_SIZE = 10
POOL_WAIT = 5  # seconds


# --- Where the entries live -------------------------------------------------------


def set_key(topic_id: int) -> str:
    return f"{loop_redis.key_prefix()}:here:{topic_id}"


def version_key(topic_id: int) -> str:
    return f"{loop_redis.key_prefix()}:here:{topic_id}:v"


def entry(member_id: int, socket_name: str) -> str:
    return f"{member_id}:{socket_name}"


def members_of(entries) -> set[int]:
    found = set()
    for item in entries:
        if isinstance(item, bytes):
            item = item.decode()
        found.add(int(item.split(":", 1)[0]))
    return found


# Every script reads Redis' clock, so the entries of all processes lapse by
# one clock. Milliseconds (13 digits) survive Lua's number-to-string; the
# version (16 digits) is formatted with %d.
_LUA_COMMON = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function bump(key, now)
  local v = tonumber(redis.call('GET', key) or '0')
  local floor = now * 1000
  if v < floor then v = floor else v = v + 1 end
  redis.call('SET', key, string.format('%d', v), 'EX', VERSION_TTL)
  return v
end
""".replace("VERSION_TTL", str(VERSION_TTL))

# KEYS: set, version. ARGV: entry, ttl (ms). Returns the new version.
_ADD = (
    _LUA_COMMON
    + """
local now = now_ms()
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return bump(KEYS[2], now)
"""
)

# KEYS: set, version. ARGV: entry. The new version, or 0 if it was not there.
_REMOVE = (
    _LUA_COMMON
    + """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  return bump(KEYS[2], now_ms())
end
return 0
"""
)

# KEYS: set, version. ARGV: ttl (ms), then this process's entries. Refreshes
# them (adding one a sweep took while this process was stalled) and sweeps
# the lapsed ones; the new version if the list changed, else 0.
_REFRESH = (
    _LUA_COMMON
    + """
local now = now_ms()
local expires = now + tonumber(ARGV[1])
local changed = 0
for i = 2, #ARGV do
  changed = changed + redis.call('ZADD', KEYS[1], expires, ARGV[i])
end
changed = changed + redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if #ARGV > 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
end
if changed > 0 then
  return bump(KEYS[2], now)
end
return 0
"""
)

# KEYS: set, version. {version, entries not lapsed}.
_READ = (
    _LUA_COMMON
    + """
local entries = redis.call('ZRANGEBYSCORE', KEYS[1], now_ms(), '+inf')
return {redis.call('GET', KEYS[2]) or '0', entries}
"""
)


class MemoryStore:
    """The same in this process's memory: the embedded default (one process).
    Shared by the sockets' event loop and the views' threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries: dict[int, dict[str, float]] = {}
        self.versions: dict[int, int] = {}

    def _bump(self, topic_id: int, now: float) -> int:
        version = max(self.versions.get(topic_id, 0) + 1, int(now * 1_000_000))
        self.versions[topic_id] = version
        return version

    def add(self, topic_id: int, item: str) -> int:
        now = time.time()
        with self.lock:
            self.entries.setdefault(topic_id, {})[item] = now + ENTRY_TTL
            return self._bump(topic_id, now)

    def remove(self, topic_id: int, item: str) -> int:
        with self.lock:
            entries = self.entries.get(topic_id, {})
            if entries.pop(item, None) is None:
                return 0
            if not entries:
                self.entries.pop(topic_id, None)
            return self._bump(topic_id, time.time())

    def refresh(self, topic_id: int, items) -> int:
        now = time.time()
        with self.lock:
            entries = self.entries.setdefault(topic_id, {})
            changed = 0
            for item in items:
                changed += item not in entries
                entries[item] = now + ENTRY_TTL
            for item, expires in list(entries.items()):
                if expires <= now:
                    del entries[item]
                    changed += 1
            if not entries:
                self.entries.pop(topic_id, None)
            return self._bump(topic_id, now) if changed else 0

    def read(self, topic_id: int) -> tuple[int, set[int]]:
        now = time.time()
        with self.lock:
            entries = self.entries.get(topic_id, {})
            alive = [item for item, expires in entries.items() if expires > now]
            return self.versions.get(topic_id, 0), members_of(alive)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.versions.clear()


memory = MemoryStore()


def read(topic_id: int) -> tuple[int, set[int]]:
    """The topic list's version and the ids of the members on it (not yet
    filtered by their setting or the viewer's blocks): one Redis call. An
    empty list, version 0, when Redis does not answer."""
    if not settings.REDIS_URL:
        return memory.read(topic_id)
    try:
        version, entries = loop_redis.sync_client().eval(
            _READ, 2, set_key(topic_id), version_key(topic_id)
        )
    except redis.RedisError:
        logger.warning("Who's here not read", exc_info=True)
        return 0, set()
    return int(version), members_of(entries)


# --- This process's sockets --------------------------------------------------------


@dataclass
class Visitor:
    """What the consumer keeps of its member for presence and typing."""

    member_id: int
    nickname: str
    shown: bool
    topic_ids: tuple[int, ...]
    # When this socket last sent a typing notice (presence/typing.py).
    typed_at: float = field(default=-1e9)


class _Process:
    """This event loop's sockets on topics, the Redis client and the tasks
    that refresh their entries and push lists. One per event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        # socket name -> (member id, topic ids)
        self.sockets: dict[str, tuple[int, tuple[int, ...]]] = {}
        self.refresher: asyncio.Task | None = None
        self.pushes: dict[int, asyncio.TimerHandle] = {}
        self.pushed_at: dict[int, float] = {}
        self.tasks: set[asyncio.Task] = set()
        self.redis: aioredis.Redis | None = None
        if settings.REDIS_URL:
            self.redis = loop_redis.loop_client(
                max_connections=POOL_SIZE, wait=POOL_WAIT
            )
            self.add_script = self.redis.register_script(_ADD)
            self.remove_script = self.redis.register_script(_REMOVE)
            self.refresh_script = self.redis.register_script(_REFRESH)
            self.read_script = self.redis.register_script(_READ)

    # The store, from this loop.

    async def add(self, topic_id: int, item: str) -> int:
        if self.redis is None:
            return memory.add(topic_id, item)
        return int(
            await self.add_script(
                keys=[set_key(topic_id), version_key(topic_id)],
                args=[item, ENTRY_TTL * 1000],
            )
        )

    async def remove(self, topic_id: int, item: str) -> int:
        if self.redis is None:
            return memory.remove(topic_id, item)
        return int(
            await self.remove_script(
                keys=[set_key(topic_id), version_key(topic_id)], args=[item]
            )
        )

    async def read(self, topic_id: int) -> tuple[int, set[int]]:
        if self.redis is None:
            return memory.read(topic_id)
        version, entries = await self.read_script(
            keys=[set_key(topic_id), version_key(topic_id)]
        )
        return int(version), members_of(entries)

    async def refresh(self) -> list[int]:
        """Refresh this process's entries and sweep lapsed ones on its
        topics: the topics whose list changed."""
        by_topic: dict[int, list[str]] = {}
        for name, (member_id, topic_ids) in self.sockets.items():
            for topic_id in topic_ids:
                by_topic.setdefault(topic_id, []).append(entry(member_id, name))
        if not by_topic:
            return []
        if self.redis is None:
            results = [memory.refresh(t, items) for t, items in by_topic.items()]
        else:
            async with self.redis.pipeline(transaction=False) as pipe:
                for topic_id, items in by_topic.items():
                    await self.refresh_script(
                        keys=[set_key(topic_id), version_key(topic_id)],
                        args=[ENTRY_TTL * 1000, *items],
                        client=pipe,
                    )
                results = await pipe.execute()
        # A socket that left while the refresh was on its way may have been
        # put back by it: take it off again.
        for topic_id, items in by_topic.items():
            for item in items:
                if item.split(":", 1)[1] not in self.sockets:
                    await self.remove(topic_id, item)
        return [t for t, changed in zip(by_topic, results, strict=True) if changed]

    async def refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_EVERY)
            try:
                for topic_id in await self.refresh():
                    self.schedule_push(topic_id)
            except Exception:
                logger.warning("Who's here not refreshed", exc_info=True)

    # Pushes.

    def schedule_push(self, topic_id: int) -> None:
        if topic_id in self.pushes:
            return  # the push on its way reads the list as it is then
        now = self.loop.time()
        at = max(now + PUSH_GATHER, self.pushed_at.get(topic_id, -1e9) + PUSH_EVERY)
        self.pushes[topic_id] = self.loop.call_at(at, self._start_push, topic_id)

    def _start_push(self, topic_id: int) -> None:
        del self.pushes[topic_id]
        self.pushed_at[topic_id] = self.loop.time()
        task = self.loop.create_task(self._push(topic_id))
        self.tasks.add(task)
        task.add_done_callback(self._pushed)

    def _pushed(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        self.retire_if_idle()

    def retire_if_idle(self) -> None:
        """With no socket left and nothing on its way, this loop's state
        goes (a new socket starts afresh), as the live socket count's does."""
        if self.sockets or self.pushes or self.tasks:
            return
        if _processes.get(self.loop) is self:
            del _processes[self.loop]
        closing = self.loop.create_task(self.close())
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)

    async def _push(self, topic_id: int) -> None:
        try:
            version, member_ids = await self.read(topic_id)
            frames, listed = await _render_frames(topic_id, version, member_ids)
            await broadcast.asend_here_frames(topic_id, frames, author_ids=listed)
            changed = changed_html(topic_id, version)
            await broadcast.asend_here_frames(
                topic_id, dict.fromkeys(frames, changed), author_ids=()
            )
        except Exception:
            logger.warning("Who's here not pushed", exc_info=True)

    async def close(self) -> None:
        if self.refresher is not None:
            self.refresher.cancel()
            self.refresher = None
        if self.redis is not None:
            await self.redis.aclose()


_processes: dict[asyncio.AbstractEventLoop, _Process] = {}
# Clients being closed (asyncio keeps only weak references to tasks).
_closing: set[asyncio.Task] = set()


def _process() -> _Process:
    loop = asyncio.get_running_loop()
    process = _processes.get(loop)
    if process is None:
        process = _processes[loop] = _Process(loop)
    return process


def _visitors_of(requests: list[tuple[int, tuple[int, ...]]]) -> list:
    """(member id, topic ids) -> Visitor, for the sockets that opened
    together: one query for all."""
    from accounts.models import Member

    rows = {
        pk: (nickname, shown)
        for pk, nickname, shown in Member.objects.filter(
            pk__in={member_id for member_id, _ in requests}
        ).values_list("pk", "nickname", "shows_presence")
    }
    return [
        Visitor(member_id, *rows.get(member_id, ("", False)), topic_ids)
        for member_id, topic_ids in requests
    ]


_visitor = Batched(_visitors_of)


async def arrive(socket_name: str, member_id: int, topic_ids) -> Visitor | None:
    """The socket (accepted, on these topics) joins their lists unless its
    member hides their presence; its Visitor (None on no topic). Failing
    Redis costs the list, never the socket."""
    topic_ids = tuple(topic_ids)
    if not topic_ids:
        return None
    try:
        visitor = await _visitor((member_id, topic_ids))
    except Exception:
        logger.warning("Who's here: member not read", exc_info=True)
        return None
    if not visitor.shown:
        return visitor
    process = _process()
    process.sockets[socket_name] = (member_id, topic_ids)
    if process.refresher is None:
        process.refresher = process.loop.create_task(process.refresh_forever())
    for topic_id in topic_ids:
        try:
            await process.add(topic_id, entry(member_id, socket_name))
        except Exception:
            logger.warning("Who's here: arrival not stored", exc_info=True)
            continue
        process.schedule_push(topic_id)
    return visitor


async def depart(socket_name: str) -> None:
    """The socket leaves every list it is on, at once."""
    process = _processes.get(asyncio.get_running_loop())
    if process is None:
        return
    found = process.sockets.pop(socket_name, None)
    if found is None:
        return
    member_id, topic_ids = found
    for topic_id in topic_ids:
        try:
            changed = await process.remove(topic_id, entry(member_id, socket_name))
        except Exception:
            logger.warning("Who's here: departure not stored", exc_info=True)
            continue
        if changed:
            process.schedule_push(topic_id)
    # Pushes already scheduled still run; the state goes after them.
    process.retire_if_idle()


async def shut_down() -> None:
    """Forget this loop's sockets and stop its tasks (tests, between loops)."""
    process = _processes.pop(asyncio.get_running_loop(), None)
    if process is None:
        return
    for handle in process.pushes.values():
        handle.cancel()
    for task in list(process.tasks):
        task.cancel()
    await process.close()


# --- The list, rendered ------------------------------------------------------------


@dataclass
class Listing:
    version: int
    shown: list
    more: int

    @classmethod
    def of(cls, version: int, members: list) -> "Listing":
        """The first SHOWN_MAX members, and how many more."""
        return cls(version, members[:SHOWN_MAX], max(0, len(members) - SHOWN_MAX))


def _listed(member_ids, hidden_ids=frozenset()) -> list:
    """The members to list, in nickname order: one query."""
    from accounts.models import Member

    if not member_ids:
        return []
    return list(
        Member.objects.filter(pk__in=member_ids, is_active=True, shows_presence=True)
        .exclude(pk__in=hidden_ids)
        .only("pk", "nickname")
        .order_by("nickname_key", "pk")
    )


def listing(topic_id: int, *, hidden_ids=frozenset()) -> Listing:
    """Who's here on a topic, for one viewer (without the members hidden
    from them by a block): one Redis call and one query."""
    version, member_ids = read(topic_id)
    return Listing.of(version, _listed(member_ids, hidden_ids))


@off_the_shared_thread
def _render_frames(topic_id: int, version: int, member_ids) -> tuple[dict, list]:
    """The list for everyone, once per language, and every member on it."""
    members = _listed(member_ids)
    frames = fragments.render_per_language(
        "here-frame",
        {
            "topic_id": topic_id,
            "here": Listing.of(version, members),
        },
    )
    return frames, [member.pk for member in members]


def changed_html(topic_id: int, version: int) -> str:
    """The list changed: no names, only the version the list now has."""
    return (
        f'<template id="live-here-changed" data-topic="{int(topic_id)}" '
        f'data-version="{int(version)}"></template>'
    )
