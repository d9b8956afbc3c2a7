"""Reports in real browsers: daichi (a moderator) has the Reports queue open;
chika reports ben's message through the report form; without a reload
daichi's nav link is named "Reports, 1 open" and the queue lists the
message; daichi dismisses it and the link is "Reports" again; chika's
notifications page tells her the outcome without daichi's name.

The data is set up with the ORM; what the test proves goes through the pages.
"""

import pytest
from playwright.sync_api import expect

from communities import actions
from communities.models import Membership
from tests.e2e.pages import expect_live_open, log_in
from tests.factories import MessageFactory, TopicFactory, coffee_club

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_report_reaches_the_open_queue_live_and_its_outcome_the_reporter(
    new_context, aiko, daichi, ben, chika
):
    community = coffee_club(aiko, daichi, ben, chika)
    actions.set_role(
        community=community, member_id=daichi.pk, role=Membership.Role.MODERATOR
    )
    topic = TopicFactory(community=community, title="Beans of the week")
    message = MessageFactory(topic=topic, author=ben, body="Cheap beans at my shop")

    queue = new_context().new_page()
    log_in(queue, "daichi")
    queue.goto("/reports/")
    expect(queue.get_by_role("heading", level=1)).to_have_text("Reports")
    expect_live_open(queue)
    expect(queue.get_by_role("link", name="Reports", exact=True)).to_be_visible()
    expect(queue.get_by_text("No open reports.")).to_be_visible()

    reporter = new_context().new_page()
    log_in(reporter, "chika")
    reporter.goto(f"/report/?kind=message&id={message.pk}")
    reporter.get_by_label("Spam or advertising").check()
    reporter.get_by_label("Details").fill("An advert")
    reporter.get_by_role("button", name="Send report").click()
    expect(
        reporter.get_by_text("Thank you. The moderators will look at it.")
    ).to_be_visible()

    expect(
        queue.get_by_role("link", name="Reports, 1 open", exact=True)
    ).to_be_visible()
    expect(queue.get_by_text("Cheap beans at my shop")).to_be_visible()
    expect(queue.get_by_text("Reported by chika")).to_be_visible()
    queue.get_by_role("button", name="Dismiss", exact=True).click()
    expect(queue.get_by_text("No open reports.")).to_be_visible()
    expect(queue.get_by_role("link", name="Reports", exact=True)).to_be_visible()

    reporter.goto("/notifications/")
    line = reporter.get_by_text(
        "Your report (Message in Shimokita Coffee Club): No rule was broken"
    )
    expect(line).to_be_visible()
    expect(reporter.locator("main")).not_to_contain_text("daichi")
