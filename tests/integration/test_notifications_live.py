"""The notification badge across processes, over Redis pub/sub: aiko has two
tabs open, one on each of two Daphne processes; ben likes and comments on her
diary entry through process 1, and the badge rises in both tabs; aiko marks
all read through process 2, and it falls in both. Nobody else's socket hears
any of it."""

import re
import time

import pytest
from django.conf import settings
from websockets.sync.client import connect

from accounts.actions import make_friends
from diary.models import Entry
from tests.integration.web import (
    CSRF_FIELD,
    OPEN_TIMEOUT,
    Tab,
    frames_until,
    session_key,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

DELIVERY_LIMIT = 1.0  # seconds from the write to the badge on both tabs
QUIET = 1.5
BADGE = re.compile(
    r'<span id="notification-badge" class="badge"( hidden)?>(\d*)</span>'
)


def live_socket(server, member):
    ws_url = server.url.replace("http://", "ws://", 1)
    return connect(
        f"{ws_url}/ws/live/",
        origin=server.url,
        additional_headers={
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key(member)}"
        },
        open_timeout=OPEN_TIMEOUT,
        close_timeout=2,
    )


def post(tab: Tab, page: str, path: str, **form):
    """A form post as the browser makes it from `page` (its CSRF token)."""
    opened = tab.get(page)
    assert opened.status == 200, (opened.status, opened.text[:1000])
    token = CSRF_FIELD.search(opened.text).group(1)
    return tab.request(
        "POST",
        path,
        form={"csrfmiddlewaretoken": token, **form},
        headers={
            "X-CSRFToken": token,
            "Origin": tab.base_url,
            "Referer": f"{tab.base_url}{page}",
        },
    )


def badge_after(socket, deadline: float) -> str:
    """The badge's number in the next badge frame ("" when hidden)."""
    frames = frames_until(socket, 'id="notification-badge"', deadline)
    found = BADGE.search(frames[-1])
    assert found, frames[-1]
    hidden, number = found.groups()
    assert bool(hidden) == (number == ""), frames[-1]
    # The link's accessible name travels with it, in every language.
    if number:
        assert f"Notifications, {number} unread" in frames[-1]
    return number


def test_the_badge_rises_in_both_of_aikos_tabs_and_falls_in_both_on_mark_all_read(
    aiko, ben, chika, start_daphnes, sockets
):
    make_friends(aiko, ben)
    entry = Entry.objects.create(author=aiko, title="Sunny", body="b")
    first, second = start_daphnes(2)
    aiko_tabs = [
        sockets.enter_context(live_socket(first, aiko)),
        sockets.enter_context(live_socket(second, aiko)),
    ]
    chika_socket = sockets.enter_context(live_socket(first, chika))
    for socket in [*aiko_tabs, chika_socket]:
        socket.send('{"type": "ping"}')
        assert "live-pong" in socket.recv(timeout=5)

    ben_tab = Tab(first.url, session_key(ben))
    # A page with a form, which leaves no footprint (a visit to aiko's entry
    # would, and notify her of it).
    entry_page = "/notifications/settings/"
    started = time.monotonic()
    liked = post(ben_tab, entry_page, f"/diary/{entry.pk}/like/")
    assert liked.status in (200, 302, 303), (liked.status, liked.text[:500])
    for tab in aiko_tabs:
        assert badge_after(tab, started + DELIVERY_LIMIT + 1) == "1"

    started = time.monotonic()
    commented = post(ben_tab, entry_page, f"/diary/{entry.pk}/comments/", body="Hi!")
    assert commented.status in (200, 302, 303), commented.status
    for tab in aiko_tabs:
        assert badge_after(tab, started + DELIVERY_LIMIT + 1) == "2"

    aiko_tab = Tab(second.url, session_key(aiko))
    started = time.monotonic()
    read = post(aiko_tab, "/notifications/", "/notifications/read/")
    assert read.status in (302, 303), read.status
    for tab in aiko_tabs:
        assert badge_after(tab, started + DELIVERY_LIMIT) == ""
    print(f"mark all read -> both tabs: {(time.monotonic() - started) * 1000:.0f} ms")

    heard = []
    deadline = time.monotonic() + QUIET
    while (left := deadline - time.monotonic()) > 0:
        try:
            heard.append(chika_socket.recv(timeout=left))
        except TimeoutError:
            break
    assert not [frame for frame in heard if "notification" in frame], heard
