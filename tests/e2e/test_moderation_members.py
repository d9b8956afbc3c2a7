"""A mute in real browsers, from the mute page (the topic's menu leads there:
tests/e2e/test_moderation.py): ben's open composer says why and until when
without a reload and its Send button is disabled; lifting the mute clears
both, again without a reload.

The data is set up with the ORM (rows and actions that broadcast nothing);
what the test proves goes through the pages.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e import test_moderation as room
from tests.e2e.pages import log_in, open_topic

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The room's topic: aiko's club, daichi its moderator, ben a member.
topic = room.topic


def test_a_mute_reaches_the_members_open_composer_and_lifting_it_clears_it(
    new_context, topic, daichi, ben
):
    ben_page = new_context().new_page()
    log_in(ben_page, "ben")
    open_topic(ben_page, topic)
    notice = ben_page.locator("#composer-mute")
    send = ben_page.get_by_role("button", name="Send", exact=True)
    expect(notice).to_be_hidden()
    expect(send).to_be_enabled()

    moderator = new_context().new_page()
    log_in(moderator, "daichi")
    moderator.goto(
        f"/communities/{topic.community_id}/members/{ben.pk}/mute/"
        f"?next={topic.get_absolute_url()}"
    )
    moderator.get_by_label("Duration").select_option(label="1 hour")
    moderator.get_by_label("Reason").fill("Please cool down")
    moderator.get_by_role("button", name="Mute", exact=True).click()
    expect(moderator).to_have_url(re.compile(re.escape(topic.get_absolute_url())))

    expect(notice).to_be_visible()
    expect(notice).to_have_text(
        re.compile(r"^You are muted in this community until .+: Please cool down$")
    )
    expect(send).to_be_disabled()
    # From a page that missed it, the server refuses all the same.
    ben_page.get_by_label("Message", exact=True).fill("still here")
    ben_page.get_by_label("Message", exact=True).press("Enter")
    expect(ben_page.get_by_role("alert")).to_have_text(
        "You are muted in this community for now."
    )

    moderator.goto(f"/communities/{topic.community_id}/members/{ben.pk}/mute/")
    moderator.get_by_role("button", name="Lift the mute").click()

    expect(notice).to_be_hidden()
    expect(send).to_be_enabled()
