"""Messages in a topic: how their text is shown (page, own answer, broadcast,
catch-up), replies, mentions, edits, deletes, likes, catch-up and paging,
unread counts.

Tests that look at a broadcast hold a real socket and are transactional (the
broadcast goes out after commit); the rest run inside a transaction.
"""

import re
from datetime import timedelta

import factory
import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Block
from chat import actions
from chat.models import Like, Mention, Message
from chat.views import PAGE_SIZE
from communities.models import Membership, Topic, TopicRead
from tests.chat.conftest import (
    HTMX,
    NOTHING_TIMEOUT,
    RECEIVE_TIMEOUT,
    alogin,
    asend,
    client_for,
    elements,
    refused,
    send,
    set_status,
)
from tests.conftest import MemberFactory
from tests.factories import MessageFactory, TopicFactory

NOT_A_MEMBER = "Only members of this community can do that."

live = pytest.mark.django_db(transaction=True)

XSS = '<script>alert(1)</script><img src=x onerror=alert(1)> <b hx-get="/x">'
XSS_ESCAPED = (
    "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; "
    "&lt;b hx-get=&quot;/x&quot;&gt;"
)


def ids_in(html: str) -> list[int]:
    """Ids of the message articles in `html`, in document order."""
    return [int(i) for i in re.findall(r'<article id="message-(\d+)"', html)]


def article(html: str, message_id: int) -> str:
    """The markup of one message article."""
    start = html.index(f'<article id="message-{message_id}"')
    return html[start : html.index("</article>", start)]


def assert_no_member_markup(html: str) -> None:
    """Nothing a member typed became an element or an attribute."""
    for tag, attrs in elements(html):
        assert "onerror" not in attrs, (tag, attrs)
        assert attrs.get("hx-get") != "/x", (tag, attrs)
        assert not (tag == "img" and attrs.get("src") == "x"), (tag, attrs)
    assert "<script>alert(1)" not in html


def message_url(name: str, message) -> str:
    return reverse(f"chat:message-{name}", kwargs={"message_id": message.pk})


def act(client, name, message, *, htmx=True, **data):
    """POST to a message's edit / delete / like endpoint."""
    return client.post(message_url(name, message), data, **(HTMX if htmx else {}))


aact = sync_to_async(act)


def messages_url(topic, **params) -> str:
    url = reverse("chat:message-list", kwargs={"topic_id": topic.pk})
    return url + "?" + "&".join(f"{k}={v}" for k, v in params.items())


@database_sync_to_async
def reload(message):
    return Message.objects.get(pk=message.pk)


@pytest.fixture
async def watcher(third_member, topic, open_socket):
    """chika, a third member, with the topic open in a tab."""
    return await open_socket(third_member, topic)


# --- Text is escaped everywhere -----------------------------------------------


@live
async def test_member_markup_is_escaped_in_the_answer_the_broadcast_and_every_page(
    member, other_member, membership, other_membership, topic, watcher
):
    response = await asend(await alogin(member), topic, XSS)
    frame = await watcher.receive_from(timeout=RECEIVE_TIMEOUT)
    message = await database_sync_to_async(Message.objects.get)()
    ben = await alogin(other_member)
    get = sync_to_async(ben.get)
    page = (await get(topic.get_absolute_url())).content.decode()
    catchup = (await get(messages_url(topic, after=0), **HTMX)).content.decode()
    older = (await get(messages_url(topic, before=message.pk + 1), **HTMX)).content

    for html in (response.content.decode(), frame, page, catchup, older.decode()):
        assert XSS_ESCAPED in html
        assert_no_member_markup(html)


@live
async def test_quote_of_a_message_with_markup_is_escaped(
    member, other_member, membership, other_membership, topic, watcher
):
    await asend(await alogin(member), topic, XSS)
    await watcher.receive_from(timeout=RECEIVE_TIMEOUT)
    original = await database_sync_to_async(Message.objects.get)()

    response = await asend(
        await alogin(other_member), topic, "what is this?", reply_to=original.pk
    )
    frame = await watcher.receive_from(timeout=RECEIVE_TIMEOUT)

    for html in (response.content.decode(), frame):
        assert "&lt;script&gt;alert(1)" in html
        assert_no_member_markup(html)


@live
async def test_nickname_with_markup_is_escaped_in_page_and_broadcast(
    member_factory, community, topic, join, watcher
):
    mallory = await database_sync_to_async(member_factory)(nickname='<b hx-get="x">mal')
    await database_sync_to_async(join)(mallory, community)

    await asend(await alogin(mallory), topic, "hello")
    frame = await watcher.receive_from(timeout=RECEIVE_TIMEOUT)

    assert "&lt;b hx-get=&quot;x&quot;&gt;mal" in frame
    assert not [a for _tag, a in elements(frame) if a.get("hx-get") == "x"]


def test_line_breaks_reach_the_page_as_newlines_shown_by_css(
    member_client, membership, topic
):
    send(member_client, topic, "first line\r\n\r\n  indented second")

    page = member_client.get(topic.get_absolute_url()).content.decode()

    assert Message.objects.get().body == "first line\n\n  indented second"
    assert '<div class="msg-body">first line\n\n  indented second</div>' in page
    css = (settings.BASE_DIR / "static/css/enishi.css").read_text()
    assert ".msg-body { white-space: pre-wrap;" in css


def test_url_in_a_message_is_a_nofollow_link_without_the_sentences_full_stop(
    member_client, membership, topic
):
    # A member who just joined may not post links while the community's link
    # wait runs (tests/moderation/test_filters.py): this community has none.
    type(topic.community).objects.filter(pk=topic.community_id).update(
        link_wait_hours=0
    )
    send(member_client, topic, "menu: https://example.com/menu?day=1&lang=ja.")

    page = member_client.get(topic.get_absolute_url()).content.decode()

    assert (
        '<a href="https://example.com/menu?day=1&amp;lang=ja" '
        'rel="nofollow noopener ugc" target="_blank">'
    ) in page
    assert "lang=ja</a>." in page


# --- Mentions -----------------------------------------------------------------


def test_mention_of_a_member_is_linked_and_recorded_an_unknown_name_is_not(
    member_client, membership, other_membership, other_member, topic
):
    response = send(member_client, topic, "「@ben」さん and @nobody, see @BEN.")

    message = Message.objects.get()
    html = response.content.decode()
    assert list(Mention.objects.values_list("message", "member")) == [
        (message.pk, other_member.pk)
    ]
    assert '「<a class="mention" href="/members/ben/">@ben</a>」さん' in html
    assert '<a class="mention" href="/members/ben/">@BEN</a>.' in html
    assert "and @nobody, see" in html
    assert [a["href"] for _tag, a in elements(html) if a.get("class") == "mention"] == [
        "/members/ben/",
        "/members/ben/",
    ]


def test_editing_a_message_updates_its_mentions(
    member_client, membership, other_membership, other_member, owner, topic
):
    send(member_client, topic, "@ben look")
    message = Message.objects.get()

    act(member_client, "edit", message, body="@owner look instead")

    assert list(Mention.objects.values_list("member", flat=True)) == [owner.pk]


# --- Replies ------------------------------------------------------------------


@live
async def test_reply_shows_a_quoted_line_that_links_to_the_message(
    member, other_member, membership, other_membership, topic, watcher
):
    await asend(await alogin(member), topic, "Anyone for coffee at three?")
    await watcher.receive_from(timeout=RECEIVE_TIMEOUT)
    original = await database_sync_to_async(Message.objects.get)()

    response = await asend(
        await alogin(other_member), topic, "Count me in", reply_to=original.pk
    )
    frame = await watcher.receive_from(timeout=RECEIVE_TIMEOUT)

    reply = await database_sync_to_async(Message.objects.get)(author=other_member)
    assert reply.reply_to_id == original.pk
    for html in (response.content.decode(), frame):
        quotes = [
            a
            for _tag, a in elements(html)
            if a.get("class", "").split() == ["msg-quote"]
        ]
        assert [q["href"] for q in quotes] == [f"#message-{original.pk}"]
        assert "Anyone for coffee at three?" in html
        assert 'class="msg-quote-author">aiko</span>' in html


def test_reply_to_a_deleted_message_is_sent_without_a_quote(
    member_client, member, membership, topic
):
    deleted = MessageFactory(topic=topic, author=member, deleted_at=timezone.now())

    send(member_client, topic, "too late", reply_to=deleted.pk)

    assert Message.objects.get(body="too late").reply_to is None


# --- Editing ------------------------------------------------------------------


@live
async def test_editing_ones_own_message_updates_it_and_broadcasts_the_replacement(
    member, membership, topic, watcher
):
    client = await alogin(member)
    await asend(client, topic, "See you at 3")
    await watcher.receive_from(timeout=RECEIVE_TIMEOUT)
    message = await database_sync_to_async(Message.objects.get)()

    response = await aact(client, "edit", message, body="See you at 4 <b>sharp</b>")
    frame = await watcher.receive_from(timeout=RECEIVE_TIMEOUT)

    message = await reload(message)
    assert response.status_code == 200
    assert message.body == "See you at 4 <b>sharp</b>"
    assert message.edited_at is not None
    for html in (response.content.decode(), frame):
        # Swapped in place of the old article, by id.
        assert html.lstrip().startswith(f'<article id="message-{message.pk}"')
        assert 'hx-swap-oob="true"' in article(html, message.pk)
        assert "See you at 4 &lt;b&gt;sharp&lt;/b&gt;" in html
        assert "See you at 3" not in html
        assert "(edited)" in html
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)


def test_editing_as_a_plain_form_post_redirects_to_the_topic(
    member_client, member, membership, topic
):
    message = MessageFactory(topic=topic, author=member, body="before")

    response = act(member_client, "edit", message, htmx=False, body="after")

    assert response.status_code == 302
    assert response["Location"] == topic.get_absolute_url()
    assert Message.objects.get().body == "after"


@live
@pytest.mark.parametrize("actor", ["other_member", "owner"])
async def test_editing_someone_elses_message_is_refused_and_changes_nothing(
    actor, request, member, other_membership, membership, topic, watcher
):
    # Not even the owner (a moderator) may put words in a member's mouth.
    message = await database_sync_to_async(MessageFactory)(
        topic=topic, author=member, body="my words"
    )
    editor = request.getfixturevalue(actor)

    response = await aact(await alogin(editor), "edit", message, body="your words")

    assert refused(response) == (403, "You can only change your own messages.")
    message = await reload(message)
    assert (message.body, message.edited_at) == ("my words", None)
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ("   ", 400, "Write a message first."),
        ("x" * 4001, 400, "A message has at most 4000 characters (this one has 4001)."),
    ],
    ids=["empty", "too-long"],
)
def test_edit_to_an_invalid_body_is_refused_and_changes_nothing(
    member_client, member, membership, topic, body, status, reason
):
    message = MessageFactory(topic=topic, author=member, body="keep me")

    response = act(member_client, "edit", message, body=body)

    assert refused(response) == (status, reason)
    assert Message.objects.get().body == "keep me"


def test_editing_after_leaving_the_community_is_not_found(
    member_client, member, membership, topic
):
    message = MessageFactory(topic=topic, author=member, body="old words")
    membership.delete()

    response = act(member_client, "edit", message, body="new words")

    assert refused(response) == (404, NOT_A_MEMBER)
    assert Message.objects.get().body == "old words"


def test_a_deleted_message_cannot_be_edited(member_client, member, membership, topic):
    message = MessageFactory(topic=topic, author=member, deleted_at=timezone.now())

    response = act(member_client, "edit", message, body="back from the dead")

    assert refused(response) == (400, "This message was deleted.")
    assert Message.objects.get().body != "back from the dead"


# --- Deleting -----------------------------------------------------------------


@live
@pytest.mark.parametrize("actor", ["member", "owner", "moderator"])
async def test_author_or_moderator_deletes_and_every_tab_gets_a_tombstone(
    actor, request, member, member_factory, community, join, membership, topic, watcher
):
    message = await database_sync_to_async(MessageFactory)(
        topic=topic, author=member, body="regrettable words"
    )
    if actor == "moderator":
        deleter = await database_sync_to_async(member_factory)(nickname="daichi")
        await database_sync_to_async(join)(
            deleter, community, role=Membership.Role.MODERATOR
        )
    else:
        deleter = request.getfixturevalue(actor)

    response = await aact(await alogin(deleter), "delete", message)
    frame = await watcher.receive_from(timeout=RECEIVE_TIMEOUT)

    assert response.status_code == 200
    message = await reload(message)
    assert message.deleted_at is not None
    assert message.body == message.body_html == ""
    for html in (response.content.decode(), frame):
        tombstone = article(html, message.pk)
        assert 'hx-swap-oob="true"' in tombstone
        assert "msg-deleted" in tombstone
        assert "This message was deleted." in tombstone
        assert "regrettable words" not in html


@live
async def test_deleting_someone_elses_message_is_refused_and_changes_nothing(
    member, other_member, membership, other_membership, topic, watcher
):
    message = await database_sync_to_async(MessageFactory)(
        topic=topic, author=member, body="mine"
    )

    response = await aact(await alogin(other_member), "delete", message)

    assert refused(response) == (403, "You can only delete your own messages.")
    message = await reload(message)
    assert (message.body, message.deleted_at) == ("mine", None)
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)


def test_banned_moderator_cannot_delete(
    member, member_factory, community, join, membership, topic
):
    message = MessageFactory(topic=topic, author=member, body="stays")
    daichi = member_factory(nickname="daichi")
    join(
        daichi,
        community,
        role=Membership.Role.MODERATOR,
        status=Membership.Status.BANNED,
    )

    response = act(client_for(daichi), "delete", message)

    assert refused(response) == (404, NOT_A_MEMBER)
    assert Message.objects.get().deleted_at is None


def test_deleting_as_a_plain_form_post_redirects_to_the_topic(
    member_client, member, membership, topic
):
    message = MessageFactory(topic=topic, author=member)

    response = act(member_client, "delete", message, htmx=False)

    assert response.status_code == 302
    assert response["Location"] == topic.get_absolute_url()
    assert Message.objects.get().deleted_at is not None


def test_deleted_message_shows_as_a_tombstone_on_the_page(
    member_client, member, other_member, membership, topic
):
    message = MessageFactory(topic=topic, author=other_member, body="gone")
    message.deleted_at = timezone.now()
    message.body = message.body_html = ""
    message.save()

    page = member_client.get(topic.get_absolute_url()).content.decode()

    assert "This message was deleted." in article(page, message.pk)


# --- Likes --------------------------------------------------------------------


@live
async def test_like_toggles_and_every_tab_gets_the_count(
    member, other_member, membership, other_membership, topic, watcher
):
    message = await database_sync_to_async(MessageFactory)(topic=topic, author=member)
    ben = await alogin(other_member)

    liked = await aact(ben, "like", message)
    frame_after_like = await watcher.receive_from(timeout=RECEIVE_TIMEOUT)
    unliked = await aact(ben, "like", message)
    frame_after_unlike = await watcher.receive_from(timeout=RECEIVE_TIMEOUT)

    count_id = f'id="like-count-{message.pk}"'
    assert liked.status_code == unliked.status_code == 200
    assert 'aria-pressed="true"' in liked.content.decode()
    # The count beside the button (its chip), brought along.
    assert (
        f'<span {count_id} class="msg-like-count" hx-swap-oob="true">1</span>'
        in liked.content.decode()
    )
    assert 'aria-pressed="false"' in unliked.content.decode()
    assert frame_after_like == (
        f'<span {count_id} class="msg-like-count" hx-swap-oob="true">1</span>'
    )
    # No count at 0 (the page hides the empty chip).
    assert frame_after_unlike == frame_after_like.replace(">1<", "><")
    assert (await reload(message)).like_count == 0
    assert not await database_sync_to_async(Like.objects.exists)()


def test_each_member_likes_a_message_at_most_once(
    member_client,
    other_client,
    member,
    other_member,
    membership,
    other_membership,
    topic,
):
    message = MessageFactory(topic=topic, author=member)

    act(other_client, "like", message)
    act(member_client, "like", message)

    assert Message.objects.get().like_count == 2
    assert Like.objects.count() == 2
    act(other_client, "like", message)
    assert Message.objects.get().like_count == 1
    assert list(Like.objects.values_list("member", flat=True)) == [member.pk]


@live
@pytest.mark.parametrize("kind", ["stranger", "banned", "blocked_by_author"])
async def test_like_by_someone_who_may_not_see_the_message_is_not_found(
    kind, member, other_member, membership, other_membership, topic, watcher
):
    message = await database_sync_to_async(MessageFactory)(topic=topic, author=member)
    if kind == "stranger":
        await database_sync_to_async(other_membership.delete)()
    elif kind == "banned":
        await database_sync_to_async(set_status)(
            other_membership, Membership.Status.BANNED
        )
    else:
        await database_sync_to_async(Block.objects.create)(
            blocker=member, blocked=other_member
        )

    response = await aact(await alogin(other_member), "like", message)

    assert refused(response) == (404, NOT_A_MEMBER)
    assert (await reload(message)).like_count == 0
    assert not await database_sync_to_async(Like.objects.exists)()
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)


def test_like_of_a_deleted_message_is_refused(
    other_client, member, membership, other_membership, topic
):
    message = MessageFactory(topic=topic, author=member, deleted_at=timezone.now())

    response = act(other_client, "like", message)

    assert refused(response) == (400, "This message was deleted.")
    assert not Like.objects.exists()


def test_like_as_a_plain_form_post_redirects_to_the_topic(
    other_client, member, membership, other_membership, topic
):
    message = MessageFactory(topic=topic, author=member)

    response = act(other_client, "like", message, htmx=False)

    assert response.status_code == 302
    assert response["Location"] == topic.get_absolute_url()
    assert Message.objects.get().like_count == 1


# --- Catch-up -----------------------------------------------------------------


def catch_up(client, topic, *, htmx=True, **params):
    return client.get(messages_url(topic, **params), **(HTMX if htmx else {}))


@pytest.fixture
def chatter(member, other_member, third_member, membership, other_membership, topic):
    """Twelve messages by ben, chika and aiko in turn, oldest first."""
    authors = [other_member, third_member, member]
    return [
        MessageFactory(topic=topic, author=authors[n % 3], body=f"line {n}")
        for n in range(12)
    ]


def test_catch_up_returns_exactly_the_messages_after_an_id_in_order(
    member_client, chatter, topic
):
    last_seen = chatter[4]

    response = catch_up(member_client, topic, after=last_seen.pk)

    html = response.content.decode()
    assert response.status_code == 200
    assert ids_in(html) == [m.pk for m in chatter[5:]]
    assert html.startswith(f'<div hx-swap-oob="beforeend:#topic-{topic.pk}-messages">')
    assert response["X-More"] == "0"
    assert response["X-Synced-At"]


def test_catch_up_from_the_newest_id_returns_nothing(member_client, chatter, topic):
    response = catch_up(member_client, topic, after=chatter[-1].pk)

    assert response.status_code == 200
    assert ids_in(response.content.decode()) == []


def test_catch_up_leaves_out_authors_hidden_by_a_block(
    member_client, member, third_member, chatter, topic
):
    Block.objects.create(blocker=third_member, blocked=member)

    response = catch_up(member_client, topic, after=0)

    assert ids_in(response.content.decode()) == [
        m.pk for m in chatter if m.author_id != third_member.pk
    ]


@live
async def test_catch_up_after_a_gap_returns_what_the_closed_socket_missed(
    member, other_member, third_member, membership, other_membership, topic, open_socket
):
    socket = await open_socket(member, topic)
    ben = await alogin(other_member)
    await asend(ben, topic, "before the gap")
    last_shown = ids_in(await socket.receive_from(timeout=RECEIVE_TIMEOUT))[-1]
    await socket.disconnect()

    for body in ("during the gap 1", "during the gap 2"):
        await asend(ben, topic, body)
    await asend(await alogin(third_member), topic, "during the gap 3")
    reopened = await open_socket(member, topic)
    await asend(ben, topic, "after reopening")
    live_frame = await reopened.receive_from(timeout=RECEIVE_TIMEOUT)
    aiko = await alogin(member)
    response = await sync_to_async(catch_up)(aiko, topic, after=last_shown)

    html = response.content.decode()
    bodies = re.findall(r'<div class="msg-body">([^<]*)</div>', html)
    assert bodies == [
        "during the gap 1",
        "during the gap 2",
        "during the gap 3",
        "after reopening",
    ]
    # The page drops the copy it already has from the socket, by id.
    assert ids_in(live_frame)[0] == ids_in(html)[-1]


def test_catch_up_with_since_also_returns_messages_changed_since(
    member_client, member, other_member, chatter, topic
):
    edited, deleted, liked, untouched = chatter[1], chatter[2], chatter[3], chatter[4]
    actions.edit_message(message=chatter[0], body="edited before the sync")
    synced_at = timezone.now()
    actions.edit_message(message=edited, body="line 1 (fixed)")
    actions.delete_message(message=deleted)
    actions.toggle_like(member=other_member, message=liked)

    response = catch_up(
        member_client,
        topic,
        after=chatter[5].pk,
        since=synced_at.isoformat().replace("+", "%2B"),
    )

    html = response.content.decode()
    # New messages first (appended), then the changed ones (replaced by id).
    assert ids_in(html) == [m.pk for m in chatter[6:]] + [
        edited.pk,
        deleted.pk,
        liked.pk,
    ]
    assert 'hx-swap-oob="true"' in article(html, edited.pk)
    assert "line 1 (fixed)" in article(html, edited.pk)
    assert "This message was deleted." in article(html, deleted.pk)
    # A like made while the tab was away brings the new count.
    assert f'id="like-count-{liked.pk}" class="msg-like-count">1<' in article(
        html, liked.pk
    )
    assert untouched.pk not in ids_in(html)
    assert chatter[0].pk not in ids_in(html)


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_catch_up_and_older_pages_are_not_found_for_a_non_member(
    htmx, other_client, other_membership, chatter, topic
):
    other_membership.delete()

    after = catch_up(other_client, topic, htmx=htmx, after=0)
    before = catch_up(other_client, topic, htmx=htmx, before=chatter[-1].pk)

    for response in (after, before):
        # htmx requests (an open page removed meanwhile) get the refusal
        # protocol (project/refusals.py): a 404 page would be logged as an error.
        if htmx:
            assert (response.status_code, response["X-Refused"]) == (200, "404")
        else:
            assert response.status_code == 404
    assert "line " not in after.content.decode() + before.content.decode()


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_catch_up_without_a_position_or_with_a_bad_one_is_a_bad_request(
    htmx, member_client, membership, topic
):
    for params in ({}, {"after": "x"}, {"before": "1.5"}):
        response = catch_up(member_client, topic, htmx=htmx, **params)
        # htmx requests get the refusal protocol (project/refusals.py).
        if htmx:
            assert (response.status_code, response["X-Refused"]) == (200, "400")
        else:
            assert response.status_code == 400, params


# --- Older pages (keyset) -----------------------------------------------------


@pytest.fixture
def long_topic(member, other_member, third_member, membership, other_membership, topic):
    """120 messages by three authors."""
    authors = [other_member, third_member, member]
    return MessageFactory.create_batch(
        120, topic=topic, author=factory.Iterator(authors)
    )


def test_older_page_is_the_previous_50_by_id_without_offset(
    member_client, long_topic, topic
):
    oldest_shown = long_topic[70]

    with CaptureQueriesContext(connection) as queries:
        response = catch_up(member_client, topic, before=oldest_shown.pk)

    html = response.content.decode()
    assert response.status_code == 200
    assert ids_in(html) == [m.pk for m in long_topic[20:70]]
    assert PAGE_SIZE == 50
    assert html.startswith(f'<div hx-swap-oob="afterbegin:#topic-{topic.pk}-messages">')
    # The "load older" button moves to the new oldest message.
    older = [a for tag, a in elements(html) if a.get("id") == f"topic-{topic.pk}-older"]
    assert older == [
        {
            "type": "button",
            "id": f"topic-{topic.pk}-older",
            "class": "older secondary",
            "hx-get": messages_url(topic, before=long_topic[20].pk),
            "hx-trigger": f"click, intersect root:#topic-{topic.pk}-scroller",
            "hx-swap": "none",
            "hx-swap-oob": "true",
        }
    ]
    sql = " ".join(q["sql"] for q in queries.captured_queries).upper()
    assert "OFFSET" not in sql
    assert "SELECT" in sql


def test_oldest_page_says_it_is_the_beginning(member_client, long_topic, topic):
    response = catch_up(member_client, topic, before=long_topic[20].pk)

    html = response.content.decode()
    assert ids_in(html) == [m.pk for m in long_topic[:20]]
    assert "This is the beginning of the topic." in html
    assert "Load older messages" not in html


def test_older_page_leaves_out_authors_hidden_by_a_block(
    member_client, member, third_member, long_topic, topic
):
    Block.objects.create(blocker=member, blocked=third_member)

    response = catch_up(member_client, topic, before=long_topic[-1].pk)

    shown = ids_in(response.content.decode())
    visible = [m.pk for m in long_topic[:-1] if m.author_id != third_member.pk]
    assert shown == visible[-PAGE_SIZE:]


def test_topic_page_shows_the_latest_50_and_a_load_older_button(
    member_client, long_topic, topic
):
    page = member_client.get(topic.get_absolute_url()).content.decode()

    assert ids_in(page) == [m.pk for m in long_topic[-PAGE_SIZE:]]
    assert messages_url(topic, before=long_topic[-PAGE_SIZE].pk) in page
    assert 'role="log"' in page


# --- Query counts stay flat ---------------------------------------------------


def fill_topic(topic, authors, n):
    """n messages by several authors, every third a reply, some liked by the
    reader (authors[0])."""
    messages = []
    for i in range(n):
        reply_to = messages[i - 2] if i % 3 == 2 else None
        messages.append(
            MessageFactory(
                topic=topic, author=authors[i % len(authors)], reply_to=reply_to
            )
        )
        if i % 4 == 0:
            Like.objects.create(message=messages[-1], member=authors[0])
    return messages


def queries_for(client, url, **headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return len(queries)


@pytest.fixture
def reader_and_topics(member, member_factory, community, join, membership):
    """Two topics with 10 and 120 messages by five authors, replies and likes."""
    authors = [member]
    for name in ("ben", "chika", "daichi", "emi"):
        authors.append(member_factory(nickname=name))
        join(authors[-1], community)
    small = TopicFactory(community=community)
    large = TopicFactory(community=community)
    return (
        authors,
        (small, fill_topic(small, authors, 10)),
        (
            large,
            fill_topic(large, authors, 120),
        ),
    )


def test_topic_page_query_count_does_not_grow_with_messages(
    member_client, reader_and_topics
):
    _authors, (small, _), (large, _) = reader_and_topics
    # A first visit creates the read position; count the second ones.
    for topic in (small, large):
        member_client.get(topic.get_absolute_url())

    small_count = queries_for(member_client, small.get_absolute_url())
    large_count = queries_for(member_client, large.get_absolute_url())

    assert small_count == large_count
    # 16: one of them loads the page's message photos, all at once
    # (for_display's prefetch; tests/chat/test_message_photos.py).
    assert large_count <= 16


def test_older_page_query_count_does_not_grow_with_messages(
    member_client, reader_and_topics
):
    _authors, (small, small_rows), (large, large_rows) = reader_and_topics

    small_count = queries_for(
        member_client, messages_url(small, before=small_rows[-1].pk), **HTMX
    )
    large_count = queries_for(
        member_client, messages_url(large, before=large_rows[-1].pk), **HTMX
    )

    assert small_count == large_count
    assert large_count <= 10


def test_catch_up_query_count_does_not_grow_with_new_messages(
    member_client, reader_and_topics
):
    # 9 new messages against 119; changed ones (since=) are measured in
    # tests/chat/test_catch_up.py, where rows really are changed.
    _authors, (small, small_rows), (large, large_rows) = reader_and_topics
    since = (timezone.now() - timedelta(hours=1)).isoformat().replace("+", "%2B")

    small_count = queries_for(
        member_client, messages_url(small, after=small_rows[0].pk, since=since), **HTMX
    )
    large_count = queries_for(
        member_client, messages_url(large, after=large_rows[0].pk, since=since), **HTMX
    )

    assert small_count == large_count


# --- Unread counts and the "New messages" divider -----------------------------


def unread_badges(client, community) -> dict[str, int]:
    """Topic title -> unread count, as the community page shows them."""
    page = client.get(community.get_absolute_url()).content.decode()
    found = re.findall(
        r'<span class="topic-title">([^<]*)</span>\s*'
        r'(?:<span class="badge" aria-label="(\d+) unread messages?">(\d+)</span>)?',
        page,
    )
    counts = {}
    for title, label, shown in found:
        assert label == shown
        counts[title] = int(shown or 0)
    return counts


def test_community_page_shows_unread_counts_without_own_or_blocked_messages(
    member_client,
    member,
    other_member,
    third_member,
    membership,
    other_membership,
    community,
    topic,
):
    quiet = TopicFactory(community=community, title="Quiet corner")
    MessageFactory.create_batch(3, topic=topic, author=other_member)
    MessageFactory.create_batch(2, topic=topic, author=member)
    MessageFactory.create_batch(4, topic=topic, author=third_member)
    MessageFactory(topic=quiet, author=member)
    Block.objects.create(blocker=member, blocked=third_member)

    assert unread_badges(member_client, community) == {
        "Live chat": 3,
        "Quiet corner": 0,
    }


def test_reading_a_topic_resets_its_unread_count_and_new_ones_count_again(
    member_client, other_client, member, membership, other_membership, community, topic
):
    MessageFactory.create_batch(2, topic=topic, author=topic.community.owner)
    assert unread_badges(member_client, community) == {"Live chat": 2}

    member_client.get(topic.get_absolute_url())
    assert unread_badges(member_client, community) == {"Live chat": 0}

    send(other_client, topic, "anyone here?")
    assert unread_badges(member_client, community) == {"Live chat": 1}
    # Sending reads the topic for the sender: their own message is not unread.
    send(member_client, topic, "yes!")
    assert unread_badges(member_client, community) == {"Live chat": 0}


def test_unread_counts_are_per_member(
    member_client, other_client, member, membership, other_membership, community, topic
):
    MessageFactory.create_batch(2, topic=topic, author=community.owner)
    member_client.get(topic.get_absolute_url())

    assert unread_badges(member_client, community) == {"Live chat": 0}
    assert unread_badges(other_client, community) == {"Live chat": 2}


def test_new_messages_divider_comes_before_the_first_unread_message(
    member_client, member, other_member, membership, other_membership, topic
):
    read = MessageFactory.create_batch(3, topic=topic, author=other_member)
    TopicRead.objects.create(topic=topic, member=member, last_read_id=read[-1].pk)
    own = MessageFactory(topic=topic, author=member)
    first_unread = MessageFactory(topic=topic, author=other_member)
    MessageFactory(topic=topic, author=other_member)

    page = member_client.get(topic.get_absolute_url()).content.decode()

    assert page.count('id="new-messages-divider"') == 1
    divider = page.index('id="new-messages-divider"')
    assert page.index(f'id="message-{own.pk}"') < divider
    first_unread_at = page.index(f'<article id="message-{first_unread.pk}"')
    assert "<article" not in page[divider:first_unread_at]
    # Reading moved the position: the next visit has no divider.
    page = member_client.get(topic.get_absolute_url()).content.decode()
    assert 'id="new-messages-divider"' not in page


def test_no_divider_when_everything_is_read_or_own(
    member_client, member, other_member, membership, other_membership, topic
):
    seen = MessageFactory(topic=topic, author=other_member)
    TopicRead.objects.create(topic=topic, member=member, last_read_id=seen.pk)
    MessageFactory(topic=topic, author=member)

    page = member_client.get(topic.get_absolute_url()).content.decode()

    assert 'id="new-messages-divider"' not in page


def test_editing_a_reply_after_its_quoted_author_blocked_you_quotes_nothing(
    member_client, member, other_member, membership, other_membership, topic
):
    quoted = MessageFactory(topic=topic, author=other_member, body="ben's secret")
    send(member_client, topic, "replying", reply_to=quoted.pk)
    reply = Message.objects.get(author=member)
    Block.objects.create(blocker=other_member, blocked=member)

    edited = act(member_client, "edit", reply, body="replying, edited")
    page = member_client.get(topic.get_absolute_url()).content.decode()

    for html in (edited.content.decode(), page):
        assert "replying, edited" in html
        assert "ben&#x27;s secret" not in html
        assert "In reply to a message you cannot see" in html


def test_resending_a_reply_after_its_quoted_author_blocked_you_quotes_nothing(
    member_client, member, other_member, membership, other_membership, topic
):
    quoted = MessageFactory(topic=topic, author=other_member, body="ben's secret")
    first = send(member_client, topic, "replying", client_id="c1", reply_to=quoted.pk)
    Block.objects.create(blocker=other_member, blocked=member)

    resent = send(member_client, topic, "replying", client_id="c1", reply_to=quoted.pk)

    assert "ben&#x27;s secret" in first.content.decode()
    assert resent.status_code == 200
    assert "ben&#x27;s secret" not in resent.content.decode()
    assert "In reply to a message you cannot see" in resent.content.decode()


def test_a_muted_member_cannot_post_new_text_by_editing(
    member_client, member, membership, topic
):
    message = MessageFactory(topic=topic, author=member, body="before")
    membership.muted_until = timezone.now() + timedelta(hours=1)
    membership.save(update_fields=["muted_until"])

    response = member_client.post(
        reverse("chat:message-edit", kwargs={"message_id": message.pk}),
        {"body": "new words while muted"},
        **HTMX,
    )

    assert refused(response) == (403, "You are muted in this community for now.")
    assert Message.objects.get(pk=message.pk).body == "before"


def test_catch_up_with_an_impossible_time_is_a_clear_400(
    member_client, topic, membership
):
    response = catch_up(member_client, topic, after=0, since="2024-99-99T00:00")

    assert (response.status_code, response["X-Refused"]) == (200, "400")
    assert response["Content-Type"].startswith("text/plain")


def test_mentions_reach_only_members_of_the_community_not_hidden_by_a_block(
    member_client,
    member,
    other_member,
    third_member,
    membership,
    other_membership,
    topic,
):
    # chika (third_member) is an active member too; her block hides her.
    Block.objects.create(blocker=third_member, blocked=member)
    outsider = MemberFactory(nickname="daichi")

    send(member_client, topic, "hi @ben @chika @daichi")

    message = Message.objects.get(author=member)
    assert list(
        Mention.objects.filter(message=message).values_list("member", flat=True)
    ) == [other_member.pk]
    assert 'href="/members/ben/"' in message.body_html
    assert "/members/chika/" not in message.body_html
    assert "/members/daichi/" not in message.body_html
    assert not outsider.memberships.exists()


def test_a_reply_quoting_a_hidden_author_is_left_out_as_the_live_path_leaves_it_out(
    member, other_member, third_member, membership, other_membership, topic
):
    # chika blocked ben; aiko replies to ben. The socket skips the reply for
    # chika (it carries ben's words); the page, catch-up and unread count
    # agree, so a reload cannot show what live never did, or the reverse.
    Block.objects.create(blocker=third_member, blocked=other_member)
    quoted = MessageFactory(topic=topic, author=other_member, body="ben's words")
    send(client_for(member), topic, "quoting ben", reply_to=quoted.pk)
    chika = client_for(third_member)

    page = chika.get(topic.get_absolute_url()).content.decode()
    caught_up = catch_up(chika, topic, after=0).content.decode()
    unread = Topic.objects.with_unread_for(third_member).get(pk=topic.pk).unread

    assert "quoting ben" not in page
    assert "quoting ben" not in caught_up
    assert unread == 0
    # aiko still sees her own reply, and ben sees it whole.
    assert "quoting ben" in client_for(member).get(topic.get_absolute_url()).text
    ben_page = client_for(other_member).get(topic.get_absolute_url()).text
    assert "quoting ben" in ben_page and "ben&#x27;s words" in ben_page
