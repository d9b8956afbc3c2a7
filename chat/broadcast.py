"""The one place that sends to the channel layer (a test holds us to it).

Everything pushed to a socket is HTML rendered once by the caller, sent to a
group, and written unchanged by each process's hub (chat/hub.py) to its
sockets in that group: no per-recipient work. Group names come from the
helpers here and nowhere else; every event carries its group's name, since
each process reads all of its groups from one channel.
"""

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

# Close codes the live socket uses (docs/live-protocol.md).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_BAD_REQUEST = 4400
CLOSE_FORBIDDEN = 4403
# The member already holds LIVE_MAX_SOCKETS_PER_MEMBER open sockets
# (chat/socket_limit.py): the page says so and waits instead of retrying.
CLOSE_TOO_MANY_SOCKETS = 4429
# What the member may see narrowed (project/revocation.py): reconnect, which
# authorizes the socket and the page's streams again from scratch.
CLOSE_RECHECK = 4408
# This process's layer reconnected to Redis (chat/layers.py) and may have
# dropped events, a revocation among them: every socket of the process is
# closed at the same instant to be authorized again. A code of its own, so the
# page spreads this reconnect over the process's spread (chat/reconnect.py)
# rather than coming back at once as after one member's revocation.
CLOSE_RESYNC = 4503

logger = logging.getLogger(__name__)


def user_group(member_id: int) -> str:
    """Every socket of one member: notifications, badges, footprint alerts."""
    return f"user.{member_id}"


async def _asend(group: str, event: dict) -> None:
    # Callers broadcast after their write has committed: a layer that cannot
    # publish (Redis down or restarting) must not turn that write into an
    # error. Delivery is at most once anyway; catch-up brings back what is
    # lost here (DESIGN.md, "The live path").
    try:
        await get_channel_layer().group_send(group, {**event, "group": group})
    except Exception:
        logger.exception("Live event to group %s was not sent", group)


# Sends handed to the server's loop; asyncio keeps only weak references to
# tasks, so a pending one must be held here until it is done.
_pending: set[asyncio.Task] = set()


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop that runs this process's sockets, when called from a
    view's thread under Daphne (asgiref records it for AsyncToSync)."""
    local = SyncToAsync.threadlocal
    loop = getattr(local, "main_event_loop", None)
    if loop is None or getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    return loop if loop.is_running() else None


def _schedule(loop: asyncio.AbstractEventLoop, send: Callable[[], Awaitable]) -> None:
    task = loop.create_task(send())
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def _dispatch(send: Callable[[], Awaitable[None]]) -> None:
    """Run a send from sync code (a view, after its commit).

    Under the server the send is handed to the loop that runs the sockets and
    the request does not wait for it: a request blocked on a busy loop would
    hold its thread and its database connection, and under load they pile up
    without bound. Sends from one thread start in the order they were made.
    Elsewhere (management commands, the test client) it runs to completion.
    """
    loop = _server_loop()
    if loop is None:
        async_to_sync(send)()
    else:
        loop.call_soon_threadsafe(_schedule, loop, send)


def _send(group: str, event: dict) -> None:
    _dispatch(lambda: _asend(group, event))


def send_html_to_member(member_id: int, html: str) -> None:
    """Push an already-rendered fragment to every open socket of a member."""
    _send(user_group(member_id), {"type": "live.html", "html": html})


async def asend_html_to_member(member_id: int, html: str) -> None:
    await _asend(user_group(member_id), {"type": "live.html", "html": html})


def send_html_to_members(member_ids, html: str) -> None:
    """The same fragment to every open socket of each of these members (one
    hand-over to the loop for all of them)."""
    ids = list(member_ids)

    async def send_all():
        for member_id in ids:
            await _asend(user_group(member_id), {"type": "live.html", "html": html})

    if ids:
        _dispatch(send_all)


def recheck_member_sockets(member_ids: list[int]) -> None:
    """Make every open socket of these members, on every process, stop
    forwarding at once and close with 4408, so the page reconnects and is
    authorized again. Only project/revocation.py calls this."""

    async def send_all():
        for member_id in member_ids:
            await _asend(
                user_group(member_id), {"type": "live.close", "code": CLOSE_RECHECK}
            )

    _dispatch(send_all)


def topic_group(topic_id: int, language: str) -> str:
    """Sockets watching a topic in one language: a live fragment is rendered
    once per language, never once per recipient."""
    return f"topic.{topic_id}.{language}"


def send_topic_frames(
    topic_id: int, frames: dict[str, str], *, author_ids: tuple[int, ...]
) -> None:
    """Push one event's fragments (one per language) to everyone watching a
    topic. `author_ids` (the author, and the author a reply quotes) let the
    hub skip the sockets of members hidden from them by a block."""
    _dispatch(lambda: asend_topic_frames(topic_id, frames, author_ids=author_ids))


async def asend_topic_frames(
    topic_id: int, frames: dict[str, str], *, author_ids
) -> None:
    for language, html in frames.items():
        await _asend(
            topic_group(topic_id, language),
            {"type": "live.message", "html": html, "author_ids": list(author_ids)},
        )


def here_group(topic_id: int, language: str) -> str:
    """Sockets of pages that show a topic's "Who's here" list and its typing
    notices (`?here=1`), in one language (presence/here.py)."""
    return f"here.{topic_id}.{language}"


async def asend_here_frames(
    topic_id: int, frames: dict[str, str], *, author_ids
) -> None:
    """Push a presence fragment (one per language) to the pages showing a
    topic's list. `author_ids` (everyone it names) let the hub skip the
    sockets of members hidden from any of them by a block."""
    for language, html in frames.items():
        await _asend(
            here_group(topic_id, language),
            {"type": "live.message", "html": html, "author_ids": list(author_ids)},
        )


# --- Pages with a live stream of their own: diary entries, events ------------


def _send_frames(
    group_of: Callable[[str], str], frames: dict[str, str], author_ids
) -> None:
    """One event's fragments (one per language), each to its language's group
    (`group_of(language)`), in one hand-over to the loop."""

    async def send_all():
        for language, html in frames.items():
            await _asend(
                group_of(language),
                {"type": "live.message", "html": html, "author_ids": list(author_ids)},
            )

    _dispatch(send_all)


def _recheck_groups(groups: list[str]) -> None:
    """Every socket in these groups, on every process, stops forwarding at once
    and closes with 4408 to be authorized again."""

    async def send_all():
        for group in groups:
            await _asend(group, {"type": "live.close", "code": CLOSE_RECHECK})

    _dispatch(send_all)


def entry_group(entry_id: int, language: str) -> str:
    """Sockets showing a diary entry's page in one language (its comments and
    likes live): rendered once per language, as for a topic."""
    return f"entry.{entry_id}.{language}"


def send_entry_frames(
    entry_id: int, frames: dict[str, str], *, author_ids: tuple[int, ...]
) -> None:
    """Push one event's fragments (one per language) to every socket showing
    an entry. `author_ids` (a comment's author, a liker) let the hub skip the
    sockets of members hidden from them by a block: the fragment is the same
    for everyone, so it must not reach those."""
    _send_frames(lambda language: entry_group(entry_id, language), frames, author_ids)


def recheck_entry_sockets(entry_ids: list[int], languages: list[str]) -> None:
    """Make every open socket showing these entries, on every process, stop
    forwarding at once and close with 4408 to be authorized again (an
    audience narrowed, an entry deleted). Only project/revocation.py calls
    this."""
    _recheck_groups(
        [entry_group(pk, language) for pk in entry_ids for language in languages]
    )


def event_group(event_id: int, language: str) -> str:
    """Sockets showing an event's page in one language (its counts, attendee
    list and summary live): rendered once per language, as for a topic."""
    return f"event.{event_id}.{language}"


def send_event_frames(
    event_id: int, frames: dict[str, str], *, author_ids: tuple[int, ...]
) -> None:
    """Push one fragment (one per language) to every socket showing an event.
    `author_ids` (the member an attendee fragment names; none for the counts
    and the summary) let the hub skip the sockets of members hidden from them
    by a block: a blocked member is counted but never named."""
    _send_frames(lambda language: event_group(event_id, language), frames, author_ids)


def recheck_event_sockets(event_ids: list[int], languages: list[str]) -> None:
    """Make every open socket showing these events, on every process, stop
    forwarding at once and close with 4408 to be authorized again (an event
    deleted). Only project/revocation.py calls this."""
    _recheck_groups(
        [event_group(pk, language) for pk in event_ids for language in languages]
    )
