"""The live socket in a real browser: it opens, comes back, and ends with the login."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import (
    RECORD_SOCKETS,
    SOCKETS_OPEN,
    expect_live_open,
    log_in,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOGIN_URL = re.compile(r"^http://[^/]+/accounts/login/")
RECONNECT_TIMEOUT_MS = 15_000


def test_member_logs_in_with_the_login_form_and_gets_a_live_socket(
    new_context, member_factory
):
    member_factory(nickname="ben")
    page = new_context().new_page()

    log_in(page, "ben")

    expect(page.get_by_role("button", name="Log out", exact=True)).to_be_visible()
    expect_live_open(page)


def test_page_reconnects_after_a_normal_close(new_context, member_factory):
    member_factory(nickname="ben")
    context = new_context()
    context.add_init_script(RECORD_SOCKETS)
    page = context.new_page()
    log_in(page, "ben")
    expect_live_open(page)
    assert page.evaluate("window.__sockets.length") == 1

    # A clean close is what htmx's ws extension does NOT retry on its own.
    page.evaluate("window.__sockets[0].close(1000, 'test')")

    wait_until(
        page,
        f"window.__closeCodes.length === 1 && {SOCKETS_OPEN} === 1"
        " && window.__sockets.length === 2",
        timeout=RECONNECT_TIMEOUT_MS,
    )
    assert page.evaluate("window.__closeCodes") == [1000]
    expect_live_open(page)
    expect(page.locator("#live-status")).to_be_hidden()


@pytest.mark.parametrize(
    "daphne_args", [["--websocket_timeout", "1"]], ids=["websocket_timeout=1"]
)
def test_page_reconnects_when_daphne_closes_the_socket_on_timeout(
    new_context, member_factory
):
    """Daphne's --websocket_timeout ends every socket from the server side (after a
    day in production); here after a second, so the page must come back by itself."""
    member_factory(nickname="ben")
    context = new_context()
    context.add_init_script(RECORD_SOCKETS)
    page = context.new_page()
    log_in(page, "ben")

    wait_until(
        page,
        f"window.__closeCodes.length >= 1 && {SOCKETS_OPEN} === 1",
        timeout=RECONNECT_TIMEOUT_MS,
    )
    # A normal close from the server, which htmx's ws extension does not retry.
    assert page.evaluate("window.__closeCodes[0]") == 1000
    expect_live_open(page)


def test_logout_in_one_tab_sends_the_other_tab_to_the_login_page(
    new_context, member_factory
):
    member_factory(nickname="ben")
    context = new_context()
    first = context.new_page()
    log_in(first, "ben")
    second = context.new_page()
    second.goto("/")
    expect_live_open(first)
    expect_live_open(second)

    first.get_by_role("button", name="Log out", exact=True).click()

    # The server closes the second tab's socket with 4401; live.js reloads it.
    expect(second).to_have_url(LOGIN_URL, timeout=RECONNECT_TIMEOUT_MS)
    expect(second.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    expect(first).to_have_url(LOGIN_URL)


def test_home_page_fits_a_360_px_phone_screen(new_context, member_factory):
    member_factory(nickname="ben")
    page = new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    ).new_page()
    log_in(page, "ben")
    expect_live_open(page)

    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # The tab bar: four tabs and More, each on the screen; the other links
    # (Friends among them) behind More.
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Home", "Communities", "Notifications", "My page"):
        link = nav.get_by_role("link", name=name)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360, (name, box)
    friends = nav.get_by_role("link", name="Friends")
    expect(friends).to_be_hidden()
    nav.get_by_role("button", name="More").click()
    expect(friends).to_be_visible()
    box = friends.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360, box
    page.keyboard.press("Escape")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path="/tmp/enishi-home-360.png", full_page=True)
