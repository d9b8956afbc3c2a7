"""Phones: the web app manifest, the service worker, the offline page, and the
settings page where a member lets a device receive Web Push (presence/push.py).

The service worker is served from the site's root (/sw.js), not from /static/:
a worker controls only the pages under the folder it is served from. The
manifest, the worker and the offline page are the same for everyone, so they
need no login (an installed app opens on the login page too).
"""

import hashlib
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from presence import push
from presence.models import PushSubscription

THEME_COLOR = "#c2410c"  # --accent in static/css/enishi.css
BACKGROUND_COLOR = "#f5f3ef"  # --wash

ICONS = (
    ("icons/icon-192.png", "192x192", "any"),
    ("icons/icon-512.png", "512x512", "any"),
    ("icons/icon-maskable-512.png", "512x512", "maskable"),
)


@login_not_required
@require_GET
def manifest(request):
    """The web app manifest: what a phone needs to install Enishi."""
    data = {
        "name": _("Enishi"),
        "short_name": _("Enishi"),
        "description": _("Invitation-only community network"),
        "lang": get_language(),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": [
            {"src": static(path), "sizes": sizes, "type": "image/png", "purpose": use}
            for path, sizes, use in ICONS
        ],
    }
    return HttpResponse(
        json.dumps(data, ensure_ascii=False),
        content_type="application/manifest+json",
    )


@login_not_required
@require_GET
@cache_control(no_cache=True)
def service_worker(request):
    """static/js/sw.js at /sw.js (so its scope is the whole site), preceded by
    one line naming what it keeps for offline use: the offline page and the
    files it shows with. Their static URLs carry the files' hashes in
    production, so a changed stylesheet changes this script, and browsers
    install the new worker."""
    path = finders.find("js/sw.js")
    if path is None:  # pragma: no cover - the file is part of the repository
        raise Http404
    with open(path, encoding="utf-8") as file:
        source = file.read()
    precache = [
        reverse("push:offline"),
        static("css/enishi.css"),
        static("img/favicon.svg"),
        static("icons/icon-192.png"),
    ]
    version = hashlib.sha256(
        (source + "\n".join(precache)).encode("utf-8")
    ).hexdigest()[:12]
    config = {"version": version, "offlineUrl": precache[0], "precache": precache}
    response = HttpResponse(
        f"self.ENISHI = {json.dumps(config)};\n{source}",
        content_type="text/javascript; charset=utf-8",
    )
    response["Service-Worker-Allowed"] = "/"
    return response


@login_not_required
@require_GET
def offline(request):
    """What the service worker shows when a page cannot be reached. Kept in
    the worker's cache, so it holds nothing of any member."""
    return TemplateResponse(request, "offline.html", {})


def device_list(request):
    """The member's devices that receive Web Push, and the button that adds
    this one. At most push.MAX_DEVICES rows, so no pagination."""
    devices = PushSubscription.objects.filter(member=request.user).order_by(
        "-created_at"
    )
    return TemplateResponse(
        request,
        "presence/devices.html",
        {
            "devices": [
                (device, hashlib.sha256(device.endpoint.encode()).hexdigest())
                for device in devices
            ],
            "push_configured": push.configured(),
            "vapid_public_key": push.public_key(),
        },
    )


@require_POST
def device_subscribe(request):
    """Register this browser's push subscription (static/js/push.js posts
    `subscription.toJSON()` as JSON). Answers JSON: 201, or 400 with the
    reason, or 409 when the site has no VAPID keys (a state of the site the
    member cannot change, not a failure of the server: no 5xx)."""
    if not push.configured():
        return JsonResponse(
            {"error": _("Notifications to devices are not set up on this site.")},
            status=409,
        )
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        data = None
    try:
        push.subscribe_device(
            member=request.user,
            data=data,
            label=push.device_label(request.headers.get("User-Agent", "")),
        )
    except push.SubscriptionRefused as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    messages.success(request, _("This device will be notified."))
    return JsonResponse({"ok": True}, status=201)


@require_POST
def device_remove(request, subscription_id):
    """Stop pushing to one of one's own devices; any other id is a 404."""
    if not push.remove_device(member=request.user, subscription_id=subscription_id):
        raise Http404
    messages.success(request, _("This device will no longer be notified."))
    return redirect("push:devices")
