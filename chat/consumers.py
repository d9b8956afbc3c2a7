"""The live socket: one per tab, push only (writes go over HTTP).

The consumer authenticates the socket and puts it in its groups in connect;
from then on the process's hub (chat/hub.py) writes what the groups publish
straight to it. The consumer itself only answers pings and passes typing
notices on (presence/typing.py); it puts the socket on its topics' "Who's
here" lists once accepted and takes it off when it closes (presence/here.py).
"""

import json
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import Http404
from django.utils.html import escape

from accounts.models import Block
from chat import access, broadcast, hub, reconnect, socket_limit
from diary import access as diary_access
from events import access as event_access
from presence import here, typing
from project.socket_auth import Batched, members_of_session_keys

MAX_CLIENT_FRAME = 4096
MAX_STREAMS = 8
# The streams a page may ask for, by query parameter: a topic's messages, a
# diary entry's comments and likes, an event's counts and attendees. Each is
# authorized as its page is.
STREAM_TYPES = ("topic", "entry", "event")
LANGUAGES = {code for code, _name in settings.LANGUAGES}


class SessionEnded(Exception):
    """The socket's session ended, or no longer names its member."""


def _authorize_many(requests) -> list:
    """For each socket (its session key, its member's id, the topics it asks
    for, and optionally the diary entries and the events), once it is in its
    member's group: the topics it may watch and the members hidden from it by
    a block (and, when entries or events were asked for, the entries it may
    watch as a third item; when events were, the events as a fourth); or
    SessionEnded when its session ended or no longer names its member,
    Http404 when it may not read one of its topics, entries or events (the
    pages' rules: chat.access, diary.access, events.access). Four queries for
    all the sockets that opened together (project/socket_auth.py: Batched),
    whatever their number and their topics, one more when any of them asks
    for an entry and one more when any asks for an event."""
    members = members_of_session_keys([request[0] for request in requests])
    answers: list = []
    asked = {}
    # What each socket asked besides topics: (entries, events); absent when
    # it asked for neither (its answer stays a pair).
    extra = {}
    entries_asked = {}
    events_asked = {}
    for index, (key, member_id, topic_ids, *more) in enumerate(requests):
        member = members.get(key)
        if member is None or member.pk != member_id:
            answers.append(SessionEnded())
            continue
        entry_ids, event_ids = (*more, (), ())[:2]
        try:
            asked[index] = (member_id, access.wanted_topics(topic_ids))
            entry_ids = diary_access.wanted_entries(entry_ids)
            event_ids = event_access.wanted_events(event_ids)
        except Http404 as refused:
            asked.pop(index, None)
            answers.append(refused)
            continue
        if entry_ids:
            entries_asked[index] = (member, entry_ids)
        if event_ids:
            events_asked[index] = (member, event_ids)
        if entry_ids or event_ids:
            extra[index] = (entry_ids, event_ids)
        answers.append(None)
    found = (
        diary_access.access_entries_of_many(entries_asked),
        event_access.access_events_of_many(events_asked),
    )
    hidden = Block.objects.hidden_id_sets(
        {member_id for member_id, _ in asked.values()}
    )
    for index, topics in access.access_topics_of_many(asked).items():
        member_id = asked[index][0]
        if isinstance(topics, Http404):
            answers[index] = topics
            continue
        answers[index] = (topics, hidden[member_id])
        if index not in extra:
            continue
        streams = [
            answered.get(index, ids)
            for answered, ids in zip(found, extra[index], strict=True)
        ]
        refused = [s for s in streams if isinstance(s, Http404)]
        if refused:
            answers[index] = refused[0]
        elif extra[index][1]:
            answers[index] = (*answers[index], *streams)
        else:
            answers[index] = (*answers[index], streams[0])
    return answers


_authorize_streams = Batched(_authorize_many)


class LiveConsumer(AsyncWebsocketConsumer):
    # No channel of its own in the layer: the process's hub (chat/hub.py)
    # subscribes once per group and writes to this socket directly.
    channel_layer_alias = None
    outlet: hub.Outlet
    # Whether it counts against its member's limit of open sockets.
    counted: bool = False
    # Whether it counts among this process's open sockets (chat/reconnect.py).
    open_counted: bool = False
    # The topics whose "Who's here" it shows (?here=1), once authorized;
    # its member is on their lists.
    shows_here: bool = False
    topic_ids: tuple[int, ...] = ()
    visitor: here.Visitor | None = None

    async def connect(self):
        self.outlet = hub.outlet_for(self)
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
        entry_ids = query.get("entry", [])
        event_ids = query.get("event", [])
        # A page showing its topics' "Who's here" and typing (presence/).
        self.shows_here = query.get("here") == ["1"]
        if len(topic_ids) + len(entry_ids) + len(event_ids) > MAX_STREAMS:
            await self.accept()
            await self.close(code=broadcast.CLOSE_BAD_REQUEST)
            return
        try:
            refusal = await self._join_and_authorize(
                user, topic_ids, language, entry_ids, event_ids
            )
        except BaseException:
            # The layer failed (Redis down): give back what this socket took,
            # or its place and groups would outlive it.
            await self._release()
            raise
        # The hub closed it while it connected (a revocation reached its
        # member's group): it is closed with that code like a refusal.
        refusal = refusal or self.outlet.close_code
        if refusal is not None:
            # Nothing of its groups reaches a refused socket.
            await self._release()
        await self.accept()
        # Or while the accept went out.
        refusal = refusal or self.outlet.close_code
        if refusal is not None:
            await self.close(code=refusal)
        else:
            self.outlet.start()
            self.open_counted = True
            reconnect.opened()
            # After the accept: the list is no reason to hold the handshake.
            self.visitor = await here.arrive(self.outlet.name, user.pk, self.topic_ids)

    async def _join_and_authorize(
        self, user, topic_ids, language, entry_ids=(), event_ids=()
    ) -> int | None:
        """Join the member's group, authorize, count and join the streams;
        the close code when the socket is refused."""
        # The member's own group first, then read what they may see: a
        # revocation committed meanwhile reaches this socket (it is handled
        # right after connect) instead of falling between the read and the
        # join. The session is read again for the same reason: a logout (or a
        # password change, a deactivation) committed after the middleware read
        # it and before the join sent its 4408 to nobody.
        live = hub.hub()
        await live.join(broadcast.user_group(user.pk), self.outlet)
        # An entry's audience narrowed or the entry deleted, an event deleted,
        # reaches the sockets in its group (project/revocation.py): joined
        # before the read for the same reason. What the group sends waits in
        # the outlet until the socket is accepted, and is dropped with it if
        # it is refused.
        try:
            entry_ids = diary_access.wanted_entries(entry_ids)
            event_ids = event_access.wanted_events(event_ids)
        except Http404:
            return broadcast.CLOSE_FORBIDDEN
        for entry_id in entry_ids:
            await live.join(broadcast.entry_group(entry_id, language), self.outlet)
        for event_id in event_ids:
            await live.join(broadcast.event_group(event_id, language), self.outlet)
        try:
            topics, self.outlet.hidden, *_streams = await _authorize_streams(
                (
                    self.scope["session"].session_key,
                    user.pk,
                    topic_ids,
                    entry_ids,
                    event_ids,
                )
            )
        except SessionEnded:
            return broadcast.CLOSE_UNAUTHENTICATED
        except Http404:
            return broadcast.CLOSE_FORBIDDEN
        if not await socket_limit.acquire(user.pk, self.outlet.name):
            return broadcast.CLOSE_TOO_MANY_SOCKETS
        self.counted = True
        # Join before accepting: the page catches up once the socket is open,
        # so nothing published in between can fall through (it waits in the
        # outlet until the socket is accepted).
        for topic_id in topics:
            await live.join(broadcast.topic_group(topic_id, language), self.outlet)
            if self.shows_here:
                await live.join(broadcast.here_group(topic_id, language), self.outlet)
        if self.shows_here:
            self.topic_ids = tuple(topics)
        return None

    async def disconnect(self, code):
        if self.open_counted:
            self.open_counted = False
            reconnect.closed()
        await self._release()

    async def _release(self) -> None:
        self.outlet.drop()
        hub.hub().leave_all(self.outlet)
        await here.depart(self.outlet.name)
        if self.counted:
            self.counted = False
            await socket_limit.release(self.scope["user"].pk, self.outlet.name)

    async def receive(self, text_data=None, bytes_data=None):
        """Clients send pings and typing notices ({"type": "typing", "topic":
        <one of the socket's topic ids>}); anything else gets an error frame
        and the socket stays open."""
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
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "typing":
            topic_id = frame.get("topic")
            # An int, not a bool or a float; one of this socket's streams.
            if type(topic_id) is not int or topic_id not in self.topic_ids:
                await self._send_error("unknown_topic")
                return
            await typing.typed(self.visitor, topic_id)
            return
        if kind != "ping":
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
        # Only the socket's own events arrive here (websocket.connect,
        # .receive, .disconnect): what the groups publish goes through the
        # hub. Channels would first close stale connections in a hop to
        # asgiref's one shared thread; this consumer never uses the database
        # on that thread (its hops run on project/socket_auth.py's threads and
        # close their own), and a thousand sockets opening at once would queue
        # there.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
