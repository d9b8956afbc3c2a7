"""The site as a phone app, in Chromium: the manifest is linked and says what an
install needs, the service worker registers with no console error (the
collector in conftest.py fails the test on any), the offline page shows when
the server cannot be reached, and the devices page offers "Notify me on this
device" and says why when the browser may not be notified."""

import base64
import re

import pytest
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import expect
from py_vapid import Vapid

from presence.models import PushSubscription
from tests.e2e.pages import log_in, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORKER_READY = """
navigator.serviceWorker.ready.then((registration) => ({
  scope: registration.scope,
  script: registration.active && registration.active.scriptURL,
}))
"""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(autouse=True)
def vapid_keys_for_the_server(monkeypatch):
    """The server (started after this, tests/servers.py) reads its VAPID keys
    from the environment it inherits."""
    signer = Vapid()
    signer.generate_keys()
    public = signer.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    private = signer.private_key.private_numbers().private_value.to_bytes(32, "big")
    monkeypatch.setenv("VAPID_PUBLIC_KEY", b64url(public))
    monkeypatch.setenv("VAPID_PRIVATE_KEY", b64url(private))
    monkeypatch.setenv("VAPID_SUBJECT", "mailto:ops@enishi.example")


def test_the_manifest_is_linked_and_says_what_an_install_needs(new_context, aiko):
    page = new_context().new_page()
    log_in(page, "aiko")

    href = page.locator('link[rel="manifest"]').get_attribute("href")
    response = page.request.get(href)
    assert response.ok
    assert response.headers["content-type"] == "application/manifest+json"
    manifest = response.json()  # valid JSON, or this raises
    assert manifest["name"] == "Enishi"
    assert manifest["display"] == "standalone"
    # The manifest's colour is the light scheme's bar colour (the dark
    # scheme has its own meta, which an installed app's manifest cannot say).
    assert manifest["theme_color"] == page.locator(
        'meta[name="theme-color"][media="(prefers-color-scheme: light)"]'
    ).get_attribute("content")
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        picture = page.request.get(icon["src"])
        assert picture.ok, icon
        assert picture.headers["content-type"] == "image/png"


def test_the_service_worker_registers_for_the_whole_site_without_errors(
    new_context, aiko, live_server_url
):
    page = new_context().new_page()
    log_in(page, "aiko")

    worker = page.evaluate(WORKER_READY)

    assert worker["scope"] == f"{live_server_url}/"
    assert worker["script"] == f"{live_server_url}/sw.js"
    # Before logging in too: the login page is where an installed app opens.
    visitor = new_context().new_page()
    visitor.goto("/accounts/login/")
    assert visitor.evaluate(WORKER_READY)["scope"] == f"{live_server_url}/"


def test_the_offline_page_shows_when_the_server_cannot_be_reached(new_context, aiko):
    context = new_context()
    page = context.new_page()
    log_in(page, "aiko")
    page.evaluate(WORKER_READY)
    # The worker controls pages loaded after it activated.
    page.reload()
    wait_until(page, "navigator.serviceWorker.controller !== null")
    # What the page asks when its socket opens (the notification badge) has
    # been answered: the network goes away between two pages, not in one.
    page.wait_for_load_state("networkidle")

    context.set_offline(True)
    page.goto("/friends/")

    expect(page.get_by_role("heading", level=1)).to_have_text("You are offline")
    expect(page.get_by_role("link", name="Try again")).to_be_visible()
    # The browser still shows the address it asked for: "Try again" reloads it.
    assert re.search(r"/friends/$", page.url)

    context.set_offline(False)
    page.get_by_role("link", name="Try again").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Friends")


def test_the_devices_page_offers_this_device_and_says_when_notifications_are_blocked(
    new_context, aiko
):
    PushSubscription.objects.create(
        member=aiko,
        endpoint="https://push.example.net/send/old-phone",
        p256dh="x",
        auth="y",
        label="Safari on iPhone",
    )
    page = new_context().new_page()
    log_in(page, "aiko")
    page.goto("/settings/devices/")

    button = page.get_by_role("button", name="Notify me on this device")
    expect(button).to_be_visible()
    expect(page.get_by_role("list", name="Devices that are notified")).to_contain_text(
        "Safari on iPhone"
    )
    # Headless Chromium never grants the permission: the page says so.
    button.click()
    expect(page.get_by_text("Notifications are blocked for Enishi")).to_be_visible()
    expect(button).to_be_enabled()

    page.get_by_role("button", name="Remove Safari on iPhone").click()
    expect(page.get_by_text("No device is notified yet.")).to_be_visible()
    assert not PushSubscription.objects.exists()
