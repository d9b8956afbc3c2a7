"""Who's here on a topic page (presence/here.py): the real consumer through
the real application (channels.testing), the real page and list views.

Runs on the in-memory store by default and on Redis when REDIS_URL is set
(CI): the same tests hold for both.
"""

# The chat tests' fixtures (community, topic, sockets) are imported below to
# be used as fixtures here, which pyflakes reads as redefinitions.
# ruff: noqa: F811

import asyncio
import re

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.urls import reverse

from accounts.models import Block, Member
from chat import broadcast
from presence import here
from tests.chat.conftest import (  # noqa: F401
    alogin,
    community,
    join,
    live_layer,
    membership,
    open_socket,
    open_tab,
    other_membership,
    owner,
    session_key_for,
    third_member,
    topic,
)
from tests.conftest import client_for
from tests.factories import TopicFactory
from tests.presence.here_helpers import (  # noqa: F401
    CHANGED,
    LIST,
    _fast_password_hashing,
    closed_with,
    frames,
    here_state,
    list_showing,
    listed,
    next_list,
    open_here,
    store_entry,
    version_of,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("here_state"),
]


def here_url(topic) -> str:
    return reverse("chat:topic-here", kwargs={"topic_id": topic.pk})


@sync_to_async
def get(client, url):
    return client.get(url)


@database_sync_to_async
def set_shows_presence(member, shown: bool) -> None:
    member.shows_presence = shown
    member.save(update_fields=["shows_presence"])


@database_sync_to_async
def update_shows_presence(member, shown: bool) -> None:
    # QuerySet.update() sends no model signals: MemberQuerySet reports it.
    Member.objects.filter(pk=member.pk).update(shows_presence=shown)


# --- The list, live -------------------------------------------------------------------


async def test_an_arrival_is_pushed_to_everyone_on_the_topic(
    member, other_member, membership, other_membership, topic, open_here
):
    ben = await open_here(other_member, topic)
    assert listed(await next_list(ben)) == ["ben"]

    await open_here(member, topic)

    frame = await list_showing(ben, ["aiko", "ben"])
    # Nicknames link to the members' pages.
    assert f'href="{member.get_absolute_url()}"' in frame


async def test_a_clean_close_takes_the_member_off_at_once(
    member, other_member, membership, other_membership, topic, open_here
):
    ben = await open_here(other_member, topic)
    aiko = await open_here(member, topic)
    await list_showing(ben, ["aiko", "ben"])

    await aiko.disconnect()

    await list_showing(ben, ["ben"], timeout=2)


async def test_a_member_with_two_tabs_counts_once_until_the_last_closes(
    member, other_member, membership, other_membership, topic, open_here
):
    ben = await open_here(other_member, topic)
    first = await open_here(member, topic)
    second = await open_here(member, topic)
    await list_showing(ben, ["aiko", "ben"])
    await first.disconnect()
    await asyncio.sleep(here.PUSH_EVERY + 0.3)

    # Still there: every list since shows her once.
    for frame in await frames(ben):
        if frame.startswith(LIST):
            assert listed(frame) == ["aiko", "ben"]
    client = await alogin(other_member)
    assert listed((await get(client, here_url(topic))).content.decode()) == [
        "aiko",
        "ben",
    ]

    await second.disconnect()
    await list_showing(ben, ["ben"], timeout=2)


async def test_each_list_has_a_newer_version_and_a_changed_frame_follows(
    member, other_member, membership, other_membership, topic, open_here
):
    ben = await open_here(other_member, topic)
    first = await next_list(ben)
    aiko = await open_here(member, topic)
    second = await list_showing(ben, ["aiko", "ben"])
    assert version_of(second) > version_of(first)
    # Right after each list, the bare notice of its version: no names.
    changed = await ben.receive_from(timeout=1)
    assert changed.startswith(CHANGED)
    assert version_of(changed) == version_of(second)
    assert "aiko" not in changed and "ben" not in changed

    await aiko.disconnect()
    third = await list_showing(ben, ["ben"])
    assert version_of(third) > version_of(second)


async def test_arrivals_together_are_pushed_together(
    member, other_member, membership, other_membership, topic, open_here
):
    ben = await open_here(other_member, topic)
    await next_list(ben)
    await frames(ben, timeout=here.PUSH_EVERY + 0.2)

    await asyncio.gather(*(open_here(member, topic) for _ in range(5)))

    lists = [frame for frame in await frames(ben, 1.5) if frame.startswith(LIST)]
    # At most one push per PUSH_EVERY, however many sockets arrived.
    assert 1 <= len(lists) <= 2
    assert listed(lists[-1]) == ["aiko", "ben"]


async def test_a_socket_that_lapses_is_swept_and_the_list_pushed(
    member, other_member, membership, other_membership, topic, open_here, monkeypatch
):
    """Another process's socket whose process died: its entry is no longer
    refreshed, lapses after ENTRY_TTL, and the next refresh of a process on
    the topic sweeps it and pushes the list (here: 1 s and 0.2 s)."""
    monkeypatch.setattr(here, "ENTRY_TTL", 1)
    monkeypatch.setattr(here, "REFRESH_EVERY", 0.2)
    ben = await open_here(other_member, topic)
    await next_list(ben)
    # Written as another process would (no socket of this one).
    await sync_to_async(store_entry)(topic.pk, member.pk, "elsewhere")
    here._process().schedule_push(topic.pk)
    await list_showing(ben, ["aiko", "ben"])

    await list_showing(ben, ["ben"], timeout=3)


async def test_refreshing_keeps_open_heres_listed(
    member, other_member, membership, other_membership, topic, open_here, monkeypatch
):
    monkeypatch.setattr(here, "ENTRY_TTL", 1)
    monkeypatch.setattr(here, "REFRESH_EVERY", 0.2)
    ben = await open_here(other_member, topic)
    await open_here(member, topic)
    await list_showing(ben, ["aiko", "ben"])
    await asyncio.sleep(2.5)  # more than two lifetimes of an entry
    client = await alogin(other_member)
    page = (await get(client, here_url(topic))).content.decode()
    assert listed(page) == ["aiko", "ben"]


async def test_a_socket_of_a_page_without_the_list_is_not_on_it_and_gets_none(
    member, other_member, membership, other_membership, topic, open_here, open_socket
):
    """Only pages that show the list (?here=1) are on it and get its frames;
    another page watching the topic pays nothing for it."""
    ben = await open_here(other_member, topic)
    await list_showing(ben, ["ben"])
    plain = await open_socket(member, topic)

    assert await plain.receive_nothing(timeout=here.PUSH_EVERY + 0.5)
    assert not [frame for frame in await frames(ben) if "aiko" in frame]
    # Nor may it send typing notices.
    await plain.send_json_to({"type": "typing", "topic": topic.pk})
    assert 'data-code="unknown_topic"' in await plain.receive_from()


# --- Hidden members -------------------------------------------------------------------


async def test_a_member_hiding_their_presence_is_never_listed(
    member, other_member, membership, other_membership, topic, open_here
):
    await set_shows_presence(member, False)
    ben = await open_here(other_member, topic)
    await next_list(ben)
    await frames(ben)

    aiko = await open_here(member, topic)

    # No push at all: not even an unchanged list saying someone came.
    assert await ben.receive_nothing(timeout=here.PUSH_EVERY + 0.5)
    ben_client = await alogin(other_member)
    aiko_client = await alogin(member)
    for client in (ben_client, aiko_client):
        for url in (topic.get_absolute_url(), here_url(topic)):
            html = (await get(client, url)).content.decode()
            assert listed(html) == ["ben"], url
    # Her own page says she is not shown, and where to change it.
    page = (await get(aiko_client, topic.get_absolute_url())).content.decode()
    assert "You are not shown here." in page
    assert aiko is not None


@pytest.mark.parametrize("turn_off", ["save", "update"])
async def test_turning_presence_off_reconnects_the_members_sockets_and_drops_them(
    member, other_member, membership, other_membership, topic, open_here, turn_off
):
    ben = await open_here(other_member, topic)
    aiko = await open_here(member, topic)
    await list_showing(ben, ["aiko", "ben"])

    change = set_shows_presence if turn_off == "save" else update_shows_presence
    await change(member, False)

    # Her socket is closed to reconnect (project/revocation.py), which takes
    # her off the list at once; reconnected, she is not put back.
    assert await closed_with(aiko) == broadcast.CLOSE_RECHECK
    await aiko.disconnect()  # what the server hands on once the close is done
    await list_showing(ben, ["ben"])
    await open_here(member, topic)
    assert not [
        frame
        for frame in await frames(ben, here.PUSH_EVERY + 0.5)
        if frame.startswith(LIST) and "aiko" in frame
    ]


async def test_turning_presence_on_reconnects_the_members_sockets_and_lists_them(
    member, other_member, membership, other_membership, topic, open_here
):
    await set_shows_presence(member, False)
    ben = await open_here(other_member, topic)
    aiko = await open_here(member, topic)
    await list_showing(ben, ["ben"])

    await set_shows_presence(member, True)

    assert await closed_with(aiko) == broadcast.CLOSE_RECHECK
    await aiko.disconnect()
    await open_here(member, topic)  # the page reconnects
    await list_showing(ben, ["aiko", "ben"])


async def test_a_member_not_shown_is_left_out_even_if_an_entry_remains(
    member, other_member, membership, other_membership, topic
):
    """The list is read with shows_presence on: an entry stored before the
    setting changed (another process, not yet reconnected) shows no one."""
    await sync_to_async(store_entry)(topic.pk, member.pk, "elsewhere")
    await Member.objects.filter(pk=member.pk).aupdate(shows_presence=False)
    client = await alogin(other_member)
    assert listed((await get(client, here_url(topic))).content.decode()) == []


# --- Blocks ---------------------------------------------------------------------------


async def test_a_blocked_member_is_never_in_a_list_sent_to_the_blocker(
    member, other_member, third_member, membership, other_membership, topic, open_here
):
    await Block.objects.acreate(blocker=other_member, blocked=member)
    ben = await open_here(other_member, topic)
    chika = await open_here(third_member, topic)
    await list_showing(chika, ["ben", "chika"])
    await frames(ben)

    await open_here(member, topic)

    pushed = await list_showing(chika, ["aiko", "ben", "chika"])
    # ben gets no list naming aiko: only the bare notice that it changed...
    got = await frames(ben)
    assert not [frame for frame in got if "aiko" in frame]
    changed = [frame for frame in got if frame.startswith(CHANGED)]
    assert changed and version_of(changed[-1]) == version_of(pushed)
    # ...and asks for his own, which leaves her out.
    client = await alogin(other_member)
    own = (await get(client, here_url(topic))).content.decode()
    assert listed(own) == ["ben", "chika"]
    assert version_of(own) == version_of(pushed)
    page = (await get(client, topic.get_absolute_url())).content.decode()
    assert listed(page) == ["ben", "chika"]


async def test_the_blocker_is_never_in_a_list_sent_to_the_blocked(
    member, other_member, third_member, membership, other_membership, topic, open_here
):
    await Block.objects.acreate(blocker=member, blocked=other_member)
    aiko = await open_here(member, topic)
    chika = await open_here(third_member, topic)
    await list_showing(chika, ["aiko", "chika"])

    await open_here(other_member, topic)
    await list_showing(chika, ["aiko", "ben", "chika"])

    assert not [frame for frame in await frames(aiko) if "ben" in frame]
    client = await alogin(member)
    assert listed((await get(client, here_url(topic))).content.decode()) == [
        "aiko",
        "chika",
    ]


# --- The page and the list view -------------------------------------------------------


async def test_the_topic_page_shows_who_is_here_now_in_a_labelled_list(
    member, other_member, membership, other_membership, topic, open_here
):
    await open_here(member, topic)
    client = await alogin(other_member)
    page = (await get(client, topic.get_absolute_url())).content.decode()
    assert listed(page) == ["aiko"]
    assert f'<h2 class="here-title muted" id="here-{topic.pk}-title">' in page
    assert "Who&#x27;s here</h2>" in page or "Who's here</h2>" in page
    assert f'aria-labelledby="here-{topic.pk}-title"' in page
    assert 'aria-live="polite" data-typing' in page
    assert "You are not shown here." not in page


def test_the_list_view_answers_members_of_the_topic_only(
    member, other_member, membership, topic, client
):
    store_entry(topic.pk, member.pk, "socket")
    url = here_url(topic)
    # A member of the community: the list, never cached.
    response = client_for(member).get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.content.decode().startswith(LIST)
    # Not a member (ben), a topic that does not exist: the same 404.
    assert client_for(other_member).get(url).status_code == 404
    missing = reverse("chat:topic-here", kwargs={"topic_id": topic.pk + 1000})
    assert client_for(member).get(missing).status_code == 404
    # Nobody logged in: the login page.
    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("account_login"))
    # Reading only.
    assert client_for(member).post(url).status_code == 405


def test_a_banned_member_cannot_read_the_list(member, other_member, topic, join):
    from communities.models import Membership

    join(member, topic.community)
    join(other_member, topic.community, status=Membership.Status.BANNED)
    assert client_for(other_member).get(here_url(topic)).status_code == 404


@pytest.mark.parametrize("present", [10, 100])
def test_the_list_view_asks_the_same_queries_however_many_are_here(
    present, member, membership, topic, member_factory, django_assert_num_queries
):
    from tests.factories import MembershipFactory

    guests = [member_factory(nickname=f"guest{n:03}") for n in range(present)]
    for n, guest in enumerate(guests):
        MembershipFactory(member=guest, community=topic.community)
        store_entry(topic.pk, guest.pk, f"socket{n}")
    client = client_for(member)
    # Session, member, access (2), blocks, the listed members.
    with django_assert_num_queries(6):
        response = client.get(here_url(topic))
    names = listed(response.content.decode())
    assert len(names) == min(present, here.SHOWN_MAX)
    if present > here.SHOWN_MAX:
        assert f"and {present - here.SHOWN_MAX} more" in response.content.decode()


def test_another_topics_members_are_not_listed(member, membership, topic):
    elsewhere = TopicFactory(community=topic.community, title="Elsewhere")
    store_entry(elsewhere.pk, member.pk, "socket")
    html = client_for(member).get(here_url(topic)).content.decode()
    assert listed(html) == []
    assert "Nobody is shown here right now." in html


# --- The setting ----------------------------------------------------------------------


def shows_presence_box(page: str) -> str:
    [box] = re.findall(r'<input[^>]*name="shows_presence"[^>]*>', page)
    return box


def test_the_profile_form_has_a_show_when_i_am_here_checkbox(member):
    client = client_for(member)
    url = reverse("accounts:profile-edit")
    page = client.get(url).content.decode()
    box = shows_presence_box(page)
    assert 'type="checkbox"' in box and "checked" in box  # on by default
    assert re.search(
        r"<label[^>]*>\s*" + re.escape(box) + r"\s*Show when I am here", page
    )

    response = client.post(url, {"introduction": "hi"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.shows_presence is False
    # The form shows the saved choice.
    assert "checked" not in shows_presence_box(client.get(url).content.decode())

    client.post(url, {"introduction": "hi", "shows_presence": "on"})
    member.refresh_from_db()
    assert member.shows_presence is True
    assert "checked" in shows_presence_box(client.get(url).content.decode())
