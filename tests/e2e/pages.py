"""What several browser tests do: log in through the form, wait for the socket,
watch the page's sockets."""

import re
import time

from playwright.sync_api import Error, Page, expect

from tests.conftest import PASSWORD

LIVE_OPEN_TIMEOUT_MS = 15_000

# An init script (context.add_init_script) that runs before the page's own
# scripts: keep every WebSocket the page makes, every frame they receive and the
# close code each one ended with, where the test can look.
RECORD_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__frames = [];
  window.__closeCodes = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
      this.addEventListener("message", (event) => window.__frames.push(event.data));
      this.addEventListener("close", (event) => window.__closeCodes.push(event.code));
    }
  };
})();
"""
SOCKETS_OPEN = "window.__sockets.filter(s => s.readyState === WebSocket.OPEN).length"


def log_in(page: Page, nickname: str, password: str = PASSWORD) -> None:
    """Log in with the login form, as a person would, and land on the home page."""
    page.goto("/accounts/login/")
    page.get_by_label("Nickname", exact=True).fill(nickname)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {nickname}")


def expect_live_open(page: Page) -> None:
    """The page's live socket is open (live.js sets this on htmx:wsOpen)."""
    expect(page.locator("#live")).to_have_attribute(
        "data-live-status", "open", timeout=LIVE_OPEN_TIMEOUT_MS
    )


def open_topic(page: Page, topic) -> None:
    """Go to a topic's page and wait until its live socket is open (only then
    can the page miss nothing: catch-up runs on every socket open)."""
    page.goto(topic.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text(topic.title)
    page.wait_for_selector(
        '#live[data-live-status="open"]',
        state="attached",
        timeout=LIVE_OPEN_TIMEOUT_MS,
    )


def wait_until(page: Page, expression: str, timeout: float = 15_000) -> None:
    """Wait until the JavaScript `expression` is true in the page.

    Playwright's page.wait_for_function polls with eval inside the page, which
    the site's Content-Security-Policy refuses (no 'unsafe-eval'): a condition
    not true at once then fails with an EvalError. page.evaluate goes through
    the DevTools protocol, which the policy does not govern."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            if page.evaluate(expression):
                return
        except Error as exc:  # the page navigated meanwhile: ask the new one
            if "context was destroyed" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"Not true after {timeout} ms: {expression}")
        page.wait_for_timeout(50)


# The two screens the room is tried on (issue 12): a phone held upright, with
# touch, and a desktop.
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "has_touch": True,
    "is_mobile": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}


def in_japanese(page: Page) -> None:
    """Switch the signed-in member's pages to Japanese, with the header's
    language button, as a person would."""
    page.get_by_role("button", name="日本語").click()
    page.wait_for_load_state()


def room_tab(new_context, nickname: str, topic, *, language="en", **options) -> Page:
    """A browser of its own (context `options`: a screen, a colour scheme)
    with `nickname` logged in, in `language`, on the topic's page, its
    socket open."""
    page = new_context(**options).new_page()
    log_in(page, nickname)
    if language == "ja":
        in_japanese(page)
    open_topic(page, topic)
    return page


def send_posts(page):
    """The POSTs to the send endpoint this page makes, from now on."""
    posts = []
    page.on(
        "request",
        lambda request: (
            posts.append(request)
            if request.method == "POST" and request.url.endswith("/send/")
            else None
        ),
    )
    return posts
