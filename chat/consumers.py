"""The live socket: one per tab, push only (writes go over HTTP).

The consumer authenticates and subscribes in connect and forwards what its
groups receive. Its push handlers never touch the database or a template.
"""

import json
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import Http404
from django.utils.html import escape

from accounts.models import Block
from chat import access, broadcast, reconnect, socket_limit
from project.socket_auth import member_of_session_key, off_the_shared_thread

MAX_CLIENT_FRAME = 4096
MAX_STREAMS = 8
LANGUAGES = {code for code, _name in settings.LANGUAGES}


class SessionEnded(Exception):
    """The socket's session ended, or no longer names its member."""


@off_the_shared_thread
def _authorize_streams(
    session_key: str | None, member_id: int, topic_ids: list[str]
) -> tuple[list[int], frozenset[int]]:
    """Once the socket is in its member's group: the session still belongs to
    that member (SessionEnded otherwise), the topics they may watch (the
    topic page's rule, one query for all; Http404 on any they may not read),
    and the members hidden from them by a block. Four queries (three without
    topics)."""
    member = member_of_session_key(session_key)
    if member is None or member.pk != member_id:
        raise SessionEnded
    topics = access.access_topics(member, topic_ids)
    hidden = Block.objects.hidden_id_set(member)
    return topics, hidden


class LiveConsumer(AsyncWebsocketConsumer):
    live_groups: list[str]
    hidden_authors: frozenset[int] = frozenset()
    # Set once the server decided to close this socket: from then on nothing
    # more is forwarded, even what was already queued for it.
    closing: bool = False
    # Whether this socket counts against its member's limit of open sockets.
    counted: bool = False
    # Whether it counts among this process's open sockets (chat/reconnect.py).
    open_counted: bool = False

    async def connect(self):
        self.live_groups = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept first so the browser sees our close code (a refusal before
            # accepting reaches it only as an abnormal 1006 and would be retried).
            await self.accept()
            await self.close(code=broadcast.CLOSE_UNAUTHENTICATED)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        language = (query.get("lang") or [settings.LANGUAGE_CODE])[0]
        if language not in LANGUAGES:
            language = settings.LANGUAGE_CODE
        topic_ids = query.get("topic", [])
        if len(topic_ids) > MAX_STREAMS:
            await self.accept()
            await self.close(code=broadcast.CLOSE_BAD_REQUEST)
            return
        try:
            refusal = await self._join_and_authorize(user, topic_ids, language)
        except BaseException:
            # The layer failed (Redis down): give back what this socket took,
            # or its place and groups would outlive it.
            await self._release()
            raise
        if refusal is not None:
            # Nothing of its groups reaches a refused socket.
            self.closing = True
            await self._release()
        await self.accept()
        if refusal is not None:
            await self.close(code=refusal)
        else:
            self.open_counted = True
            reconnect.opened()

    async def _join_and_authorize(self, user, topic_ids, language) -> int | None:
        """Join the member's group, authorize, count and join the streams;
        the close code when the socket is refused."""
        # The member's own group first, then read what they may see: a
        # revocation committed meanwhile reaches this socket (it is handled
        # right after connect) instead of falling between the read and the
        # join. The session is read again for the same reason: a logout (or a
        # password change, a deactivation) committed after the middleware read
        # it and before the join sent its 4408 to nobody.
        await self._join(broadcast.user_group(user.pk))
        try:
            topics, self.hidden_authors = await _authorize_streams(
                self.scope["session"].session_key, user.pk, topic_ids
            )
        except SessionEnded:
            return broadcast.CLOSE_UNAUTHENTICATED
        except Http404:
            return broadcast.CLOSE_FORBIDDEN
        if not await socket_limit.acquire(user.pk, self.channel_name):
            return broadcast.CLOSE_TOO_MANY_SOCKETS
        self.counted = True
        # Join before accepting: the page catches up once the socket is open,
        # so nothing published in between can fall through.
        for topic_id in topics:
            await self._join(broadcast.topic_group(topic_id, language))
        return None

    async def _join(self, group: str) -> None:
        self.live_groups.append(group)
        await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code):
        if self.open_counted:
            self.open_counted = False
            reconnect.closed()
        await self._release()

    async def _release(self) -> None:
        # The place first: socket_limit.release never raises, group_discard
        # may (Redis down).
        if self.counted:
            self.counted = False
            await socket_limit.release(self.scope["user"].pk, self.channel_name)
        await self._leave_groups()

    async def _leave_groups(self) -> None:
        groups, self.live_groups = self.live_groups, []
        for group in groups:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """Clients send only pings; anything else gets an error frame and the
        socket stays open."""
        if (
            bytes_data is not None
            or text_data is None
            or len(text_data) > MAX_CLIENT_FRAME
        ):
            await self._send_error("bad_frame")
            return
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):
            # RecursionError: 4 KB of "[[[[..." nests deeper than the parser's
            # recursion limit; it is bad JSON like any other, not a crash.
            await self._send_error("bad_json")
            return
        if not isinstance(frame, dict) or frame.get("type") != "ping":
            await self._send_error("unknown_type")
            return
        await self.send(text_data='<template id="live-pong"></template>')

    async def _send_error(self, code: str) -> None:
        await self.send(
            text_data=(
                f'<div id="live-error" hx-swap-oob="true" hidden '
                f'data-code="{escape(code)}"></div>'
            )
        )

    async def dispatch(self, message):
        # Channels closes stale DB connections through a thread hop before every
        # handler; the push handlers never touch the database, so skip it.
        if message["type"] == "live.message":
            await self.live_message(message)
        elif message["type"] == "live.html":
            await self.live_html(message)
        elif message["type"] == "live.resync":
            # This process's layer reconnected to Redis and may have dropped
            # events, a revocation among them: authorize again (the page
            # reconnects, and catches up as on every open).
            await self.live_close({"code": broadcast.CLOSE_RESYNC})
        elif message["type"] == "live.degraded":
            await self.live_degraded(message)
        elif message["type"] == "live.close":
            await self.live_close(message)
        else:
            # websocket.connect, .receive, .disconnect. Channels would first
            # close stale connections in a hop to asgiref's one shared thread;
            # this consumer never uses the database on that thread (its hops
            # run on project/socket_auth.py's threads and close their own), and
            # a thousand sockets opening at once would queue there.
            handler = getattr(self, get_handler_name(message), None)
            if handler is None:
                raise ValueError(f"No handler for message type {message['type']}")
            await handler(message)

    async def live_message(self, event):
        """A topic fragment: forwarded unless its author (or the author it
        quotes) is hidden from this member by a block."""
        if self.closing or (
            self.hidden_authors
            and not self.hidden_authors.isdisjoint(event["author_ids"])
        ):
            return
        await self.send(text_data=event["html"])

    async def live_html(self, event):
        if not self.closing:
            await self.send(text_data=event["html"])

    async def live_degraded(self, event):
        """This process lost Redis (chat/layers.py): nothing published
        reaches this socket until it is back. The page fetches what is new
        over HTTP every data-poll ms until its socket opens again."""
        if not self.closing:
            await self.send(
                text_data=(
                    f'<template id="live-degraded" '
                    f'data-poll="{reconnect.poll_ms()}"></template>'
                )
            )

    async def live_close(self, event):
        """What this member may see narrowed (project/revocation.py): stop
        forwarding now, not when the client has finished closing, and leave
        every group so nothing more is queued here."""
        if self.closing:
            return
        self.closing = True
        await self.close(code=event["code"])
        await self._leave_groups()
