"""Two Daphne processes, one Redis, one database: an event's page live across
processes (docs/events.md, "Live").

ben's open event page holds its socket on the first server; aiko answers
"Going" through the second. Within a second ben's socket has the new counts
and aiko in the list (Redis pub/sub carries the fragments between the
processes). Then ben answers on the first server (the event is full: he
waits) and aiko withdraws on the second: within a second ben's socket has
the notice that his own part changed, and his panel says he is going.

The redis-server here is the test's own, on a spare port (conftest.py).
"""

import re
import time

import pytest
from django.conf import settings
from websockets.sync.client import connect

from tests.events.conftest import make_event
from tests.factories import coffee_club
from tests.integration.web import OPEN_TIMEOUT, Tab, frames_until, session_key

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

DELIVERY_LIMIT = 1.0  # seconds from answering on one server to the frame on the other
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def open_event(tab: Tab, event) -> str:
    """GET the event's page (as a browser tab does before it answers) and
    return its CSRF token; the CSRF cookie lands in the tab's cookies."""
    page = tab.get(event.get_absolute_url())
    assert page.status == 200, (page.status, page.text[:2000])
    return CSRF_FIELD.search(page.text).group(1)


def answer(tab: Tab, event, csrf: str, status: str):
    """The panel's button, as htmx posts it."""
    answered = tab.request(
        "POST",
        f"/events/{event.pk}/rsvp/",
        form={"status": status, "csrfmiddlewaretoken": csrf},
        headers={
            "HX-Request": "true",
            "X-CSRFToken": csrf,
            "Origin": tab.base_url,
            "Referer": f"{tab.base_url}{event.get_absolute_url()}",
        },
    )
    assert answered.status == 200, (answered.status, answered.text[:2000])
    assert "X-Refused" not in answered.headers, answered.text
    return answered


def event_socket(tab: Tab, event):
    """The event page's live socket (its stream and its member's own group)."""
    ws_url = tab.base_url.replace("http://", "ws://", 1)
    return connect(
        f"{ws_url}/ws/live/?event={event.pk}&lang=en",
        origin=tab.base_url,
        additional_headers={
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={tab.session_key}"
        },
        open_timeout=OPEN_TIMEOUT,
        close_timeout=2,
    )


def test_an_answer_on_one_process_reaches_an_open_event_page_on_the_other(
    aiko, ben, redis_server, start_daphnes, sockets
):
    club = coffee_club(aiko, ben)
    event = make_event(club, capacity=1)
    first, second = start_daphnes(2)
    ben_on_first = Tab(first.url, session_key(ben))
    aiko_on_second = Tab(second.url, session_key(aiko))
    ben_csrf = open_event(ben_on_first, event)
    aiko_csrf = open_event(aiko_on_second, event)
    ben_page = sockets.enter_context(event_socket(ben_on_first, event))

    started = time.monotonic()
    answer(aiko_on_second, event, aiko_csrf, "going")
    frames = frames_until(
        ben_page,
        f'<li id="event-{event.pk}-rsvp-{aiko.pk}"',
        started + DELIVERY_LIMIT,
    )
    latency = time.monotonic() - started
    assert latency < DELIVERY_LIMIT
    print(f"answer on server two -> frame on server one: {latency * 1000:.0f} ms")
    assert any("1 going · 0 maybe · 1 of 1 seats taken" in f for f in frames), frames
    assert ">aiko</a>" in frames[-1]

    # ben waits; aiko withdraws on the other server: ben's own group hears
    # that his part changed, and his panel says he is going.
    answer(ben_on_first, event, ben_csrf, "going")
    started = time.monotonic()
    answer(aiko_on_second, event, aiko_csrf, "withdraw")
    frames_until(
        ben_page,
        f'<template id="live-event-rsvp" data-event="{event.pk}"',
        started + DELIVERY_LIMIT,
    )
    assert time.monotonic() - started < DELIVERY_LIMIT
    panel = ben_on_first.get(f"/events/{event.pk}/rsvp/", htmx=True)
    assert "You are going" in panel.text
