"""An event's page live, over the Redis pub/sub layer, through the real
application and the real answer (POST events:rsvp): its stream on the one
socket (`?event=<id>`) is authorized like the page; an answer reaches every
socket showing the event as the counts and the attendee's fragment, rendered
once per language, and the attendee's fragment skips the sockets of members
hidden from them; the per-member notice reaches the members whose own part
changed (a promotion, a place in the waitlist); and a ban, a block with the
organiser or a deleted event takes the stream off open sockets
(project/revocation.py)."""

import asyncio
import re
from urllib.parse import urlencode

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.http import Http404
from django.test import Client
from django.urls import reverse

from accounts.models import Block
from chat import broadcast, fragments
from chat.consumers import MAX_STREAMS, _authorize_many
from communities.models import Membership
from events import actions, live
from events.models import RSVP, Event
from project.asgi import application
from tests.chat.conftest import (  # noqa: F401
    HTMX,
    close_code,
    live_layer,
    redis_layer,
    tab_headers,
)
from tests.conftest import MemberFactory, client_for
from tests.diary.test_live import assert_told_to_reconnect, frames_until_quiet
from tests.events.conftest import make_event
from tests.events.live_fixtures import UNSEEING, unseeing_viewer

Status = RSVP.Status
LANGUAGES = [code for code, _name in settings.LANGUAGES]
alogin = database_sync_to_async(client_for)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.redis,
    pytest.mark.timeout(60),
]


def key_of(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
async def tabs(redis_layer):  # noqa: F811
    """tabs(client, *events, lang="en", topics=(), entries=()): a socket
    presenting the client's session as a browser tab of the event's page
    does (no event: any other page), over the Redis layer."""
    opened = []

    async def open_(client, *events, lang="en", topics=(), entries=()):
        params = (
            [("topic", t) for t in topics]
            + [("entry", e) for e in entries]
            + [("event", getattr(e, "pk", e)) for e in events]
            + [("lang", lang)]
        )
        communicator = WebsocketCommunicator(
            application,
            f"/ws/live/?{urlencode(params)}",
            headers=tab_headers(key_of(client)),
        )
        opened.append(communicator)
        connected, _ = await communicator.connect(timeout=3)
        assert connected
        return communicator

    yield open_
    for communicator in opened:
        if not communicator.future.done():
            await communicator.disconnect()


async def answer(client, event, status, **fields):
    url = reverse("events:rsvp", kwargs={"event_id": event.pk})
    response = await sync_to_async(client.post)(
        url, {"status": status, **fields}, **HTMX
    )
    assert response.status_code == 200, response.content
    assert "X-Refused" not in response, response.content
    return response


def counts_of(frames, event) -> list[str]:
    return [f for f in frames if f'<p id="event-{event.pk}-counts"' in f]


def attendee_frames(frames, event, member) -> list[str]:
    return [f for f in frames if f'<li id="event-{event.pk}-rsvp-{member.pk}"' in f]


def notices(frames) -> list[str]:
    return [f for f in frames if f.startswith('<template id="live-event-rsvp"')]


def version_of(frame: str) -> int:
    return int(re.search(r'data-version="(\d+)"', frame).group(1))


@database_sync_to_async
def new_event(club, **fields) -> Event:
    return make_event(club, **fields)


@database_sync_to_async
def event_version(event) -> int:
    return Event.objects.get(pk=event.pk).version


# --- Who may open the stream ----------------------------------------------------


@pytest.mark.parametrize("who", ["member", "organiser", *UNSEEING])
async def test_the_event_stream_is_authorized_as_the_page_is(club, ben, tabs, who):
    event = await new_event(club)

    @database_sync_to_async
    def viewer_for():
        if who == "member":
            return ben
        if who == "organiser":
            return event.organiser
        return unseeing_viewer(event, who)

    client = await alogin(await viewer_for())
    # The page says the same.
    response = await sync_to_async(client.get)(event.get_absolute_url())
    socket = await tabs(client, event)
    if who in ("member", "organiser"):
        assert response.status_code == 200
        assert await socket.receive_nothing(timeout=0.2)
    else:
        assert response.status_code == 404
        assert await close_code(socket) == broadcast.CLOSE_FORBIDDEN


async def test_a_missing_or_malformed_event_is_refused_like_a_hidden_one(
    club, ben, tabs
):
    client = await alogin(ben)
    for asked in (10**9, "x", "-1", 2**63):
        socket = await tabs(client, asked)
        assert await close_code(socket) == broadcast.CLOSE_FORBIDDEN, asked


async def test_events_count_among_the_streams_a_socket_may_ask_for(club, ben, tabs):
    events = [await new_event(club) for _ in range(MAX_STREAMS + 1)]
    client = await alogin(ben)
    eight = await tabs(client, *events[:MAX_STREAMS])
    assert await eight.receive_nothing(timeout=0.2)
    nine = await tabs(client, *events)
    assert await close_code(nine) == broadcast.CLOSE_BAD_REQUEST
    # Events and entries together.
    mixed = await tabs(client, *events[:MAX_STREAMS], entries=["1"])
    assert await close_code(mixed) == broadcast.CLOSE_BAD_REQUEST


def test_sockets_opening_together_are_authorized_in_one_more_query_for_events(
    club, aiko, ben, chika, django_assert_num_queries
):
    other = make_event(club)
    seen = make_event(club)
    eri = MemberFactory(nickname="eri")
    Block.objects.create(blocker=eri, blocked=chika)
    Membership.objects.create(community=club, member=eri)
    Block.objects.create(blocker=aiko, blocked=eri)
    keys = {m.nickname: key_of(client_for(m)) for m in (ben, chika, eri)}

    # The sessions, their members, the blocks, and one for every event asked.
    with django_assert_num_queries(4):
        answers = _authorize_many(
            [
                (keys["ben"], ben.pk, [], [], [str(seen.pk), str(other.pk)]),
                (keys["chika"], chika.pk, [], [], [str(seen.pk)] * 2),
                (keys["eri"], eri.pk, [], [], [str(seen.pk)]),
                (keys["eri"], eri.pk, [], [], ["x"]),
                (keys["ben"], ben.pk, [], [], []),
                (keys["ben"], ben.pk, []),
            ]
        )

    assert answers[0] == ([], frozenset(), [], [seen.pk, other.pk])
    assert answers[1] == ([], frozenset({eri.pk}), [], [seen.pk])
    # aiko, the organiser, blocked eri: the event is not found for her.
    assert isinstance(answers[2], Http404)
    assert isinstance(answers[3], Http404)
    assert answers[4] == ([], frozenset())
    assert answers[5] == ([], frozenset())


def test_no_event_asked_costs_no_query_for_events(club, ben, django_assert_num_queries):
    key = key_of(client_for(ben))
    with django_assert_num_queries(3):
        assert _authorize_many([(key, ben.pk, [], [], [])]) == [([], frozenset())]


# --- What reaches whom ------------------------------------------------------------


async def test_an_answer_reaches_every_socket_on_the_event_and_no_other(
    club, aiko, ben, chika, tabs
):
    event = await new_event(club, capacity=3)
    watching = [
        await tabs(await alogin(aiko), event),
        await tabs(await alogin(chika), event),
        await tabs(await alogin(chika), event, lang="ja"),
    ]
    other = await new_event(club)
    elsewhere = await tabs(await alogin(chika), other)

    await answer(await alogin(ben), event, "going")

    version = await event_version(event)
    for socket in watching:
        frames = await frames_until_quiet(socket)
        (counts,) = counts_of(frames, event)
        (attendee,) = attendee_frames(frames, event, ben)
        assert version_of(counts) == version_of(attendee) == version
        assert 'data-list="going"' in attendee
        assert ">ben</a>" in attendee
        # Out of band, into the event's page, which static/js/events.js keeps.
        assert attendee.startswith(f'<div hx-swap-oob="beforeend:#event-{event.pk}">')
    assert await frames_until_quiet(elsewhere) == []


async def test_the_fragments_are_in_each_sockets_language(club, aiko, ben, tabs):
    event = await new_event(club, capacity=3)
    client = await alogin(aiko)
    english = await tabs(client, event, lang="en")
    japanese = await tabs(client, event, lang="ja")

    await answer(await alogin(ben), event, "going")

    (to_english,) = counts_of(await frames_until_quiet(english), event)
    (to_japanese,) = counts_of(await frames_until_quiet(japanese), event)
    assert "1 going · 0 maybe · 1 of 3 seats taken" in to_english
    with_japanese = await sync_to_async(
        lambda: live.render_per_language("counts", {"event": event_now(event)})
    )()
    assert to_japanese == (
        f'<div hx-swap-oob="beforeend:#event-{event.pk}">{with_japanese["ja"]}</div>'
    )


def event_now(event) -> Event:
    return Event.objects.get(pk=event.pk)


async def test_an_attendee_is_counted_but_not_named_to_a_member_hidden_from_them(
    club, aiko, ben, chika, tabs
):
    # chika blocked ben: both may see aiko's event, but the fragment naming
    # ben must not reach chika's open page, although it is rendered once for
    # all; the counts do.
    event = await new_event(club)
    await database_sync_to_async(Block.objects.create)(blocker=chika, blocked=ben)
    aiko_tab = await tabs(await alogin(aiko), event)
    chika_tab = await tabs(await alogin(chika), event)

    await answer(await alogin(ben), event, "going")
    await answer(await alogin(aiko), event, "maybe")

    to_aiko = await frames_until_quiet(aiko_tab)
    to_chika = await frames_until_quiet(chika_tab)
    assert attendee_frames(to_aiko, event, ben)
    assert not attendee_frames(to_chika, event, ben)
    assert not [f for f in to_chika if ">ben<" in f]
    assert len(counts_of(to_chika, event)) == 2
    assert "1 going · 1 maybe" in counts_of(to_chika, event)[-1]
    assert attendee_frames(to_chika, event, aiko)


async def test_each_fragment_is_rendered_once_per_language_not_per_recipient(
    club, aiko, ben, chika, daichi, tabs, monkeypatch
):
    event = await new_event(club)
    for member in (aiko, chika, daichi):
        for lang in LANGUAGES:
            await tabs(await alogin(member), event, lang=lang)
    rendered = []
    real = fragments.render_to_string

    def counting(template_name, *args, **kwargs):
        rendered.append(template_name)
        return real(template_name, *args, **kwargs)

    monkeypatch.setattr(fragments, "render_to_string", counting)

    await answer(await alogin(ben), event, "going")

    assert sorted(rendered) == sorted(
        ["events/_rsvp.html#counts-live", "events/_rsvp.html#attendee-live"]
        * len(LANGUAGES)
    )


async def test_a_withdrawal_removes_the_attendee_everywhere(club, aiko, ben, tabs):
    event = await new_event(club)
    client = await alogin(ben)
    await answer(client, event, "going")
    aiko_tab = await tabs(await alogin(aiko), event)

    await answer(client, event, "withdraw")

    frames = await frames_until_quiet(aiko_tab)
    (gone,) = attendee_frames(frames, event, ben)
    assert 'data-list="none" hidden></li>' in gone
    assert ">ben<" not in gone
    assert version_of(gone) == await event_version(event)


# --- The per-member notice ----------------------------------------------------------


async def test_the_promoted_and_those_moving_up_are_told_on_their_own_group(
    club, aiko, ben, chika, daichi, tabs
):
    event = await new_event(club, capacity=1)
    ben_client = await alogin(ben)
    await answer(ben_client, event, "going")
    await answer(await alogin(chika), event, "going")
    await answer(await alogin(daichi), event, "going")
    # chika and daichi wait; their sockets are on any page (their own group),
    # and aiko's too, who did not answer.
    homes = {
        member.nickname: await tabs(await alogin(member))
        for member in (aiko, chika, daichi)
    }

    await answer(ben_client, event, "withdraw")

    version = await event_version(event)
    notice = (
        f'<template id="live-event-rsvp" data-event="{event.pk}" '
        f'data-version="{version}"></template>'
    )
    to_chika = await frames_until_quiet(homes["chika"])
    assert notices(to_chika) == [notice]
    assert notices(await frames_until_quiet(homes["daichi"])) == [notice]
    assert notices(await frames_until_quiet(homes["aiko"])) == []
    # What chika's page then asks for says she is going.
    panel = await sync_to_async((await alogin(chika)).get)(
        reverse("events:rsvp", kwargs={"event_id": event.pk}), **HTMX
    )
    assert "You are going" in panel.content.decode()
    daichi_panel = await sync_to_async((await alogin(daichi)).get)(
        reverse("events:rsvp", kwargs={"event_id": event.pk}), **HTMX
    )
    assert "You are number 1 on the waitlist" in daichi_panel.content.decode()


async def test_an_edit_sends_the_summary_without_a_place_for_members_going(
    club, aiko, ben, chika, tabs
):
    event = await new_event(club, place="Bear Pond, 2F", place_going_only=True)
    await answer(await alogin(ben), event, "going")
    chika_tab = await tabs(await alogin(chika), event)
    ben_home = await tabs(await alogin(ben))

    @database_sync_to_async
    def move():
        actions.update_event(aiko, event_now(event), place="Mikazuki, 1F")

    await move()

    version = await event_version(event)
    frames = await frames_until_quiet(chika_tab)
    (summary,) = [f for f in frames if f'id="event-{event.pk}-summary"' in f]
    assert version_of(summary) == version
    assert "Mikazuki" not in summary and "Bear Pond" not in summary
    assert "The place is shown to members going" in summary
    # ben, going, is told, and his page asks for the place.
    assert notices(await frames_until_quiet(ben_home)) == [
        f'<template id="live-event-rsvp" data-event="{event.pk}" '
        f'data-version="{version}"></template>'
    ]


def test_publishing_reads_a_fixed_number_of_queries(
    club, ben, chika, daichi, django_assert_num_queries, monkeypatch
):
    event = make_event(club, capacity=1)
    for member in (ben, chika, daichi):
        actions.answer(member, event, Status.GOING)
    sent = []
    monkeypatch.setattr(
        broadcast, "send_event_frames", lambda *a, **k: sent.append((a, k))
    )
    monkeypatch.setattr(broadcast, "send_html_to_members", lambda *a: None)

    with django_assert_num_queries(2):
        live.publish(event.pk, [ben.pk, chika.pk, daichi.pk], [])
    # The counts (no author), then each attendee as its own author.
    assert [k["author_ids"] for _a, k in sent] == [
        (),
        (ben.pk,),
        (chika.pk,),
        (daichi.pk,),
    ]
    with django_assert_num_queries(2):
        live.publish_event(event.pk)


# --- Revocation ----------------------------------------------------------------------


@pytest.mark.parametrize("cause", ["ban", "block-by-organiser", "block-of-organiser"])
async def test_a_ban_or_a_block_while_open_stops_the_stream(
    club, aiko, ben, tabs, cause
):
    event = await new_event(club)
    client = await alogin(ben)
    ben_tab = await tabs(client, event)

    @database_sync_to_async
    def narrow():
        if cause == "ban":
            membership = Membership.objects.get(community=club, member=ben)
            membership.status = Membership.Status.BANNED
            membership.save()
        elif cause == "block-by-organiser":
            Block.objects.create(blocker=aiko, blocked=ben)
        else:
            Block.objects.create(blocker=ben, blocked=aiko)

    await narrow()

    await assert_told_to_reconnect(ben_tab)
    assert await close_code(await tabs(client, event)) == broadcast.CLOSE_FORBIDDEN


async def test_a_deleted_event_closes_its_pages_sockets(club, ben, tabs):
    event = await new_event(club)
    client = await alogin(ben)
    ben_tab = await tabs(client, event)

    await database_sync_to_async(lambda: event_now(event).delete())()

    await assert_told_to_reconnect(ben_tab)
    assert await close_code(await tabs(client, event.pk)) == broadcast.CLOSE_FORBIDDEN


async def test_a_deletion_while_a_socket_is_connecting_still_reaches_it(
    club, ben, tabs, monkeypatch
):
    # The event goes after the socket read what its member may see but before
    # it was accepted: the socket joined the event's group before reading, so
    # the revocation waits for it instead of passing by.
    from chat import socket_limit

    event = await new_event(club)
    real_acquire = socket_limit.acquire

    async def acquire_while_deleted(member_id, socket_name):
        await database_sync_to_async(lambda: event_now(event).delete())()
        await asyncio.sleep(0.3)  # the revocation's publish arrives meanwhile
        return await real_acquire(member_id, socket_name)

    monkeypatch.setattr(socket_limit, "acquire", acquire_while_deleted)
    socket = await tabs(await alogin(ben), event)

    assert await close_code(socket) == broadcast.CLOSE_RECHECK
