"""Blocks: the action (a friendship and pending requests end with it, in one
transaction), the pages (confirm first, the settings list, unblock), a
blocked member's profile and avatar answering exactly as a missing
nickname, the chat message menu's Block link, and open sockets of both
members re-authorized within a second (the revocation path)."""

import time

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import transaction

from accounts import actions, friends
from accounts.actions import ActionRefused
from accounts.models import Block, FriendRequest, Friendship
from chat import broadcast
from tests.accounts.test_views import give_avatar
from tests.chat import conftest as chat_fixtures
from tests.chat.conftest import RECEIVE_TIMEOUT
from tests.conftest import client_for
from tests.factories import CommunityFactory, MembershipFactory, TopicFactory

# Live sockets through the real application, as in the chat tests.
live_layer = chat_fixtures.live_layer
redis_layer = chat_fixtures.redis_layer
open_tab = chat_fixtures.open_tab
open_socket = chat_fixtures.open_socket

WITHIN = 1.0  # seconds: a block reaches open sockets within a second


def block(member, other):
    return actions.block_member(member=member, other=other)


# --- The action ---------------------------------------------------------------------


def test_a_block_ends_the_friendship_both_ways(aiko, ben):
    actions.make_friends(aiko, ben)

    block(ben, aiko)

    assert not Friendship.objects.exists()
    assert Block.objects.filter(blocker=ben, blocked=aiko).exists()
    assert not Block.objects.filter(blocker=aiko).exists()


@pytest.mark.parametrize("asker", ["blocker", "blocked"])
def test_a_block_ends_a_pending_request_either_way(aiko, ben, asker):
    sender, recipient = (aiko, ben) if asker == "blocker" else (ben, aiko)
    request = actions.send_friend_request(sender=sender, recipient=recipient)

    block(aiko, ben)

    request.refresh_from_db()
    assert request.status == FriendRequest.Status.CANCELLED
    assert not friends.pending_received(recipient).exists()
    assert not friends.pending_sent(sender).exists()


def test_a_block_that_fails_changes_nothing(aiko, ben, monkeypatch):
    # One transaction: if ending the requests fails, the block and the end of
    # the friendship are rolled back with it.
    actions.make_friends(aiko, ben)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(FriendRequest.objects, "between", broken)
    with pytest.raises(RuntimeError):
        block(aiko, ben)

    assert not Block.objects.exists()
    assert Friendship.objects.filter(member=aiko, friend=ben).exists()
    assert Friendship.objects.filter(member=ben, friend=aiko).exists()


def test_blocking_oneself_is_refused(aiko):
    with pytest.raises(ActionRefused, match="cannot block yourself"):
        block(aiko, aiko)
    assert not Block.objects.exists()


def test_blocking_twice_is_harmless(aiko, ben):
    block(aiko, ben)
    block(aiko, ben)

    assert Block.objects.count() == 1


def test_unblocking_lifts_only_ones_own_block(aiko, ben):
    block(aiko, ben)
    block(ben, aiko)

    actions.unblock_member(member=aiko, other_id=ben.pk)

    assert list(Block.objects.values_list("blocker", "blocked")) == [(ben.pk, aiko.pk)]
    with pytest.raises(ActionRefused, match="not blocked"):
        actions.unblock_member(member=aiko, other_id=ben.pk)


def test_a_block_ends_requests_and_updates_the_recipients_badge(
    aiko, ben, django_capture_on_commit_callbacks, monkeypatch
):
    pushed = []
    monkeypatch.setattr(friends, "push_request_badge", pushed.append)
    actions.send_friend_request(sender=ben, recipient=aiko)
    pushed.clear()

    with django_capture_on_commit_callbacks(execute=True):
        block(aiko, ben)

    assert pushed == [aiko.pk]


# --- Profile and avatar: as if the member did not exist -----------------------


@pytest.mark.parametrize("who_blocks", ["viewer", "member"])
@pytest.mark.parametrize(
    "path", ["/members/{}/", "/members/{}/avatar/", "/members/{}/friends/"]
)
def test_a_blocked_members_pages_answer_exactly_as_a_missing_nickname(
    aiko, ben, who_blocks, path
):
    give_avatar(ben)
    ben.friends_audience = "members"
    ben.save()
    aiko_client = client_for(aiko)
    assert aiko_client.get(path.format("ben")).status_code == 200

    if who_blocks == "viewer":
        block(aiko, ben)
    else:
        block(ben, aiko)

    blocked = aiko_client.get(path.format("ben"))
    missing = aiko_client.get(path.format("nobody"))
    assert blocked.status_code == missing.status_code == 404
    assert blocked.content == missing.content
    assert blocked.headers.keys() == missing.headers.keys()


@pytest.mark.parametrize("who_blocks", ["viewer", "member"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/members/{}/block/"),
        ("post", "/members/{}/block/"),
        ("get", "/members/{}/unfriend/"),
        ("post", "/members/{}/unfriend/"),
        ("post", "/members/{}/friend-request/"),
    ],
)
def test_nothing_can_be_done_across_a_block_as_for_a_missing_nickname(
    aiko, ben, who_blocks, method, path
):
    if who_blocks == "viewer":
        block(aiko, ben)
    else:
        block(ben, aiko)
    aiko_client = client_for(aiko)

    blocked = getattr(aiko_client, method)(path.format("ben"))
    missing = getattr(aiko_client, method)(path.format("nobody"))

    assert blocked.status_code == missing.status_code == 404
    assert blocked.content == missing.content
    assert Block.objects.count() == 1
    assert not FriendRequest.objects.exists()


@pytest.mark.parametrize("who_blocks", ["viewer", "member"])
def test_the_other_member_cannot_see_the_blocker_either(aiko, ben, who_blocks):
    give_avatar(aiko)
    if who_blocks == "viewer":
        block(ben, aiko)
    else:
        block(aiko, ben)

    ben_client = client_for(ben)
    assert ben_client.get("/members/aiko/").status_code == 404
    assert ben_client.get("/members/aiko/avatar/").status_code == 404


def test_members_not_in_the_block_still_see_both(aiko, ben, chika):
    block(aiko, ben)

    chika_client = client_for(chika)
    assert chika_client.get("/members/aiko/").status_code == 200
    assert chika_client.get("/members/ben/").status_code == 200


# --- Pages ---------------------------------------------------------------------------


def test_block_from_the_member_page_asks_first_then_blocks(aiko, ben):
    actions.make_friends(aiko, ben)
    aiko_client = client_for(aiko)

    page = aiko_client.get("/members/ben/").text
    assert '<form method="get" action="/members/ben/block/">' in page
    assert ">Block</button>" in page

    confirm = aiko_client.get("/members/ben/block/")
    assert confirm.status_code == 200
    assert "Block ben?" in confirm.text
    assert ">Block</button>" in confirm.text
    assert not Block.objects.exists()

    done = aiko_client.post("/members/ben/block/", follow=True)
    assert done.redirect_chain == [("/settings/blocks/", 302)]
    assert "You blocked ben." in done.text
    assert Block.objects.filter(blocker=aiko, blocked=ben).exists()
    assert not Friendship.objects.exists()
    assert aiko_client.get("/members/ben/").status_code == 404


def test_the_block_page_of_oneself_blocks_nothing(aiko):
    response = client_for(aiko).post("/members/aiko/block/", follow=True)

    assert "You cannot block yourself." in response.text
    assert not Block.objects.exists()


def test_anonymous_visitors_cannot_block(aiko, ben, client):
    response = client.post("/members/ben/block/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Block.objects.exists()


def test_the_block_list_shows_only_the_members_i_blocked(aiko, ben, chika, daichi):
    block(aiko, ben)
    block(chika, aiko)  # never shown to aiko
    block(daichi, chika)

    response = client_for(aiko).get("/settings/blocks/")

    assert [b.blocked for b in response.context["page"].object_list] == [ben]
    assert "ben" in response.text
    assert "chika" not in response.text
    assert "daichi" not in response.text
    assert response.text.count(">Unblock</button>") == 1
    assert f'action="/settings/blocks/{ben.pk}/unblock/"' in response.text


def test_the_block_list_is_empty_when_i_blocked_no_one(aiko, ben):
    block(ben, aiko)

    response = client_for(aiko).get("/settings/blocks/")

    assert "You have not blocked anyone." in response.text
    assert "ben" not in response.text


def test_unblock_from_settings_lifts_the_block(aiko, ben):
    block(aiko, ben)
    aiko_client = client_for(aiko)

    response = aiko_client.post(f"/settings/blocks/{ben.pk}/unblock/", follow=True)

    assert response.redirect_chain == [("/settings/blocks/", 302)]
    assert "Unblocked." in response.text
    assert not Block.objects.exists()
    assert aiko_client.get("/members/ben/").status_code == 200


def test_unblock_cannot_lift_the_other_members_block(aiko, ben):
    block(ben, aiko)

    response = client_for(aiko).post(f"/settings/blocks/{ben.pk}/unblock/", follow=True)

    assert "You have not blocked this member." in response.text
    assert Block.objects.filter(blocker=ben, blocked=aiko).exists()


def test_unblock_is_post_only(aiko, ben):
    block(aiko, ben)

    assert client_for(aiko).get(f"/settings/blocks/{ben.pk}/unblock/").status_code == (
        405
    )
    assert Block.objects.exists()


def test_block_list_query_count_stays_flat(
    aiko, member_factory, django_assert_num_queries
):
    def more_blocks(count):
        for _ in range(count):
            block(aiko, give_avatar(member_factory()))

    more_blocks(10)
    aiko_client = client_for(aiko)
    # session, member, count, page with the blocked members, the navigation's
    # counts (friend requests, notifications, footprints, reports)
    with django_assert_num_queries(8):
        small = aiko_client.get("/settings/blocks/")
    more_blocks(90)
    with django_assert_num_queries(8):
        large = aiko_client.get("/settings/blocks/")

    assert small.text.count(">Unblock</button>") == 10
    assert large.text.count(">Unblock</button>") == 50


def test_a_messages_menu_links_to_blocking_its_author(aiko, ben):
    community = CommunityFactory(owner=aiko)
    topic = TopicFactory(community=community)
    MembershipFactory(member=ben, community=community)
    client_for(ben).post(
        f"/topics/{topic.pk}/send/", {"body": "hello", "client_id": "x1"}
    )

    page = client_for(aiko).get(f"/topics/{topic.pk}/").text

    assert (
        '<a role="menuitem" tabindex="-1" class="others-only msg-block" '
        'href="/members/ben/block/">Block</a>'
    ) in page


# --- Open sockets -----------------------------------------------------------------


async def assert_told_to_reconnect(socket) -> None:
    started = time.monotonic()
    output = await socket.receive_output(timeout=RECEIVE_TIMEOUT)
    assert output == {"type": "websocket.close", "code": broadcast.CLOSE_RECHECK}
    assert time.monotonic() - started < WITHIN


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("friends_before", [False, True])
async def test_blocking_from_the_page_closes_both_members_sockets_within_a_second(
    aiko, ben, chika, redis_layer, open_socket, friends_before
):
    if friends_before:
        await database_sync_to_async(actions.make_friends)(aiko, ben)
    aiko_socket = await open_socket(aiko)
    ben_socket = await open_socket(ben)
    chika_socket = await open_socket(chika)
    aiko_client = await database_sync_to_async(client_for)(aiko)

    response = await sync_to_async(aiko_client.post)("/members/ben/block/")

    assert response.status_code == 302
    await assert_told_to_reconnect(aiko_socket)
    await assert_told_to_reconnect(ben_socket)
    # Nobody else's.
    assert await chika_socket.receive_nothing(timeout=0.5)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_unfriending_from_the_page_closes_both_members_sockets(
    aiko, ben, redis_layer, open_socket
):
    await database_sync_to_async(actions.make_friends)(aiko, ben)
    aiko_socket = await open_socket(aiko)
    ben_socket = await open_socket(ben)
    ben_client = await database_sync_to_async(client_for)(ben)

    response = await sync_to_async(ben_client.post)("/members/aiko/unfriend/")

    assert response.status_code == 302
    await assert_told_to_reconnect(aiko_socket)
    await assert_told_to_reconnect(ben_socket)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_friend_requests_close_no_socket(aiko, ben, redis_layer, open_socket):
    aiko_socket = await open_socket(aiko)
    ben_socket = await open_socket(ben)

    request = await database_sync_to_async(actions.send_friend_request)(
        sender=aiko, recipient=ben
    )
    badge = await ben_socket.receive_output(timeout=RECEIVE_TIMEOUT)
    notified = await ben_socket.receive_output(timeout=RECEIVE_TIMEOUT)
    await database_sync_to_async(actions.decline_friend_request)(
        member=ben, request_id=request.pk
    )
    again = await ben_socket.receive_output(timeout=RECEIVE_TIMEOUT)
    notified_again = await ben_socket.receive_output(timeout=RECEIVE_TIMEOUT)

    # Only the badges (friend requests, notifications), both times; no close,
    # and nothing at all to the sender.
    for frame in (badge, notified, again, notified_again):
        assert frame["type"] == "websocket.send"
    assert 'id="friend-request-badge"' in badge["text"]
    assert 'id="notification-badge"' in notified["text"]
    assert 'id="notification-badge"' in notified_again["text"]
    assert await ben_socket.receive_nothing(timeout=0.5)
    assert await aiko_socket.receive_nothing(timeout=0.5)


@pytest.mark.django_db(transaction=True)
def test_a_block_rolled_back_reaches_no_socket(aiko, ben, monkeypatch):
    sent = []
    monkeypatch.setattr(broadcast, "recheck_member_sockets", sent.append)

    with pytest.raises(RuntimeError), transaction.atomic():
        block(aiko, ben)
        raise RuntimeError

    assert sent == []
    block(aiko, ben)
    assert sent and all(set(ids) == {aiko.pk, ben.pk} for ids in sent)


def test_a_block_made_in_the_admin_still_hides_pending_requests_both_ways(aiko, ben):
    # The admin creates the row alone (no action ends the request).
    actions.send_friend_request(sender=ben, recipient=aiko)
    Block.objects.create(blocker=aiko, blocked=ben)

    assert not friends.pending_received(aiko).exists()
    assert not friends.pending_sent(ben).exists()
    assert ">Accept</button>" not in client_for(aiko).get("/friends/requests/").text
    assert friends.pending_received_count(aiko) == 0
