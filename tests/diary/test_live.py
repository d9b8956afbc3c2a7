"""The entry page live, over the Redis pub/sub layer: its stream on the one
socket (`?entry=<id>`) is authorized like the page, comments and likes reach
every socket showing the entry and none of a member who may not see them,
and a narrowed audience, a deletion or a block takes the stream off open
sockets within a second (project/revocation.py)."""

import asyncio
import time
import uuid
from urllib.parse import urlencode

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.audience import Audience
from accounts.models import Block, Friendship, Member
from chat import broadcast
from diary import live
from diary.models import Entry
from project.asgi import application
from tests.chat.conftest import NOTHING_TIMEOUT, RECEIVE_TIMEOUT, tab_headers
from tests.conftest import client_for
from tests.diary.conftest import make_entry

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.redis,
    pytest.mark.timeout(60),
]

WITHIN = 1.0  # seconds
HTMX = {"HTTP_HX_REQUEST": "true"}
alogin = database_sync_to_async(client_for)


def key_of(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
async def tabs(redis_layer):
    """tabs(client, entry=None, lang="en"): a socket presenting the client's
    session as a browser tab of the entry page (or of any page, without an
    entry) does, over the Redis layer. Returns the communicator and what the
    connect answered: None when accepted and silent, else its close code."""
    opened = []

    async def open_(client, *entries, lang="en"):
        params = [("entry", getattr(e, "pk", e)) for e in entries] + [("lang", lang)]
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


async def close_code(socket) -> int | None:
    output = await socket.receive_output(timeout=RECEIVE_TIMEOUT)
    return output["code"] if output["type"] == "websocket.close" else None


async def frames_until_quiet(socket) -> list[str]:
    found = []
    while not await socket.receive_nothing(timeout=NOTHING_TIMEOUT):
        output = await socket.receive_output()
        found.append(output.get("text") or f"<close {output.get('code')}>")
    return found


async def comment(client, entry, body):
    url = reverse("diary:comment-create", kwargs={"entry_id": entry.pk})
    response = await sync_to_async(client.post)(url, {"body": body}, **HTMX)
    assert response.status_code == 201, response.content
    return response


async def assert_told_to_reconnect(socket) -> None:
    started = time.monotonic()
    output = await socket.receive_output(timeout=RECEIVE_TIMEOUT)
    assert output == {"type": "websocket.close", "code": broadcast.CLOSE_RECHECK}
    assert time.monotonic() - started < WITHIN


# --- Who may open the stream -----------------------------------------------


@pytest.mark.parametrize(
    ("audience", "allowed"),
    [
        (Audience.MEMBERS, {"owner", "friend", "fof", "other"}),
        (Audience.FRIENDS_OF_FRIENDS, {"owner", "friend", "fof"}),
        (Audience.FRIENDS, {"owner", "friend"}),
        (Audience.ONLY_ME, {"owner"}),
    ],
)
async def test_the_entry_stream_is_authorized_as_the_page_is(
    cast, tabs, audience, allowed
):
    entry = await database_sync_to_async(make_entry)(cast["owner"], audience)
    for role, member in cast.items():
        socket = await tabs(await alogin(member), entry)
        if role in allowed:
            assert await socket.receive_nothing(timeout=0.2), role
        else:
            assert await close_code(socket) == broadcast.CLOSE_FORBIDDEN, role


async def test_a_missing_or_malformed_entry_is_refused_like_a_hidden_one(cast, tabs):
    client = await alogin(cast["friend"])
    for asked in (10**9, "x", "-1"):
        socket = await tabs(client, asked)
        assert await close_code(socket) == broadcast.CLOSE_FORBIDDEN, asked


# --- What reaches whom -------------------------------------------------------


async def test_a_comment_reaches_every_socket_on_the_entry_and_no_other(cast, tabs):
    entry = await database_sync_to_async(make_entry)(
        cast["owner"], Audience.FRIENDS_OF_FRIENDS
    )
    aiko = await alogin(cast["owner"])
    ben = await alogin(cast["friend"])
    eri = await alogin(cast["fof"])
    watching = [
        await tabs(aiko, entry),
        await tabs(ben, entry),
        await tabs(eri, entry),
        await tabs(eri, entry, lang="ja"),
    ]
    # fumi may not see the entry: her page shows no stream of it.
    fumi = await tabs(await alogin(cast["other"]))

    await comment(ben, entry, "Looks like fun")

    for socket in watching:
        frames = await frames_until_quiet(socket)
        assert any("Looks like fun" in frame for frame in frames), frames
    assert not any("Looks like fun" in f for f in await frames_until_quiet(fumi))


async def test_a_comment_skips_sockets_of_members_hidden_from_its_author(cast, tabs):
    # eri blocked ben: both may see aiko's entry, but ben's comment must not
    # reach eri's open page, although the fragment is rendered once for all.
    entry = await database_sync_to_async(make_entry)(
        cast["owner"], Audience.FRIENDS_OF_FRIENDS
    )
    await database_sync_to_async(Block.objects.create)(
        blocker=cast["fof"], blocked=cast["friend"]
    )
    aiko_tab = await tabs(await alogin(cast["owner"]), entry)
    eri_tab = await tabs(await alogin(cast["fof"]), entry)

    await comment(await alogin(cast["friend"]), entry, "ben was here")
    await comment(await alogin(cast["owner"]), entry, "aiko answers")

    to_aiko = await frames_until_quiet(aiko_tab)
    to_eri = await frames_until_quiet(eri_tab)
    assert any("ben was here" in frame for frame in to_aiko)
    assert not any("ben was here" in frame for frame in to_eri)
    assert any("aiko answers" in frame for frame in to_eri)


async def test_a_blocked_member_cannot_comment_nor_watch(cast, tabs):
    entry = await database_sync_to_async(make_entry)(cast["owner"], Audience.MEMBERS)
    for role in ("blocked", "blocker"):
        client = await alogin(cast[role])
        url = reverse("diary:comment-create", kwargs={"entry_id": entry.pk})
        response = await sync_to_async(client.post)(url, {"body": "sneaky"})
        assert response.status_code == 404
        socket = await tabs(client, entry)
        assert await close_code(socket) == broadcast.CLOSE_FORBIDDEN


async def test_comments_are_rendered_in_each_sockets_language(cast, tabs):
    entry = await database_sync_to_async(make_entry)(cast["owner"], Audience.FRIENDS)
    ben = await alogin(cast["friend"])
    english = await tabs(ben, entry, lang="en")
    japanese = await tabs(ben, entry, lang="ja")

    await comment(ben, entry, "hello")

    (to_english,) = await frames_until_quiet(english)
    (to_japanese,) = await frames_until_quiet(japanese)
    assert "hello" in to_english and "hello" in to_japanese
    assert 'lang="en"' not in to_english  # a fragment, not a page
    assert ">Delete</button>" in to_english


async def test_the_author_hears_of_comments_and_likes_on_their_own_group(cast, tabs):
    entry = await database_sync_to_async(make_entry)(cast["owner"], Audience.FRIENDS)
    aiko_home = await tabs(await alogin(cast["owner"]))
    ben = await alogin(cast["friend"])
    ben_home = await tabs(ben)

    await comment(ben, entry, "first!")
    like = reverse("diary:entry-like", kwargs={"entry_id": entry.pk})
    await sync_to_async(ben.post)(like, **HTMX)

    to_aiko = await frames_until_quiet(aiko_home)
    # And the notification badge rises with each (presence/notifications.py).
    badges = [frame for frame in to_aiko if 'id="notification-count"' in frame]
    assert len(badges) == 2
    to_aiko = [frame for frame in to_aiko if frame not in badges]
    assert to_aiko == [
        f'<template id="live-diary-comment" data-entry="{entry.pk}" '
        f'data-url="/diary/{entry.pk}/"></template>',
        f'<template id="live-diary-like" data-entry="{entry.pk}" '
        f'data-url="/diary/{entry.pk}/"></template>',
    ]
    assert await frames_until_quiet(ben_home) == []


async def test_a_like_updates_the_count_on_every_open_copy(cast, tabs):
    entry = await database_sync_to_async(make_entry)(cast["owner"], Audience.FRIENDS)
    aiko_tab = await tabs(await alogin(cast["owner"]), entry)
    ben = await alogin(cast["friend"])

    like = reverse("diary:entry-like", kwargs={"entry_id": entry.pk})
    await sync_to_async(ben.post)(like, **HTMX)

    frames = await frames_until_quiet(aiko_tab)
    assert (
        f'<span id="entry-{entry.pk}-like-count" class="like-count" '
        'hx-swap-oob="true">1</span>'
    ) in frames


async def test_a_deleted_comment_leaves_every_open_copy(cast, tabs):
    from diary.models import Comment

    entry = await database_sync_to_async(make_entry)(cast["owner"], Audience.FRIENDS)
    ben_tab = await tabs(await alogin(cast["friend"]), entry)
    mine = await database_sync_to_async(Comment.objects.create)(
        entry=entry, author=cast["friend"], body="oops"
    )
    url = reverse("diary:comment-delete", kwargs={"comment_id": mine.pk})
    response = await sync_to_async((await alogin(cast["owner"])).post)(url, **HTMX)
    assert response.status_code == 200

    assert await frames_until_quiet(ben_tab) == [
        f'<div id="comment-{mine.pk}" hx-swap-oob="delete"></div>'
    ]


# --- Revocation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "narrower", [Audience.FRIENDS, Audience.ONLY_ME], ids=["to-friends", "to-me"]
)
async def test_a_narrowed_audience_takes_the_stream_off_open_pages(
    cast, tabs, narrower
):
    entry = await database_sync_to_async(make_entry)(
        cast["owner"], Audience.FRIENDS_OF_FRIENDS
    )
    aiko = await alogin(cast["owner"])
    eri = await alogin(cast["fof"])
    eri_tab = await tabs(eri, entry)
    aiko_tab = await tabs(aiko, entry)

    edit = reverse("diary:entry-edit", kwargs={"entry_id": entry.pk})
    response = await sync_to_async(aiko.post)(
        edit, {"title": "t", "body": "b", "audience": narrower}
    )
    assert response.status_code == 302

    await assert_told_to_reconnect(eri_tab)
    await assert_told_to_reconnect(aiko_tab)
    # The pages reconnect: eri is refused, aiko comes back.
    assert await close_code(await tabs(eri, entry)) == broadcast.CLOSE_FORBIDDEN
    aiko_tab = await tabs(aiko, entry)
    assert await aiko_tab.receive_nothing(timeout=0.2)


async def test_a_wider_audience_or_an_unrelated_edit_leaves_open_pages_alone(
    cast, tabs
):
    entry = await database_sync_to_async(make_entry)(cast["owner"], Audience.FRIENDS)
    ben_tab = await tabs(await alogin(cast["friend"]), entry)
    aiko = await alogin(cast["owner"])
    edit = reverse("diary:entry-edit", kwargs={"entry_id": entry.pk})
    for audience in (Audience.FRIENDS, Audience.MEMBERS):
        await sync_to_async(aiko.post)(
            edit, {"title": "new title", "body": "b", "audience": audience}
        )
    assert await ben_tab.receive_nothing(timeout=NOTHING_TIMEOUT)


async def test_an_audience_narrowed_by_a_queryset_update_also_reaches_sockets(
    cast, tabs
):
    entry = await database_sync_to_async(make_entry)(cast["owner"], Audience.MEMBERS)
    fumi_tab = await tabs(await alogin(cast["other"]), entry)

    await database_sync_to_async(Entry.objects.filter(pk=entry.pk).update)(
        audience=Audience.FRIENDS
    )

    await assert_told_to_reconnect(fumi_tab)


async def test_a_deleted_entry_closes_its_pages_sockets(cast, tabs):
    entry = await database_sync_to_async(make_entry)(cast["owner"], Audience.FRIENDS)
    ben = await alogin(cast["friend"])
    ben_tab = await tabs(ben, entry)
    aiko = await alogin(cast["owner"])

    delete = reverse("diary:entry-delete", kwargs={"entry_id": entry.pk})
    assert (await sync_to_async(aiko.post)(delete)).status_code == 302

    await assert_told_to_reconnect(ben_tab)
    assert await close_code(await tabs(ben, entry.pk)) == broadcast.CLOSE_FORBIDDEN


@pytest.mark.parametrize("who_blocks", ["author", "viewer"])
async def test_a_block_while_open_stops_the_stream(cast, tabs, who_blocks):
    entry = await database_sync_to_async(make_entry)(cast["owner"], Audience.FRIENDS)
    ben = await alogin(cast["friend"])
    ben_tab = await tabs(ben, entry)
    blocker, blocked = (cast["owner"], cast["friend"])
    if who_blocks == "viewer":
        blocker, blocked = blocked, blocker

    await database_sync_to_async(Block.objects.create)(blocker=blocker, blocked=blocked)

    await assert_told_to_reconnect(ben_tab)
    await comment(await alogin(cast["owner"]), entry, "after the block")
    assert not any("after the block" in f for f in await frames_until_quiet(ben_tab))
    assert await close_code(await tabs(ben, entry)) == broadcast.CLOSE_FORBIDDEN


async def test_unfriending_takes_friends_of_friends_streams_off_too(cast, tabs):
    # eri sees aiko's entry only through ben; when aiko and ben part, eri's
    # open page must be authorized again, although eri is neither of the two.
    entry = await database_sync_to_async(make_entry)(
        cast["owner"], Audience.FRIENDS_OF_FRIENDS
    )
    eri = await alogin(cast["fof"])
    eri_tab = await tabs(eri, entry)

    await database_sync_to_async(
        lambda: [
            row.delete()
            for row in Friendship.objects.filter(
                member__in=[cast["owner"], cast["friend"]],
                friend__in=[cast["owner"], cast["friend"]],
            )
        ]
    )()

    await assert_told_to_reconnect(eri_tab)
    assert await close_code(await tabs(eri, entry)) == broadcast.CLOSE_FORBIDDEN


async def test_a_deactivated_author_takes_their_entries_off_open_pages(cast, tabs):
    entry = await database_sync_to_async(make_entry)(cast["owner"], Audience.MEMBERS)
    fumi = await alogin(cast["other"])
    fumi_tab = await tabs(fumi, entry)

    @database_sync_to_async
    def deactivate():
        owner = Member.objects.get(pk=cast["owner"].pk)
        owner.is_active = False
        owner.save()

    await deactivate()

    await assert_told_to_reconnect(fumi_tab)
    assert await close_code(await tabs(fumi, entry)) == broadcast.CLOSE_FORBIDDEN


# --- New entries on the home page ---------------------------------------------


@pytest.mark.parametrize(
    ("audience", "told"),
    [
        (Audience.MEMBERS, {"friend", "fof"}),
        (Audience.FRIENDS_OF_FRIENDS, {"friend", "fof"}),
        (Audience.FRIENDS, {"friend"}),
        (Audience.ONLY_ME, set()),
    ],
)
async def test_a_new_entry_tells_the_home_pages_of_those_whose_feed_shows_it(
    cast, tabs, audience, told
):
    homes = {role: await tabs(await alogin(member)) for role, member in cast.items()}
    aiko = await alogin(cast["owner"])
    title = f"news {uuid.uuid4().hex[:6]}"

    response = await sync_to_async(aiko.post)(
        reverse("diary:entry-create"),
        {"title": title, "body": "b", "audience": audience},
    )
    assert response.status_code == 302
    entry = await database_sync_to_async(Entry.objects.get)(title=title)

    notice = (
        f'<template id="live-new-entry" data-entry="{entry.pk}" '
        f'data-url="/diary/{entry.pk}/"></template>'
    )
    for role, socket in homes.items():
        frames = await frames_until_quiet(socket)
        assert frames == ([notice] if role in told else []), role


def test_feed_recipients_are_exactly_those_visible_to_lets_see_it(
    cast, django_assert_max_num_queries
):
    # The one rule seen from the author's side: for each audience, the
    # recipients are the friends and friends of friends to whom
    # Entry.objects.visible_to shows the entry (never the author).
    from accounts.audience import friend_ids, friend_of_friend_ids

    owner = cast["owner"]
    reach = set(
        Member.objects.filter(pk__in=friend_ids(owner)).values_list("pk", flat=True)
    ) | set(
        Member.objects.filter(pk__in=friend_of_friend_ids(owner)).values_list(
            "pk", flat=True
        )
    )
    for audience in Audience.values:
        entry = make_entry(owner, audience)
        seeing = {
            member.pk
            for member in Member.objects.all()
            if Entry.objects.visible_to(member).filter(pk=entry.pk).exists()
        }
        with django_assert_max_num_queries(1):
            recipients = set(live.feed_recipient_ids(entry))
        assert recipients == (seeing & reach) - {owner.pk}, audience


async def test_a_narrowing_made_while_a_socket_is_connecting_still_reaches_it(
    cast, tabs, monkeypatch
):
    # The audience narrows after the socket read what its member may see but
    # before it was accepted: the socket joined the entry's group before
    # reading, so the revocation waits for it instead of passing by.
    from chat import socket_limit

    entry = await database_sync_to_async(make_entry)(cast["owner"], Audience.MEMBERS)
    real_acquire = socket_limit.acquire

    async def acquire_while_narrowed(member_id, socket_name):
        await database_sync_to_async(Entry.objects.filter(pk=entry.pk).update)(
            audience=Audience.ONLY_ME
        )
        await asyncio.sleep(0.3)  # the revocation's publish arrives meanwhile
        return await real_acquire(member_id, socket_name)

    monkeypatch.setattr(socket_limit, "acquire", acquire_while_narrowed)
    socket = await tabs(await alogin(cast["other"]), entry)

    assert await close_code(socket) == broadcast.CLOSE_RECHECK
