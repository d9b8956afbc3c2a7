"""Sending a message through the composer's endpoint, POST /topics/<id>/send/.

Every refusal gives a clear error, saves nothing and broadcasts nothing: a
member watching the topic on a real socket receives no frame. Answers to htmx
are plain text for the composer, with 200 and the refusal's status in X-Refused
(project/refusals.py); a plain form post is redirected back to the topic with
the error as a flash message.
"""

import asyncio
import re
import threading
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chat import actions
from chat.actions import MAX_LENGTH, RATE_LIMIT, RATE_WINDOW
from chat.models import Message
from communities.models import Membership
from project import ratelimit
from tests.chat.conftest import (
    NOTHING_TIMEOUT,
    RECEIVE_TIMEOUT,
    alogin,
    asend,
    message_count,
    refused,
    send,
    set_status,
)
from tests.factories import CommunityFactory, MessageFactory, TopicFactory

pytestmark = pytest.mark.django_db(transaction=True)

TOO_LONG = "A message has at most 4000 characters (this one has 4001)."
EMPTY = "Write a message first."
MUTED = "You are muted in this community for now."
# The seconds to wait follow: see tests/moderation/test_ratelimit_unified.py.
TOO_FAST = "You are sending messages too fast. Try again in "
NOT_A_MEMBER = "Only members of this community can do that."
STALE_FORM = "This form is out of date. Reload the page and try again."
STALE_PAGE = "This page is out of date. Reload it and try again; nothing was saved."


@pytest.fixture
async def watcher(other_member, other_membership, topic, open_socket):
    """ben, a member with the topic open in a tab."""
    return await open_socket(other_member, topic)


def message_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<article id="message-(\d+)"', html)]


# --- Refusals -------------------------------------------------------------------------


def _mute(membership):
    membership.muted_until = timezone.now() + timedelta(hours=1)
    membership.save(update_fields=["muted_until"])


def _leave(membership):
    membership.delete()


REFUSALS = {
    # name: (body, what happens to aiko's membership first, status, text)
    "empty": ("", None, 400, EMPTY),
    "whitespace_only": (" \n\t\u3000 \r\n", None, 400, EMPTY),
    "4001_characters": ("x" * (MAX_LENGTH + 1), None, 400, TOO_LONG),
    "4001_after_trimming": (
        "  " + "あ" * (MAX_LENGTH + 1) + "\n",
        None,
        400,
        TOO_LONG,
    ),
    "muted": ("hello", _mute, 403, MUTED),
    "non_member": ("hello", _leave, 404, NOT_A_MEMBER),
    "banned": (
        "hello",
        lambda m: set_status(m, Membership.Status.BANNED),
        404,
        NOT_A_MEMBER,
    ),
    "pending": (
        "hello",
        lambda m: set_status(m, Membership.Status.PENDING),
        404,
        NOT_A_MEMBER,
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
async def test_refused_send_says_why_saves_nothing_and_broadcasts_nothing(
    case, member, membership, topic, watcher
):
    body, before, status, reason = REFUSALS[case]
    if before is not None:
        await database_sync_to_async(before)(membership)
    before_count = await message_count()

    response = await asend(await alogin(member), topic, body)

    assert refused(response) == (status, reason)
    assert await message_count() == before_count
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)


@pytest.mark.parametrize("case", ["empty", "4001_characters", "muted"])
def test_refused_plain_form_post_redirects_back_to_the_topic_with_a_flash(
    case, member_client, membership, topic
):
    body, before, _status, reason = REFUSALS[case]
    if before is not None:
        before(membership)

    response = send(member_client, topic, body, htmx=False)

    assert response.status_code == 302
    assert response["Location"] == topic.get_absolute_url()
    page = member_client.get(response["Location"])
    assert reason in page.content.decode()
    assert Message.objects.count() == 0


@pytest.mark.parametrize("case", ["non_member", "banned"])
def test_plain_form_post_by_someone_who_may_not_read_the_topic_is_not_found(
    case, member_client, membership, topic
):
    body, before, _status, _reason = REFUSALS[case]
    before(membership)

    response = send(member_client, topic, body, htmx=False)

    assert response.status_code == 404
    assert Message.objects.count() == 0


def test_send_to_a_topic_that_does_not_exist_answers_like_a_forbidden_one(
    member_client, membership, topic
):
    missing = TopicFactory.build(pk=topic.pk + 1000)

    response = send(member_client, missing, "hello?")

    assert refused(response) == (404, NOT_A_MEMBER)


@pytest.mark.parametrize(
    "client_id", ["", "   ", "x" * 65], ids=["none", "blank", "65"]
)
async def test_send_without_a_usable_client_id_is_refused_as_a_stale_form(
    client_id, member, membership, topic, watcher
):
    client = await alogin(member)
    response = await database_sync_to_async(client.post)(
        reverse("chat:message-create", kwargs={"topic_id": topic.pk}),
        {"body": "hello", "client_id": client_id},
        HTTP_HX_REQUEST="true",
    )

    assert refused(response) == (400, STALE_FORM)
    assert await message_count() == 0
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)


async def test_eleventh_message_within_10_s_is_refused_with_429(
    member, membership, topic, watcher
):
    client = await alogin(member)
    for n in range(RATE_LIMIT):
        response = await asend(client, topic, f"quick {n}")
        assert response.status_code == 201
        assert f"quick {n}" in await watcher.receive_from(timeout=RECEIVE_TIMEOUT)
    assert RATE_LIMIT == 10

    response = await asend(client, topic, "one too many")

    status, words = refused(response)
    assert (status, words[: len(TOO_FAST)]) == (429, TOO_FAST)
    assert await message_count() == RATE_LIMIT
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)


def test_rate_limit_counts_a_members_messages_in_every_topic(
    member_client, member, membership, topic, community
):
    elsewhere = TopicFactory(community=community)
    for n in range(RATE_LIMIT):
        assert send(member_client, elsewhere, f"elsewhere {n}").status_code == 201

    response = send(member_client, topic, "and here")

    status, words = refused(response)
    assert (status, words[: len(TOO_FAST)]) == (429, TOO_FAST)
    assert not Message.objects.filter(topic=topic).exists()


def test_rate_limit_frees_up_once_the_window_has_passed(
    member_client, member, membership, topic, monkeypatch
):
    # The budget is counted in the cache by project/ratelimit.py, on its clock.
    moment = [1_000_000.0 * RATE_WINDOW]
    monkeypatch.setattr(ratelimit, "now", lambda: moment[0])
    for n in range(RATE_LIMIT):
        assert send(member_client, topic, f"quick {n}").status_code == 201
    assert refused(send(member_client, topic, "too soon")) == (
        429,
        TOO_FAST + "10 seconds.",
    )
    moment[0] += 11

    response = send(member_client, topic, "after a pause")

    assert response.status_code == 201
    assert Message.objects.filter(body="after a pause").exists()


def test_rate_limited_plain_form_post_redirects_with_a_flash(
    member_client, membership, topic
):
    for n in range(RATE_LIMIT):
        send(member_client, topic, f"quick {n}")

    response = send(member_client, topic, "one too many", htmx=False)

    assert response.status_code == 302
    assert TOO_FAST in member_client.get(response["Location"]).content.decode()
    assert Message.objects.count() == RATE_LIMIT


# --- Stale forms (CSRF) -------------------------------------------------------------


def composer_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


@pytest.fixture
def strict_client(member):
    """A browser that really enforces CSRF, with the topic page open."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    return client


def post_form(client, topic, token=None, htmx=True):
    data = {"body": "from an old tab", "client_id": uuid.uuid4().hex}
    if token is not None:
        data["csrfmiddlewaretoken"] = token
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(
        reverse("chat:message-create", kwargs={"topic_id": topic.pk}), data, **headers
    )


def test_form_with_the_pages_csrf_token_is_accepted(strict_client, membership, topic):
    # The control for the refusals below: the same client and form, a live token.
    token = composer_token(strict_client.get(topic.get_absolute_url()).content.decode())

    response = post_form(strict_client, topic, token)

    assert response.status_code == 201
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "token", [None, "x" * 64, "wrong"], ids=["missing", "forged", "malformed"]
)
def test_form_with_a_missing_or_wrong_csrf_token_is_refused_plainly(
    strict_client, membership, topic, token
):
    strict_client.get(topic.get_absolute_url())

    response = post_form(strict_client, topic, token)

    assert refused(response) == (403, STALE_PAGE)
    assert Message.objects.count() == 0


def test_form_from_before_logging_in_again_is_stale(
    strict_client, member, membership, topic
):
    old_token = composer_token(
        strict_client.get(topic.get_absolute_url()).content.decode()
    )
    # Logging in again rotates the CSRF secret: the open tab's form is stale.
    strict_client.logout()
    strict_client.force_login(member)

    response = post_form(strict_client, topic, old_token)
    page_response = post_form(strict_client, topic, old_token, htmx=False)

    assert refused(response) == (403, STALE_PAGE)
    assert page_response.status_code == 403
    assert STALE_PAGE in page_response.content.decode()
    assert Message.objects.count() == 0


async def test_stale_form_broadcasts_nothing(member, membership, topic, watcher):
    client = await database_sync_to_async(Client)(enforce_csrf_checks=True)
    await database_sync_to_async(client.force_login)(member)

    response = await database_sync_to_async(post_form)(client, topic, "x" * 64)

    assert refused(response) == (403, STALE_PAGE)
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)


# --- What a send cannot choose -------------------------------------------------------


async def test_forged_author_field_is_ignored_the_poster_is_the_author(
    member, other_member, membership, topic, watcher
):
    response = await asend(
        await alogin(member),
        topic,
        "who wrote this?",
        author=other_member.pk,
        author_id=other_member.pk,
    )

    assert response.status_code == 201
    message = await database_sync_to_async(Message.objects.get)()
    assert message.author_id == member.pk
    frame = await watcher.receive_from(timeout=RECEIVE_TIMEOUT)
    assert f'data-author="{member.pk}"' in frame
    assert f'data-author="{other_member.pk}"' not in frame


def test_reply_to_a_message_in_a_topic_one_cannot_read_quotes_nothing(
    member_client, membership, topic, member_factory
):
    secret = CommunityFactory(join_policy="secret")
    hidden = MessageFactory(
        topic=TopicFactory(community=secret), body="the secret plan"
    )

    response = send(member_client, topic, "what plan?", reply_to=hidden.pk)

    assert response.status_code == 201
    message = Message.objects.get(topic=topic)
    assert message.reply_to is None
    assert "the secret plan" not in response.content.decode()


def test_reply_to_a_message_hidden_by_a_block_quotes_nothing(
    member_client, member, other_member, membership, other_membership, topic
):
    from accounts.models import Block

    hidden = MessageFactory(topic=topic, author=other_member, body="not for aiko")
    Block.objects.create(blocker=other_member, blocked=member)

    response = send(member_client, topic, "a guessed reply", reply_to=hidden.pk)

    assert response.status_code == 201
    assert Message.objects.get(author=member).reply_to is None
    assert "not for aiko" not in response.content.decode()


# --- Resends ------------------------------------------------------------


async def test_same_client_id_twice_makes_one_message_and_one_broadcast(
    member, membership, topic, watcher
):
    client = await alogin(member)
    client_id = uuid.uuid4().hex

    first = await asend(client, topic, "sent twice", client_id=client_id)
    broadcast = await watcher.receive_from(timeout=RECEIVE_TIMEOUT)
    second = await asend(client, topic, "sent twice", client_id=client_id)

    assert (first.status_code, second.status_code) == (201, 200)
    assert await message_count() == 1
    message = await database_sync_to_async(Message.objects.get)()
    assert message_ids(first.content.decode()) == [message.pk]
    assert message_ids(second.content.decode()) == [message.pk]
    assert message_ids(broadcast) == [message.pk]
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)


async def test_same_client_id_sent_twice_at_once_makes_one_message_and_one_broadcast(
    member, membership, topic, watcher, monkeypatch
):
    # Two tabs resend at the same moment. Each request is held right after the
    # resend check until the other has passed it too, so neither finds the
    # other's message there: the database's unique (author, client_id) decides.
    both_checked = threading.Barrier(2)
    render_body = actions._render_body

    def after_both_checked(*args, **kwargs):
        both_checked.wait(timeout=RECEIVE_TIMEOUT)
        return render_body(*args, **kwargs)

    monkeypatch.setattr(actions, "_render_body", after_both_checked)
    tabs = [await alogin(member), await alogin(member)]
    client_id = uuid.uuid4().hex

    def send_from_a_thread_of_its_own(tab):
        try:
            return send(tab, topic, "sent at once", client_id=client_id)
        finally:
            connection.close()

    at_once = sync_to_async(send_from_a_thread_of_its_own, thread_sensitive=False)
    answers = await asyncio.gather(*(at_once(tab) for tab in tabs))

    assert sorted(answer.status_code for answer in answers) == [200, 201]
    assert await message_count() == 1
    message = await database_sync_to_async(Message.objects.get)()
    for answer in answers:
        assert message_ids(answer.content.decode()) == [message.pk]
    assert message_ids(await watcher.receive_from(timeout=RECEIVE_TIMEOUT)) == [
        message.pk
    ]
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)


def test_resend_as_a_plain_form_post_also_makes_one_message(
    member_client, membership, topic
):
    send(member_client, topic, "once", client_id="tab-1-msg-1")

    response = send(member_client, topic, "once", client_id="tab-1-msg-1", htmx=False)

    assert response.status_code == 302
    assert Message.objects.count() == 1


def test_another_members_client_id_makes_their_own_message(
    member_client,
    other_client,
    member,
    other_member,
    membership,
    other_membership,
    topic,
):
    send(member_client, topic, "aiko's words", client_id="same-id")

    response = send(other_client, topic, "ben's words", client_id="same-id")

    assert response.status_code == 201
    assert "aiko&#x27;s words" not in response.content.decode()
    assert Message.objects.get(author=other_member).body == "ben's words"
    assert Message.objects.get(author=member).body == "aiko's words"


def test_a_client_id_from_another_topic_is_refused_and_reveals_nothing(
    member_client, member, membership, topic, community
):
    elsewhere = TopicFactory(community=community)
    send(member_client, topic, "said in the first topic", client_id="reused")

    response = send(member_client, elsewhere, "a resend?", client_id="reused")

    assert refused(response) == (400, STALE_FORM)
    assert "said in the first topic" not in response.content.decode()
    assert Message.objects.filter(topic=elsewhere).count() == 0


# --- Accepted -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "stored"),
    [
        ("x" * MAX_LENGTH, "x" * MAX_LENGTH),
        ("あ" * MAX_LENGTH, "あ" * MAX_LENGTH),
        (" \n" + "y" * MAX_LENGTH + "\n\u3000", "y" * MAX_LENGTH),
    ],
    ids=["4000", "4000-japanese", "4000-after-trimming"],
)
def test_message_of_4000_characters_is_accepted(
    member_client, membership, topic, body, stored
):
    response = send(member_client, topic, body)

    assert response.status_code == 201
    assert Message.objects.get().body == stored


def test_line_breaks_from_a_browser_form_are_stored_as_newlines_and_counted_once(
    member_client, membership, topic
):
    # Browsers submit a textarea's line breaks as CRLF; its maxlength counts
    # each as one character, and so must the server.
    body = "a" * 1999 + "\r\n" + "b" * 2000

    response = send(member_client, topic, body)

    assert response.status_code == 201
    assert Message.objects.get().body == "a" * 1999 + "\n" + "b" * 2000


def test_accepted_htmx_send_answers_201_with_the_message_as_an_oob_append(
    member_client, member, membership, topic
):
    response = send(member_client, topic, "hello there")

    message = Message.objects.get()
    html = response.content.decode()
    assert response.status_code == 201
    assert message.author == member
    assert message.topic == topic
    assert f'hx-swap-oob="beforeend:#topic-{topic.pk}-messages"' in html
    assert message_ids(html) == [message.pk]
    assert "hello there" in html
    topic.refresh_from_db()
    assert topic.message_count == 1


def test_accepted_plain_form_post_redirects_to_the_topic_showing_the_message(
    member_client, membership, topic
):
    response = send(member_client, topic, "no javascript here", htmx=False)

    assert response.status_code == 302
    assert response["Location"] == topic.get_absolute_url()
    page = member_client.get(response["Location"]).content.decode()
    assert "no javascript here" in page


def test_anonymous_send_goes_to_login_and_saves_nothing(client, topic):
    response = send(client, topic, "who am I?", htmx=False)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse(settings.LOGIN_URL))
    assert Message.objects.count() == 0
