"""The composer, in real browsers: nothing typed is lost, and the keyboard.

A draft survives a reload (and is gone once sent, and at logout); a message
sent while offline waits, shown as "Sending…", and is delivered exactly once
when the connection is back, with its client id; a send whose answer was
lost goes again with the same id and shows once; a queued message the server
refuses comes back to the composer with the reason. Up arrow in an empty
composer edits one's last message; Escape cancels an edit (the draft comes
back) or a reply.

The data is set up with the ORM (rows only); what a test proves goes
through the pages.
"""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chat import text
from chat.models import Message
from tests.e2e import axe
from tests.e2e.pages import (
    DESKTOP,
    PHONE,
    log_in,
    open_topic,
    room_tab,
    send_posts,
    wait_until,
)
from tests.factories import MessageFactory, TopicFactory, coffee_club

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000
CLIENT_ID = r'name="client_id"\r\n\r\n([^\r]+)\r\n'


@pytest.fixture
def topic(aiko, ben):
    community = coffee_club(aiko, ben)
    return TopicFactory(community=community, title="Drafts and queues", created_by=aiko)


def seed(topic, author, body, **fields):
    return MessageFactory(
        topic=topic, author=author, body=body, body_html=text.render(body, []), **fields
    )


def composer(page, topic):
    # By id: its accessible name is "Message" or "メッセージ".
    return page.locator(f"#composer-{topic.pk}-body")


def article(page, message):
    return page.locator(f"#message-{message.pk}")


def articles_with(page, body):
    return page.locator("[role=log] article.msg .msg-body", has_text=body)


def outbox(page, topic):
    return page.locator(f"#topic-{topic.pk}-outbox")


def send_with_enter(page, topic, body):
    box = composer(page, topic)
    box.fill(body)
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/send/")
    ) as answer:
        box.press("Enter")
    return answer.value


def go_offline(page):
    """Cut this browser's network, once the page has told the server what it
    has read (asked 1 s after load, with nobody to hear a failure)."""
    wait_until(
        page,
        "performance.getEntriesByType('resource').some(e => e.name.endsWith('/read/'))",
    )
    page.context.set_offline(True)
    wait_until(page, "navigator.onLine === false")


def open_menu(page, message):
    """Open a message's "More actions" menu from the keyboard."""
    button = article(page, message).get_by_role("button", name="More actions")
    button.focus()
    button.press("Enter")
    expect(article(page, message).get_by_role("menu")).to_be_visible()
    return article(page, message)


def kept_keys(page):
    return page.evaluate(
        "Object.keys(localStorage).filter(k => k.startsWith('enishi:'))"
    )


@pytest.mark.parametrize(
    "device,language", [(DESKTOP, "en"), (PHONE, "ja")], ids=["desktop-en", "phone-ja"]
)
def test_a_draft_survives_a_reload_and_is_gone_once_sent(
    new_context, topic, device, language
):
    page = room_tab(new_context, "aiko", topic, language=language, **device)
    box = composer(page, topic)
    draft = "明日の集合は9時で" if language == "ja" else "Tomorrow we meet at"
    box.fill(draft)

    page.reload()
    expect(box).to_have_value(draft)
    # A new visit to the page (not the browser restoring a form) finds it too.
    open_topic(page, topic)
    expect(box).to_have_value(draft)

    finished = draft + "…"
    box.fill(finished)
    if device is PHONE:
        # On a touch screen Enter is a new line: the Send button sends.
        with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
            page.get_by_role(
                "button", name="送信" if language == "ja" else "Send"
            ).click()
        answer = answer.value
    else:
        with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
            box.press("Enter")
        answer = answer.value
    assert answer.status == 201
    expect(articles_with(page, finished)).to_have_count(1)
    expect(box).to_have_value("")

    page.reload()
    expect(articles_with(page, finished)).to_have_count(1)
    expect(box).to_have_value("")


def test_a_refused_send_keeps_its_draft(new_context, topic):
    page = room_tab(new_context, "aiko", topic)
    box = composer(page, topic)
    too_long = "a" * 4001
    box.evaluate("(box, value) => { box.value = value; }", too_long)
    with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        box.press("Enter")
    assert answer.value.headers["x-refused"] == "400"
    expect(box).to_have_value(too_long)

    page.reload()
    expect(box).to_have_value(too_long)
    assert Message.objects.filter(topic=topic).count() == 0


def test_drafts_are_per_topic_and_member_and_logging_out_clears_them(
    new_context, topic, aiko, ben
):
    other = TopicFactory(community=topic.community, title="Another topic")
    context = new_context()
    page = context.new_page()
    log_in(page, "aiko")
    open_topic(page, topic)
    composer(page, topic).fill("aiko's words for the first topic")
    open_topic(page, other)
    expect(composer(page, other)).to_have_value("")
    open_topic(page, topic)
    expect(composer(page, topic)).to_have_value("aiko's words for the first topic")
    assert kept_keys(page) == [f"enishi:draft:{aiko.pk}:{topic.pk}"]

    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    assert kept_keys(page) == []

    # The next person at this computer finds nothing of it.
    log_in(page, "ben")
    open_topic(page, topic)
    expect(composer(page, topic)).to_have_value("")


def test_an_offline_send_is_delivered_exactly_once_after_reconnect(
    new_context, topic, ben
):
    aiko_page = room_tab(new_context, "aiko", topic)
    ben_page = room_tab(new_context, "ben", topic)
    posts = send_posts(aiko_page)
    box = composer(aiko_page, topic)
    body = "Sent from the train tunnel"

    go_offline(aiko_page)
    box.fill(body)
    box.press("Enter")

    waiting = outbox(aiko_page, topic)
    expect(waiting).to_be_visible()
    expect(waiting).to_have_attribute("aria-label", "Waiting to be sent")
    item = waiting.locator("li")
    expect(item).to_have_count(1)
    expect(item.locator(".outbox-body")).to_have_text(body)
    expect(item.locator(".outbox-state")).to_have_text("Sending…")
    # Outside the log: the ordered log holds only the topic's messages.
    assert (
        aiko_page.locator(
            f"#topic-{topic.pk}-messages #topic-{topic.pk}-outbox"
        ).count()
        == 0
    )
    expect(
        aiko_page.get_by_role("status").filter(has_text="You are offline")
    ).to_have_text(
        "You are offline: your message will be sent when the connection is back."
    )
    found = axe.violations(aiko_page)
    assert found == [], "\n".join(found)
    # Not put back in the composer, and nothing sent yet.
    expect(box).to_have_value("")
    aiko_page.wait_for_timeout(300)
    assert posts == []
    assert Message.objects.filter(body=body).count() == 0

    # The answer is held while the page is told, again and again, that the
    # connection is back: still one request in flight.
    held = []

    def hold(route):
        if held:  # only the first is held
            route.continue_()
        else:
            held.append(route)

    aiko_page.route("**/send/", hold)
    aiko_page.context.set_offline(False)
    wait_until(aiko_page, "navigator.onLine === true")
    while not held:
        aiko_page.wait_for_timeout(20)
    aiko_page.evaluate(
        "for (let i = 0; i < 3; i++) { window.dispatchEvent(new Event('online'));"
        " window.dispatchEvent(new Event('pageshow')); }"
    )
    aiko_page.wait_for_timeout(300)
    assert len(posts) == 1
    expect(item.locator(".outbox-state")).to_have_text("Sending…")
    held[0].continue_()

    expect(articles_with(aiko_page, body)).to_have_count(1, timeout=WAIT_MS)
    expect(articles_with(ben_page, body)).to_have_count(1, timeout=WAIT_MS)
    expect(waiting).to_be_hidden()
    expect(waiting.locator("li")).to_have_count(0)
    assert Message.objects.filter(body=body).count() == 1
    # Once, and nothing more after anything late has had its chance.
    aiko_page.wait_for_timeout(500)
    assert len(posts) == 1
    expect(articles_with(aiko_page, body)).to_have_count(1)
    expect(articles_with(ben_page, body)).to_have_count(1)
    assert kept_keys(aiko_page) == []


def test_messages_queued_offline_survive_closing_the_tab_and_go_in_order(
    new_context, topic, ben
):
    aiko_page = room_tab(new_context, "aiko", topic)
    ben_page = room_tab(new_context, "ben", topic)
    box = composer(aiko_page, topic)

    go_offline(aiko_page)
    for body in ["first, offline", "second, offline"]:
        box.fill(body)
        box.press("Enter")
    expect(outbox(aiko_page, topic).locator("li")).to_have_count(2)
    # The tab is closed before the connection is back; later, another.
    context = aiko_page.context
    aiko_page.close()
    context.set_offline(False)
    assert Message.objects.filter(topic=topic).count() == 0
    aiko_page = context.new_page()
    open_topic(aiko_page, topic)

    expect(articles_with(ben_page, "second, offline")).to_have_count(1, timeout=WAIT_MS)
    sent = list(Message.objects.filter(topic=topic).order_by("pk"))
    assert [m.body for m in sent] == ["first, offline", "second, offline"]
    for page in (aiko_page, ben_page):
        expect(page.locator("[role=log] article.msg .msg-body")).to_have_text(
            ["first, offline", "second, offline"]
        )
    expect(outbox(aiko_page, topic)).to_be_hidden()


def test_a_send_whose_answer_was_lost_goes_again_with_its_client_id_and_shows_once(
    new_context, topic, ben, page_problems
):
    aiko_page = room_tab(new_context, "aiko", topic)
    ben_page = room_tab(new_context, "ben", topic)
    posts = send_posts(aiko_page)
    lost = []

    def lose_the_first_answer(route):
        # The server gets it and saves it; the page never hears back.
        if not lost:
            route.fetch()
            lost.append(route.request.post_data)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    aiko_page.route("**/send/", lose_the_first_answer)
    body = "Did this get through?"
    box = composer(aiko_page, topic)
    box.fill(body)
    box.press("Enter")

    expect(articles_with(aiko_page, body)).to_have_count(1, timeout=WAIT_MS)
    expect(articles_with(ben_page, body)).to_have_count(1, timeout=WAIT_MS)
    expect(outbox(aiko_page, topic)).to_be_hidden()
    expect(box).to_have_value("")
    assert Message.objects.filter(body=body).count() == 1
    aiko_page.wait_for_timeout(500)
    assert len(posts) == 2
    ids = [re.search(CLIENT_ID, post.post_data).group(1) for post in posts]
    assert ids[0] == ids[1] == Message.objects.get(body=body).client_id
    expect(articles_with(aiko_page, body)).to_have_count(1)
    # What the lost answer made the browser and htmx say, on purpose.
    page_problems[:] = [
        p
        for p in page_problems
        if not (
            "ERR_INTERNET_DISCONNECTED" in p
            or "htmx:afterRequest" in p
            or "htmx:sendError" in p
        )
    ]


def test_a_queued_message_the_server_refuses_comes_back_with_the_reason(
    new_context, topic, ben
):
    topic.slow_mode_seconds = 300
    topic.save()
    seed(topic, ben, "Just said something", created_at=timezone.now())
    page = room_tab(new_context, "ben", topic)
    box = composer(page, topic)

    go_offline(page)
    box.fill("Too soon, from offline")
    box.press("Enter")
    expect(outbox(page, topic).locator("li")).to_have_count(1)
    expect(box).to_have_value("")
    page.context.set_offline(False)

    expect(box).to_have_value("Too soon, from offline", timeout=WAIT_MS)
    expect(page.locator(f"#composer-{topic.pk}-error")).to_contain_text(
        "Slow mode is on"
    )
    expect(outbox(page, topic)).to_be_hidden()
    assert Message.objects.filter(body="Too soon, from offline").count() == 0
    # Back in the composer, it is the draft again.
    page.reload()
    expect(box).to_have_value("Too soon, from offline")


def test_up_arrow_in_an_empty_composer_edits_ones_last_message(
    new_context, topic, aiko, ben
):
    seed(topic, aiko, "An older one of mine")
    mine = seed(topic, aiko, "Meet at the station")
    seed(topic, ben, "From ben, after")
    seed(topic, aiko, "gone", deleted_at=timezone.now())
    page = room_tab(new_context, "aiko", topic)
    box = composer(page, topic)
    banner = page.locator("[data-edit-banner]")

    # With something written, Up arrow is only the caret's.
    box.fill("x")
    box.press("ArrowUp")
    expect(banner).to_be_hidden()
    expect(box).to_have_value("x")
    box.fill("")

    box.press("ArrowUp")

    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Editing your message")
    expect(box).to_have_value("Meet at the station")
    expect(box).to_be_focused()
    box.fill("Meet at the north exit")
    with page.expect_response(lambda r: r.url.endswith(f"/{mine.pk}/edit/")) as answer:
        box.press("Enter")
    assert answer.value.status == 200
    expect(article(page, mine).locator(".msg-body")).to_have_text(
        "Meet at the north exit"
    )
    expect(article(page, mine).locator(".msg-edited")).to_be_visible()
    expect(banner).to_be_hidden()
    expect(box).to_have_value("")
    mine.refresh_from_db()
    assert mine.body == "Meet at the north exit"


def test_escape_cancels_an_edit_with_the_draft_back_and_a_reply(
    new_context, topic, aiko, ben
):
    mine = seed(topic, aiko, "Mine to edit")
    theirs = seed(topic, ben, "Ben asks something")
    page = room_tab(new_context, "aiko", topic)
    box = composer(page, topic)
    edit_banner = page.locator("[data-edit-banner]")
    reply_banner = page.locator("[data-reply-banner]")
    box.fill("a draft in progress")

    open_menu(page, mine).get_by_role("menuitem", name="Edit").click()
    expect(edit_banner).to_be_visible()
    expect(box).to_have_value("Mine to edit")
    box.press("Escape")
    expect(edit_banner).to_be_hidden()
    expect(box).to_have_value("a draft in progress")
    expect(box).to_be_focused()
    # The draft kept is the one before the edit.
    page.reload()
    expect(box).to_have_value("a draft in progress")

    open_menu(page, theirs).get_by_role("menuitem", name="Reply").click()
    expect(reply_banner).to_be_visible()
    expect(reply_banner).to_contain_text("Replying to ben")
    box.press("Escape")
    expect(reply_banner).to_be_hidden()
    expect(box).to_have_value("a draft in progress")
    with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        box.press("Enter")
    assert answer.value.status == 201
    sent = Message.objects.get(body="a draft in progress")
    assert sent.reply_to_id is None
