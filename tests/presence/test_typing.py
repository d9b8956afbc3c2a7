"""Typing notices (presence/typing.py) through the real consumer: "aiko is
typing…" reaches the others on the topic, at most every 3 s per socket,
never a member hidden from the typist by a block, never stored; bad typing
frames each get one error answer and the socket stays open."""

# The chat tests' fixtures (community, topic, sockets) are imported below to
# be used as fixtures here, which pyflakes reads as redefinitions.
# ruff: noqa: F811

import json

import pytest
from channels.db import database_sync_to_async

from accounts.models import Block, Member
from chat.models import Message
from presence import here, typing
from tests.chat.conftest import (  # noqa: F401
    community,
    join,
    live_layer,
    membership,
    open_tab,
    other_membership,
    owner,
    third_member,
    topic,
)
from tests.factories import TopicFactory
from tests.presence.here_helpers import (  # noqa: F401
    TYPING,
    _fast_password_hashing,
    frames,
    here_state,
    next_list,
    open_here,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("here_state"),
]


def typing_frame(topic) -> dict:
    return {"type": "typing", "topic": topic.pk}


async def settled(*sockets) -> None:
    """Each socket has had its list pushed; nothing else waits on it."""
    for socket in sockets:
        await frames(socket, timeout=here.PUSH_EVERY + 0.3)


async def type_in(socket, topic) -> None:
    """Send a typing frame and wait until the consumer has handled it (it
    handles a socket's frames in order: a ping after it is answered after)."""
    await socket.send_json_to(typing_frame(topic))
    await socket.send_json_to({"type": "ping"})
    while True:
        frame = await socket.receive_from()
        assert 'id="live-error"' not in frame, frame
        if frame == '<template id="live-pong"></template>':
            return


async def typing_frames(socket) -> list[str]:
    return [frame for frame in await frames(socket) if frame.startswith(TYPING)]


@pytest.fixture
def clock(monkeypatch):
    """typing's clock, moved by the test."""
    now = [1000.0]
    monkeypatch.setattr(typing, "monotonic", lambda: now[0])
    return now


async def test_typing_reaches_the_others_on_the_topic_and_is_never_stored(
    member, other_member, third_member, membership, other_membership, topic,
    open_here, clock,
):  # fmt: skip
    aiko = await open_here(member, topic)
    ben = await open_here(other_member, topic)
    chika = await open_here(third_member, topic)
    await settled(aiko, ben, chika)
    messages = await database_sync_to_async(Message.objects.count)()

    await aiko.send_json_to(typing_frame(topic))

    for socket in (ben, chika):
        [frame] = await typing_frames(socket)
        assert frame == (
            f'<template id="live-typing" data-topic="{topic.pk}" '
            f'data-member="{member.pk}">aiko is typing…</template>'
        )
    # Her own page gets it too, and leaves it out (its data-member is hers).
    assert len(await typing_frames(aiko)) == 1
    # A valid typing frame is not answered; nothing was written.
    assert await database_sync_to_async(Message.objects.count)() == messages


async def test_typing_is_sent_at_most_every_three_seconds_per_socket(
    member, other_member, membership, other_membership, topic, open_here, clock
):
    aiko = await open_here(member, topic)
    ben = await open_here(other_member, topic)
    await settled(aiko, ben)

    await type_in(aiko, topic)
    clock[0] += 2.9
    # Dropped, without an error: it is not a bad frame (type_in checks).
    await type_in(aiko, topic)
    assert len(await typing_frames(ben)) == 1

    clock[0] += 0.2  # 3.1 s after the first
    await type_in(aiko, topic)
    assert len(await typing_frames(ben)) == 1


async def test_typing_never_reaches_a_member_who_blocked_the_typist_or_was_blocked(
    member, other_member, third_member, membership, other_membership, topic,
    open_here, clock, daichi, join,
):  # fmt: skip
    await database_sync_to_async(join)(daichi, topic.community)
    await Block.objects.acreate(blocker=other_member, blocked=member)
    await Block.objects.acreate(blocker=member, blocked=daichi)
    aiko = await open_here(member, topic)
    ben = await open_here(other_member, topic)
    chika = await open_here(third_member, topic)
    dai = await open_here(daichi, topic)
    await settled(aiko, ben, chika, dai)

    await aiko.send_json_to(typing_frame(topic))

    assert len(await typing_frames(chika)) == 1
    assert await typing_frames(ben) == []
    assert await typing_frames(dai) == []
    # And the other way round: ben's typing never reaches aiko.
    await ben.send_json_to(typing_frame(topic))
    assert len(await typing_frames(chika)) == 1
    from_ben = f'data-member="{other_member.pk}"'
    assert not [f for f in await typing_frames(aiko) if from_ben in f]


async def test_a_member_hiding_their_presence_sends_no_typing(
    member, other_member, membership, other_membership, topic, open_here, clock
):
    await Member.objects.filter(pk=member.pk).aupdate(shows_presence=False)
    aiko = await open_here(member, topic)
    ben = await open_here(other_member, topic)
    await settled(aiko, ben)

    await aiko.send_json_to(typing_frame(topic))

    assert await typing_frames(ben) == []
    assert await frames(aiko) == []


async def test_typing_goes_only_to_the_topic_typed_in(
    member, other_member, membership, other_membership, topic, open_here, clock
):
    elsewhere = await database_sync_to_async(TopicFactory)(
        community=topic.community, title="Elsewhere"
    )
    aiko = await open_here(member, topic, elsewhere)
    ben_here = await open_here(other_member, topic)
    ben_elsewhere = await open_here(other_member, elsewhere)
    await settled(aiko, ben_here, ben_elsewhere)

    await aiko.send_json_to(typing_frame(elsewhere))

    assert len(await typing_frames(ben_elsewhere)) == 1
    assert await typing_frames(ben_here) == []


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "typing"},
        {"type": "typing", "topic": None},
        {"type": "typing", "topic": "TOPIC"},
        {"type": "typing", "topic": True},
        {"type": "typing", "topic": 1.0},
        {"type": "typing", "topic": [1]},
        {"type": "typing", "topic": -1},
        {"type": "typing", "topic": 2**70},
        {"type": "typing", "topic": "OTHER"},
    ],
)
async def test_a_bad_typing_frame_gets_one_error_and_the_socket_stays_open(
    frame, member, other_member, membership, other_membership, topic, open_here,
    clock,
):  # fmt: skip
    """A topic that is not one of the socket's streams (another topic the
    member may not read, one it did not ask for, no topic) is refused."""
    other_community_topic = await database_sync_to_async(TopicFactory)(
        title="Not a member here"
    )
    if frame.get("topic") == "TOPIC":
        frame = {**frame, "topic": str(topic.pk)}
    elif frame.get("topic") == "OTHER":
        frame = {**frame, "topic": other_community_topic.pk}
    aiko = await open_here(member, topic)
    ben = await open_here(other_member, topic)
    await settled(aiko, ben)

    await aiko.send_to(text_data=json.dumps(frame))

    [answer] = await frames(aiko)
    assert answer == (
        '<div id="live-error" hx-swap-oob="true" hidden data-code="unknown_topic">'
        "</div>"
    )
    assert await typing_frames(ben) == []
    # Still open and answering.
    await aiko.send_json_to({"type": "ping"})
    assert await aiko.receive_from() == '<template id="live-pong"></template>'
    await aiko.send_json_to(typing_frame(topic))
    assert len(await typing_frames(ben)) == 1


async def test_a_socket_on_no_topic_cannot_send_typing(
    member, other_member, membership, other_membership, topic, open_here, clock
):
    home = await open_here(member)  # the home page's socket: no stream
    ben = await open_here(other_member, topic)
    await settled(ben)

    await home.send_json_to(typing_frame(topic))

    [answer] = await frames(home)
    assert 'data-code="unknown_topic"' in answer
    assert await typing_frames(ben) == []
