import re

import pytest
from playwright.sync_api import expect

from accounts.actions import create_invitation
from accounts.models import Friendship, Member
from tests.e2e.pages import expect_live_open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "plum-blossom-lantern-42"


def test_invited_person_joins_and_lands_home_with_an_open_live_socket(
    new_context, member_factory
):
    inviter = member_factory(nickname="aiko")
    _invitation, token = create_invitation(inviter=inviter)
    page = new_context().new_page()

    page.goto(f"/join/{token}/")
    expect(page.get_by_text("aiko invited you.")).to_be_visible()
    page.get_by_label("Nickname", exact=True).fill("hana")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password (again)", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Join", exact=True).click()

    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, hana")
    # The invitation made them friends, and the home page says so.
    expect(page.locator(".people").get_by_text("aiko", exact=True)).to_be_visible()
    expect_live_open(page)

    hana = Member.objects.get(nickname="hana")
    assert hana.invited_by == inviter
    assert Friendship.objects.filter(member=hana, friend=inviter).exists()
