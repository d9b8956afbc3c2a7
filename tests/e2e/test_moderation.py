"""Moderation in the room, in real browsers: daichi (a moderator of aiko's
club), ben and aiko each in their own browser with the topic open.

daichi deletes ben's message through its "More actions" menu and it
vanishes from aiko's open page; he mutes ben from the same menu and ben's
open composer says so, and ben's post is refused; he bans ben and ben's tab
leaves the room. The menu works from the keyboard; pins, slow mode and lock
reach the open pages.

The data is set up with the ORM (rows only); what a test proves goes
through the pages.
"""

import re

import pytest
from playwright.sync_api import expect

from chat import text
from chat.models import Message
from communities import actions
from communities.models import Membership
from moderation.models import ModerationAction
from tests.e2e.pages import log_in, open_topic
from tests.factories import MessageFactory, TopicFactory, coffee_club

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def topic(aiko, daichi, ben):
    community = coffee_club(aiko, daichi, ben)
    actions.set_role(
        community=community, member_id=daichi.pk, role=Membership.Role.MODERATOR
    )
    return TopicFactory(community=community, title="Beans of the week")


def seed(topic, author, body):
    return MessageFactory(
        topic=topic, author=author, body=body, body_html=text.render(body, [])
    )


def tab(new_context, nickname, topic):
    page = new_context().new_page()
    log_in(page, nickname)
    open_topic(page, topic)
    return page


def article(page, message):
    return page.locator(f"#message-{message.pk}")


def open_menu(page, message):
    shown = article(page, message)
    shown.get_by_role("button", name="More actions").click()
    expect(shown.get_by_role("menu")).to_be_visible()
    return shown


def test_a_moderator_deletes_mutes_and_bans_from_the_message_menu(
    new_context, page_problems, topic, daichi, ben
):
    spam = seed(topic, ben, "Cheap followers at spam.example")
    aiko_page = tab(new_context, "aiko", topic)
    ben_page = tab(new_context, "ben", topic)
    moderator = tab(new_context, "daichi", topic)
    expect(article(aiko_page, spam).locator(".msg-body")).to_have_text(
        "Cheap followers at spam.example"
    )

    # Delete, from the menu.
    menu = open_menu(moderator, spam)
    for name in ("Delete", "Report", "Mute author", "Ban author", "Pin"):
        expect(menu.get_by_role("menuitem", name=name, exact=True)).to_be_visible()
    moderator.once("dialog", lambda dialog: dialog.accept())
    menu.get_by_role("menuitem", name="Delete", exact=True).click()

    expect(article(aiko_page, spam).locator(".msg-tombstone")).to_have_text(
        "This message was deleted."
    )
    expect(aiko_page.get_by_text("spam.example")).to_have_count(0)
    assert ModerationAction.objects.filter(kind="delete", member=ben).exists()

    # Mute, from the menu of ben's next message: his open composer says so.
    later = seed(topic, ben, "Still here")
    moderator.reload()
    open_menu(moderator, later).get_by_role("menuitem", name="Mute author").click()
    moderator.get_by_label("Duration").select_option(label="1 hour")
    moderator.get_by_label("Reason").fill("Please stop advertising")
    moderator.get_by_role("button", name="Mute", exact=True).click()
    expect(moderator).to_have_url(re.compile(re.escape(topic.get_absolute_url())))

    notice = ben_page.locator("#composer-mute")
    expect(notice).to_have_text(
        re.compile(
            r"^You are muted in this community until .+: Please stop advertising$"
        )
    )
    # Posting anyway (a script, a stale page) is refused by the server.
    ben_page.evaluate(
        "document.querySelectorAll('[data-composer] button[type=submit]')"
        ".forEach(b => { b.disabled = false; })"
    )
    box = ben_page.get_by_label("Message", exact=True)
    box.fill("Let me in")
    with ben_page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        box.press("Enter")
    assert answer.value.headers["x-refused"] == "403"
    expect(ben_page.locator(f"#composer-{topic.pk}-error")).to_have_text(
        "You are muted in this community for now."
    )
    assert not Message.objects.filter(body="Let me in").exists()

    # Ban, from the menu: ben's tab leaves the room.
    open_menu(moderator, later).get_by_role("menuitem", name="Ban author").click()
    moderator.get_by_label("Reason").fill("Spam after a mute")
    moderator.get_by_role("button", name="Ban", exact=True).click()
    expect(moderator).to_have_url(re.compile(re.escape(topic.get_absolute_url())))

    expect(ben_page.locator("#live")).to_have_attribute("data-live-status", "refused")
    assert ben_page.goto(topic.get_absolute_url()).status == 404
    # That 404 the browser logs is the one this test asked for.
    page_problems[:] = [p for p in page_problems if "status of 404" not in p]


def test_the_message_menu_works_from_the_keyboard(new_context, topic, aiko, ben):
    message = seed(topic, aiko, "Welcome!")
    page = tab(new_context, "ben", topic)
    button = article(page, message).get_by_role("button", name="More actions")
    expect(button).to_have_attribute("aria-haspopup", "menu")
    expect(button).to_have_attribute("aria-expanded", "false")

    button.focus()
    page.keyboard.press("Enter")

    menu = article(page, message).get_by_role("menu")
    expect(menu).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    # A member's menu on someone else's message: no Edit, Delete or moderator
    # items. Like! first (a checkbox item: the way to it on a touch screen).
    items = menu.locator("[role^=menuitem]:visible")
    expect(items).to_have_text(["Like!", "Reply", "Copy text", "Report", "Block"])
    expect(menu.get_by_role("menuitemcheckbox", name="Like!")).to_be_focused()
    expect(items.nth(0)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(items.nth(4)).to_be_focused()
    page.keyboard.press("Home")
    expect(items.nth(0)).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()
    # Space opens it too, and Reply starts a reply.
    page.keyboard.press(" ")
    expect(items.nth(0)).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(menu).to_be_hidden()
    expect(page.get_by_text("Replying to aiko")).to_be_visible()


def test_pins_slow_mode_and_lock_reach_the_open_pages(new_context, topic, aiko):
    notice = seed(topic, aiko, "Tasting on Saturday at 3")
    ben_page = tab(new_context, "ben", topic)
    moderator = tab(new_context, "daichi", topic)
    pinned = ben_page.get_by_role("region", name="Pinned")
    expect(pinned).to_be_hidden()
    # Members have no moderator controls.
    expect(ben_page.get_by_label("Slow mode")).to_be_hidden()
    expect(ben_page.get_by_role("button", name="Lock topic")).to_be_hidden()

    # aiko owns the club: daichi may pin her message, not delete it nor act on her.
    menu = open_menu(moderator, notice)
    for name in ("Delete", "Mute author", "Ban author"):
        item = menu.get_by_role("menuitem", name=name, exact=True, include_hidden=True)
        expect(item).to_be_hidden()
    menu.get_by_role("menuitem", name="Pin").click()

    expect(pinned).to_contain_text("Tasting on Saturday at 3")

    # The moderator's tools wait behind "Topic details", which a member's
    # page does not offer on a desktop (and would not show them anyway).
    expect(ben_page.get_by_role("button", name="Topic details")).to_be_hidden()
    moderator.get_by_role("button", name="Topic details").click()
    moderator.get_by_label("Slow mode").select_option(label="30 seconds")
    moderator.get_by_role("button", name="Set slow mode").click()

    expect(
        ben_page.get_by_text("Slow mode: one message every 30 seconds")
    ).to_be_visible()
    box = ben_page.get_by_label("Message", exact=True)
    box.fill("One")
    with ben_page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        box.press("Enter")
    assert answer.value.status == 201
    expect(ben_page.locator(f"#topic-{topic.pk}-countdown")).to_have_text(
        re.compile(r"^You can send your next message in \d+ s\.$")
    )

    moderator.get_by_role("button", name="Lock topic").click()

    expect(ben_page.get_by_text("This topic is locked.")).to_be_visible()
    expect(box).to_be_disabled()
    expect(moderator.get_by_role("button", name="Unlock topic")).to_be_visible()
    # Reading stays.
    expect(article(ben_page, notice).locator(".msg-body")).to_have_text(
        "Tasting on Saturday at 3"
    )


def test_a_held_message_leaves_the_composer_empty_and_says_why(new_context, topic, ben):
    from moderation.models import HeldMessage, WordFilter

    topic.community.link_wait_hours = 0
    topic.community.save(update_fields=["link_wait_hours"])
    WordFilter.objects.create(
        community=topic.community, pattern="bargain", action=WordFilter.Action.HOLD
    )
    ben_page = tab(new_context, "ben", topic)

    box = ben_page.get_by_label("Message", exact=True)
    box.fill("A bargain on beans")
    with ben_page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        box.press("Enter")

    assert answer.value.headers["x-refused"] == "202"
    expect(ben_page.locator(f"#composer-{topic.pk}-error")).to_have_text(
        "Your message is held for a moderator to review."
    )
    # Kept on the server for review, so not put back to be sent again.
    expect(box).to_have_value("")
    assert HeldMessage.objects.filter(body="A bargain on beans").count() == 1
    assert not Message.objects.filter(body="A bargain on beans").exists()
