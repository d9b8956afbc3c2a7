"""Topic streams on the live socket: who may watch a topic, and what they get.

Messages are sent through the real HTTP endpoint (the composer's htmx POST);
sockets go through project.asgi.application with a real session cookie.
"""

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import Block
from chat import broadcast, fragments
from chat.consumers import MAX_STREAMS
from communities.models import JoinPolicy, Membership
from tests.chat.conftest import (
    NOTHING_TIMEOUT,
    RECEIVE_TIMEOUT,
    alogin,
    asend,
    close_code,
)
from tests.factories import CommunityFactory, TopicFactory

pytestmark = pytest.mark.django_db(transaction=True)


def message_id_in(frame: str) -> int:
    return int(frame.split('id="message-', 1)[1].split('"', 1)[0])


async def everything_sent(socket, quiet=NOTHING_TIMEOUT) -> list[dict]:
    """Every output the application sent on `socket`, frames and close alike,
    in order, once it has stayed quiet for `quiet` seconds. Call it after the
    event under test has reached a socket that should get it: then anything
    wrongly sent to this one has been sent too."""
    outputs = []
    while not await socket.receive_nothing(timeout=quiet):
        outputs.append(await socket.receive_output())
    return outputs


def closed_with(code: int) -> list[dict]:
    """What a socket refused with `code` sent: the close, and no frame before
    or after it."""
    return [{"type": "websocket.close", "code": code}]


# --- Two members talk -------------------------------------------------------------


async def test_two_members_receive_each_others_messages_sent_over_http(
    member, other_member, membership, other_membership, topic, open_socket
):
    aiko_socket = await open_socket(member, topic)
    ben_socket = await open_socket(other_member, topic)
    aiko = await alogin(member)
    ben = await alogin(other_member)

    response = await asend(aiko, topic, "Morning, ben!")
    assert response.status_code == 201
    to_ben = await ben_socket.receive_from(timeout=RECEIVE_TIMEOUT)
    to_aiko = await aiko_socket.receive_from(timeout=RECEIVE_TIMEOUT)

    response = await asend(ben, topic, "おはよう、aiko!")
    assert response.status_code == 201
    reply_to_aiko = await aiko_socket.receive_from(timeout=RECEIVE_TIMEOUT)
    reply_to_ben = await ben_socket.receive_from(timeout=RECEIVE_TIMEOUT)

    assert "Morning, ben!" in to_ben
    # The author's own other tabs get it too (this tab de-duplicates by id).
    assert to_aiko == to_ben
    assert "おはよう、aiko!" in reply_to_aiko
    assert reply_to_ben == reply_to_aiko
    # Appended to this topic's log, as its own article.
    assert f'hx-swap-oob="beforeend:#topic-{topic.pk}-messages"' in to_ben
    assert message_id_in(reply_to_aiko) > message_id_in(to_ben)
    assert await aiko_socket.receive_nothing(timeout=NOTHING_TIMEOUT)
    assert await ben_socket.receive_nothing(timeout=0.01)


async def test_message_reaches_only_the_topic_it_was_sent_in(
    member, other_member, membership, other_membership, topic, community, open_socket
):
    elsewhere = await database_sync_to_async(TopicFactory)(community=community)
    watching_elsewhere = await open_socket(other_member, elsewhere)
    watching_both = await open_socket(other_member, elsewhere, topic)

    await asend(await alogin(member), topic, "only in the live chat")

    assert "only in the live chat" in await watching_both.receive_from(
        timeout=RECEIVE_TIMEOUT
    )
    assert await watching_elsewhere.receive_nothing(timeout=NOTHING_TIMEOUT)


# --- Who may not watch --------------------------------------------------------------


async def test_anonymous_socket_is_closed_with_4401_before_any_stream_check(
    topic, open_socket
):
    socket = await open_socket(None, topic)

    assert await close_code(socket) == broadcast.CLOSE_UNAUTHENTICATED == 4401


@database_sync_to_async
def make_outsider(kind, member, community, join):
    """Put `member` in the relation to `community` named by `kind`."""
    if kind == "stranger":
        return
    if kind == "member_of_another_community":
        join(member, CommunityFactory())
        return
    status = {
        "banned": Membership.Status.BANNED,
        "pending": Membership.Status.PENDING,
        "invited": Membership.Status.INVITED,
    }[kind]
    join(member, community, status=status)


@pytest.mark.parametrize(
    "kind",
    ["stranger", "member_of_another_community", "banned", "pending", "invited"],
)
async def test_who_is_not_an_active_member_cannot_subscribe_to_a_topic(
    kind, member, other_member, other_membership, topic, community, join, open_socket
):
    await make_outsider(kind, member, community, join)
    watcher = await open_socket(other_member, topic)

    socket = await open_socket(member, topic)
    await asend(await alogin(other_member), topic, "members only")

    # The member watching got the message; the refused socket got its close
    # (4403) and nothing else, neither before nor after it.
    assert "members only" in await watcher.receive_from(timeout=RECEIVE_TIMEOUT)
    assert await everything_sent(socket) == closed_with(broadcast.CLOSE_FORBIDDEN)
    assert broadcast.CLOSE_FORBIDDEN == 4403


async def test_a_forbidden_topic_among_allowed_ones_refuses_the_whole_socket(
    member, membership, topic, open_socket
):
    secret = await database_sync_to_async(CommunityFactory)(
        join_policy=JoinPolicy.SECRET
    )
    secret_topic = await database_sync_to_async(TopicFactory)(community=secret)

    socket = await open_socket(member, topic, secret_topic)

    assert await close_code(socket) == 4403


async def test_guessed_id_of_a_secret_communitys_topic_is_refused_like_a_missing_one(
    member, membership, open_socket
):
    secret = await database_sync_to_async(CommunityFactory)(
        join_policy=JoinPolicy.SECRET
    )
    secret_topic = await database_sync_to_async(TopicFactory)(community=secret)

    guessed = await open_socket(member, secret_topic.pk)
    missing = await open_socket(member, secret_topic.pk + 1000)
    not_a_number = await open_socket(member, "1 OR 1=1")

    # The same answer for a secret topic as for one that does not exist: a
    # guess learns nothing.
    assert await close_code(guessed) == 4403
    assert await close_code(missing) == 4403
    assert await close_code(not_a_number) == 4403


async def test_more_than_eight_topic_streams_close_with_4400(
    member, membership, community, open_socket
):
    topics = await database_sync_to_async(TopicFactory.create_batch)(
        MAX_STREAMS + 1, community=community
    )
    assert MAX_STREAMS == 8

    eight = await open_socket(member, *topics[:MAX_STREAMS])
    nine = await open_socket(member, *topics)

    assert await eight.receive_nothing(timeout=NOTHING_TIMEOUT)
    assert await close_code(nine) == broadcast.CLOSE_BAD_REQUEST == 4400


# --- One rendering per language -------------------------------------------------------


def like_label(language: str) -> str:
    with translation.override(language):
        return gettext("Like!")


async def test_topic_group_is_per_language_and_each_fragment_is_rendered_once(
    member,
    other_member,
    third_member,
    membership,
    other_membership,
    topic,
    open_socket,
    monkeypatch,
):
    renders = []
    render = fragments.render_to_string

    def counting_render(*args, **kwargs):
        renders.append(translation.get_language())
        return render(*args, **kwargs)

    monkeypatch.setattr(fragments, "render_to_string", counting_render)
    japanese_tabs = [await open_socket(other_member, topic, lang="ja") for _ in "12"]
    english_tabs = [
        await open_socket(third_member, topic, lang="en"),
        await open_socket(member, topic, lang="en"),
    ]

    await asend(await alogin(member), topic, "Tabs in two languages")

    ja_frames = [
        await tab.receive_from(timeout=RECEIVE_TIMEOUT) for tab in japanese_tabs
    ]
    en_frames = [
        await tab.receive_from(timeout=RECEIVE_TIMEOUT) for tab in english_tabs
    ]
    # The Japanese label of the like button, from the catalogue.
    assert like_label("en") == "Like!"
    assert like_label("ja") != "Like!", "the ja catalogue has no translation of Like!"
    assert all(like_label("ja") in frame for frame in ja_frames)
    assert all(like_label("en") not in frame for frame in ja_frames)
    assert all(like_label("en") in frame for frame in en_frames)
    assert ja_frames[0] == ja_frames[1] and en_frames[0] == en_frames[1]
    # Four sockets, two languages: rendered once per language, not per socket.
    assert sorted(renders) == ["en", "ja"]
    for tab in japanese_tabs + english_tabs:
        assert await tab.receive_nothing(timeout=0.05)


async def test_socket_with_an_unknown_language_gets_the_default_languages_fragment(
    member, other_member, membership, other_membership, topic, open_socket
):
    socket = await open_socket(other_member, topic, lang="xx")

    await asend(await alogin(member), topic, "in the default language")

    assert like_label("en") in await socket.receive_from(timeout=RECEIVE_TIMEOUT)


# --- Blocks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "direction", ["reader_blocked_author", "author_blocked_reader"]
)
async def test_member_hidden_by_a_block_does_not_receive_that_authors_live_message(
    direction,
    member,
    other_member,
    third_member,
    membership,
    other_membership,
    topic,
    open_socket,
):
    # aiko and ben are hidden from each other, whichever of them blocked.
    if direction == "reader_blocked_author":
        blocker, blocked = member, other_member
    else:
        blocker, blocked = other_member, member
    await database_sync_to_async(Block.objects.create)(blocker=blocker, blocked=blocked)
    aiko = await open_socket(member, topic)
    chika = await open_socket(third_member, topic)

    await asend(await alogin(other_member), topic, "ben was here")
    await asend(await alogin(third_member), topic, "chika was here")

    assert "ben was here" in await chika.receive_from(timeout=RECEIVE_TIMEOUT)
    assert "chika was here" in await chika.receive_from(timeout=RECEIVE_TIMEOUT)
    # aiko still gets everyone else's messages, only ben's are skipped.
    assert "chika was here" in await aiko.receive_from(timeout=RECEIVE_TIMEOUT)
    assert await aiko.receive_nothing(timeout=NOTHING_TIMEOUT)


@pytest.mark.parametrize("blocked", ["quoted_author", "replier"])
async def test_reply_by_or_quoting_an_author_hidden_by_a_block_skips_the_blocker(
    blocked,
    member,
    other_member,
    third_member,
    owner,
    membership,
    other_membership,
    topic,
    open_socket,
):
    # aiko replies to ben, so the reply's fragment carries aiko's words and
    # ben's in its quote. chika blocked one of them: she gets neither.
    hidden = other_member if blocked == "quoted_author" else member
    await database_sync_to_async(Block.objects.create)(
        blocker=third_member, blocked=hidden
    )
    aiko = await open_socket(member, topic)
    ben = await open_socket(other_member, topic)
    chika = await open_socket(third_member, topic)
    await asend(await alogin(other_member), topic, "ben's own words")
    original = message_id_in(await ben.receive_from(timeout=RECEIVE_TIMEOUT))
    assert message_id_in(await aiko.receive_from(timeout=RECEIVE_TIMEOUT)) == original
    if blocked == "replier":
        # ben is not hidden from chika: his message reaches her.
        assert message_id_in(await chika.receive_from(timeout=RECEIVE_TIMEOUT)) == (
            original
        )

    reply = await asend(await alogin(member), topic, "quoting ben", reply_to=original)
    await asend(await alogin(owner), topic, "not a reply")

    assert reply.status_code == 201
    for socket in (aiko, ben):
        quote = await socket.receive_from(timeout=RECEIVE_TIMEOUT)
        assert "quoting ben" in quote and "ben&#x27;s own words" in quote
        assert "not a reply" in await socket.receive_from(timeout=RECEIVE_TIMEOUT)
    # chika's next frame is the owner's message sent after the reply: the
    # reply, and the words quoted in it, never reached her.
    first = await chika.receive_from(timeout=RECEIVE_TIMEOUT)
    assert "not a reply" in first and "quoting ben" not in first
    assert await chika.receive_nothing(timeout=NOTHING_TIMEOUT)


# --- Real Redis -----------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.timeout(60)
async def test_topic_socket_idle_for_10_s_on_real_redis_still_receives_messages(
    member, other_member, membership, other_membership, topic, redis_layer, open_socket
):
    socket = await open_socket(other_member, topic)

    # redis-py's default 5 s socket timeout would drop an idle pub/sub
    # connection (DESIGN.md, known traps): stay idle for twice that.
    assert await socket.receive_nothing(timeout=10.5, interval=0.1)
    response = await asend(await alogin(member), topic, "still there after 10 s?")

    assert response.status_code == 201
    assert "still there after 10 s?" in await socket.receive_from(timeout=3)


async def test_leaving_a_community_takes_its_topics_off_open_sockets_at_once(
    member, membership, other_member, other_membership, topic, community, open_socket
):
    socket = await open_socket(member, topic)
    aiko = await alogin(member)

    left = await sync_to_async(aiko.post)(f"/communities/{community.pk}/leave/")

    assert left.status_code == 302
    # Told to reconnect (live.js does, on this code)...
    assert await close_code(socket) == broadcast.CLOSE_RECHECK == 4408
    # ...and the reconnect is refused the topic she left.
    again = await open_socket(member, topic)
    watcher = await open_socket(other_member, topic)
    await asend(await alogin(other_member), topic, "after she left")
    assert "after she left" in await watcher.receive_from(timeout=RECEIVE_TIMEOUT)
    assert await everything_sent(again) == closed_with(4403)
