"""A friend request in two browsers: aiko asks fumi from fumi's page; fumi's
open page counts it on the navigation's badge without a reload; fumi
declines; aiko still sees "Request pending" (a decline is silent)."""

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import expect_live_open, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_declined_request_still_shows_as_pending_to_its_sender(
    new_context, member_factory
):
    member_factory(nickname="aiko")
    member_factory(nickname="fumi")
    aiko = new_context().new_page()
    fumi = new_context().new_page()
    log_in(aiko, "aiko")
    log_in(fumi, "fumi")
    expect_live_open(fumi)
    badge = fumi.locator("#friend-request-badge")
    expect(badge).to_be_hidden()

    aiko.goto("/members/fumi/")
    expect(aiko.get_by_role("button", name="Block", exact=True)).to_be_visible()
    aiko.get_by_label("Message (optional)", exact=True).fill("We met at the café!")
    aiko.get_by_role("button", name="Add as friend", exact=True).click()
    expect(aiko.get_by_text("Request pending", exact=True)).to_be_visible()
    expect(
        aiko.get_by_role("button", name="Cancel request", exact=True)
    ).to_be_visible()
    expect(aiko.get_by_role("button", name="Add as friend")).to_have_count(0)

    # fumi's open page hears of it live.
    expect(badge).to_be_visible()
    expect(badge).to_have_text("1")

    fumi.goto("/friends/requests/")
    expect(fumi.get_by_text("We met at the café!")).to_be_visible()
    expect(fumi.get_by_role("button", name="Accept", exact=True)).to_be_visible()
    fumi.get_by_role("button", name="Decline", exact=True).click()
    expect(fumi.get_by_text("No friend requests waiting for you.")).to_be_visible()
    expect(fumi.locator("#friend-request-badge")).to_be_hidden()

    aiko.reload()
    expect(aiko.get_by_text("Request pending", exact=True)).to_be_visible()
    expect(aiko.get_by_role("button", name="Add as friend")).to_have_count(0)
    assert "declin" not in aiko.content().lower()
    aiko.goto("/friends/requests/")
    sent = aiko.get_by_role("region", name="Sent by you")
    expect(sent.get_by_text("fumi")).to_be_visible()
    expect(sent.get_by_text("Request pending", exact=True)).to_be_visible()
