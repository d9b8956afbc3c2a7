"""The badge live, in one process (the in-memory layer, or Redis when
REDIS_URL is set): the real consumer, two sockets of aiko. ben's like and
comment raise the badge in both; aiko's "Mark all as read" and "Mark as
read" lower it in both; ben's own socket hears none of it.
(Across two Daphne processes: tests/integration/test_notifications_live.py.)"""

import re

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from accounts.actions import make_friends
from diary.models import Entry
from presence.models import Notification
from tests.chat.conftest import (  # noqa: F401
    live_layer,
    open_socket,
    open_tab,
)
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)

BADGE = re.compile(
    r'<span id="notification-badge" class="badge"( hidden)?>(\d*)</span>'
)
WAIT = 3


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


async def next_badge(socket) -> str:
    """The number on the next badge frame ("" for a hidden badge)."""
    while True:
        frame = await socket.receive_from(timeout=WAIT)
        found = BADGE.search(frame)
        if found:
            assert 'hx-swap-oob="true"' in frame
            return found.group(2)


@sync_to_async
def post(member, url, data=None):
    response = client_for(member).post(url, data or {})
    assert response.status_code in (200, 302), response.status_code
    return response


async def test_the_badge_rises_and_falls_in_every_tab_of_the_member(
    aiko,
    ben,
    open_socket,  # noqa: F811
):
    await sync_to_async(make_friends)(aiko, ben)
    entry = await Entry.objects.acreate(author=aiko, title="Sunny", body="b")
    tabs = [await open_socket(aiko), await open_socket(aiko)]
    bens = await open_socket(ben)

    await post(ben, reverse("diary:entry-like", kwargs={"entry_id": entry.pk}))
    assert [await next_badge(tab) for tab in tabs] == ["1", "1"]
    await post(
        ben,
        reverse("diary:comment-create", kwargs={"entry_id": entry.pk}),
        {"body": "Hi"},
    )
    assert [await next_badge(tab) for tab in tabs] == ["2", "2"]

    like = await Notification.objects.aget(kind="diary_like")
    await post(
        aiko, reverse("presence:notification-read", kwargs={"notification_id": like.pk})
    )
    assert [await next_badge(tab) for tab in tabs] == ["1", "1"]
    await post(aiko, reverse("presence:notifications-read-all"))
    assert [await next_badge(tab) for tab in tabs] == ["", ""]

    assert await bens.receive_nothing(timeout=0.5)
