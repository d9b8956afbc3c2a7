"""The process-local hub: one subscription per group per process, and each
event written straight to the local sockets of its group.

Before this, every live socket was a Channels consumer with a channel of its
own in the layer: a message to a room of 1,000 sockets filled 1,000 queues,
woke 1,000 tasks, and ran 1,000 times through the consumer's dispatch and the
server's reply path, each socket framing the same text again. On one core
that delivered about a tenth of what a bare websockets server does (README,
"Performance"). Now the process joins each group once, with one channel of
its own (`Hub.channel`), and one task reads that channel. For each event it
looks up the group's sockets in a dict and writes the already-rendered
fragment to each: no task, queue, dispatch or copy per recipient.

Each socket is an `Outlet`: what the hub needs to write to it, the members
hidden from its member by a block (read once when the socket is authorized,
chat/consumers.py), its groups, and a bounded backlog. The frame is encoded
once and, under Daphne, framed once with autobahn's prepared-message API;
under uvicorn (`SERVER=uvicorn make run`, its websockets-sansio protocol,
without permessage-deflate) it is serialized once with websockets' own frame
API and the same bytes are written to each socket's transport. A server this
module does not know gets the plain ASGI send.

Slow sockets. A socket whose peer stops reading (a phone in a tunnel) first
fills the kernel's buffers, then the server's (64 KB: Twisted then asks us to
pause; asyncio's transport pauses uvicorn's protocol). From then on its
frames wait in its own backlog, which holds at most BACKLOG_MAX_BYTES; one
more and the socket is closed with 1013 (try again later) and its backlog
dropped. Its page reconnects and catches up over HTTP (docs/live-protocol.md),
so a slow client costs the server a bounded amount of memory and never delays
the others.

Groups. A group whose last local socket left stays subscribed for
GRACE_SECONDS (a reload, a reconnect come back within it), then the process
leaves it in the layer. Joining and leaving the layer run one at a time per
group (`_settle`), so a socket joining while the group is being left waits for
the layer to have it again before its socket is accepted.

Signals from the layer (chat/layers.py) reach the hub's one channel once:
`live.resync` (the Redis subscription came back: every local socket closes
with 4503 to be authorized again, and its page catches up) and
`live.degraded` (Redis lost: every local socket is told to poll). Redis'
client resubscribes every group of the process itself on reconnect.
"""

import asyncio
import collections
import functools
import logging
import sys
import uuid
import weakref

from channels.layers import get_channel_layer
from twisted.internet import tcp
from websockets.frames import Frame as WireFrame
from websockets.frames import Opcode
from websockets.protocol import State

from chat import broadcast, reconnect

logger = logging.getLogger(__name__)

# How long a group with no local socket stays subscribed.
GRACE_SECONDS = 10.0
# Frames a socket may have waiting beyond its server's own buffer. About 200
# messages of a busy room (a fragment is about 1.2 KB): some 10 s of a room
# posting 20 a second. Counted per socket although the frames themselves are
# shared, so the bound holds whatever the other sockets do.
BACKLOG_MAX_BYTES = 256 * 1024
# The close code of a socket that fell too far behind: "try again later".
CLOSE_TOO_SLOW = 1013
# How long such a socket's close frame may wait behind what its buffers
# still hold for the peer to read up to it (autobahn's close handshake
# timeout, 1 s by default, then drops the connection).
EVICTED_CLOSE_WAIT = 10.0


class Counters:
    """Process-wide figures for /metrics (project/metrics.py)."""

    __slots__ = ("deliveries", "evictions", "layer_reconnects")

    def __init__(self):
        self.deliveries = 0
        self.evictions = 0
        self.layer_reconnects = 0


counters = Counters()


class Frame:
    """One fragment on its way to many sockets: encoded once, and framed once
    per server kind, however many sockets it goes to."""

    __slots__ = ("text", "data", "_prepared", "_unmasked")

    def __init__(self, text: str):
        self.text = text
        self.data = text.encode()
        self._prepared = None
        self._unmasked = None

    def prepared(self, factory):
        """autobahn's PreparedMessage: the WebSocket frame, built once."""
        if self._prepared is None:
            self._prepared = factory.prepareMessage(self.data)
        return self._prepared

    def unmasked(self) -> bytes:
        """The whole text frame as a server sends it (unmasked, one frame, no
        extension), serialized once by websockets' own frame API: the very
        bytes uvicorn's protocol would write for this text on any socket that
        negotiated no extension, so one copy serves them all."""
        if self._unmasked is None:
            self._unmasked = WireFrame(Opcode.TEXT, self.data).serialize(mask=False)
        return self._unmasked


class Outlet:
    """One live socket as the hub sees it."""

    __slots__ = (
        "consumer",
        "name",
        "hidden",
        "groups",
        "backlog",
        "backlog_bytes",
        "started",
        "closing",
        "close_code",
        "__weakref__",
    )

    def __init__(self, consumer):
        self.consumer = consumer
        # Unique across processes: this socket's entry in its member's count
        # of open sockets (chat/socket_limit.py).
        self.name = uuid.uuid4().hex
        self.hidden: frozenset[int] = frozenset()
        self.groups: list[str] = []
        self.backlog: collections.deque | None = None
        self.backlog_bytes = 0
        # Frames wait until the socket is accepted (the groups are joined
        # before it is, so nothing published in between is lost).
        self.started = False
        self.closing = False
        # The code the hub closed it with before it was accepted (a
        # revocation while it connected): the consumer closes it once it is.
        self.close_code: int | None = None

    def ready(self) -> bool:
        return self.started

    def deliver(self, frame: Frame) -> bool:
        """Write the frame, or keep it while the socket cannot take it. False
        when the backlog is over its bound: the hub then closes the socket."""
        if self.backlog is None and self.ready():
            self.write(frame)
            return True
        if self.backlog is None:
            self.backlog = collections.deque()
        self.backlog.append(frame)
        self.backlog_bytes += len(frame.data)
        return self.backlog_bytes <= BACKLOG_MAX_BYTES

    def flush(self) -> None:
        """Write what waited, for as long as the socket takes it."""
        backlog = self.backlog
        while backlog and self.ready() and not self.closing:
            frame = backlog.popleft()
            self.backlog_bytes -= len(frame.data)
            self.write(frame)
        if not backlog:
            self.backlog = None
            self.backlog_bytes = 0

    def start(self) -> None:
        """The socket was accepted: from now on frames go out."""
        self.started = True
        self.flush()

    def drop(self) -> None:
        """The socket is closing: nothing more goes out, nothing waits."""
        self.closing = True
        self.started = False
        self.backlog = None
        self.backlog_bytes = 0

    def write(self, frame: Frame) -> None:
        raise NotImplementedError

    def closing_with(self, code: int) -> bool:
        """The hub is about to close the socket with `code`: True when the
        outlet closed it itself, else the consumer closes it."""
        return False


class DaphneOutlet(Outlet):
    """A socket served by Daphne: its autobahn protocol takes a frame prepared
    once for all (`sendPreparedMessage`, one transport write), and its
    Twisted transport tells when its buffer is full (the producer API:
    pauseProducing past 64 KB, resumeProducing once it has drained)."""

    __slots__ = ("protocol", "paused", "previous", "transport", "direct")

    def __init__(self, consumer, protocol):
        super().__init__(consumer)
        self.protocol = protocol
        self.paused = False
        self.previous = None
        # The transport, to write prepared frames to directly; None when an
        # extension (permessage-deflate) was negotiated, which autobahn's
        # sendPreparedMessage then handles (Daphne offers none).
        self.transport = None
        self.direct = False

    def open(self) -> bool:
        """The handshake done, no close sent or received."""
        return self.protocol.state == self.protocol.STATE_OPEN

    def ready(self) -> bool:
        return self.started and not self.paused and self.open()

    def start(self) -> None:
        # The transport's producer is still the HTTP channel the socket was
        # upgraded from (Twisted allows one): this outlet takes its place and
        # passes every call on to it, so it goes on pausing the reading side
        # of a peer that does not read as before.
        if not self.open():
            # The peer left while the consumer authorized it (a handshake
            # that outlived the client's patience): Daphne drops the accept
            # of a connection it has lost, and the disconnect follows. Nothing
            # will go out; ready() stays False.
            self.started = True
            return
        transport = self.protocol.transport
        if not self.protocol.websocket_extensions_in_use:
            self.transport = transport
            # A plain TCP connection (not TLS, whose transport encrypts what
            # it is given): its socket may be written to directly.
            self.direct = isinstance(transport, tcp.Connection)
        self.previous = getattr(transport, "producer", None)
        try:
            if self.previous is not None:
                transport.unregisterProducer()
            transport.registerProducer(self, True)
        except RuntimeError:
            # Never expected: without the signal every frame is written at
            # once, as before the hub.
            logger.warning("Live socket without back-pressure", exc_info=True)
        super().start()

    def write(self, frame: Frame) -> None:
        protocol = self.protocol
        prepared = frame.prepared(protocol.factory)
        if self.transport is not None and not protocol.send_queue:
            # What sendPreparedMessage does without an extension, less its
            # per-call debug log, whose arguments autobahn builds eagerly:
            # a tenth of the fan-out's time (make bench --profile).
            self.send(prepared.payloadHybi)
        else:
            protocol.sendPreparedMessage(prepared)
        counters.deliveries += 1

    def send(self, data: bytes) -> None:
        """Into the socket at once when Twisted holds nothing for it, and
        only what the kernel did not take into Twisted's buffer. Twisted's
        write always buffers and registers the socket with the event loop as
        a writer, to write on the next turn and unregister it: two epoll_ctl
        calls and a turn for every frame of every socket, a quarter of the
        event loop's time under make faults (py-spy), where asyncio's own
        transports try the socket first. Order is kept: nothing is written
        here while Twisted has bytes of this connection waiting."""
        transport = self.transport
        if (
            self.direct
            and transport.connected
            and not transport.disconnecting
            and not transport._writeDisconnected
            and not transport._tempDataLen
            and transport.offset == len(transport.dataBuffer)
        ):
            try:
                sent = transport.socket.send(data)
            except OSError:
                # Would block, or the connection failed: Twisted's write
                # finds out and reports it as it always does.
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        transport.write(data)

    def closing_with(self, code: int) -> bool:
        if code != CLOSE_TOO_SLOW:
            return False
        if not self.open():
            return True  # closed or closing already: nothing more to send
        # autobahn's sendClose accepts only 1000 and 3000-4999, and the ASGI
        # close goes through it; 1013 is the registered code for "try again
        # later" (RFC 6455, 7.4.2, and IANA's registry), which the page's ws
        # extension reconnects on by itself. sendCloseFrame is what Daphne
        # itself uses for its 1011. Daphne tells the consumer when the close
        # is done (websocket.disconnect), which then forgets the socket.
        self.protocol.closeHandshakeTimeout = EVICTED_CLOSE_WAIT
        self.protocol.sendCloseFrame(code=code)
        return True

    # Twisted's IPushProducer: called by the transport.
    def pauseProducing(self) -> None:
        self.paused = True
        if self.previous is not None:
            self.previous.pauseProducing()

    def resumeProducing(self) -> None:
        self.paused = False
        if self.previous is not None:
            self.previous.resumeProducing()
        self.flush()

    def stopProducing(self) -> None:
        # The connection is gone; the consumer's disconnect forgets us.
        self.paused = True
        if self.previous is not None:
            self.previous.stopProducing()


class UvicornOutlet(Outlet):
    """A socket served by uvicorn's websockets-sansio protocol without
    permessage-deflate (what `SERVER=uvicorn make run` and the Procfile's
    uvicorn line start). The frame goes straight to the connection's asyncio
    transport, the same bytes for every socket (`Frame.unmasked`), instead of
    through the ASGI send, which would frame the text again for each socket
    and cost a coroutine per frame.

    Writing beside uvicorn is safe because uvicorn itself writes every frame
    it has to send (the handshake, pongs, the consumer's own frames, its
    pings, the close) to the same transport at once, in the same event loop:
    nothing of uvicorn's waits half-written between two of our frames, and
    its websockets protocol keeps no state about what was sent except whether
    the close was. So we write only while the connection is open: after the
    handshake (the hub starts an outlet once its socket was accepted) and
    never once a close was sent or received or the transport is closing.

    Back-pressure is the transport's own: past its high-water mark (64 KB,
    as Twisted's) it pauses uvicorn's protocol, which clears the protocol's
    `writable` event, and sets it again once the buffer has drained to the
    low-water mark (16 KB). We read that event rather than the buffer's size
    so that we stop and resume exactly where the transport does, and where
    uvicorn's own send waits. While frames wait in the backlog, one task per
    outlet waits for the event and flushes: a task that exists only while a
    backlog does. The alternatives were worse: replacing the protocol's
    resume_writing on the instance patches uvicorn's object from outside,
    and a timer polls late or often."""

    __slots__ = ("protocol", "waiter")

    def __init__(self, consumer, protocol):
        super().__init__(consumer)
        self.protocol = protocol
        self.waiter: asyncio.Task | None = None

    def open(self) -> bool:
        """Handshake done, no close sent or received, transport not closing."""
        protocol = self.protocol
        return (
            protocol.handshake_complete
            and not protocol.close_sent
            and not protocol.disconnected
            and protocol.conn.state is State.OPEN
            and not protocol.transport.is_closing()
        )

    def ready(self) -> bool:
        return self.started and self.open() and self.protocol.writable.is_set()

    def deliver(self, frame: Frame) -> bool:
        if self.started and not self.open():
            # On its way out, closed by either side: its disconnect follows,
            # and its page catches up over HTTP when it connects again. What
            # it can no longer take does not count against its backlog.
            return True
        within = super().deliver(frame)
        self._wait_for_drain()
        return within

    def start(self) -> None:
        super().start()
        self._wait_for_drain()

    def drop(self) -> None:
        super().drop()
        if self.waiter is not None:
            self.waiter.cancel()
            self.waiter = None

    def write(self, frame: Frame) -> None:
        self.protocol.transport.write(frame.unmasked())
        counters.deliveries += 1

    def _wait_for_drain(self) -> None:
        if self.backlog and self.started and self.waiter is None and self.open():
            self.waiter = self.protocol.loop.create_task(self._flush_when_drained())

    async def _flush_when_drained(self) -> None:
        try:
            while self.backlog and self.started and self.open():
                await self.protocol.writable.wait()
                self.flush()
        finally:
            self.waiter = None

    def closing_with(self, code: int) -> bool:
        """The consumer's close goes through uvicorn's send, which first waits
        for the transport to drain to its low-water mark, and once the close
        frame is out, uvicorn closes the transport gracefully after 10 s
        (its close_timeout, as long as EVICTED_CLOSE_WAIT already): a graceful
        close waits for the buffer to be sent. A peer that stopped reading
        would then hold the connection, its consumer and its place in its
        member's count of sockets for as long as it stays silent. So, as
        autobahn does under Daphne, the close frame goes out at once, behind
        what the buffer holds (the event is set for that send, and the
        transport sets it again itself when it drains), and a connection
        still there EVICTED_CLOSE_WAIT later is dropped (its page reconnects
        and catches up). For every code: a revocation must not wait on a
        stalled peer either."""
        self.protocol.writable.set()
        self.protocol.loop.call_later(EVICTED_CLOSE_WAIT, self._drop_connection)
        return False

    def _drop_connection(self) -> None:
        if not self.protocol.disconnected:
            self.protocol.transport.abort()


class AsgiOutlet(Outlet):
    """A socket of any other server (and of Channels' test communicator):
    frames go through the ASGI send, one at a time, in order, by one task
    that exists only while frames wait."""

    __slots__ = ("send", "sender")

    def __init__(self, consumer, send):
        super().__init__(consumer)
        self.send = send
        self.sender: asyncio.Task | None = None

    def deliver(self, frame: Frame) -> bool:
        if self.backlog is None:
            self.backlog = collections.deque()
        self.backlog.append(frame)
        self.backlog_bytes += len(frame.data)
        if self.started and self.sender is None:
            self.sender = asyncio.get_running_loop().create_task(self._send_all())
        return self.backlog_bytes <= BACKLOG_MAX_BYTES

    def flush(self) -> None:
        if self.backlog and self.started and self.sender is None:
            self.sender = asyncio.get_running_loop().create_task(self._send_all())

    async def _send_all(self) -> None:
        try:
            while self.backlog and not self.closing:
                frame = self.backlog[0]
                await self.send({"type": "websocket.send", "text": frame.text})
                counters.deliveries += 1
                if self.backlog:
                    self.backlog.popleft()
                    self.backlog_bytes -= len(frame.data)
            if not self.backlog:
                self.backlog = None
                self.backlog_bytes = 0
        finally:
            self.sender = None


def outlet_for(consumer) -> Outlet:
    """The outlet that suits the server behind this consumer's socket."""
    send = consumer.base_send
    # Daphne hands each application `partial(server.handle_reply, protocol)`.
    if isinstance(send, functools.partial) and send.args:
        protocol = send.args[0]
        if hasattr(protocol, "sendPreparedMessage") and hasattr(protocol, "factory"):
            return DaphneOutlet(consumer, protocol)
    # uvicorn hands it the bound `send` of the connection's protocol object.
    protocol = _uvicorn_protocol(send)
    if protocol is not None:
        return UvicornOutlet(consumer, protocol)
    return AsgiOutlet(consumer, send)


# What UvicornOutlet reads or calls on uvicorn's protocol: a uvicorn whose
# protocol lacks one of them gets the plain ASGI send rather than an error.
UVICORN_PROTOCOL_ATTRIBUTES = (
    "conn",
    "transport",
    "loop",
    "writable",
    "handshake_complete",
    "close_sent",
    "disconnected",
)


def _uvicorn_protocol(send):
    """The websockets-sansio protocol object behind `send` when it is
    uvicorn's own, and its connection negotiated no extension; else None.
    Looked up in sys.modules: a process that serves with Daphne never imports
    uvicorn, and then no socket can be uvicorn's. With permessage-deflate
    (uvicorn's default, which its --ws-per-message-deflate false turns off),
    each socket compresses each frame with its own context: no bytes to
    share, so such sockets go through the ASGI send."""
    module = sys.modules.get("uvicorn.protocols.websockets.websockets_sansio_impl")
    protocol = getattr(send, "__self__", None)
    if (
        module is None
        or not isinstance(protocol, module.WebSocketsSansIOProtocol)
        or getattr(send, "__func__", None) is not module.WebSocketsSansIOProtocol.send
        or not all(hasattr(protocol, name) for name in UVICORN_PROTOCOL_ATTRIBUTES)
        or protocol.conn.extensions
    ):
        return None
    return protocol


def degraded_html() -> str:
    return f'<template id="live-degraded" data-poll="{reconnect.poll_ms()}"></template>'


class Hub:
    """This event loop's sockets by group, and its one channel in the layer."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self._channel_ready: asyncio.Task | None = None
        self.reader: asyncio.Task | None = None
        # Groups with local sockets, or in their grace period (an empty set).
        self.groups: dict[str, set[Outlet]] = {}
        # Groups the layer has this process in.
        self.subscribed: set[str] = set()
        # Joining or leaving the layer, per group, one at a time.
        self.settling: dict[str, asyncio.Task] = {}
        self.idle: dict[str, asyncio.TimerHandle] = {}
        self.outlets: set[Outlet] = set()
        # Closes under way (asyncio keeps only weak references to tasks).
        self.tasks: set[asyncio.Task] = set()

    # --- Sockets -----------------------------------------------------------

    async def join(self, group: str, outlet: Outlet) -> None:
        """Put the socket in the group; returns once the process is
        subscribed to it, so nothing published from now on misses it."""
        if outlet.closing:
            return
        outlets = self.groups.get(group)
        if outlets is None:
            outlets = self.groups[group] = set()
        timer = self.idle.pop(group, None)
        if timer is not None:
            timer.cancel()
        outlets.add(outlet)
        self.outlets.add(outlet)
        outlet.groups.append(group)
        if group not in self.subscribed or group in self.settling:
            await asyncio.shield(self._settling(group))
            if group not in self.subscribed:
                raise ConnectionError(f"Could not subscribe to {group}")

    def leave_all(self, outlet: Outlet) -> None:
        """Take the socket out of every group (at once, without waiting for
        the layer: an emptied group is left after its grace period)."""
        self.outlets.discard(outlet)
        groups, outlet.groups = outlet.groups, []
        for group in groups:
            outlets = self.groups.get(group)
            if outlets is None:
                continue
            outlets.discard(outlet)
            if not outlets and group not in self.idle:
                self.idle[group] = self.loop.call_later(
                    GRACE_SECONDS, self._expire, group
                )

    def close(self, outlet: Outlet, code: int) -> None:
        """Stop writing to the socket now and close it with `code`."""
        if outlet.closing:
            return
        started = outlet.started
        outlet.drop()
        self.leave_all(outlet)
        if not started:
            # Still connecting: the consumer accepts it, then closes it with
            # this code (a close before accepting reaches the page as 1006).
            outlet.close_code = code
        elif not outlet.closing_with(code):
            # The outlet did not close it itself: the consumer's ASGI close.
            self._spawn(outlet.consumer.close(code=code))

    # --- The layer ---------------------------------------------------------

    def _expire(self, group: str) -> None:
        self.idle.pop(group, None)
        if not self.groups.get(group, True):
            del self.groups[group]
            self._settling(group)

    def _settling(self, group: str) -> asyncio.Task:
        task = self.settling.get(group)
        if task is None:
            task = self.settling[group] = self.loop.create_task(self._settle(group))
            # Nobody may await it (an unsubscribe): its failure is logged.
            task.add_done_callback(functools.partial(self._settled, group))
        return task

    def _settled(self, group: str, task: asyncio.Task) -> None:
        if self.settling.get(group) is task:
            del self.settling[group]
        if not task.cancelled() and task.exception() is not None:
            logger.warning(
                "Live group %s not (un)subscribed", group, exc_info=task.exception()
            )

    async def _settle(self, group: str) -> None:
        """Subscribe or unsubscribe until the layer matches whether the group
        is wanted (it may change while a call to the layer is on its way)."""
        while True:
            wanted = group in self.groups
            if wanted == (group in self.subscribed):
                return
            channel = await self._own_channel()
            if wanted:
                await self.layer.group_add(group, channel)
                self.subscribed.add(group)
            else:
                self.subscribed.discard(group)
                await self.layer.group_discard(group, channel)

    async def _own_channel(self) -> str:
        if self.channel is not None:
            return self.channel
        if self._channel_ready is None:
            self._channel_ready = self.loop.create_task(self._new_channel())
        try:
            return await asyncio.shield(self._channel_ready)
        except Exception:
            self._channel_ready = None
            raise

    async def _new_channel(self) -> str:
        channel = await self.layer.new_channel("hub.")
        self.channel = channel
        self.reader = self.loop.create_task(self._read_forever())
        return channel

    async def _read_forever(self) -> None:
        while True:
            try:
                event = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Live hub could not read its channel")
                await asyncio.sleep(0.5)
                continue
            try:
                self.dispatch(event)
            except Exception:
                logger.exception("Live event %r not delivered", event.get("type"))

    # --- Events --------------------------------------------------------------

    def dispatch(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "live.resync":
            # What was dropped while Redis was away may have been a
            # revocation: every socket is authorized again (chat/layers.py).
            for outlet in list(self.outlets):
                self.close(outlet, broadcast.CLOSE_RESYNC)
            return
        if kind == "live.degraded":
            self.fan_out(self.outlets, Frame(degraded_html()), ())
            return
        outlets = self.groups.get(event.get("group"))
        if not outlets:
            return
        if kind == "live.message":
            self.fan_out(outlets, Frame(event["html"]), event.get("author_ids") or ())
        elif kind == "live.html":
            self.fan_out(outlets, Frame(event["html"]), ())
        elif kind == "live.close":
            for outlet in list(outlets):
                self.close(outlet, event["code"])
        else:
            logger.warning("Unknown live event %r", kind)

    def fan_out(self, outlets, frame: Frame, author_ids) -> None:
        """Write one frame to every socket of a group, except those whose
        member has blocked, or is blocked by, an author of it."""
        behind = None
        for outlet in outlets:
            if (
                author_ids
                and outlet.hidden
                and not outlet.hidden.isdisjoint(author_ids)
            ):
                continue
            if not outlet.deliver(frame):
                if behind is None:
                    behind = []
                behind.append(outlet)
        if behind:
            for outlet in behind:
                counters.evictions += 1
                self.close(outlet, CLOSE_TOO_SLOW)

    def _spawn(self, coroutine) -> None:
        task = self.loop.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._spawned)

    def _spawned(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Live socket not closed", exc_info=task.exception())

    async def shut_down(self) -> None:
        """Stop reading and forget every group (tests, between event loops)."""
        for task in [self.reader, *self.settling.values(), *self.tasks]:
            if task is not None:
                task.cancel()
        for timer in self.idle.values():
            timer.cancel()
        self.idle.clear()
        self.groups.clear()
        self.subscribed.clear()
        self.outlets.clear()


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = (
    weakref.WeakKeyDictionary()
)


def hub() -> Hub:
    """This event loop's hub (one per process under a server)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub(loop)
    return found


async def shut_down() -> None:
    found = _hubs.pop(asyncio.get_running_loop(), None)
    if found is not None:
        await found.shut_down()


def snapshot() -> dict[str, int]:
    """This process's live figures, for /metrics (read from any thread)."""
    hubs = list(_hubs.values())
    backlog = 0
    for each in hubs:
        for outlet in list(each.outlets):
            waiting = outlet.backlog
            if waiting:
                backlog += len(waiting)
    return {
        "sockets": sum(len(each.outlets) for each in hubs),
        "groups": sum(len(each.subscribed) for each in hubs),
        "backlog_frames": backlog,
        "evictions": counters.evictions,
        "deliveries": counters.deliveries,
        "layer_reconnects": counters.layer_reconnects,
    }
