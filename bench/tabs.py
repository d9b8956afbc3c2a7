"""Topic-page tabs and posting members, as a browser runs them, for `make
faults` (bench/faults.py) and its short version in the test suite
(tests/integration/test_faults.py).

A Tab is one browser tab on the topic page, following docs/live-protocol.md,
static/js/chat.js, static/js/live.js and htmx's ws extension:

- it GETs the page with its member's session cookie and keeps what the page
  holds: the messages shown (a set of ids, kept in id order), the cursor
  (`data-cursor`; before the server sent one, the largest id in the page),
  `data-synced-at`, `data-catchup-url` and `#live[data-reconnect-spread]`
  (1000 ms when absent);
- it opens /ws/live/?topic=<id>&lang=en with the cookie and the server's own
  Origin; a new-message frame inserts its message in id order and is dropped
  when the id is already shown; a live frame never moves the cursor;
- on every socket open it catches up: pages of `?after=<cursor>&since=...`
  until `X-More` is not 1, the cursor moved only to `X-Cursor` (before the
  server sent one: the last new id of the response, or `after`); a failure is
  retried after random() * min(30 s, 1 s * 2**attempt), a 503 after
  `Retry-After` plus that; `X-Refused` (or a redirect to the login page)
  ends it; an open during a round asks for one more round after it;
- after a close it reconnects as live.js does: 4503 (resync) after random() *
  spread, 4408 after random() * 250 ms, 4401 reloads the page,
  4400/4403 stop, 4429 waits 60 s, anything else (1000, 1006 and the
  handshake that failed, which a browser also sees as 1006) after random() *
  min(30 s, max(spread, 1 s * 2**n)), n counting the failed attempts since
  the last open;
- a `<template id="live-degraded" data-poll="N">` frame (the server lost
  Redis) makes it catch up every N ms * (0.5 + random()) (5000 ms when N is
  missing or under 1000), unless a round is still running, until its socket
  next opens.

Tabs reach the servers as a load balancer's clients would: each has a home
server, and a connection its home refuses (a killed process) goes to the next
one. The balancer is one that routes each HTTP request (nginx, HAProxy in
HTTP mode, a PaaS router): a request goes to the tab's home whenever it
answers, so a connection to another server is not kept for the next
request, and a restarted home gets its tabs' requests back at once. (Kept,
as a balancer passing TCP through would, every request of a tab whose home
died stayed on the survivor for the rest of the run.)

A Poster posts with the composer's htmx request (session and CSRF cookies,
X-CSRFToken, HX-Request, a fresh client_id), one post at a time as
`hx-sync="this:queue all"` sends them, each body carrying a unique marker
`fault-p<poster>-s<seq>-end`.

What they all record goes into one Run; bench/scenario.py drives them
through the faults and judges the outcome.
"""

import asyncio
import bisect
import collections
import contextlib
import html
import random
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench.client import HttpConnection

HOST = "127.0.0.1"
# A browser's fetch and WebSocket have no short timeouts of their own; these
# only keep a hung request from stalling a tab for the rest of the run.
REQUEST_TIMEOUT = 60.0
OPEN_TIMEOUT = 30.0
# live.js and chat.js (docs/live-protocol.md).
DEFAULT_SPREAD_MS = 1000
DEFAULT_POLL_MS = 5000
REVOKED_SPREAD_MS = 250
MAX_HAVE_RANGES = 50
BACKOFF_CAP_MS = 30_000
TOO_MANY_SOCKETS_WAIT = 60.0

ARTICLE = re.compile(r'<article id="message-(\d+)"([^>]*)>')
PREV = re.compile(r'\sdata-prev="(\d+)"')
MARKER = re.compile(r"fault-p(\d+)-s(\d+)-end")
LOG_ELEMENT = re.compile(r'<div id="topic-\d+-messages"[^>]*>')
LIVE_ELEMENT = re.compile(r'<div id="live"[^>]*>')
CONTROL_FRAME = '<template id="live-'
DEGRADED_FRAME = '<template id="live-degraded"'
POLL = re.compile(r'data-poll="(\d+)"')
REQUEST_ERRORS = (
    OSError,
    ConnectionError,
    asyncio.IncompleteReadError,
    ValueError,
    IndexError,
)

perf = time.perf_counter


def attribute(tag: str, name: str) -> str | None:
    found = re.search(rf'\s{name}="([^"]*)"', tag)
    return html.unescape(found.group(1)) if found else None


def articles(text: str):
    """(id, new, marker) for each message in a page or fragment: `new` for a
    message to insert (in the log, or in a `beforeend` block), not for an
    out-of-band replacement of one already shown (an edit, a delete)."""
    for message_id, new, mark, _prev in articles_with_prev(text):
        yield message_id, new, mark


def articles_with_prev(text: str):
    """articles(), plus the id of the message right before each (data-prev,
    on live frames and send answers; None elsewhere)."""
    found = list(ARTICLE.finditer(text))
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        mark = MARKER.search(text, match.end(), end)
        prev = PREV.search(match.group(2))
        yield (
            int(match.group(1)),
            "hx-swap-oob" not in match.group(2),
            (int(mark.group(1)), int(mark.group(2))) if mark else None,
            int(prev.group(1)) if prev else None,
        )


def marker(poster: int, seq: int) -> str:
    return f"fault-p{poster}-s{seq}-end"


@dataclass
class Site:
    ports: list[int]
    topic_id: int
    session_cookie: str
    csrf_cookie: str

    def ports_from(self, home: int) -> list[int]:
        home %= len(self.ports)
        return self.ports[home:] + self.ports[:home]


@dataclass
class Run:
    """What every tab and poster records, shared."""

    site: Site
    rng: random.Random
    stopping: bool = False
    first_fault_at: float | None = None
    sent_at: dict = field(default_factory=dict)
    accepted: dict = field(default_factory=dict)
    latencies: list = field(default_factory=list)
    post_seconds: list = field(default_factory=list)
    posts_not_accepted: list = field(default_factory=list)
    post_statuses: collections.Counter = field(default_factory=collections.Counter)
    catchup_statuses: collections.Counter = field(default_factory=collections.Counter)
    page_statuses: collections.Counter = field(default_factory=collections.Counter)
    handshake_failures: collections.Counter = field(default_factory=collections.Counter)
    close_codes: collections.Counter = field(default_factory=collections.Counter)
    reconnects: list = field(default_factory=list)
    # Per reconnect: (closed at, s from t0; the close code; seconds to the
    # open; seconds of those in the handshake that succeeded).
    reconnect_detail: list = field(default_factory=list)
    catchup_rounds: list = field(default_factory=list)
    # live-degraded frames received, and the catch-ups they started.
    degraded_frames: int = 0
    polls: int = 0
    catchup_messages: int = 0
    catchup_already_shown: int = 0
    catchup_bytes: int = 0
    frame_duplicates: int = 0
    # New messages that arrived live, by when (s from t0, in bucket_s): where
    # the live path stalled.
    live_by_time: collections.Counter = field(default_factory=collections.Counter)
    faults_done: list = field(default_factory=list)
    # Exceptions the tabs did not expect: the harness's own failures.
    harness_errors: collections.Counter = field(default_factory=collections.Counter)
    # The harness's own event loop: how late its ticks were (seconds).
    loop_lag: list = field(default_factory=list)
    cpu_pct: float | None = None
    # Where the tabs' sockets were, and how many were catching up, at the end.
    end_states: dict = field(default_factory=dict)
    # Missing deliveries are counted by when their post was sent, in these.
    bucket_s: float = 10.0
    t0: float = 0.0

    def jitter_ms(self, cap_ms: float) -> float:
        return self.rng.random() * cap_ms

    def backoff_ms(self, attempt: int, floor_ms: float = 0) -> float:
        return self.jitter_ms(
            min(BACKOFF_CAP_MS, max(floor_ms, 1000 * 2 ** min(attempt, 16)))
        )


async def sleep_ms(delay_ms: float) -> None:
    await asyncio.sleep(max(0.0, delay_ms) / 1000)


# --- HTTP through the "load balancer" -----------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str
    port: int


class Browser:
    """One tab's (or poster's) HTTP: keep-alive connections, each opened to
    its home server or, when that refuses, to the next. A request on a
    reused connection that fails before any answer is sent once more on a
    fresh one, as browsers do (the server may have closed it meanwhile)."""

    def __init__(self, site: Site, home: int, cookie: str):
        self.site, self.home, self.cookie = site, home, cookie
        self.idle: list[tuple[HttpConnection, int]] = []

    async def _open(self) -> tuple[HttpConnection, int]:
        refused = None
        for port in self.site.ports_from(self.home):
            conn = HttpConnection(HOST, port)
            try:
                await conn.open()
                return conn, port
            except ConnectionRefusedError as exc:
                refused = exc
        raise refused

    async def request(
        self, method: str, path: str, headers=None, body: bytes = b"", *, post=False
    ) -> Response:
        for attempt in (0, 1):
            reused = bool(self.idle)
            conn, port = self.idle.pop() if reused else await self._open()
            head = [
                f"{method} {path} HTTP/1.1",
                f"Host: {HOST}:{port}",
                f"Cookie: {self.cookie}",
            ]
            if post:
                head += [
                    f"Origin: http://{HOST}:{port}",
                    f"Referer: http://{HOST}:{port}/topics/{self.site.topic_id}/",
                    "Content-Type: application/x-www-form-urlencoded",
                ]
            head += [f"{k}: {v}" for k, v in (headers or {}).items()]
            head.append(f"Content-Length: {len(body)}")
            raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
            try:
                status, got, data, keep = await asyncio.wait_for(
                    conn.exchange(raw), REQUEST_TIMEOUT
                )
            except TimeoutError:
                conn.close()
                raise
            except ConnectionError:
                conn.close()
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if keep and port == self.site.ports_from(self.home)[0]:
                self.idle.append((conn, port))
            else:
                conn.close()
            return Response(status, got, data.decode("utf-8", "replace"), port)
        raise AssertionError("unreachable")

    def close(self) -> None:
        for conn, _port in self.idle:
            conn.close()
        self.idle = []


# --- A tab -------------------------------------------------------------------------


class Tab:
    def __init__(self, run: Run, index: int, session_key: str, home: int):
        self.run, self.index, self.home = run, index, home
        site = run.site
        self.session = f"{site.session_cookie}={session_key}"
        self.http = Browser(site, home, self.session)
        self.ids: set[int] = set()
        self.log: list[int] = []
        self.cursor = 0
        # data-prev of held messages: the message right after each id.
        self.next_of: dict[int, int] = {}
        self.synced_at = ""
        self.catchup_url = f"/topics/{site.topic_id}/messages/"
        self.spread_ms = DEFAULT_SPREAD_MS
        self.opened = asyncio.Event()
        self.socket = None
        self.task: asyncio.Task | None = None
        self.catchup: asyncio.Task | None = None
        self.polling: asyncio.Task | None = None
        self.again = False
        self.refusals = 0
        self.stopped_by: int | None = None
        self.reloads = 0
        # Where its socket is: connecting, open, waiting (to reconnect).
        self.state = "connecting"

    def insert(self, message_id: int, prev: int | None = None) -> None:
        """chat.js insertOrdered: in id order, once; then advanceCursor: while
        a held message names the cursor as the one right before it, the cursor
        moves on to it."""
        if prev is not None:
            self.next_of.setdefault(prev, message_id)
        if message_id not in self.ids:
            self.ids.add(message_id)
            bisect.insort(self.log, message_id)
        while self.cursor in self.next_of:
            self.cursor = self.next_of.pop(self.cursor)

    def held_above(self, after: int) -> str:
        """chat.js heldAbove: the ids held above `after` as ranges, at most
        MAX_HAVE_RANGES."""
        ids = self.log[bisect.bisect_right(self.log, after) :]
        ranges: list[str] = []
        i = 0
        while i < len(ids) and len(ranges) < MAX_HAVE_RANGES:
            first = ids[i]
            while i + 1 < len(ids) and ids[i + 1] == ids[i] + 1:
                i += 1
            ranges.append(str(first) if first == ids[i] else f"{first}-{ids[i]}")
            i += 1
        return ",".join(ranges)

    @property
    def catching_up(self) -> bool:
        return self.catchup is not None and not self.catchup.done()

    async def load_page(self) -> None:
        attempt = 0
        while True:
            try:
                page = await self.http.request(
                    "GET", f"/topics/{self.run.site.topic_id}/"
                )
                self.run.page_statuses[str(page.status)] += 1
                if page.status == 200:
                    break
            except REQUEST_ERRORS:
                self.run.page_statuses["error"] += 1
            await sleep_ms(self.run.backoff_ms(attempt))
            attempt += 1
        shown = [mid for mid, new, _mark in articles(page.text) if new]
        for message_id in shown:
            self.insert(message_id)
        log = LOG_ELEMENT.search(page.text)
        tag = log.group(0) if log else ""
        cursor = attribute(tag, "data-cursor")
        self.cursor = int(cursor) if cursor else max(shown, default=0)
        self.synced_at = attribute(tag, "data-synced-at") or ""
        self.catchup_url = attribute(tag, "data-catchup-url") or self.catchup_url
        live = LIVE_ELEMENT.search(page.text)
        spread = attribute(live.group(0), "data-reconnect-spread") if live else None
        # live.js: a missing, zero or unreadable spread is 1000 ms.
        self.spread_ms = (
            int(spread)
            if spread and spread.isdigit() and int(spread) > 0
            else DEFAULT_SPREAD_MS
        )

    # The socket (live.js).
    async def open_socket(self):
        refused = None
        topic = self.run.site.topic_id
        for port in self.run.site.ports_from(self.home):
            try:
                return await connect(
                    f"ws://{HOST}:{port}/ws/live/?topic={topic}&lang=en",
                    origin=f"http://{HOST}:{port}",
                    additional_headers={"Cookie": self.session},
                    open_timeout=OPEN_TIMEOUT,
                    ping_interval=None,
                    close_timeout=2,
                    compression=None,
                    proxy=None,
                    max_size=2**22,
                )
            except ConnectionRefusedError as exc:
                refused = exc
        raise refused

    async def live(self) -> None:
        try:
            await self._live()
        except Exception as exc:
            self.run.harness_errors[f"live: {exc!r}"[:160]] += 1
            self.state = "crashed"

    async def _live(self) -> None:
        failed = 0  # attempts since the last open
        closed_at: float | None = None
        closed_with = None
        while not self.run.stopping:
            self.state = "connecting"
            attempt_started = perf()
            try:
                ws = await self.open_socket()
            except ConnectionRefusedError:
                self.run.handshake_failures["refused"] += 1
                self.state = "waiting"
                await sleep_ms(self.run.backoff_ms(failed, self.spread_ms))
                failed += 1
                continue
            except InvalidStatus as exc:
                self.run.handshake_failures[f"http {exc.response.status_code}"] += 1
                self.state = "waiting"
                await sleep_ms(self.run.backoff_ms(failed, self.spread_ms))
                failed += 1
                continue
            except Exception as exc:
                # Accepted by TCP, then no answer in time, the connection
                # dropped mid-handshake, or no valid answer: to the page each
                # is a close with 1006.
                self.run.handshake_failures[type(exc).__name__] += 1
                self.state = "waiting"
                await sleep_ms(self.run.backoff_ms(failed, self.spread_ms))
                failed += 1
                continue
            if closed_at is not None:
                opened_at = perf()
                self.run.reconnects.append(opened_at - closed_at)
                self.run.reconnect_detail.append(
                    (
                        closed_at - self.run.t0,
                        closed_with,
                        opened_at - closed_at,
                        opened_at - attempt_started,
                    )
                )
            failed = 0
            self.socket = ws
            self.state = "open"
            self.opened.set()
            self.request_catchup()
            self.stop_polling()
            await self.listen(ws)
            self.socket = None
            self.state = "waiting"
            if self.run.stopping:
                return
            closed_at = perf()
            code, reason = ws.close_code, ws.close_reason or ""
            closed_with = code
            self.run.close_codes[f"{code} {reason}".strip()] += 1
            if code == 4401:
                self.reloads += 1
                await self.load_page()
            elif code in (4400, 4403):
                self.stopped_by = code
                self.state = "stopped"
                return
            elif code == 4429:
                await asyncio.sleep(TOO_MANY_SOCKETS_WAIT)
            elif code in (4408, 4503):
                spread = self.spread_ms if code == 4503 else REVOKED_SPREAD_MS
                await sleep_ms(self.run.jitter_ms(spread))
            else:
                await sleep_ms(self.run.backoff_ms(failed, self.spread_ms))
                failed += 1

    async def listen(self, ws) -> None:
        seen: set[int] = set()
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                if not isinstance(frame, str):
                    continue
                if frame.startswith(DEGRADED_FRAME):
                    self.run.degraded_frames += 1
                    self.poll_every(POLL.search(frame))
                elif not frame.startswith(CONTROL_FRAME):
                    self.on_frame(frame, seen, perf())

    # While the server cannot deliver live (chat.js pollEvery).
    def poll_every(self, poll: re.Match | None) -> None:
        interval = int(poll.group(1)) if poll else 0
        interval = interval if interval >= 1000 else DEFAULT_POLL_MS
        self.stop_polling()
        self.polling = asyncio.create_task(self._poll(interval))

    async def _poll(self, interval: int) -> None:
        while not self.run.stopping:
            await sleep_ms(interval * (0.5 + self.run.rng.random()))
            if not self.catching_up:  # chat.js: skipped while a round runs
                self.run.polls += 1
                self.request_catchup()

    def stop_polling(self) -> None:
        if self.polling is not None:
            self.polling.cancel()
            self.polling = None

    def on_frame(self, frame: str, seen: set[int], now: float) -> None:
        run = self.run
        for message_id, new, mark, prev in articles_with_prev(frame):
            if not new:
                continue
            if message_id in seen:
                run.frame_duplicates += 1
                continue
            seen.add(message_id)
            run.live_by_time[int((now - run.t0) // run.bucket_s)] += 1
            if (
                mark is not None
                and (run.first_fault_at is None or now < run.first_fault_at)
                and mark in run.sent_at
            ):
                run.latencies.append(now - run.sent_at[mark])
            self.insert(message_id, prev)

    # Catch-up (chat.js).
    def request_catchup(self) -> None:
        if self.catching_up:
            self.again = True
            return
        self.catchup = asyncio.create_task(self.catch_up())

    async def catch_up(self) -> None:
        try:
            await self._catch_up()
        except Exception as exc:
            self.run.harness_errors[f"catch-up: {exc!r}"[:160]] += 1

    async def _catch_up(self) -> None:
        while True:
            self.again = False
            started = perf()
            if not await self.round():
                # A refusal ends this round and the one asked for after it;
                # the next socket open starts another.
                return
            self.run.catchup_rounds.append(perf() - started)
            if not self.again:
                return

    async def round(self) -> bool:
        """Pages from the cursor until there are no more; False when refused.
        As chat.js: the cursor moves only forward, to X-Cursor (or along
        the chain of data-prev), and a next page is asked only when X-More says
        so and the cursor moved past where the page started."""
        while True:
            after = self.cursor
            response = await self.fetch(after)
            if response is None:
                return False
            new = [mid for mid, is_new, _mark in articles(response.text) if is_new]
            # What catch-up costs: messages fetched, and how many of them the
            # page already showed (they came live).
            self.run.catchup_messages += len(new)
            self.run.catchup_already_shown += sum(1 for mid in new if mid in self.ids)
            self.run.catchup_bytes += len(response.text)
            for message_id in new:
                self.insert(message_id)
            self.synced_at = response.headers.get("x-synced-at") or self.synced_at
            cursor = response.headers.get("x-cursor")
            # (A server from before X-Cursor: the last new id it sent.)
            following = int(cursor) if cursor else (new[-1] if new else 0)
            if following > self.cursor:
                self.cursor = following
            while self.cursor in self.next_of:
                self.cursor = self.next_of.pop(self.cursor)
            if response.headers.get("x-more") != "1" or self.cursor <= after:
                return True

    async def fetch(self, after: int) -> Response | None:
        """One page, asked again after a failure until it is answered; None
        when refused (X-Refused, or a redirect to the login page)."""
        attempt = 0
        while True:
            url = f"{self.catchup_url}?after={after}&since={quote(self.synced_at)}"
            have = self.held_above(after)
            if have:
                url += f"&have={have}"
            try:
                response = await self.http.request("GET", url, {"HX-Request": "true"})
            except REQUEST_ERRORS:
                response = None
                self.run.catchup_statuses["error"] += 1
            if response is not None:
                refused = "x-refused" in response.headers or (
                    300 <= response.status < 400
                )
                self.run.catchup_statuses[
                    "refused" if refused else str(response.status)
                ] += 1
                if refused:
                    self.refusals += 1
                    return None
                if response.status == 200:
                    return response
            wait = self.run.backoff_ms(attempt)
            if response is not None and response.status == 503:
                with contextlib.suppress(ValueError):
                    wait += float(response.headers.get("retry-after", "0")) * 1000
            attempt += 1
            await sleep_ms(wait)

    async def close(self) -> None:
        self.stop_polling()
        for task in (self.task, self.catchup):
            if task is not None:
                task.cancel()
        if self.socket is not None:
            with contextlib.suppress(Exception):
                self.socket.transport.abort()
        await asyncio.gather(
            *(t for t in (self.task, self.catchup) if t is not None),
            return_exceptions=True,
        )
        self.http.close()


# --- A poster ----------------------------------------------------------------------


class Poster:
    def __init__(self, run: Run, index: int, session_key: str, home: int, phase: float):
        self.run, self.index, self.phase = run, index, phase
        site = run.site
        # Django accepts any 32 letters and digits as the CSRF secret; the
        # page's cookie and the X-CSRFToken header carry the same one.
        token = secrets.token_hex(16)
        self.http = Browser(
            site,
            home,
            f"{site.session_cookie}={session_key}; {site.csrf_cookie}={token}",
        )
        self.headers = {"X-CSRFToken": token, "HX-Request": "true"}
        self.path = f"/topics/{site.topic_id}/send/"

    async def post_all(self, start: float, count: int) -> None:
        """One post a second, the next one sent only when the previous one
        was answered (hx-sync queue all)."""
        for seq in range(count):
            delay = start + self.phase + seq - perf()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.run.stopping:
                return
            await self.post(seq)

    async def post(self, seq: int) -> None:
        run = self.run
        mark = (self.index, seq)
        form = urlencode(
            {"body": f"Fault test {marker(*mark)}", "client_id": uuid.uuid4().hex}
        ).encode()
        started = run.sent_at[mark] = perf()
        try:
            response = await self.http.request(
                "POST", self.path, self.headers, form, post=True
            )
        except REQUEST_ERRORS as exc:
            status = f"error {type(exc).__name__}"
        else:
            status = str(response.status)
            if "x-refused" in response.headers:
                status = f"refused {response.headers['x-refused']}"
            elif response.status == 201 and (found := ARTICLE.search(response.text)):
                run.accepted[mark] = int(found.group(1))
        run.post_statuses[status] += 1
        run.post_seconds.append((started, perf() - started))
        if status != "201":
            run.posts_not_accepted.append((round(started - run.t0, 2), status))
