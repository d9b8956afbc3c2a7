"""An event's page in real browsers through a real Daphne: aiko and ben open
it; ben presses "Going" and aiko's page shows the new count and ben in the
list without reloading; the event is then full, and chika's "Going" shows her
place on the waitlist; when ben withdraws, chika's open page shows her
promoted. A fragment that arrives late or twice changes nothing; on a 360 px
phone nothing is wider than the screen.

The community and the event are set up with the ORM; what the test proves
goes through the pages.
"""

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import RECORD_SOCKETS, expect_live_open, log_in
from tests.events.conftest import make_event
from tests.factories import coffee_club

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@pytest.fixture
def event(aiko, ben, chika):
    """aiko's "Saturday tasting walk" with one seat, no one going yet."""
    club = coffee_club(aiko, ben, chika)
    return make_event(
        club, title="Saturday tasting walk", capacity=1, place="Bear Pond"
    )


def event_page(new_context, nickname, event, **options):
    context = new_context(**options)
    context.add_init_script(RECORD_SOCKETS)
    page = context.new_page()
    log_in(page, nickname)
    page.goto(event.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text(event.title)
    expect_live_open(page)
    # Gone if the page reloads.
    page.evaluate("window.__notReloaded = true")
    return page


def panel(page):
    return page.get_by_role("region", name="Who's coming")


def listed(page, event, list_name):
    return page.locator(f"#event-{event.pk}-{list_name}")


def test_answers_come_live_and_the_waitlist_promotes(
    aiko, ben, chika, event, new_context
):
    aiko_page = event_page(new_context, "aiko", event)
    ben_page = event_page(new_context, "ben", event)

    ben_page.get_by_role("button", name="Going", exact=True).click()
    expect(panel(ben_page).get_by_text("You are going", exact=True)).to_be_visible()
    expect(ben_page.get_by_role("button", name="Going", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )

    # aiko's open page, without a reload.
    counts = aiko_page.locator(f"#event-{event.pk}-counts")
    expect(counts).to_have_text(
        "1 going · 0 maybe · 1 of 1 seats taken · 0 waiting", timeout=WAIT_MS
    )
    expect(
        listed(aiko_page, event, "going").get_by_role("link", name="ben")
    ).to_be_visible()

    # The event is full: chika waits, and her page says where.
    chika_page = event_page(new_context, "chika", event)
    chika_page.get_by_role("button", name="Going", exact=True).click()
    expect(
        panel(chika_page).get_by_text("You are number 1 on the waitlist", exact=True)
    ).to_be_visible()
    expect(
        listed(aiko_page, event, "waitlist").get_by_role("link", name="chika")
    ).to_be_visible(timeout=WAIT_MS)
    expect(counts).to_have_text("1 going · 0 maybe · 1 of 1 seats taken · 1 waiting")

    # ben withdraws: chika's open page shows her promoted.
    ben_page.get_by_role("button", name="Withdraw", exact=True).click()
    expect(panel(ben_page).get_by_text("You have not answered yet.")).to_be_visible()
    expect(panel(chika_page).get_by_text("You are going", exact=True)).to_be_visible(
        timeout=WAIT_MS
    )
    expect(
        chika_page.get_by_role("button", name="Going", exact=True)
    ).to_have_attribute("aria-pressed", "true")
    expect(
        listed(chika_page, event, "going").get_by_role("link", name="chika")
    ).to_be_visible()
    expect(
        listed(aiko_page, event, "going").get_by_role("link", name="chika")
    ).to_be_visible(timeout=WAIT_MS)
    expect(
        listed(aiko_page, event, "going").get_by_role("link", name="ben")
    ).to_have_count(0)
    expect(listed(aiko_page, event, "waitlist").locator("li")).to_have_count(0)
    expect(counts).to_have_text("1 going · 0 maybe · 1 of 1 seats taken · 0 waiting")

    for page in (aiko_page, ben_page, chika_page):
        assert page.evaluate("window.__notReloaded === true")


# What the socket would deliver: the frame handed to the page's open socket
# as if it had come from the server (htmx's ws extension reads it from there).
DELIVER = """html => {
  const socket = window.__sockets.find(s => s.readyState === WebSocket.OPEN);
  socket.dispatchEvent(new MessageEvent("message", { data: html }));
}"""


def test_a_late_or_repeated_fragment_changes_nothing(aiko, ben, event, new_context):
    aiko_page = event_page(new_context, "aiko", event)
    ben_page = event_page(new_context, "ben", event)
    ben_page.get_by_role("button", name="Going", exact=True).click()
    going = listed(aiko_page, event, "going")
    expect(going.get_by_role("link", name="ben")).to_be_visible(timeout=WAIT_MS)
    counts = aiko_page.locator(f"#event-{event.pk}-counts")
    expect(counts).to_have_text("1 going · 0 maybe · 1 of 1 seats taken · 0 waiting")
    version = int(counts.get_attribute("data-version"))
    wrapper = f'<div hx-swap-oob="beforeend:#event-{event.pk}">{{}}</div>'

    # Older than what the page shows: ben withdrawn, no one going.
    aiko_page.evaluate(
        DELIVER,
        wrapper.format(
            f'<li id="event-{event.pk}-rsvp-{ben.pk}" data-version="{version - 1}"'
            ' data-list="none" hidden></li>'
        ),
    )
    aiko_page.evaluate(
        DELIVER,
        wrapper.format(
            f'<p id="event-{event.pk}-counts" class="rsvp-counts"'
            f' data-version="{version - 1}">0 going · 0 maybe</p>'
        ),
    )
    # The same version again (a repeat): not shown a second time.
    aiko_page.evaluate(
        DELIVER,
        wrapper.format(
            f'<p id="event-{event.pk}-counts" class="rsvp-counts"'
            f' data-version="{version}">repeated</p>'
        ),
    )
    expect(going.get_by_role("link", name="ben")).to_be_visible()
    expect(counts).to_have_text("1 going · 0 maybe · 1 of 1 seats taken · 0 waiting")

    # A newer one is shown: the fragments above were read and set aside.
    aiko_page.evaluate(
        DELIVER,
        wrapper.format(
            f'<p id="event-{event.pk}-counts" class="rsvp-counts"'
            f' data-version="{version + 1}">newer</p>'
        ),
    )
    expect(counts).to_have_text("newer")


def test_the_event_page_fits_a_360_px_phone(aiko, ben, chika, event, new_context):
    from events import actions
    from events.models import RSVP

    actions.answer(ben, event, RSVP.Status.GOING)
    event.refresh_from_db()
    page = event_page(new_context, "chika", event, **PHONE)
    page.get_by_role("button", name="Going", exact=True).click()
    expect(
        panel(page).get_by_text("You are number 1 on the waitlist", exact=True)
    ).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for name in ("Going", "Maybe", "Not going", "Withdraw"):
        box = page.get_by_role("button", name=name, exact=True).bounding_box()
        assert box["height"] >= 24 and box["width"] >= 24, (name, box)
        assert box["x"] + box["width"] <= 360, (name, box)
    page.goto(f"/events/{event.pk}/attendees/")
    expect(page.get_by_role("heading", level=1)).to_have_text("All attendees")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
