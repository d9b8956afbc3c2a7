"""Footprints in two browsers: aiko has her home page open; ben opens aiko's
page; without a reload aiko's page says "ben left a footprint" and the
badge on her "Footprints" link rises; the Footprints page lists ben. ben
deletes his footprint; aiko's badge falls back."""

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import expect_live_open, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_aiko_sees_bens_footprint_live_and_on_her_footprints_page(
    new_context, member_factory
):
    member_factory(nickname="aiko")
    member_factory(nickname="ben")
    aiko = new_context().new_page()
    ben = new_context().new_page()
    log_in(aiko, "aiko")
    log_in(ben, "ben")
    expect_live_open(aiko)
    link = aiko.get_by_role("link", name="Footprints", exact=True)
    expect(link).to_be_visible()
    badge = aiko.locator("#footprint-badge")
    expect(badge).to_be_hidden()
    notice = aiko.get_by_role("status").filter(has_text="left a footprint")
    expect(notice).to_have_count(0)

    ben.goto("/members/aiko/")
    expect(ben.get_by_role("heading", level=1)).to_have_text("aiko")

    # aiko's open page, no reload: the notice in her language, the badge at 1.
    said = aiko.locator("#live-notice").get_by_role(
        "link", name="ben left a footprint", exact=True
    )
    expect(said).to_be_visible()
    expect(aiko.locator("#live-notice")).to_have_attribute("role", "status")
    expect(badge).to_be_visible()
    expect(badge).to_have_text("1")
    expect(link).to_have_accessible_description("1 visitor today")
    assert aiko.url.endswith("/")

    link.click()
    expect(aiko.get_by_role("heading", level=1)).to_have_text("Footprints")
    expect(aiko.locator("#main").get_by_role("link", name="ben")).to_be_visible()
    expect(aiko.get_by_text("1 visit", exact=True)).to_be_visible()
    expect_live_open(aiko)

    ben.get_by_role("button", name="Delete my footprint", exact=True).click()
    expect(
        ben.get_by_text("Your footprint on aiko's page was deleted.")
    ).to_be_visible()
    expect(aiko.locator("#footprint-badge")).to_be_hidden()


def test_turning_off_leave_footprints_in_the_settings(new_context, member_factory):
    member_factory(nickname="aiko")
    aiko = new_context().new_page()
    log_in(aiko, "aiko")

    aiko.goto("/settings/profile/")
    checkbox = aiko.get_by_label("Leave footprints", exact=True)
    expect(checkbox).to_be_checked()
    checkbox.uncheck()
    aiko.get_by_role("button", name="Save", exact=True).click()
    expect(aiko.get_by_text("Your profile was saved.")).to_be_visible()

    aiko.get_by_role("link", name="Footprints", exact=True).click()
    expect(
        aiko.get_by_text("You have turned off footprints", exact=False)
    ).to_be_visible()
    aiko.goto("/settings/profile/")
    expect(aiko.get_by_label("Leave footprints", exact=True)).not_to_be_checked()
