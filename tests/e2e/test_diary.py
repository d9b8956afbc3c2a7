"""Diaries in real browsers through a real Daphne: aiko writes a friends-only
entry with the form; ben, her friend, finds it on his home page; fumi, who
knows nobody, gets "not found" at its address; chika, another friend,
comments, and aiko's open entry page shows the comment without a reload.

Friendships are set up with the ORM; what the test proves goes through the
pages.
"""

import re

import pytest
from playwright.sync_api import expect

from accounts.actions import make_friends
from diary.models import Entry
from tests.conftest import MemberFactory
from tests.e2e.pages import expect_live_open, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000


@pytest.fixture
def people(aiko, ben, chika):
    make_friends(aiko, ben)
    make_friends(aiko, chika)
    return {
        "aiko": aiko,
        "ben": ben,
        "chika": chika,
        "fumi": MemberFactory(nickname="fumi"),
    }


def browser_of(new_context, nickname):
    page = new_context().new_page()
    log_in(page, nickname)
    return page


def test_a_friends_only_entry_reaches_friends_and_comments_come_live(
    people, new_context, page_problems
):
    aiko = browser_of(new_context, "aiko")
    aiko.get_by_role("link", name="Write diary", exact=True).first.click()
    aiko.get_by_label("Title", exact=True).fill("Cherry blossoms")
    aiko.get_by_label("Body", exact=True).fill(
        "The trees by the river are out.\nPhotos: https://example.com/hanami"
    )
    aiko.get_by_label("Who can see this", exact=True).select_option(label="Friends")
    aiko.get_by_role("button", name="Post", exact=True).click()
    expect(aiko.get_by_role("heading", level=1)).to_have_text("Cherry blossoms")
    entry = Entry.objects.get(title="Cherry blossoms")
    assert entry.audience == "friends"
    expect(aiko).to_have_url(re.compile(rf"/diary/{entry.pk}/$"))
    expect(aiko.get_by_role("link", name="https://example.com/hanami")).to_be_visible()
    expect_live_open(aiko)
    # Gone if the page reloads.
    aiko.evaluate("window.__notReloaded = true")

    # ben, a friend, sees it on his home page.
    ben = browser_of(new_context, "ben")
    expect(ben.get_by_role("link", name="Cherry blossoms")).to_be_visible()

    # fumi knows nobody: its address is "not found", as for no entry at all.
    fumi = browser_of(new_context, "fumi")
    response = fumi.goto(entry.get_absolute_url())
    assert response.status == 404
    expect(fumi.get_by_text("Not Found")).to_be_visible()
    expect(fumi.get_by_text("Cherry blossoms")).to_have_count(0)
    # The browser logs the 404 it was sent to on purpose.
    page_problems[:] = [p for p in page_problems if "404" not in p]

    # chika comments; aiko's open page shows it without a reload.
    chika = browser_of(new_context, "chika")
    chika.goto(entry.get_absolute_url())
    expect_live_open(chika)
    chika.get_by_role("textbox", name="Comment", exact=True).fill("So pretty!")
    chika.get_by_role("button", name="Comment", exact=True).click()
    comments = chika.get_by_role("log")
    expect(comments.get_by_text("So pretty!")).to_have_count(1, timeout=WAIT_MS)

    expect(aiko.get_by_role("log").get_by_text("So pretty!")).to_be_visible(
        timeout=WAIT_MS
    )
    expect(aiko.get_by_role("log").get_by_text("So pretty!")).to_have_count(1)
    assert aiko.evaluate("window.__notReloaded === true")


def test_a_friends_new_entry_shows_a_notice_on_the_home_page(people, new_context):
    ben = browser_of(new_context, "ben")
    expect_live_open(ben)
    notice = ben.get_by_role("link", name="New entries", exact=True)
    expect(notice).to_be_hidden()

    aiko = browser_of(new_context, "aiko")
    aiko.get_by_role("link", name="Write diary", exact=True).first.click()
    aiko.get_by_label("Title", exact=True).fill("Rainy Sunday")
    aiko.get_by_label("Body", exact=True).fill("Stayed in and read.")
    aiko.get_by_role("button", name="Post", exact=True).click()
    expect(aiko.get_by_role("heading", level=1)).to_have_text("Rainy Sunday")

    # The feed stays still; a notice offers the new entries.
    expect(notice).to_be_visible(timeout=WAIT_MS)
    expect(ben.get_by_role("link", name="Rainy Sunday")).to_have_count(0)
    notice.click()
    expect(ben.get_by_role("link", name="Rainy Sunday")).to_be_visible()

    # ben likes it; aiko, now on her home page, is told.
    aiko.goto("/")
    expect_live_open(aiko)
    ben.get_by_role("link", name="Rainy Sunday").click()
    like = ben.get_by_role("button", name="Like", exact=True)
    like.click()
    expect(ben.get_by_role("button", name="Liked", exact=True)).to_be_visible()
    expect(
        aiko.get_by_role("link", name="New comments or likes on your diary")
    ).to_be_visible(timeout=WAIT_MS)
