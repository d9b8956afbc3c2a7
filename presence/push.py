"""Web Push: tell a member's phones and browsers that something new is waiting.

`notify_devices(member_id, url)` is called once a notification has committed.
It returns at once: the pushes go out from a small pool of worker threads, off
the request path, so a slow or hanging push service holds up no page. Each
push carries only {"title": "Enishi", "body": "1 new notification", "url": ...}:
never what happened or who did it, so no private text leaves the server, not
even encrypted to a push service's queue. A member with a live socket open in
any process is told there (the badge) and gets no push.

A push service answering 404 or 410 says the subscription is gone (the member
revoked the permission, uninstalled, or the browser rotated it): its row is
deleted. Any other failure is logged and the row kept.

Endpoints are URLs a browser handed us; the server posts to them. Only
https:// URLs on a host name (no IP literal, no localhost) are accepted from a
browser (`clean_subscription`), so a member cannot point the server at an
internal address.
"""

import base64
import binascii
import ipaddress
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone
from django.utils.translation import gettext as _
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from accounts.actions import ActionRefused
from chat import socket_limit
from presence.models import PushSubscription

logger = logging.getLogger(__name__)

# Pushes in flight at once per process: each holds a thread for at most
# TIMEOUT seconds, so a push service that hangs delays only the pushes queued
# behind these.
WORKERS = 4
# Pushes waiting for a worker; past this a push is dropped (and logged) rather
# than queued without bound behind a push service that hangs.
QUEUE_LIMIT = 1000
# Seconds to connect to a push service, and to wait for each read of its answer.
TIMEOUT = (3, 5)
# How long a push service keeps a push for a device that is offline.
TTL = 24 * 3600
# Devices one member may register; past it the oldest stops receiving.
MAX_DEVICES = 20

TITLE = "Enishi"
BODY = "1 new notification"

_executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="webpush")
_slots = threading.BoundedSemaphore(QUEUE_LIMIT)
# Tasks queued or running, for wait_until_idle.
_busy = threading.Condition()
_in_flight = 0


class SubscriptionRefused(ActionRefused):
    """What a browser sent is not a subscription we can push to; str() is
    the reason, fit to show the member."""


def configured() -> bool:
    """Web Push is on when the site has a VAPID key pair and a subject."""
    return bool(
        settings.VAPID_PUBLIC_KEY
        and settings.VAPID_PRIVATE_KEY
        and settings.VAPID_SUBJECT
    )


def public_key() -> str:
    """The key browsers subscribe with (applicationServerKey), or "" when
    Web Push is off."""
    return settings.VAPID_PUBLIC_KEY if configured() else ""


def payload(url: str) -> str:
    """The whole push: that there is something new, and where. Nothing else."""
    return json.dumps({"title": TITLE, "body": BODY, "url": url})


def notify_devices(member_id: int, url: str) -> None:
    """Push "1 new notification" and `url` to each device of the member, unless
    they have a live socket open. Returns at once; the work runs in the pool."""
    if not configured():
        return
    _submit(_notify, member_id, url)


def wait_until_idle(timeout: float) -> bool:
    """Wait until no push is queued or being sent (True), or `timeout`
    seconds pass (False). For tests and an orderly shutdown."""
    with _busy:
        return _busy.wait_for(lambda: _in_flight == 0, timeout)


def _submit(function, *args) -> None:
    global _in_flight
    if not _slots.acquire(blocking=False):
        logger.warning("Web Push queue full: a push was dropped")
        return
    with _busy:
        _in_flight += 1
    try:
        _executor.submit(_run, function, *args)
    except RuntimeError:  # the interpreter is shutting down
        _done()


def _run(function, *args) -> None:
    try:
        close_old_connections()
        function(*args)
    except Exception:
        logger.exception("Web Push failed")
    finally:
        # A worker thread's connection would otherwise stay open (or out of
        # the pool) for as long as the thread lives.
        connections.close_all()
        _done()


def _done() -> None:
    global _in_flight
    _slots.release()
    with _busy:
        _in_flight -= 1
        _busy.notify_all()


def _notify(member_id: int, url: str) -> None:
    if socket_limit.has_open_socket(member_id):
        return
    subscriptions = PushSubscription.objects.filter(member_id=member_id).order_by(
        "-created_at"
    )[:MAX_DEVICES]
    for subscription in subscriptions:
        # One task each: a device whose push service hangs holds up no other.
        _submit(_send, subscription, url)


def _send(subscription: PushSubscription, url: str) -> None:
    endpoint = urlsplit(subscription.endpoint)
    try:
        webpush(
            subscription_info={
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            },
            data=payload(url),
            vapid_private_key=Vapid.from_string(settings.VAPID_PRIVATE_KEY),
            vapid_claims={
                "sub": settings.VAPID_SUBJECT,
                "aud": f"{endpoint.scheme}://{endpoint.netloc}",
            },
            content_encoding="aes128gcm",
            ttl=TTL,
            timeout=TIMEOUT,
        )
    except WebPushException as exc:
        if exc.status_code in (404, 410):
            PushSubscription.objects.filter(pk=subscription.pk).delete()
        else:
            logger.warning(
                "Web Push to %s refused: %s", endpoint.netloc, exc.status_code
            )
        return
    except requests.RequestException as exc:
        logger.warning("Web Push to %s failed: %s", endpoint.netloc, type(exc).__name__)
        return
    PushSubscription.objects.filter(pk=subscription.pk).update(
        last_sent_at=timezone.now()
    )


def clean_subscription(data) -> dict:
    """The fields of a PushSubscription from what a browser's
    `subscription.toJSON()` gave, or SubscriptionRefused."""
    if not isinstance(data, dict):
        raise SubscriptionRefused(_("This is not a push subscription."))
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    if not isinstance(endpoint, str) or not isinstance(keys, dict):
        raise SubscriptionRefused(_("This is not a push subscription."))
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise SubscriptionRefused(_("This is not a push subscription."))
    if len(endpoint) > 2000 or len(p256dh) > 200 or len(auth) > 100:
        raise SubscriptionRefused(_("This push subscription is too long."))
    parts = urlsplit(endpoint)
    if parts.scheme != "https" or not parts.hostname or _internal(parts.hostname):
        raise SubscriptionRefused(
            _("Push subscriptions must point to a push service on the internet.")
        )
    if not _is_p256_point(p256dh) or not _b64url_bytes(auth):
        raise SubscriptionRefused(_("This push subscription's keys are not valid."))
    return {"endpoint": endpoint, "p256dh": p256dh, "auth": auth}


def _internal(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "." not in host
    return True  # an IP literal: push services are named hosts


def _b64url_bytes(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _is_p256_point(text: str) -> bool:
    raw = _b64url_bytes(text)
    if not raw or len(raw) != 65:
        return False
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return False
    return True


def subscribe_device(*, member, data, label: str = "") -> PushSubscription:
    """Register (or move to `member`) the browser subscription in `data`.

    One browser has one subscription per site whoever is logged in: when
    another member subscribed it before, it now notifies this member only.
    Past MAX_DEVICES, the member's oldest device is removed."""
    fields = clean_subscription(data)
    subscription, _created = PushSubscription.objects.update_or_create(
        endpoint=fields["endpoint"],
        defaults={
            "member": member,
            "p256dh": fields["p256dh"],
            "auth": fields["auth"],
            "label": label[:100],
            "created_at": timezone.now(),
            "last_sent_at": None,
        },
    )
    stale = PushSubscription.objects.filter(member=member).order_by("-created_at")[
        MAX_DEVICES:
    ]
    PushSubscription.objects.filter(
        pk__in=list(stale.values_list("pk", flat=True))
    ).delete()
    return subscription


def remove_device(*, member, subscription_id: int) -> bool:
    """Stop pushing to one of the member's own devices; False when they have
    none with this id (another member's is answered the same)."""
    deleted, _rows = PushSubscription.objects.filter(
        pk=subscription_id, member=member
    ).delete()
    return bool(deleted)


def device_label(user_agent: str) -> str:
    """ "Chrome on Android" from a User-Agent header, for the devices list."""
    ua = user_agent or ""
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("SamsungBrowser", "Samsung Internet"),
                ("Firefox/", "Firefox"),
                ("FxiOS", "Firefox"),
                ("CriOS", "Chrome"),
                ("Chrome/", "Chrome"),
                ("Chromium/", "Chromium"),
                ("Safari/", "Safari"),
            )
            if token in ua
        ),
        "",
    )
    system = next(
        (
            name
            for token, name in (
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Windows", "Windows"),
                ("Mac OS X", "macOS"),
                ("CrOS", "ChromeOS"),
                ("Linux", "Linux"),
            )
            if token in ua
        ),
        "",
    )
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return browser or system or _("A browser")
