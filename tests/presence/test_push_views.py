"""The phone surface: the manifest, the service worker, the offline page, and
the devices page where a member turns Web Push on for a browser, with who may
see and change what."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts import actions
from presence.models import PushSubscription
from tests.conftest import client_for

DEVICES = "/settings/devices/"
SUBSCRIBE = "/settings/devices/subscribe/"
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def browser_keys() -> dict:
    """What a browser's subscription.toJSON() holds as keys."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {"p256dh": b64url(point), "auth": b64url(b"0123456789abcdef")}


def subscription_json(endpoint="https://push.example.net/send/abc") -> dict:
    return {"endpoint": endpoint, "expirationTime": None, "keys": browser_keys()}


def remove_path(subscription) -> str:
    return reverse("push:device-remove", args=[subscription.pk])


@pytest.fixture
def vapid(settings):
    settings.VAPID_PUBLIC_KEY = "BPublicKeyForTheBrowser"
    settings.VAPID_PRIVATE_KEY = "private"
    settings.VAPID_SUBJECT = "mailto:admin@example.com"
    return settings


def a_device(member, endpoint=None, label="Firefox on Linux") -> PushSubscription:
    keys = browser_keys()
    return PushSubscription.objects.create(
        member=member,
        endpoint=endpoint or f"https://push.example.net/{member.pk}/{label}",
        p256dh=keys["p256dh"],
        auth=keys["auth"],
        label=label,
    )


def post_json(client: Client, data, **extra):
    return client.post(
        SUBSCRIBE,
        json.dumps(data) if not isinstance(data, str) else data,
        content_type="application/json",
        **extra,
    )


# --- Manifest, service worker, offline page ----------------------------------


def test_the_manifest_names_the_app_its_icons_colour_and_standalone_display(client):
    response = client.get("/manifest.webmanifest")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] == "Enishi"
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/"
    assert manifest["theme_color"] == "#c2410c"
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert sizes == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
    for icon in manifest["icons"]:
        assert finders.find(icon["src"].removeprefix("/static/")), icon


def test_the_icons_are_pngs_of_the_sizes_the_manifest_says(settings):
    from PIL import Image

    for name, side in (
        ("icon-192.png", 192),
        ("icon-512.png", 512),
        ("icon-maskable-512.png", 512),
    ):
        with Image.open(settings.BASE_DIR / "static" / "icons" / name) as image:
            assert image.format == "PNG"
            assert image.size == (side, side)


def test_the_service_worker_is_served_from_the_root_as_javascript(client):
    response = client.get("/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    first, rest = body.split("\n", 1)
    config = json.loads(first.removeprefix("self.ENISHI = ").removesuffix(";"))
    assert config["offlineUrl"] == "/offline/"
    assert "/offline/" in config["precache"]
    assert "/static/css/enishi.css" in config["precache"]
    assert 'addEventListener("push"' in rest
    # Anonymous visitors get it too (an installed app opens on the login page).
    assert Client().get("/sw.js").status_code == 200


def test_the_offline_page_needs_no_login_and_holds_nothing_of_the_member(
    member_client, member
):
    anonymous = Client().get("/offline/")
    logged_in = member_client.get("/offline/")

    assert anonymous.status_code == logged_in.status_code == 200
    assert "You are offline" in anonymous.text
    # The service worker caches it: no nickname, no CSRF token, no nav.
    assert member.nickname not in logged_in.text
    assert "csrfmiddlewaretoken" not in logged_in.text
    assert anonymous.text == logged_in.text


def test_every_page_links_the_manifest_and_registers_the_worker_from_a_file(
    member_client,
):
    text = member_client.get("/").text

    assert '<link rel="manifest" href="/manifest.webmanifest">' in text
    # The bar's colour in each scheme; the light one is the manifest's.
    assert (
        '<meta name="theme-color" content="#c2410c"'
        ' media="(prefers-color-scheme: light)">' in text
    )
    assert (
        '<meta name="theme-color" content="#1b1f24"'
        ' media="(prefers-color-scheme: dark)">' in text
    )
    assert '<script src="/static/js/sw-register.js" defer></script>' in text


@pytest.mark.parametrize("path", ["/manifest.webmanifest", "/sw.js", "/offline/"])
def test_the_phone_files_answer_only_get(client, path):
    assert client.post(path).status_code == 405


# --- The devices page ------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_for_every_devices_url(client, member):
    device = a_device(member)
    for method, path in (
        ("get", DEVICES),
        ("post", SUBSCRIBE),
        ("post", remove_path(device)),
    ):
        response = getattr(client, method)(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/login/")
    assert PushSubscription.objects.filter(pk=device.pk).exists()


def test_the_devices_page_has_the_button_and_lists_only_ones_own_devices(
    vapid, aiko, ben, chika, member_factory
):
    fumi = member_factory(nickname="fumi")
    actions.make_friends(aiko, ben)
    actions.make_friends(ben, chika)
    actions.block_member(member=fumi, other=aiko)
    a_device(aiko, label="Aiko phone")
    for other in (ben, chika, fumi):
        a_device(other, label=f"{other.nickname} phone")

    text = client_for(aiko).get(DEVICES).text

    assert "Notify me on this device" in text
    assert 'data-vapid-public-key="BPublicKeyForTheBrowser"' in text
    assert "Aiko phone" in text
    # A friend's, a friend of a friend's and a blocker's devices never show.
    for other in (ben, chika, fumi):
        assert f"{other.nickname} phone" not in text
        other_text = client_for(other).get(DEVICES).text
        assert "Aiko phone" not in other_text
        assert f"{other.nickname} phone" in other_text


def test_the_devices_page_says_so_when_the_site_has_no_vapid_keys(
    settings, member_client
):
    settings.VAPID_PUBLIC_KEY = ""

    text = member_client.get(DEVICES).text

    assert "not set up on this site" in text
    assert "Notify me on this device" not in text


def test_the_devices_page_has_an_empty_state(vapid, member_client):
    assert "No device is notified yet." in member_client.get(DEVICES).text


def test_the_devices_page_says_when_the_browser_cannot_or_may_not_be_notified(
    vapid, member_client
):
    text = member_client.get(DEVICES).text

    # Shown by static/js/push.js, which reads PushManager and the permission.
    assert 'id="push-unsupported"' in text
    assert 'id="push-denied"' in text


def test_the_devices_page_stays_at_the_same_query_count_as_devices_grow(
    vapid, member, member_client, django_assert_max_num_queries
):
    a_device(member, label="first")
    with django_assert_max_num_queries(20) as one:
        member_client.get(DEVICES)
    for n in range(10):
        a_device(member, label=f"device {n}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        member_client.get(DEVICES)


# --- Subscribing --------------------------------------------------------------


def test_a_member_subscribes_this_browser(vapid, member, member_client):
    data = subscription_json()

    response = post_json(member_client, data, HTTP_USER_AGENT=ANDROID_CHROME)

    assert response.status_code == 201
    device = PushSubscription.objects.get()
    assert device.member == member
    assert device.endpoint == data["endpoint"]
    assert device.p256dh == data["keys"]["p256dh"]
    assert device.auth == data["keys"]["auth"]
    assert device.label == "Chrome on Android"
    page = member_client.get(DEVICES).text
    assert "Chrome on Android" in page
    assert "This device will be notified." in page


def test_subscribing_needs_the_csrf_token(vapid, member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)

    response = post_json(client, subscription_json())

    assert response.status_code == 403
    assert not PushSubscription.objects.exists()


def test_subscribing_answers_only_post(vapid, member_client):
    assert member_client.get(SUBSCRIBE).status_code == 405


def test_subscribing_twice_from_one_browser_keeps_one_row(vapid, member_client):
    data = subscription_json()
    post_json(member_client, data)
    post_json(member_client, data)

    assert PushSubscription.objects.count() == 1


def test_a_browser_subscribed_by_another_member_now_notifies_only_the_new_one(
    vapid, aiko, ben
):
    data = subscription_json()
    post_json(client_for(aiko), data)

    post_json(client_for(ben), data)

    device = PushSubscription.objects.get()
    assert device.member == ben


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        {"endpoint": "https://push.example.net/x"},
        {"endpoint": 5, "keys": {"p256dh": "x", "auth": "y"}},
        # Endpoints the server must never post to.
        subscription_json("http://push.example.net/plain-http"),
        subscription_json("https://127.0.0.1/x"),
        subscription_json("https://[::1]/x"),
        subscription_json("https://localhost/x"),
        subscription_json("https://redis/x"),
        subscription_json("https://10.0.0.5:6379/x"),
        subscription_json("https://push.example.net/" + "x" * 2000),
        {
            "endpoint": "https://push.example.net/x",
            "keys": {"p256dh": "AAAA", "auth": "y"},
        },
    ],
)
def test_what_is_not_a_subscription_is_refused_with_a_reason(
    vapid, member_client, body
):
    response = post_json(member_client, body)

    assert response.status_code == 400
    assert response.json()["error"]
    assert not PushSubscription.objects.exists()


def test_subscribing_without_vapid_keys_is_refused(settings, member_client):
    settings.VAPID_PRIVATE_KEY = ""

    response = post_json(member_client, subscription_json())

    assert response.status_code == 409
    assert "not set up" in response.json()["error"]
    assert not PushSubscription.objects.exists()


def test_a_member_keeps_at_most_the_newest_devices(vapid, member, member_client):
    from presence import push

    for n in range(push.MAX_DEVICES):
        a_device(member, label=f"old {n}")
    oldest = PushSubscription.objects.order_by("created_at").first()

    post_json(member_client, subscription_json())

    assert PushSubscription.objects.filter(member=member).count() == push.MAX_DEVICES
    assert not PushSubscription.objects.filter(pk=oldest.pk).exists()


# --- Removing -----------------------------------------------------------------


def test_a_member_removes_one_of_their_devices(vapid, member, member_client):
    device = a_device(member)
    kept = a_device(member, label="kept")

    response = member_client.post(remove_path(device))

    assert response.status_code == 302
    assert response["Location"] == DEVICES
    assert list(PushSubscription.objects.all()) == [kept]


def test_removing_answers_only_post(vapid, member, member_client):
    device = a_device(member)

    assert member_client.get(remove_path(device)).status_code == 405
    assert PushSubscription.objects.filter(pk=device.pk).exists()


@pytest.mark.parametrize("relation", ["friend", "stranger", "blocked", "blocker"])
def test_removing_another_members_device_is_a_404_and_changes_nothing(
    vapid, aiko, ben, relation
):
    if relation == "friend":
        actions.make_friends(aiko, ben)
    elif relation == "blocked":
        actions.block_member(member=aiko, other=ben)
    elif relation == "blocker":
        actions.block_member(member=ben, other=aiko)
    device = a_device(ben)

    response = client_for(aiko).post(remove_path(device))

    assert response.status_code == 404
    assert PushSubscription.objects.filter(pk=device.pk).exists()


def test_removing_a_device_that_does_not_exist_is_a_404(vapid, member_client):
    assert member_client.post("/settings/devices/999999/remove/").status_code == 404


# --- generate_vapid_keys ---------------------------------------------------------


def test_generate_vapid_keys_prints_a_pair_that_signs_and_verifies(capsys):
    from py_vapid import Vapid

    call_command("generate_vapid_keys", "--subject", "mailto:ops@enishi.example")

    lines = dict(
        line.split("=", 1) for line in capsys.readouterr().out.strip().splitlines()
    )
    assert set(lines) == {"VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT"}
    assert lines["VAPID_SUBJECT"] == "mailto:ops@enishi.example"
    public = base64.urlsafe_b64decode(lines["VAPID_PUBLIC_KEY"] + "==")
    assert len(public) == 65 and public[0] == 4  # what PushManager takes
    signer = Vapid.from_string(lines["VAPID_PRIVATE_KEY"])
    header = signer.sign(
        {"sub": "mailto:ops@enishi.example", "aud": "https://push.example.net"}
    )["Authorization"]
    assert f"k={lines['VAPID_PUBLIC_KEY']}" in header
    assert Vapid.verify(header)
