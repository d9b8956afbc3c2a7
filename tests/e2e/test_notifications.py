"""Notifications in two browsers: aiko has two tabs open; ben likes her diary
entry; without a reload, the "Notifications" link in both of aiko's tabs is
named "Notifications, 1 unread" and shows 1. She opens the notifications
page in one tab, the line reads "ben liked “Sunny day”", and "Mark all as
read" brings both tabs back to "Notifications" with no badge."""

import pytest
from playwright.sync_api import expect

from accounts.actions import make_friends
from accounts.models import Member
from diary.models import Entry, Like
from presence.models import Notification
from tests.e2e.pages import (
    RECORD_SOCKETS,
    SOCKETS_OPEN,
    expect_live_open,
    log_in,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_badge_and_the_links_name_follow_the_unread_count_in_every_tab(
    new_context, member_factory
):
    member_factory(nickname="aiko")
    member_factory(nickname="ben")
    aiko_member, ben_member = Member.objects.order_by("pk")
    make_friends(aiko_member, ben_member)
    # ben's visit would also notify aiko of his footprint: this test is
    # about the like alone.
    Member.objects.filter(pk=ben_member.pk).update(leaves_footprints=False)
    entry = Entry.objects.create(author=aiko_member, title="Sunny day", body="b")

    aiko_context = new_context()
    first = aiko_context.new_page()
    log_in(first, "aiko")
    second = aiko_context.new_page()
    second.goto("/")
    for tab in (first, second):
        expect_live_open(tab)
        expect(
            tab.get_by_role("link", name="Notifications", exact=True)
        ).to_be_visible()
        expect(tab.locator("#notification-badge")).to_be_hidden()

    ben = new_context().new_page()
    log_in(ben, "ben")
    ben.goto(f"/diary/{entry.pk}/")
    ben.get_by_role("button", name="Like", exact=True).click()
    expect(ben.get_by_role("button", name="Liked", exact=True)).to_be_visible()

    for tab in (first, second):
        link = tab.get_by_role("link", name="Notifications, 1 unread", exact=True)
        expect(link).to_be_visible()
        expect(tab.locator("#notification-badge")).to_have_text("1")

    first.get_by_role("link", name="Notifications, 1 unread", exact=True).click()
    expect(first.get_by_role("heading", level=1)).to_have_text("Notifications")
    expect(
        first.get_by_role("button", name="Unread: ben liked “Sunny day”")
    ).to_be_visible()
    first.get_by_role("button", name="Mark all as read", exact=True).click()
    expect(
        first.get_by_role("button", name="ben liked “Sunny day”", exact=True)
    ).to_be_visible()
    for tab in (first, second):
        expect(
            tab.get_by_role("link", name="Notifications", exact=True)
        ).to_be_visible()
        expect(tab.locator("#notification-badge")).to_be_hidden()

    # The line opens what it is about.
    first.get_by_role("button", name="ben liked “Sunny day”", exact=True).click()
    expect(first.get_by_role("heading", level=1)).to_have_text("Sunny day")


def test_the_topic_pages_mute_toggle_says_its_state(new_context, member_factory):
    from tests.factories import CommunityFactory, TopicFactory

    aiko = member_factory(nickname="aiko")
    topic = TopicFactory(
        community=CommunityFactory(owner=aiko, name="Coffee"), title="Weekend"
    )
    page = new_context().new_page()
    log_in(page, "aiko")
    page.goto(f"/topics/{topic.pk}/")
    toggle = page.get_by_role("button", name="Mute notifications")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(page.get_by_role("button", name="Mute notifications")).to_have_attribute(
        "aria-pressed", "true"
    )
    page.reload()
    expect(page.get_by_role("button", name="Mute notifications")).to_have_attribute(
        "aria-pressed", "true"
    )


def test_a_badge_pushed_while_the_socket_was_down_is_fetched_when_it_reopens(
    new_context, member_factory
):
    aiko = member_factory(nickname="aiko")
    ben = member_factory(nickname="ben")
    make_friends(aiko, ben)
    entry = Entry.objects.create(author=aiko, title="Sunny day", body="b")
    context = new_context()
    context.add_init_script(RECORD_SOCKETS)
    page = context.new_page()
    log_in(page, "aiko")
    expect_live_open(page)
    expect(page.locator("#notification-badge")).to_be_hidden()

    # ben's like and its notification are written while aiko's socket is
    # down, and nothing is pushed: the page learns of it only by asking.
    page.evaluate("window.__sockets[0].close(1000, 'test')")
    Like.objects.create(entry=entry, member=ben)
    Notification.objects.create(
        recipient=aiko,
        kind="diary_like",
        actor=ben,
        target_id=entry.pk,
        group_key=f"diary_like:{entry.pk}",
    )
    wait_until(page, f"window.__sockets.length === 2 && {SOCKETS_OPEN} === 1")

    expect(page.locator("#notification-badge")).to_have_text("1")
    expect(
        page.get_by_role("link", name="Notifications, 1 unread", exact=True)
    ).to_be_visible()
