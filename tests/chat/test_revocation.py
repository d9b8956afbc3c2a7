"""Revocation is live: when what a member may see narrows, their open sockets
lose it within a second, through the one path in project/revocation.py.

Each case changes access the way a member, a moderator, the admin or the ORM
would, while the member's sockets are open on the real application over the
Redis pub/sub layer, then checks three things: the old socket is told to
reconnect (4408) within a second, the next message in the topic never reaches
it, and the reconnect the page then makes is authorized anew (refused, or
accepted with what is still allowed).
"""

import ast
import asyncio
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import Block, Friendship, Member
from chat import broadcast, hub, socket_limit
from communities.models import Membership
from tests.chat.conftest import NOTHING_TIMEOUT, RECEIVE_TIMEOUT, asend
from tests.chat.test_broadcast import BASE_DIR, own_python_files
from tests.conftest import PASSWORD, client_for
from tests.factories import CommunityFactory, MembershipFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.redis,
    pytest.mark.timeout(60),
]

WITHIN = 1.0  # seconds: "open sockets lose it within a second"
NEW_PASSWORD = "another-horse-battery-staple"


@pytest.fixture
def sockets(redis_layer, open_tab):
    """sockets(client_or_key, *topics): a socket presenting that session's
    cookie, as a browser tab would, over the Redis layer."""

    async def open_(session, *topics):
        key = session if isinstance(session, str) else session_key(session)
        return await open_tab(key, *topics)

    return open_


def session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


alogin = database_sync_to_async(client_for)


async def accepted(socket) -> bool:
    """Still open and silent: no close and no frame."""
    return await socket.receive_nothing(timeout=NOTHING_TIMEOUT)


async def outputs_until_quiet(socket, quiet=NOTHING_TIMEOUT) -> list[dict]:
    """Everything the server sent the socket until it stays quiet."""
    found = []
    while not await socket.receive_nothing(timeout=quiet):
        found.append(await socket.receive_output())
    return found


async def assert_told_to_reconnect(socket) -> None:
    started = time.monotonic()
    output = await socket.receive_output(timeout=RECEIVE_TIMEOUT)
    assert output == {"type": "websocket.close", "code": broadcast.CLOSE_RECHECK}
    assert time.monotonic() - started < WITHIN


async def assert_reconnect_closes(open_socket, session, topics, code) -> None:
    again = await open_socket(session, *topics)
    output = await again.receive_output(timeout=RECEIVE_TIMEOUT)
    assert output == {"type": "websocket.close", "code": code}


async def post_and_assert_never_delivered(author, topic, *sockets) -> None:
    """A message posted now reaches none of these (old) sockets."""
    body = f"after the change {uuid.uuid4().hex}"
    response = await asend(author, topic, body)
    assert response.status_code == 201
    for socket in sockets:
        for output in await outputs_until_quiet(socket):
            assert body not in output.get("text", ""), output


@pytest.fixture
def room(member, other_member, membership, other_membership, topic):
    """aiko and ben, active members of the topic's community."""
    return topic


# --- Logout and passwords ---------------------------------------------------------


async def change_password(client: Client):
    response = await sync_to_async(client.post)(
        reverse("account_change_password"),
        {
            "oldpassword": PASSWORD,
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302, response.content[:500]


@pytest.fixture
def real_passwords(settings):
    """Logins through the password form, as a member does."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


async def password_login(member) -> Client:
    client = Client()
    assert await sync_to_async(client.login)(
        username=member.nickname, password=PASSWORD
    )
    return client


async def test_logout_after_a_password_change_ends_the_tabs_opened_before_it(
    member, other_member, room, sockets, real_passwords
):
    aiko = await password_login(member)
    key_before = session_key(aiko)
    tab_opened_before = await sockets(aiko, room)

    await change_password(aiko)

    # The change renewed the session key; the old tab reconnects with the new
    # cookie and keeps its streams.
    key_after = session_key(aiko)
    assert key_after != key_before
    await assert_told_to_reconnect(tab_opened_before)
    tab = await sockets(key_after, room)
    assert await accepted(tab)

    response = await sync_to_async(aiko.post)(reverse("account_logout"))

    assert response.status_code == 302
    await assert_told_to_reconnect(tab)
    await post_and_assert_never_delivered(
        await alogin(other_member), room, tab_opened_before, tab
    )
    for key in (key_before, key_after):
        await assert_reconnect_closes(sockets, key, [room], 4401)


async def test_password_change_ends_every_other_sessions_sockets_and_keeps_its_own(
    member, other_member, room, sockets, real_passwords
):
    phone = await password_login(member)
    laptop = await password_login(member)
    phone_key = session_key(phone)
    on_phone = await sockets(phone, room)
    on_laptop = await sockets(laptop, room)

    await change_password(laptop)

    await assert_told_to_reconnect(on_phone)
    await assert_told_to_reconnect(on_laptop)
    await post_and_assert_never_delivered(
        await alogin(other_member), room, on_phone, on_laptop
    )
    # The phone's session no longer matches the password: refused, as its
    # HTTP requests are. The laptop, which changed it, goes on.
    await assert_reconnect_closes(sockets, phone_key, [room], 4401)
    assert await accepted(await sockets(laptop, room))


async def test_logout_of_one_session_leaves_the_members_other_session_streaming(
    member, other_member, room, sockets
):
    phone = await alogin(member)
    laptop = await alogin(member)
    on_laptop = await sockets(laptop, room)

    await sync_to_async(phone.post)(reverse("account_logout"))

    # Re-authorized like every socket of the member, and allowed back.
    await assert_told_to_reconnect(on_laptop)
    again = await sockets(laptop, room)
    assert await accepted(again)
    await asend(await alogin(other_member), room, "still here")
    assert "still here" in await again.receive_from(timeout=RECEIVE_TIMEOUT)


# --- The member's account ---------------------------------------------------------


def deactivate_with_save(member):
    member.is_active = False
    member.save()


def deactivate_with_update(member):
    Member.objects.filter(pk=member.pk).update(is_active=False)


def deactivate_in_the_admin(member):
    staff = Member.objects.create_superuser("staff", PASSWORD)
    response = client_for(staff).post(
        reverse("admin:accounts_member_change", args=[member.pk]),
        {
            "nickname": member.nickname,
            "introduction": "",
            "is_staff": "",
            "is_active": "",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    member.refresh_from_db()
    assert not member.is_active


def delete_with_orm(member):
    Member.objects.filter(pk=member.pk).delete()


def delete_in_the_admin(member):
    staff = Member.objects.create_superuser("staff", PASSWORD)
    response = client_for(staff).post(
        reverse("admin:accounts_member_delete", args=[member.pk]), {"post": "yes"}
    )
    assert response.status_code == 302, response.content[:2000]
    assert not Member.objects.filter(pk=member.pk).exists()


@pytest.mark.parametrize(
    "change",
    [
        deactivate_with_save,
        deactivate_with_update,
        deactivate_in_the_admin,
        delete_with_orm,
        delete_in_the_admin,
    ],
)
async def test_a_deactivated_or_deleted_members_sockets_close(
    change, member, other_member, room, sockets
):
    aiko = await alogin(member)
    key = session_key(aiko)
    socket = await sockets(key, room)

    await database_sync_to_async(change)(member)

    await assert_told_to_reconnect(socket)
    await post_and_assert_never_delivered(await alogin(other_member), room, socket)
    await assert_reconnect_closes(sockets, key, [room], 4401)


@pytest.mark.parametrize("change", [deactivate_with_save, deactivate_with_update])
def test_a_deactivated_authors_entries_are_authorized_again_however_saved(
    change, member, other_member, monkeypatch
):
    from diary.models import Entry

    entry = Entry.objects.create(
        author=member, title="A day", body="Sunny.", audience="members"
    )
    Entry.objects.create(
        author=other_member, title="Another", body="Rain.", audience="members"
    )
    rechecked = []
    monkeypatch.setattr(
        broadcast,
        "recheck_entry_sockets",
        lambda ids, languages: rechecked.extend(ids),
    )

    change(member)

    assert rechecked == [entry.pk]


# --- Community membership ---------------------------------------------------------


def ban_with_save(member, community):
    membership = Membership.objects.get(member=member, community=community)
    membership.status = Membership.Status.BANNED
    membership.save()


def ban_with_update(member, community):
    Membership.objects.filter(member=member, community=community).update(
        status=Membership.Status.BANNED
    )


def leave(member, community):
    response = client_for(member).post(
        reverse("communities:leave", kwargs={"community_id": community.pk})
    )
    assert response.status_code == 302


def remove_with_orm(member, community):
    Membership.objects.filter(member=member, community=community).delete()


@pytest.mark.parametrize(
    "change", [ban_with_save, ban_with_update, leave, remove_with_orm]
)
async def test_losing_a_community_takes_its_topics_off_open_sockets(
    change, member, other_member, room, community, sockets
):
    aiko = await alogin(member)
    socket = await sockets(aiko, room)

    await database_sync_to_async(change)(member, community)

    await assert_told_to_reconnect(socket)
    await post_and_assert_never_delivered(await alogin(other_member), room, socket)
    await assert_reconnect_closes(sockets, aiko, [room], 4403)
    # The member's own stream (notifications) goes on without the topic.
    assert await accepted(await sockets(aiko))


async def test_the_message_right_after_a_ban_is_not_forwarded_even_if_queued(
    member, other_member, room, community, sockets
):
    # No waiting for the close between the ban and the next message: what was
    # already on its way to the socket is dropped too.
    socket = await sockets(await alogin(member), room)
    ben = await alogin(other_member)

    await database_sync_to_async(ban_with_update)(member, community)
    await asend(ben, room, "straight after the ban")
    await asend(ben, room, "and another one")

    outputs = await outputs_until_quiet(socket)
    assert outputs == [{"type": "websocket.close", "code": broadcast.CLOSE_RECHECK}]


async def test_frames_already_queued_for_a_socket_are_dropped_once_it_is_told_to_close(
    member, room, settings, sockets
):
    # The in-memory layer's send() queues without yielding, so all of these
    # wait in the process's channel (chat/hub.py) when the hub handles the
    # close first.
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    }
    socket = await sockets(await alogin(member), room)
    layer = get_channel_layer()
    channel = hub.hub().channel
    group = broadcast.user_group(member.pk)

    for event in (
        {"type": "live.close", "code": broadcast.CLOSE_RECHECK},
        {"type": "live.message", "html": "<p>queued</p>", "author_ids": [0]},
        {"type": "live.html", "html": "<p>queued too</p>"},
        {"type": "live.resync"},
        {"type": "live.close", "code": broadcast.CLOSE_RECHECK},
    ):
        await layer.send(channel, {**event, "group": group})

    outputs = await outputs_until_quiet(socket)
    assert outputs == [{"type": "websocket.close", "code": broadcast.CLOSE_RECHECK}]


async def test_a_demoted_moderator_is_authorized_again(
    member, other_member, room, community, sockets
):
    await database_sync_to_async(
        Membership.objects.filter(member=member, community=community).update
    )(role=Membership.Role.MODERATOR)
    socket = await sockets(await alogin(member), room)

    @database_sync_to_async
    def demote():
        membership = Membership.objects.get(member=member, community=community)
        membership.role = Membership.Role.MEMBER
        membership.save(update_fields=["role"])

    await demote()

    await assert_told_to_reconnect(socket)


# --- Blocks and friendships -------------------------------------------------------


@pytest.mark.parametrize("who_blocks", ["aiko", "chika"])
async def test_a_block_hides_both_members_on_open_sockets_at_once(
    who_blocks, member, third_member, other_member, room, sockets
):
    aiko_client = await alogin(member)
    chika_client = await alogin(third_member)
    aiko = await sockets(aiko_client, room)
    chika = await sockets(chika_client, room)
    blocker, blocked = (
        (member, third_member) if who_blocks == "aiko" else (third_member, member)
    )

    await database_sync_to_async(Block.objects.create)(blocker=blocker, blocked=blocked)

    await assert_told_to_reconnect(aiko)
    await assert_told_to_reconnect(chika)
    # The pages reconnect; each now skips the other's messages, both ways,
    # while everyone else's still arrive.
    aiko = await sockets(aiko_client, room)
    chika = await sockets(chika_client, room)
    await asend(chika_client, room, "chika speaking")
    await asend(aiko_client, room, "aiko speaking")
    await asend(await alogin(other_member), room, "ben speaking")
    to_aiko = [o.get("text", "") for o in await outputs_until_quiet(aiko)]
    to_chika = [o.get("text", "") for o in await outputs_until_quiet(chika)]
    assert not any("chika speaking" in frame for frame in to_aiko)
    assert not any("aiko speaking" in frame for frame in to_chika)
    assert any("ben speaking" in frame for frame in to_aiko)
    assert any("ben speaking" in frame for frame in to_chika)


async def test_an_unblock_reloads_what_open_sockets_hide(
    member, third_member, room, sockets
):
    block = await database_sync_to_async(Block.objects.create)(
        blocker=member, blocked=third_member
    )
    aiko_client = await alogin(member)
    aiko = await sockets(aiko_client, room)

    await database_sync_to_async(block.delete)()

    await assert_told_to_reconnect(aiko)
    aiko = await sockets(aiko_client, room)
    await asend(await alogin(third_member), room, "friends again")
    assert "friends again" in await aiko.receive_from(timeout=RECEIVE_TIMEOUT)


async def test_unfriending_authorizes_both_members_sockets_again(
    member, other_member, sockets
):
    @database_sync_to_async
    def befriend():
        Friendship.objects.create(member=member, friend=other_member)
        Friendship.objects.create(member=other_member, friend=member)

    await befriend()
    aiko = await sockets(await alogin(member))
    ben = await sockets(await alogin(other_member))

    await database_sync_to_async(
        Friendship.objects.filter(member__in=[member, other_member]).delete
    )()

    await assert_told_to_reconnect(aiko)
    await assert_told_to_reconnect(ben)


# --- What does not narrow access leaves sockets alone -----------------------------


def edit_profile(member, community):
    # As the browser posts the form: "Show when I am here" is checked by
    # default (turning it off reconnects the member's sockets: presence/here.py).
    response = client_for(member).post(
        reverse("accounts:profile-edit"),
        {"introduction": "hello", "shows_presence": "on"},
    )
    assert response.status_code == 302


def log_in_elsewhere(member, community):
    client_for(member)
    Member.objects.get(pk=member.pk).save(update_fields=["last_login"])


def join_another_community(member, community):
    MembershipFactory(member=member, community=CommunityFactory())


def promote(member, community):
    membership = Membership.objects.get(member=member, community=community)
    membership.role = Membership.Role.MODERATOR
    membership.save()


def accept_an_invitation(member, community):
    other = CommunityFactory()
    invited = MembershipFactory(
        member=member, community=other, status=Membership.Status.INVITED
    )
    invited.status = Membership.Status.ACTIVE
    invited.save()


def block_between_others(member, community):
    Block.objects.create(
        blocker=Member.objects.create_user("x1", PASSWORD),
        blocked=Member.objects.create_user("x2", PASSWORD),
    )


def create_a_member(member, community):
    # Factories, like the join form, save a new member and then its password.
    new = Member(nickname="newcomer")
    new.save()
    new.set_password(PASSWORD)
    new.save()


@pytest.mark.parametrize(
    "change",
    [
        edit_profile,
        create_a_member,
        log_in_elsewhere,
        join_another_community,
        promote,
        accept_an_invitation,
        block_between_others,
    ],
)
async def test_changes_that_narrow_nothing_leave_open_sockets_alone(
    change, member, other_member, room, community, sockets
):
    socket = await sockets(await alogin(member), room)

    await database_sync_to_async(change)(member, community)

    await asend(await alogin(other_member), room, "still streaming")
    assert "still streaming" in await socket.receive_from(timeout=RECEIVE_TIMEOUT)


# --- Across processes -------------------------------------------------------------


async def test_revocation_reaches_a_socket_whose_layer_is_another_process(
    member, other_member, room, community, sockets, redis_layer, settings
):
    # The socket listens through this process's layer; the revocation is
    # published by a second, separate layer instance on the same Redis, as
    # another Daphne process (or a management command) would.
    from chat.layers import ResyncingRedisPubSubChannelLayer

    socket = await sockets(await alogin(member), room)
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    elsewhere = ResyncingRedisPubSubChannelLayer(**config)
    try:
        group = broadcast.user_group(member.pk)
        await elsewhere.group_send(
            group,
            {"type": "live.close", "code": broadcast.CLOSE_RECHECK, "group": group},
        )
        await assert_told_to_reconnect(socket)
    finally:
        await elsewhere.flush()


# --- One path ---------------------------------------------------------------------


def calls_of(path, name: str) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.Attribute) and node.attr == name)
        or (isinstance(node, ast.Name) and node.id == name)
    ]


@pytest.mark.parametrize(
    "recheck",
    # A member's own sockets; the sockets showing a diary entry; an event's.
    ["recheck_member_sockets", "recheck_entry_sockets", "recheck_event_sockets"],
)
def test_only_the_revocation_module_asks_sockets_to_reauthorize(recheck):
    revocation = BASE_DIR / "project" / "revocation.py"
    broadcast_module = BASE_DIR / "chat" / "broadcast.py"
    offenders = {
        str(path.relative_to(BASE_DIR)): lines
        for path in own_python_files()
        if path not in (revocation, broadcast_module)
        and (lines := calls_of(path, recheck))
    }

    assert offenders == {}, (
        "Narrowing access goes through project/revocation.py (reauthorize_sockets)"
    )
    assert calls_of(revocation, recheck)


def test_sockets_close_only_through_the_consumers_own_checks_or_revocation():
    # No other module makes a close event of its own for sockets (the
    # process's hub only receives it).
    allowed = {BASE_DIR / "chat" / "broadcast.py", BASE_DIR / "chat" / "hub.py"}
    offenders = {
        str(path.relative_to(BASE_DIR))
        for path in own_python_files()
        if path not in allowed and '"live.close"' in path.read_text(encoding="utf-8")
    }
    assert offenders == set()


async def test_a_revocation_inside_a_rolled_back_transaction_sends_nothing(
    member, room, community, sockets
):
    socket = await sockets(await alogin(member), room)

    @database_sync_to_async
    def ban_then_roll_back():
        from django.db import transaction

        with pytest.raises(RuntimeError), transaction.atomic():
            ban_with_save(member, community)
            raise RuntimeError("rolled back")

    await ban_then_roll_back()

    assert await accepted(socket)


async def test_a_revocation_made_while_a_socket_is_connecting_still_reaches_it(
    member, room, community, sockets, monkeypatch
):
    # The revocation commits after the socket read what its member may see
    # but before it finished connecting: the socket joined its member's group
    # before reading, so the revocation waits for it instead of passing by.
    real_acquire = socket_limit.acquire

    async def acquire_while_banned(member_id, socket_name):
        await database_sync_to_async(ban_with_update)(member, community)
        await asyncio.sleep(0.3)  # the revocation's publish arrives meanwhile
        return await real_acquire(member_id, socket_name)

    monkeypatch.setattr(socket_limit, "acquire", acquire_while_banned)
    socket = await sockets(await alogin(member), room)

    await assert_told_to_reconnect(socket)
