"""Web Push with no internet: a push endpoint started by the test on 127.0.0.1
receives what presence/push.py sends; the test decrypts it as a browser would
(RFC 8291, aes128gcm, with a subscription key pair it made itself) and checks
the VAPID signature (RFC 8292) with the site's public key.

The pushes go out from worker threads with their own database connections,
so these tests commit (transaction=True): the workers see what the test wrote.
"""

import base64
import json
import os
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from django.urls import reverse
from py_vapid import Vapid

from accounts import actions as account_actions
from diary import actions as diary_actions
from presence import push
from presence.models import PushSubscription
from project.asgi import application
from tests.chat.conftest import (  # noqa: F401 (live_layer: a fixture)
    live_layer,
    session_key_for,
    socket_path,
    tab_headers,
)
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "the cake is hidden under the stairs"
NOTIFICATIONS_URL = "/notifications/"
# How long a hanging endpoint holds each request (it is released at teardown).
HANG_SECONDS = 8


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushEndpoint:
    """A push service on 127.0.0.1: records every request; answers each path
    with the status set for it (201 by default), or holds it (hang)."""

    def __init__(self):
        self.received: queue.Queue = queue.Queue()
        self.statuses: dict[str, int] = {}
        self.hanging: set[str] = set()
        self.release = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                endpoint.received.put((self.path, headers, body))
                if self.path in endpoint.hanging:
                    endpoint.release.wait(HANG_SECONDS)
                status = endpoint.statuses.get(self.path, 201)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self, timeout=5.0):
        return self.received.get(timeout=timeout)

    def nothing_received(self) -> bool:
        return self.received.empty()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    server = PushEndpoint()
    yield server
    server.stop()
    assert push.wait_until_idle(10)


@pytest.fixture
def vapid_keys(settings):
    signer = Vapid()
    signer.generate_keys()
    public = signer.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    private = signer.private_key.private_numbers().private_value.to_bytes(32, "big")
    settings.VAPID_PUBLIC_KEY = b64url(public)
    settings.VAPID_PRIVATE_KEY = b64url(private)
    settings.VAPID_SUBJECT = "mailto:ops@enishi.example"
    return settings


class Device:
    """A browser's side of a subscription: its key pair and auth secret."""

    def __init__(self, member, endpoint: PushEndpoint, name: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.path = f"/push/{name}"
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.row = PushSubscription.objects.create(
            member=member,
            endpoint=endpoint.url + self.path,
            p256dh=b64url(point),
            auth=b64url(self.auth),
            label=name,
        )

    def decrypt(self, body: bytes) -> dict:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


def notify(member):
    """What presence.notifications does once a notification committed."""
    push.notify_devices(member.pk, NOTIFICATIONS_URL)


def verify_vapid(authorization: str, settings, audience: str) -> dict:
    """The claims of a `vapid t=<JWT>,k=<key>` header, after checking the key is
    the site's and the JWT's ES256 signature with it."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    fields = dict(part.split("=", 1) for part in params.split(","))
    assert fields["k"] == settings.VAPID_PUBLIC_KEY
    header, claims, signature = fields["t"].split(".")
    assert json.loads(unb64url(header)) == {"typ": "JWT", "alg": "ES256"}
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), unb64url(settings.VAPID_PUBLIC_KEY)
    )
    raw = unb64url(signature)
    der = utils.encode_dss_signature(
        int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    )
    # Raises InvalidSignature unless the site's private key signed it.
    public.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    decoded = json.loads(unb64url(claims))
    assert decoded["aud"] == audience
    assert decoded["sub"] == settings.VAPID_SUBJECT
    assert time.time() < decoded["exp"] <= time.time() + 24 * 3600
    return decoded


def test_a_push_reaches_the_device_encrypted_signed_and_saying_only_that_there_is_news(
    vapid_keys, endpoint, aiko
):
    phone = Device(aiko, endpoint, "phone")

    notify(aiko)

    path, headers, body = endpoint.next()
    assert path == phone.path
    assert headers["content-encoding"] == "aes128gcm"
    assert int(headers["ttl"]) == push.TTL
    assert phone.decrypt(body) == {
        "title": "Enishi",
        "body": "1 new notification",
        "url": NOTIFICATIONS_URL,
    }
    verify_vapid(headers["authorization"], vapid_keys, audience=endpoint.url)
    assert push.wait_until_idle(5)
    phone.row.refresh_from_db()
    assert phone.row.last_sent_at is not None


def test_a_push_signed_with_another_key_fails_the_signature_check(
    vapid_keys, endpoint, aiko
):
    # The check above is a real one: a header signed by another key fails it.
    Device(aiko, endpoint, "phone")
    notify(aiko)
    _path, headers, _body = endpoint.next()
    other = Vapid()
    other.generate_keys()
    forged_token = (
        other.sign({"sub": "mailto:x@example.com", "aud": endpoint.url})[
            "Authorization"
        ]
        .split("t=", 1)[1]
        .split(",", 1)[0]
    )
    forged = f"vapid t={forged_token},k={vapid_keys.VAPID_PUBLIC_KEY}"

    from cryptography.exceptions import InvalidSignature

    with pytest.raises(InvalidSignature):
        verify_vapid(forged, vapid_keys, audience=endpoint.url)
    verify_vapid(headers["authorization"], vapid_keys, audience=endpoint.url)


def test_a_comment_pushes_no_word_of_it_nor_who_wrote_it(
    vapid_keys, endpoint, aiko, ben
):
    account_actions.make_friends(aiko, ben)
    entry = diary_actions.create_entry(
        author=aiko, title="Weekend", body="Hello", audience="friends"
    )
    phone = Device(aiko, endpoint, "phone")

    response = client_for(ben).post(
        reverse("diary:comment-create", args=[entry.pk]), {"body": SECRET}
    )

    assert response.status_code == 302
    _path, _headers, body = endpoint.next()
    plain = json.dumps(phone.decrypt(body))
    assert SECRET not in plain
    assert "cake" not in plain
    assert "ben" not in plain
    assert "Weekend" not in plain
    assert json.loads(plain) == {
        "title": "Enishi",
        "body": "1 new notification",
        "url": NOTIFICATIONS_URL,
    }


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_says_is_gone_is_removed(
    vapid_keys, endpoint, aiko, status
):
    gone = Device(aiko, endpoint, "gone")
    kept = Device(aiko, endpoint, "kept")
    endpoint.statuses[gone.path] = status

    notify(aiko)

    assert {endpoint.next()[0], endpoint.next()[0]} == {gone.path, kept.path}
    assert push.wait_until_idle(5)
    assert list(PushSubscription.objects.values_list("label", flat=True)) == ["kept"]


def test_a_push_service_error_keeps_the_subscription(vapid_keys, endpoint, aiko):
    flaky = Device(aiko, endpoint, "flaky")
    endpoint.statuses[flaky.path] = 500

    notify(aiko)

    endpoint.next()
    assert push.wait_until_idle(5)
    flaky.row.refresh_from_db()
    assert flaky.row.last_sent_at is None


def test_a_hanging_push_service_delays_neither_the_request_nor_other_devices(
    vapid_keys, endpoint, aiko, ben
):
    endpoint.hanging.add("/push/hanging")
    Device(aiko, endpoint, "hanging")
    fast = Device(aiko, endpoint, "fast")

    started = time.monotonic()
    response = client_for(ben).post(
        reverse("accounts:friend-request-send", args=["aiko"])
    )
    took = time.monotonic() - started

    assert response.status_code == 302
    # The request is answered well before the endpoint would answer.
    assert took < 1.5, took
    paths = {endpoint.next(timeout=3)[0], endpoint.next(timeout=3)[0]}
    assert paths == {"/push/hanging", fast.path}
    # The other device got its push while the hanging one still holds.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        fast.row.refresh_from_db()
        if fast.row.last_sent_at is not None:
            break
        time.sleep(0.05)
    assert fast.row.last_sent_at is not None
    assert time.monotonic() - started < HANG_SECONDS


def test_a_hanging_push_service_is_given_up_after_the_timeout(
    vapid_keys, endpoint, aiko, monkeypatch
):
    monkeypatch.setattr(push, "TIMEOUT", (1, 0.5))
    endpoint.hanging.add("/push/hanging")
    hanging = Device(aiko, endpoint, "hanging")

    notify(aiko)

    endpoint.next()
    assert push.wait_until_idle(3)  # long before HANG_SECONDS
    hanging.row.refresh_from_db()
    assert hanging.row.last_sent_at is None
    assert PushSubscription.objects.filter(pk=hanging.row.pk).exists()


def test_only_the_members_own_devices_get_the_push(vapid_keys, endpoint, aiko, ben):
    Device(ben, endpoint, "bens")
    mine = Device(aiko, endpoint, "aikos")

    notify(aiko)

    assert endpoint.next()[0] == mine.path
    assert push.wait_until_idle(5)
    assert endpoint.nothing_received()


def test_nothing_is_pushed_without_vapid_keys(vapid_keys, endpoint, aiko):
    Device(aiko, endpoint, "phone")
    vapid_keys.VAPID_PRIVATE_KEY = ""

    notify(aiko)

    assert push.wait_until_idle(5)
    time.sleep(0.2)
    assert endpoint.nothing_received()


async def open_socket(member) -> WebsocketCommunicator:
    """A tab of `member` with its live socket open, through the real consumer
    (which counts it in chat/socket_limit.py)."""
    key = await session_key_for(member)
    socket = WebsocketCommunicator(application, socket_path(), headers=tab_headers(key))
    connected, _ = await socket.connect(timeout=2)
    assert connected
    return socket


@pytest.mark.usefixtures("live_layer")
async def test_a_member_with_an_open_socket_gets_no_push_and_gets_one_once_it_closes(
    vapid_keys, endpoint, aiko
):
    await database_sync_to_async(Device)(aiko, endpoint, "phone")
    socket = await open_socket(aiko)

    await database_sync_to_async(notify)(aiko)

    assert await database_sync_to_async(push.wait_until_idle)(5)
    assert endpoint.nothing_received()

    await socket.disconnect()
    await database_sync_to_async(notify)(aiko)

    path, _headers, _body = await database_sync_to_async(endpoint.next)()
    assert path == "/push/phone"


@pytest.mark.usefixtures("live_layer")
async def test_another_members_open_socket_does_not_stop_the_push(
    vapid_keys, endpoint, aiko, ben
):
    await database_sync_to_async(Device)(aiko, endpoint, "phone")
    socket = await open_socket(ben)

    await database_sync_to_async(notify)(aiko)

    path, _headers, _body = await database_sync_to_async(endpoint.next)()
    assert path == "/push/phone"
    await socket.disconnect()


def test_the_queue_is_bounded(vapid_keys, monkeypatch, aiko, caplog):
    # Past QUEUE_LIMIT waiting pushes a new one is dropped, not queued.
    monkeypatch.setattr(push, "_slots", threading.BoundedSemaphore(1))
    push._slots.acquire()
    try:
        notify(aiko)
    finally:
        push._slots.release()
    assert "queue full" in caplog.text
    assert push.wait_until_idle(1)
