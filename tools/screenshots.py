"""The README's screenshots of the room (docs/screenshots/), taken from a
running `make run` (the demo data) with Debian's Chromium:

    make screenshots            # BASE_URL=http://127.0.0.1:8000 by default

On a 360 x 740 phone and a 1280 x 800 desktop, in English and Japanese, in
the light scheme, and one of each in the dark. Logged in as aiko, the
demo's owner of Shimokita Coffee Club."""

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.services import CHROMIUM_ARGS, chromium_path  # noqa: E402

BASE = os.environ.get("BASE_URL", "http://127.0.0.1:8000").rstrip("/")
OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PASSWORD = "enishi-demo"
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "has_touch": True,
    "is_mobile": True,
    "device_scale_factor": 2,
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
SHOTS = [
    ("room-phone-ja", PHONE, "ja", "light"),
    ("room-phone-en", PHONE, "en", "light"),
    ("room-desktop-en", DESKTOP, "en", "light"),
    ("room-desktop-ja", DESKTOP, "ja", "light"),
    ("room-phone-ja-dark", PHONE, "ja", "dark"),
    ("room-desktop-en-dark", DESKTOP, "en", "dark"),
]


def take(browser, name, device, language, scheme):
    context = browser.new_context(**device, color_scheme=scheme)
    page = context.new_page()
    page.goto(BASE + "/accounts/login/")
    page.get_by_label("Nickname", exact=True).fill("aiko")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(BASE + "/")
    language_name = "日本語" if language == "ja" else "English"
    page.get_by_role("button", name=language_name).click()
    page.wait_for_load_state()
    page.goto(BASE + "/communities/")
    page.locator("a", has_text="Shimokita Coffee Club").first.click()
    page.locator("a", has_text="Live chat").first.click()
    page.wait_for_selector('#live[data-live-status="open"]', state="attached")
    # Today's first messages, under the day's separator: the demo's talk
    # began yesterday, and two of daichi's messages share one header.
    page.evaluate(
        """(() => {
          const scroller = document.querySelector('.chat-scroller');
          const days = document.querySelectorAll('.day-separator');
          const today = days[days.length - 1];
          scroller.scrollTop = today.offsetTop - scroller.offsetTop - 80;
        })()"""
    )
    page.wait_for_timeout(600)
    page.screenshot(path=OUT / f"{name}.png")
    context.close()
    print(f"docs/screenshots/{name}.png")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        try:
            for shot in SHOTS:
                take(browser, *shot)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
