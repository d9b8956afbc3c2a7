"""The events' pages in a real browser through a real Daphne, found as a
person (or a screen reader) finds them: aiko creates an event from her
community's page with the form's labelled fields, finds it as a link named by
its title on the community page, in the Events list and in the month's table
(its caption the month), and as a list of days on a 360 px phone, where
nothing is wider than the screen.
"""

from datetime import UTC, datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from events.models import Event
from tests.e2e.pages import log_in
from tests.factories import coffee_club

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

YEAR = timezone.now().year + 1
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def test_an_organiser_creates_an_event_and_finds_it_everywhere(new_context, aiko, ben):
    club = coffee_club(aiko, ben)
    page = new_context().new_page()
    log_in(page, "aiko")

    page.goto(club.get_absolute_url())
    page.get_by_role("link", name="New event", exact=True).click()
    page.get_by_label("Title", exact=True).fill("Saturday tasting walk")
    page.get_by_label("Starts", exact=True).fill(f"{YEAR}-07-04T14:00")
    page.get_by_label("Ends", exact=True).fill(f"{YEAR}-07-04T17:00")
    page.get_by_label("Place", exact=True).fill("Bear Pond")
    page.get_by_label("Capacity", exact=True).fill("3")
    page.get_by_label("RSVP deadline", exact=True).fill(f"{YEAR}-07-03T20:00")
    page.get_by_label("Guests each member may bring", exact=True).select_option("+1")
    page.get_by_role("button", name="Create event", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Saturday tasting walk")
    event = Event.objects.get()
    assert event.starts_at == datetime(YEAR, 7, 4, 5, 0, tzinfo=UTC)
    assert (event.capacity, event.guests_allowed) == (3, 1)

    page.goto(club.get_absolute_url())
    expect(
        page.get_by_role("link", name="Saturday tasting walk", exact=True)
    ).to_have_attribute("href", event.get_absolute_url())

    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Events", exact=True
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Events")
    expect(
        page.get_by_role("link", name="Saturday tasting walk", exact=True)
    ).to_be_visible()

    page.goto(f"/events/?month={YEAR}-07")
    month = page.get_by_role("table", name=f"July {YEAR}")
    expect(month).to_be_visible()
    expect(month.get_by_role("columnheader")).to_have_count(7)
    cell = month.get_by_role("cell").filter(
        has=page.get_by_role("link", name="Saturday tasting walk", exact=True)
    )
    expect(cell).to_contain_text("14:00")
    page.get_by_role("link", name="Next month", exact=True).click()
    expect(page.get_by_role("table", name=f"August {YEAR}")).to_be_visible()


def test_on_a_phone_the_month_is_a_list_of_its_days_with_events(new_context, aiko, ben):
    from tests.events.conftest import make_event

    club = coffee_club(aiko, ben)
    make_event(
        club,
        title="Saturday tasting walk",
        starts_at=datetime(YEAR, 7, 4, 5, 0, tzinfo=UTC),
    )
    page = new_context(**PHONE).new_page()
    log_in(page, "aiko")

    page.goto(f"/events/?month={YEAR}-07")

    link = page.get_by_role("link", name="Saturday tasting walk", exact=True)
    expect(link).to_be_visible()
    shown_days = page.locator(".month-grid td:visible")
    expect(shown_days).to_have_count(1)
    weekday = datetime(YEAR, 7, 4).strftime("%a")
    expect(shown_days).to_contain_text(f"{weekday} 4")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.goto("/events/")
    expect(link).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
