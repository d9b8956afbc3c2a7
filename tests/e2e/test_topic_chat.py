"""Live chat in a topic, in real browsers: aiko and ben, each in their own
browser context (their own cookies), talk in the same topic through a real
Daphne. Writes go over HTTP, the socket pushes, catch-up fills gaps.

The data is set up with the ORM; what a test proves goes through the pages.
Topics and seeded messages come from the factories (rows only): an action that
broadcasts on commit cannot run here, in the thread where Playwright's event
loop is marked running (see conftest.py).
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chat import actions, text
from chat.models import Message
from chat.views import PAGE_SIZE
from tests.e2e.pages import (
    RECORD_SOCKETS,
    SOCKETS_OPEN,
    log_in,
    open_topic,
    send_posts,
    wait_until,
)
from tests.factories import MessageFactory, TopicFactory, coffee_club

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000

# Lets a test send the tab to the background and back (headless Chromium has
# no window to hide): live.js only reconnects while the page is visible.
FAKE_VISIBILITY = """
(() => {
  window.__hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true,
    get() { return window.__hidden ? "hidden" : "visible"; },
  });
  Object.defineProperty(Document.prototype, "hidden", {
    configurable: true,
    get() { return window.__hidden; },
  });
})();
"""

# What the composer's key handling saw, to prove the IME was really composing.
RECORD_KEYS = """
(() => {
  window.__keys = [];
  window.__compositions = [];
  document.addEventListener("keydown", (e) => {
    if (e.target.name === "body") {
      window.__keys.push({key: e.key, keyCode: e.keyCode, isComposing: e.isComposing});
    }
  }, true);
  for (const type of ["compositionstart", "compositionend"]) {
    document.addEventListener(type, (e) => window.__compositions.push(type), true);
  }
})();
"""


@pytest.fixture
def topic(aiko, ben):
    """A topic in an open community owned by aiko, which ben has joined."""
    community = coffee_club(aiko, ben)
    return TopicFactory(community=community, title="Live chat", created_by=aiko)


@pytest.fixture
def welcome(topic, aiko):
    """The topic's first message, by aiko."""
    return seed(topic, aiko, "Welcome to the club!")


def seed(topic, author, body, **fields):
    return MessageFactory(
        topic=topic, author=author, body=body, body_html=text.render(body, []), **fields
    )


def tab(new_context, nickname, topic, *init_scripts):
    """A logged-in browser (its own context) with the topic open, socket open."""
    context = new_context()
    for script in init_scripts:
        context.add_init_script(script)
    page = context.new_page()
    log_in(page, nickname)
    open_topic(page, topic)
    return page


def composer(page):
    return page.get_by_role("textbox", name="Message", exact=True)


def message_log(page):
    return page.get_by_role("log", name="Messages")


def articles(page):
    return message_log(page).locator("article.msg")


def article(page, message):
    return page.locator(f"#message-{message.pk}")


def menu_item(page, message, name):
    """Open the message's "More actions" menu and return its item `name`
    (shown to this viewer or not)."""
    shown = article(page, message)
    shown.get_by_role("button", name="More actions").click()
    expect(shown.get_by_role("menu")).to_be_visible()
    return shown.get_by_role("menuitem", name=name, exact=True, include_hidden=True)


def send_with_enter(page, body):
    """Type `body` into the composer and press Enter; return the POST's answer."""
    box = composer(page)
    box.fill(body)
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/send/")
    ) as answer:
        box.press("Enter")
    return answer.value


def wait_for_frame(page, message):
    """This page's socket has received a fragment of `message`."""
    wait_until(
        page,
        f"window.__frames.some(f => f.includes('id=\"message-{message.pk}\"'))",
        timeout=WAIT_MS,
    )


def ids_shown(page):
    return page.eval_on_selector_all(
        "[role=log] article.msg", "items => items.map(a => Number(a.dataset.id))"
    )


def mark_log_children(page):
    """Keep the log's current children, to check later that they were kept."""
    return page.eval_on_selector(
        "[role=log]",
        "log => { window.__before = Array.from(log.children);"
        " window.__before.forEach(c => { c.__kept = true; });"
        " return window.__before.length; }",
    )


def log_children_kept(page):
    """The log still starts with the very same nodes (not re-rendered)."""
    return page.eval_on_selector(
        "[role=log]",
        "log => window.__before.length > 0"
        " && window.__before.every((node, i) => log.children[i] === node"
        " && node.__kept === true)",
    )


def test_message_sent_with_enter_appears_live_in_the_other_tab_and_stays_after_reload(
    new_context, topic, welcome, ben
):
    aiko_page = tab(new_context, "aiko", topic, RECORD_SOCKETS)
    ben_page = tab(new_context, "ben", topic, RECORD_SOCKETS)
    expect(articles(ben_page)).to_have_count(1)
    aiko_before = mark_log_children(aiko_page)
    ben_before = mark_log_children(ben_page)
    reloads = ben_page.evaluate("performance.getEntriesByType('navigation').length")

    answer = send_with_enter(aiko_page, "Shall we meet at 3?")

    assert answer.status == 201
    message = Message.objects.get(topic=topic, body="Shall we meet at 3?")
    expect(composer(aiko_page)).to_have_value("")
    # Ben sees it without reloading: the same document, the log appended to.
    shown = article(ben_page, message)
    expect(shown.locator(".msg-body")).to_have_text("Shall we meet at 3?")
    expect(shown.locator(".msg-author")).to_have_text("aiko")
    assert ben_page.evaluate("performance.getEntriesByType('navigation').length") == (
        reloads
    )
    assert ben_page.evaluate("window.__sockets.length") == 1
    expect(message_log(ben_page).locator(":scope > *")).to_have_count(ben_before + 1)
    assert log_children_kept(ben_page)
    assert ids_shown(ben_page) == [welcome.pk, message.pk]
    # Aiko's own tab got it twice (the POST's answer and the socket): shown once,
    # appended after the nodes it already had.
    wait_for_frame(aiko_page, message)
    expect(article(aiko_page, message)).to_have_count(1)
    expect(message_log(aiko_page).locator(":scope > *")).to_have_count(aiko_before + 1)
    assert log_children_kept(aiko_page)
    assert ids_shown(aiko_page) == [welcome.pk, message.pk]

    ben_page.reload()
    expect(article(ben_page, message).locator(".msg-body")).to_have_text(
        "Shall we meet at 3?"
    )
    assert ids_shown(ben_page) == [welcome.pk, message.pk]


def test_enter_that_confirms_a_japanese_conversion_does_not_send(
    new_context, topic, welcome
):
    aiko_page = tab(new_context, "aiko", topic, RECORD_KEYS)
    ben_page = tab(new_context, "ben", topic)
    posts = send_posts(aiko_page)
    box = composer(aiko_page)
    box.focus()
    cdp = aiko_page.context.new_cdp_session(aiko_page)

    def compose(reading):
        cdp.send(
            "Input.imeSetComposition",
            {
                "text": reading,
                "selectionStart": len(reading),
                "selectionEnd": len(reading),
            },
        )

    def key(kind, key_code, **extra):
        cdp.send(
            "Input.dispatchKeyEvent",
            {
                "type": kind,
                "key": "Enter",
                "code": "Enter",
                "windowsVirtualKeyCode": key_code,
                "nativeVirtualKeyCode": key_code,
                **extra,
            },
        )

    # Chrome and Firefox: the IME takes the Enter (keyCode 229) while composing,
    # then commits the conversion.
    compose("にほんご")
    key("rawKeyDown", 229)
    cdp.send("Input.insertText", {"text": "日本語"})
    key("keyUp", 13)
    expect(box).to_have_value("日本語")
    # An Enter keydown that arrives while still composing (isComposing).
    compose("です")
    key("rawKeyDown", 13)
    key("keyUp", 13)
    cdp.send("Input.insertText", {"text": "です"})
    expect(box).to_have_value("日本語です")
    # Safari: the composition ends first, then the Enter keydown (not flagged as
    # composing) arrives at once.
    aiko_page.eval_on_selector(
        "textarea[name=body]",
        """box => {
          box.dispatchEvent(new CompositionEvent("compositionend", {data: "です"}));
          box.dispatchEvent(new KeyboardEvent("keydown",
            {key: "Enter", code: "Enter", bubbles: true, cancelable: true}));
        }""",
    )

    # The IME really was composing when those Enters came.
    keys = aiko_page.evaluate("window.__keys")
    assert keys[0] == {"key": "Enter", "keyCode": 229, "isComposing": True}, keys
    assert keys[1] == {"key": "Enter", "keyCode": 13, "isComposing": True}, keys
    # Only the moment of compositionend can tell that one apart from a real Enter.
    assert keys[2] == {"key": "Enter", "keyCode": 0, "isComposing": False}, keys
    assert len(keys) == 3, keys
    assert aiko_page.evaluate("window.__compositions").count("compositionend") >= 2
    expect(box).to_have_value("日本語です")
    expect(box).to_be_focused()

    # A real Enter afterwards sends it: the only POST this page made.
    aiko_page.wait_for_timeout(150)  # past the Safari guard after compositionend
    with aiko_page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        box.press("Enter")
    assert answer.value.status == 201
    assert len(posts) == 1, [p.post_data for p in posts]
    # The composer's form is multipart (it can carry photos).
    assert re.findall(r'name="body"\r\n\r\n([^\r]*)\r\n', posts[0].post_data) == [
        "日本語です"
    ]
    message = Message.objects.get(topic=topic, body="日本語です")
    assert Message.objects.filter(topic=topic).count() == 2
    expect(article(ben_page, message).locator(".msg-body")).to_have_text("日本語です")
    assert ids_shown(ben_page) == [welcome.pk, message.pk]
    assert ids_shown(aiko_page) == [welcome.pk, message.pk]
    expect(box).to_have_value("")


def test_shift_enter_starts_a_new_line_and_the_line_break_is_kept(
    new_context, topic, welcome
):
    aiko_page = tab(new_context, "aiko", topic)
    ben_page = tab(new_context, "ben", topic)
    posts = send_posts(aiko_page)
    box = composer(aiko_page)

    box.press_sequentially("Coffee at 3")
    box.press("Shift+Enter")
    box.press_sequentially("then a walk")

    expect(box).to_have_value("Coffee at 3\nthen a walk")
    with aiko_page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        box.press("Enter")
    assert answer.value.status == 201
    assert len(posts) == 1
    message = Message.objects.exclude(pk=welcome.pk).get(topic=topic)
    assert message.body == "Coffee at 3\nthen a walk"
    for page in (aiko_page, ben_page):
        body = article(page, message).locator(".msg-body")
        expect(body).to_have_text("Coffee at 3\nthen a walk")
        # Shown on two lines, not run together.
        assert body.inner_text() == "Coffee at 3\nthen a walk"
        lines = body.evaluate(
            "el => { const r = document.createRange(); r.selectNodeContents(el);"
            " return new Set(Array.from(r.getClientRects(), c => Math.round(c.top)))"
            ".size; }"
        )
        assert lines == 2


def test_refused_message_shows_the_reason_at_the_composer_and_keeps_the_text(
    new_context, topic, welcome
):
    aiko_page = tab(new_context, "aiko", topic)
    ben_page = tab(new_context, "ben", topic)
    posts = send_posts(aiko_page)
    box = composer(aiko_page)
    too_long = "a" * 4001
    # The textarea's maxlength stops typing; a script (or a paste in some
    # browsers) can still put more in it.
    box.evaluate("(box, value) => { box.value = value; }", too_long)

    with aiko_page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        box.press("Enter")

    # A refusal in normal use is no error of the page: 200, with what it
    # stands for in X-Refused (project/refusals.py), so the browser logs nothing.
    assert answer.value.status == 200
    assert answer.value.headers["x-refused"] == "400"
    error = aiko_page.locator(f"#composer-{topic.pk}-error")
    expect(error).to_have_text(
        "A message has at most 4000 characters (this one has 4001)."
    )
    expect(error).to_have_attribute("role", "alert")
    assert box.get_attribute("aria-describedby") == f"composer-{topic.pk}-error"
    expect(box).to_have_value(too_long)
    assert len(posts) == 1
    assert Message.objects.filter(topic=topic).count() == 1

    # Nothing reached ben: a later message from aiko does, and is all he sees.
    answer = send_with_enter(aiko_page, "Sorry, too long. Short version: hi!")
    assert answer.status == 201
    later = Message.objects.get(topic=topic, body__startswith="Sorry")
    expect(article(ben_page, later)).to_be_visible()
    assert ids_shown(ben_page) == [welcome.pk, later.pk]
    assert ids_shown(aiko_page) == [welcome.pk, later.pk]
    expect(error).to_have_text("")


def test_messages_sent_while_the_other_socket_was_closed_arrive_once_in_order(
    new_context, topic, welcome
):
    aiko_page = tab(new_context, "aiko", topic)
    ben_page = tab(new_context, "ben", topic, RECORD_SOCKETS, FAKE_VISIBILITY)

    # Ben's tab goes to the background and loses its socket; live.js waits for
    # the tab to be visible again before it reconnects.
    ben_page.evaluate("window.__hidden = true")
    ben_page.evaluate("window.__sockets[0].close(1000, 'test')")
    wait_until(ben_page, f"{SOCKETS_OPEN} === 0", timeout=WAIT_MS)
    expect(ben_page.locator("#live")).to_have_attribute(
        "data-live-status", "reconnecting"
    )

    bodies = ["one", "two", "three"]
    for body in bodies:
        assert send_with_enter(aiko_page, body).status == 201
    missed = list(Message.objects.filter(topic=topic, body__in=bodies).order_by("pk"))
    assert [m.body for m in missed] == bodies
    expect(articles(aiko_page)).to_have_count(4)
    # Nothing could reach ben meanwhile.
    assert ids_shown(ben_page) == [welcome.pk]

    ben_page.evaluate(
        "window.__hidden = false; document.dispatchEvent(new Event('visibilitychange'))"
    )

    expect(ben_page.locator("#live")).to_have_attribute(
        "data-live-status", "open", timeout=WAIT_MS
    )
    expect(articles(ben_page)).to_have_count(4)
    assert ids_shown(ben_page) == [welcome.pk, *[m.pk for m in missed]]
    assert ben_page.evaluate("window.__sockets.length") == 2
    for message in missed:
        expect(article(ben_page, message).locator(".msg-body")).to_have_text(
            message.body
        )
    # Still once each after anything late has had its chance to arrive.
    ben_page.wait_for_timeout(500)
    assert ids_shown(ben_page) == [welcome.pk, *[m.pk for m in missed]]


def test_like_and_edit_show_live_in_the_other_tab(new_context, topic, aiko):
    message = seed(topic, aiko, "Latte or cappuccino?")
    aiko_page = tab(new_context, "aiko", topic)
    ben_page = tab(new_context, "ben", topic)
    count_for_aiko = aiko_page.locator(f"#like-count-{message.pk}")
    # No count while nobody likes it (the chip is hidden then).
    expect(count_for_aiko).to_have_text("")

    like = article(ben_page, message).get_by_role("button", name=re.compile("Like!"))
    expect(like).to_have_attribute("aria-pressed", "false")
    like.click()

    expect(like).to_have_attribute("aria-pressed", "true")
    expect(ben_page.locator(f"#like-count-{message.pk}")).to_have_text("1")
    expect(count_for_aiko).to_have_text("1")
    # Ben's menu on aiko's message has no Edit; aiko's does.
    expect(menu_item(ben_page, message, "Edit")).to_be_hidden()
    ben_page.keyboard.press("Escape")

    menu_item(aiko_page, message, "Edit").click()
    box = composer(aiko_page)
    expect(box).to_have_value("Latte or cappuccino?")
    expect(box).to_be_focused()
    box.fill("Latte or flat white?")
    with aiko_page.expect_response(lambda r: r.url.endswith("/edit/")) as answer:
        box.press("Enter")
    assert answer.value.status == 200

    shown = article(ben_page, message)
    expect(shown.locator(".msg-body")).to_have_text("Latte or flat white?")
    expect(shown.locator(".msg-edited")).to_have_text("(edited)")
    # The edit kept the like, and ben's own "I liked this".
    expect(ben_page.locator(f"#like-count-{message.pk}")).to_have_text("1")
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(article(aiko_page, message).locator(".msg-body")).to_have_text(
        "Latte or flat white?"
    )
    expect(box).to_have_value("")
    assert ids_shown(ben_page) == [message.pk]
    assert Message.objects.filter(topic=topic).count() == 1


def test_scrolling_up_loads_older_messages_without_moving_what_is_read(
    new_context, topic, aiko, ben
):
    start = timezone.now() - timedelta(hours=2)
    rows = []
    for n in range(1, 121):
        body = f"Message number {n}"
        rows.append(
            Message(
                topic=topic,
                author=aiko if n % 2 else ben,
                body=body,
                body_html=text.render(body, []),
                client_id=f"seed-{n}",
                created_at=start + timedelta(seconds=n),
            )
        )
    Message.objects.bulk_create(rows)
    ids = list(Message.objects.filter(topic=topic).order_by("pk").values_list("pk"))
    ids = [pk for (pk,) in ids]
    assert len(ids) == 120
    page = tab(new_context, "aiko", topic)
    scroller = page.locator(f"#topic-{topic.pk}-scroller")

    expect(articles(page)).to_have_count(50)
    assert ids_shown(page) == ids[70:]
    expect(page.get_by_text("This is the beginning of the topic.")).to_have_count(0)

    for shown_after in (100, 120):
        reference = ids_shown(page)[0]
        # Scroll to the top and note where the first message is, in one go: the
        # older page cannot have arrived in between.
        top_before = scroller.evaluate(
            "(scroller, id) => { scroller.scrollTop = 0;"
            " return document.getElementById('message-' + id)"
            ".getBoundingClientRect().top; }",
            reference,
        )
        expect(articles(page)).to_have_count(shown_after)
        top_after = page.locator(f"#message-{reference}").evaluate(
            "el => el.getBoundingClientRect().top"
        )
        assert abs(top_after - top_before) <= 3, (reference, top_before, top_after)
        assert ids_shown(page) == ids[120 - shown_after :]

    expect(page.get_by_text("This is the beginning of the topic.")).to_be_visible()
    expect(page.get_by_role("button", name="Load older messages")).to_have_count(0)
    expect(articles(page).first.locator(".msg-body")).to_have_text("Message number 1")


def test_deleting_ones_own_message_shows_the_tombstone_in_both_tabs_with_no_error(
    new_context, topic, welcome, aiko
):
    """The socket usually brings the delete before the POST's own answer, which
    then used to find its message replaced (htmx:oobErrorNoTarget in the
    console); the collector in conftest.py fails the test on any such error."""
    message = seed(topic, aiko, "Oops, wrong topic")
    aiko_page = tab(new_context, "aiko", topic, RECORD_SOCKETS)
    ben_page = tab(new_context, "ben", topic)
    delete = menu_item(aiko_page, message, "Delete")
    expect(menu_item(ben_page, message, "Delete")).to_be_hidden()
    aiko_page.once("dialog", lambda dialog: dialog.accept())

    with aiko_page.expect_response(lambda r: r.url.endswith("/delete/")) as answer:
        delete.click()

    assert answer.value.status == 200
    for page in (aiko_page, ben_page):
        expect(article(page, message).locator(".msg-tombstone")).to_have_text(
            "This message was deleted."
        )
        expect(article(page, message)).to_have_count(1)
    wait_for_frame(aiko_page, message)
    assert Message.objects.get(pk=message.pk).deleted_at is not None
    # Welcome stays as it was.
    expect(article(ben_page, welcome).locator(".msg-body")).to_have_text(
        "Welcome to the club!"
    )
    aiko_page.wait_for_timeout(300)  # anything late has had its chance to log


def test_a_like_on_a_message_older_than_the_loaded_page_arrives_without_an_error(
    new_context, topic, aiko, ben
):
    """The socket brings every like in the topic; a page that has not loaded
    the message has nothing to update, which is no error (htmx logged
    htmx:oobErrorNoTarget for it)."""
    oldest = seed(topic, aiko, "The very first message")
    for n in range(PAGE_SIZE):
        seed(topic, ben, f"Later message {n}")
    aiko_page = tab(new_context, "aiko", topic, RECORD_SOCKETS)
    expect(articles(aiko_page)).to_have_count(PAGE_SIZE)
    expect(article(aiko_page, oldest)).to_have_count(0)

    actions.toggle_like(member=ben, message=oldest)

    wait_until(
        aiko_page,
        f"window.__frames.some(f => f.includes('like-count-{oldest.pk}'))",
        timeout=WAIT_MS,
    )
    aiko_page.wait_for_timeout(300)  # its swap has run (and would have logged)
    # Scrolled up to, it shows the like.
    aiko_page.locator(f"#topic-{topic.pk}-scroller").evaluate("s => s.scrollTop = 0")
    expect(aiko_page.locator(f"#like-count-{oldest.pk}")).to_have_text("1")
