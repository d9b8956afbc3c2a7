"""Catch-up in a real browser, through the page's own JavaScript
(docs/live-protocol.md, "Catch-up"): ben's topic page misses messages (saved
with no broadcast), its socket is closed by the server (4408) and reopens,
and the page catches up while the test watches, holds, fails or answers its
catch-up requests through Playwright's routing.

The invariant: the page's cursor moves only to the X-Cursor of a catch-up
answer it received, never to the id of a message that arrived live, so a gap
between the two is always fetched.

Timers that the protocol sets (the 400 ms before "Catching up…" shows, the
wait a 503's Retry-After asks for) are checked on Playwright's fake clock,
paused and moved by hand: what is checked is which timer the page set, not
how fast anything ran.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from channels.layers import get_channel_layer
from django.utils import timezone
from playwright.sync_api import expect

from chat import broadcast, reconnect, text
from chat.models import Message
from chat.views import CATCHUP_LIMIT
from tests.conftest import PASSWORD
from tests.e2e.pages import log_in, open_topic
from tests.factories import MessageFactory, TopicFactory, coffee_club

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_S = 15
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
# static/js/chat.js and live.js
CATCHUP_SHOWN_AFTER_MS = 400
RETRY_BASE_MS = 1000
RECHECK_SPREAD_MS = 250  # a 4408 close for one member: reconnect within this
RETRY_AFTER_S = 1
# A page polls every data-poll ms, each time after 0.5 to 1.5 times it; with
# one socket open the server asks for the least (chat/reconnect.py).
POLL_MS = reconnect.MIN_POLL_MS

# An init script: when (on the page's clock) each catch-up request started,
# counted as the page calls fetch, before any network: what a paused clock
# lets run or not is then known at once.
RECORD_CATCH_UP_STARTS = """
(() => {
  const nativeFetch = window.fetch;
  window.__catchUpStarts = [];
  window.fetch = function (input, init) {
    if (String(input).includes("/messages/?after=")) {
      window.__catchUpStarts.push(Date.now());
    }
    return nativeFetch.apply(this, arguments);
  };
})();
"""

# An init script: how many live-degraded frames the page's socket received.
RECORD_DEGRADED = """
(() => {
  window.__degraded = 0;
  document.addEventListener("htmx:wsBeforeMessage", (event) => {
    const frame = event.detail.message;
    if (typeof frame === "string" && frame.startsWith('<template id="live-degraded"')) {
      window.__degraded += 1;
    }
  });
})();
"""


@pytest.fixture
def topic(aiko, ben):
    """A topic in an open community owned by aiko, which ben has joined."""
    community = coffee_club(aiko, ben)
    return TopicFactory(community=community, title="Live chat", created_by=aiko)


@pytest.fixture
def welcome(topic, aiko):
    """The topic's first message, by aiko: the newest one ben's page renders."""
    body = "Welcome to the club!"
    return MessageFactory(
        topic=topic, author=aiko, body=body, body_html=text.render(body, [])
    )


def miss(topic, author, count) -> list[int]:
    """Save `count` messages as rows only: nothing is broadcast, so an open page
    gets them only by catching up. Their ids, in order."""
    start = timezone.now()
    rows = []
    for n in range(1, count + 1):
        body = f"Missed message {n}"
        rows.append(
            Message(
                topic=topic,
                author=author,
                body=body,
                body_html=text.render(body, []),
                client_id=uuid.uuid4().hex,
                created_at=start + timedelta(milliseconds=n),
            )
        )
    created = Message.objects.bulk_create(rows)
    return sorted(m.pk for m in created)


def topic_ids(topic) -> list[int]:
    return list(
        Message.objects.filter(topic=topic).order_by("pk").values_list("pk", flat=True)
    )


@dataclass
class Answer:
    """What the page got for one catch-up request (status 0: a network failure)."""

    after: int
    status: int
    cursor: int | None = None
    more: str | None = None


class CatchUps:
    """The catch-up requests of one page, through page.route: the `after` each
    one asked for, and what each answer said. Each request is answered as the
    next entry of `plan` says (or passed on to the server when it is empty):
    "hold" fetches the server's real answer and keeps it until release();
    "503" answers busy with Retry-After; "abort" fails it at the network."""

    def __init__(self, page, topic):
        self.page = page
        self.plan: list[str] = []
        self.asked: list[int] = []
        self.answers: list[Answer] = []
        self.held: list[tuple] = []
        path = f"/topics/{topic.pk}/messages/"
        page.route(
            lambda url: urlsplit(url).path == path and "after=" in url, self._handle
        )

    def _handle(self, route):
        after = int(parse_qs(urlsplit(route.request.url).query)["after"][0])
        self.asked.append(after)
        action = self.plan.pop(0) if self.plan else "pass"
        if action == "503":
            self.answers.append(Answer(after, 503))
            route.fulfill(
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
                content_type="text/plain; charset=utf-8",
                body="The server is busy. Trying again in a moment.",
            )
        elif action == "abort":
            self.answers.append(Answer(after, 0))
            route.abort()
        else:
            response = route.fetch()
            if action == "hold":
                self.held.append((route, after, response))
            else:
                self._answer(route, after, response)

    def _answer(self, route, after, response):
        self.answers.append(
            Answer(
                after,
                response.status,
                int(response.headers["x-cursor"]),
                response.headers["x-more"],
            )
        )
        route.fulfill(response=response)

    def release(self):
        """Hand the page the answer held longest."""
        route, after, response = self.held.pop(0)
        self._answer(route, after, response)

    def wait(self, condition, what):
        """Wait (handling requests meanwhile) until `condition()` is true."""
        deadline = time.monotonic() + WAIT_S
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Not after {WAIT_S} s: {what}; asked {self.asked},"
                    f" answers {self.answers}, held {len(self.held)}"
                )
            self.page.wait_for_timeout(20)

    def wait_for_held(self, count=1):
        self.wait(lambda: len(self.held) >= count, f"{count} held")

    def wait_for_answers(self, count):
        self.wait(lambda: len(self.answers) >= count, f"{count} answers")


def ben_tab(new_context, topic, *init_scripts, clock=False, **options):
    """Ben, logged in, on the topic's page with its socket open and its first
    catch-up (at the socket's first open) answered."""
    context = new_context(**options)
    for script in init_scripts:
        context.add_init_script(script)
    if clock:
        context.clock.install()  # time flows as usual until paused
    page = context.new_page()
    if options.get("locale", "en-US") == "en-US":
        log_in(page, "ben")
    else:
        page.goto("/accounts/login/")
        page.locator("#id_login").fill("ben")
        page.locator("#id_password").fill(PASSWORD)
        page.locator("form:not(.language-switcher) button[type=submit]").click()
        expect(page.locator("#live")).to_have_attribute("data-live-status", "open")
    catch_ups = CatchUps(page, topic)
    open_topic(page, topic)
    catch_ups.wait_for_answers(1)
    expect(catching_up(page)).to_be_hidden()
    return page, catch_ups


def aiko_tab(new_context, topic):
    page = new_context().new_page()
    log_in(page, "aiko")
    open_topic(page, topic)
    return page


def catching_up(page, name="Catching up…"):
    return page.get_by_role("status").filter(has_text=name)


def ids_shown(page):
    return page.eval_on_selector_all(
        "[role=log] article.msg", "items => items.map(a => Number(a.dataset.id))"
    )


def articles(page):
    return page.get_by_role("log", name="Messages").locator("article.msg")


def send(page, body, *, tap=False):
    """Type `body` into the composer and press Enter (on a touch screen, where
    Enter is a new line, tap Send); return the POST's answer."""
    box = page.get_by_role("textbox", name="Message", exact=True)
    box.fill(body)
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/send/")
    ) as answer:
        if tap:
            page.get_by_role("button", name="Send", exact=True).tap()
        else:
            box.press("Enter")
    return answer.value


def close_socket_and_pause(page, member):
    """Pause the page's clock, have the server close the member's socket
    (4408, as after a revocation) and let live.js's reconnect timer run: the
    socket reopens at once on a clock that stands still."""
    now_s = page.evaluate("Date.now()") / 1000
    page.clock.pause_at(now_s + 1)
    broadcast.recheck_member_sockets([member.pk])
    expect(page.locator("#live")).to_have_attribute("data-live-status", "reconnecting")
    page.clock.run_for(RECHECK_SPREAD_MS)


def provoked(page, page_problems, *needles):
    """Take out of page_problems the console errors a test caused on purpose,
    once they have come: one per needle."""
    deadline = time.monotonic() + WAIT_S
    for needle in needles:
        while not any(needle in p for p in page_problems):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"No console error with {needle!r}: {page_problems}"
                )
            page.wait_for_timeout(20)
        page_problems.remove(next(p for p in page_problems if needle in p))


def test_live_messages_during_a_held_catch_up_leave_no_gap_before_them(
    new_context, topic, welcome, aiko, ben
):
    aiko_page = aiko_tab(new_context, topic)
    ben_page, catch_ups = ben_tab(new_context, topic)
    missed = miss(topic, aiko, CATCHUP_LIMIT + 50)
    catch_ups.plan = ["hold"]

    broadcast.recheck_member_sockets([ben.pk])
    catch_ups.wait_for_held()
    # While the first page of what ben missed is on its way, aiko talks: her
    # messages reach ben's page live and are shown at once.
    live = []
    for body in ("Anyone there?", "Hello?", "Coffee at 3?"):
        assert send(aiko_page, body).status == 201
        message = Message.objects.get(topic=topic, body=body)
        expect(ben_page.locator(f"#message-{message.pk}")).to_be_visible()
        live.append(message.pk)
    assert ids_shown(ben_page) == [welcome.pk, *live]
    assert catch_ups.asked == [welcome.pk, welcome.pk]

    catch_ups.release()

    catch_ups.wait_for_answers(3)
    expect(catching_up(ben_page)).to_be_hidden()
    first_page = catch_ups.answers[1]
    assert (first_page.cursor, first_page.more) == (missed[CATCHUP_LIMIT - 1], "1")
    # The follow-up continues from that page's X-Cursor, not from a live id.
    assert catch_ups.asked == [welcome.pk, welcome.pk, first_page.cursor]
    # ... and brings the rest, up to the live ones (shown once: a fragment
    # of a message already shown is dropped).
    assert (catch_ups.answers[2].cursor, catch_ups.answers[2].more) == (live[-1], "0")
    everything = [welcome.pk, *missed, *live]
    assert topic_ids(topic) == everything
    expect(articles(ben_page)).to_have_count(len(everything))
    assert ids_shown(ben_page) == everything


def test_a_catch_up_of_several_pages_asks_each_after_the_cursor_it_received(
    new_context, topic, welcome, aiko, ben
):
    ben_page, catch_ups = ben_tab(new_context, topic)
    missed = miss(topic, aiko, 2 * CATCHUP_LIMIT + 50)

    broadcast.recheck_member_sockets([ben.pk])

    catch_ups.wait_for_answers(4)
    expect(articles(ben_page)).to_have_count(1 + len(missed))
    expect(catching_up(ben_page)).to_be_hidden()
    round_ = catch_ups.answers[1:]
    assert [a.status for a in round_] == [200, 200, 200]
    assert [a.cursor for a in round_] == [
        missed[CATCHUP_LIMIT - 1],
        missed[2 * CATCHUP_LIMIT - 1],
        missed[-1],
    ]
    assert [a.more for a in round_] == ["1", "1", "0"]
    # Each page asked after exactly the X-Cursor of the one before it.
    assert [a.after for a in round_] == [welcome.pk, round_[0].cursor, round_[1].cursor]
    assert ids_shown(ben_page) == [welcome.pk, *missed]
    assert len(catch_ups.asked) == 4


def test_catching_up_shows_once_a_round_takes_400_ms_and_hides_when_it_ends(
    new_context, topic, welcome, aiko, ben
):
    page, catch_ups = ben_tab(new_context, topic, clock=True, **PHONE)
    missed = miss(topic, aiko, 3)
    catch_ups.plan = ["hold"]

    close_socket_and_pause(page, ben)
    catch_ups.wait_for_held()

    # The page's clock stands still while the answer is held.
    expect(catching_up(page)).to_be_hidden()
    page.clock.run_for(CATCHUP_SHOWN_AFTER_MS - 1)
    expect(catching_up(page)).to_be_hidden()
    page.clock.run_for(1)
    status = catching_up(page)
    expect(status).to_be_visible()
    expect(status).to_have_text("Catching up…")
    expect(page.locator("#catchup-status")).to_have_attribute("role", "status")
    # On the phone's screen, not below it.
    box = status.bounding_box()
    viewport = PHONE["viewport"]
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], box

    catch_ups.release()

    expect(articles(page)).to_have_count(1 + len(missed))
    expect(catching_up(page)).to_be_hidden()
    assert ids_shown(page) == [welcome.pk, *missed]
    page.clock.resume()


def test_a_busy_answer_shows_catching_up_at_once_and_is_asked_again_after_retry_after(
    new_context, topic, welcome, aiko, ben, page_problems
):
    page, catch_ups = ben_tab(
        new_context, topic, RECORD_CATCH_UP_STARTS, clock=True, **PHONE
    )
    missed = miss(topic, aiko, 3)
    catch_ups.plan = ["503", "hold"]

    close_socket_and_pause(page, ben)
    catch_ups.wait_for_answers(2)
    assert catch_ups.answers[1].status == 503
    # Chromium logs every fetch answered 5xx as a console error.
    provoked(page, page_problems, "status of 503")

    # At once: the clock has not moved since the request.
    expect(catching_up(page)).to_be_visible()
    assert page.evaluate("window.__catchUpStarts.length") == 2
    # Not asked again before Retry-After ...
    page.clock.run_for(RETRY_AFTER_S * 1000 - 1)
    assert page.evaluate("window.__catchUpStarts.length") == 2
    # ... and the composer works meanwhile.
    answer = send(page, "Still here, catching up", tap=True)
    assert answer.status == 201
    own = Message.objects.get(topic=topic, body="Still here, catching up")
    expect(page.locator(f"#message-{own.pk} .msg-body")).to_have_text(
        "Still here, catching up"
    )
    expect(catching_up(page)).to_be_visible()
    # Retry-After, then a random part of the first back-off window (1 s).
    page.clock.run_for(RETRY_BASE_MS + 1)
    catch_ups.wait_for_held()
    starts = page.evaluate("window.__catchUpStarts")
    assert len(starts) == 3
    waited = starts[2] - starts[1]
    assert RETRY_AFTER_S * 1000 <= waited < RETRY_AFTER_S * 1000 + RETRY_BASE_MS
    assert catch_ups.asked[1:] == [welcome.pk, welcome.pk]

    catch_ups.release()

    expect(catching_up(page)).to_be_hidden()
    expect(articles(page)).to_have_count(2 + len(missed))
    assert ids_shown(page) == [welcome.pk, *missed, own.pk]
    page.clock.resume()


def test_a_catch_up_that_fails_at_the_network_is_asked_again_and_completes(
    new_context, topic, welcome, aiko, ben, page_problems
):
    page, catch_ups = ben_tab(new_context, topic)
    missed = miss(topic, aiko, 3)
    catch_ups.plan = ["abort", "hold"]

    broadcast.recheck_member_sockets([ben.pk])

    catch_ups.wait_for_held()
    provoked(page, page_problems, "net::ERR_FAILED")
    # A failure shows it (the retry is held, so it stays).
    expect(catching_up(page)).to_be_visible()
    assert catch_ups.asked[1:] == [welcome.pk, welcome.pk]
    assert catch_ups.answers[1].status == 0
    catch_ups.release()

    expect(articles(page)).to_have_count(1 + len(missed))
    expect(catching_up(page)).to_be_hidden()
    assert ids_shown(page) == [welcome.pk, *missed]


def test_catching_up_is_said_in_japanese_on_a_japanese_phone(
    new_context, topic, welcome, aiko, ben
):
    page, catch_ups = ben_tab(new_context, topic, locale="ja-JP", **PHONE)
    missed = miss(topic, aiko, 3)
    catch_ups.plan = ["hold"]

    broadcast.recheck_member_sockets([ben.pk])
    catch_ups.wait_for_held()

    name = "最新のメッセージを取得しています…"
    expect(catching_up(page, name)).to_be_visible()
    expect(page.locator("#catchup-status")).to_have_text(name)
    catch_ups.release()
    expect(catching_up(page, name)).to_be_hidden()
    assert ids_shown(page) == [welcome.pk, *missed]


def test_while_its_server_has_lost_redis_the_page_polls_until_its_socket_reopens(
    new_context, topic, welcome, aiko, ben
):
    page, catch_ups = ben_tab(
        new_context, topic, RECORD_CATCH_UP_STARTS, RECORD_DEGRADED, clock=True
    )
    now_s = page.evaluate("Date.now()") / 1000
    page.clock.pause_at(now_s + 1)

    # What chat/layers.py queues for every socket of a process whose Redis
    # connection failed; the socket stays open, and nothing live comes.
    async def degraded():
        await get_channel_layer().group_send(
            broadcast.user_group(ben.pk), {"type": "live.degraded"}
        )

    broadcast._dispatch(degraded)
    catch_ups.wait(lambda: page.evaluate("window.__degraded") == 1, "live-degraded")
    missed = miss(topic, aiko, 2)
    starts = page.evaluate("window.__catchUpStarts.length")

    # Not before half the interval...
    page.clock.run_for(POLL_MS // 2 - 1)
    assert page.evaluate("window.__catchUpStarts.length") == starts
    # ...and by one and a half times it the page has asked for what is new.
    page.clock.run_for(POLL_MS + 1)
    expect(articles(page)).to_have_count(1 + len(missed))
    # Again and again while the outage lasts.
    later = miss(topic, aiko, 1)
    page.clock.run_for(3 * POLL_MS // 2)
    expect(articles(page)).to_have_count(1 + len(missed) + len(later))
    assert ids_shown(page) == [welcome.pk, *missed, *later]
    assert page.evaluate("window.__catchUpStarts.length") >= starts + 2

    # The socket opens again (as after the resync when Redis is back): its own
    # catch-up takes over, and the polling stops.
    broadcast.recheck_member_sockets([ben.pk])
    expect(page.locator("#live")).to_have_attribute("data-live-status", "reconnecting")
    page.clock.run_for(RECHECK_SPREAD_MS)
    expect(page.locator("#live")).to_have_attribute("data-live-status", "open")

    # (On a clock that stands still, nothing but answers starts a request:
    # wait until every request started is answered, and still is a moment
    # later, when a round's next request would have started.)
    def all_answered():
        started = page.evaluate("window.__catchUpStarts.length")
        return started == len(catch_ups.asked) == len(catch_ups.answers)

    catch_ups.wait(all_answered, "the catch-up of the reopened socket")
    page.wait_for_timeout(300)
    catch_ups.wait(all_answered, "the catch-up of the reopened socket")
    settled = page.evaluate("window.__catchUpStarts.length")
    page.clock.run_for(10 * POLL_MS)
    page.wait_for_timeout(200)
    assert page.evaluate("window.__catchUpStarts.length") == settled
    assert ids_shown(page) == [welcome.pk, *missed, *later]
