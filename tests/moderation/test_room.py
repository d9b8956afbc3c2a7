"""The room (moderation/room.py): a moderator deletes a member's message,
sets slow mode, locks the topic and pins messages; each is refused to who
may not, changes nothing then, holds on the server whatever the page shows,
and reaches every open page of the topic."""

import re
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.urls import reverse
from django.utils import timezone

from chat.models import Message
from communities import actions as community_actions
from communities.models import Membership, Topic
from moderation import room
from moderation.models import ModerationAction, Pin
from presence.models import Notification
from tests.chat.conftest import HTMX, RECEIVE_TIMEOUT, refused, send
from tests.conftest import client_for
from tests.factories import MessageFactory
from tests.moderation.conftest import audit_kinds

pytestmark = pytest.mark.django_db


def say(topic, author, body, **fields):
    return MessageFactory(topic=topic, author=author, body=body, **fields)


def delete(actor, message, **form):
    return client_for(actor).post(
        reverse("chat:message-delete", kwargs={"message_id": message.pk}),
        form,
        **HTMX,
    )


def post(actor, name, **kwargs):
    form = kwargs.pop("form", {})
    return client_for(actor).post(
        reverse(f"moderation:{name}", kwargs=kwargs), form, **HTMX
    )


def page(member, topic) -> str:
    response = client_for(member).get(topic.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


# --- Deleting a message -----------------------------------------------------------


def test_a_moderator_deletes_a_members_message_from_history_and_catch_up(
    club, topic, daichi, ben, aiko
):
    since = timezone.now() - timedelta(seconds=1)
    message = say(topic, ben, "Buy cheap followers at spam.example")

    response = delete(daichi, message, rule="spam", reason="An advert")

    assert response.status_code == 200
    assert "This message was deleted." in response.content.decode()
    message.refresh_from_db()
    assert message.is_deleted and message.body == ""
    action = ModerationAction.objects.get(kind=ModerationAction.Kind.DELETE)
    assert (action.actor, action.member, action.topic) == (daichi, ben, topic)
    assert (action.target_kind, action.target_id) == ("message", message.pk)
    assert (action.rule, action.reason, action.public) == ("spam", "An advert", True)
    # Gone from history and from catch-up, for everyone.
    assert "spam.example" not in page(aiko, topic)
    caught_up = client_for(aiko).get(
        reverse("chat:message-list", kwargs={"topic_id": topic.pk}),
        {"after": 0, "since": since.isoformat()},
        **HTMX,
    )
    assert "spam.example" not in caught_up.content.decode()
    assert "This message was deleted." in caught_up.content.decode()


def test_the_author_is_told_of_the_removal_without_the_moderators_name(
    club, topic, daichi, ben
):
    message = say(topic, ben, "Off topic rant")

    delete(daichi, message, rule="off_topic")

    note = Notification.objects.get(recipient=ben)
    assert note.kind == "message_removed" and note.actor is None
    listing = client_for(ben).get(reverse("presence:notifications")).content.decode()
    assert "A moderator removed your message in “Beans of the week”" in listing
    assert "Off topic or disruptive" in listing
    assert "daichi" not in listing


def test_a_reply_quoting_a_deleted_message_says_so_on_the_page_and_in_catch_up(
    club, topic, daichi, ben, chika, aiko
):
    quoted = say(topic, ben, "Meet at the secret spot")
    reply = say(topic, chika, "On my way", reply_to=quoted)
    since = timezone.now()

    delete(daichi, quoted)

    shown = page(aiko, topic)
    assert "secret spot" not in shown
    assert "In reply to a deleted message" in shown
    # A page that synced before the deletion is sent the reply again.
    caught_up = (
        client_for(aiko)
        .get(
            reverse("chat:message-list", kwargs={"topic_id": topic.pk}),
            {"after": reply.pk, "since": since.isoformat()},
            **HTMX,
        )
        .content.decode()
    )
    assert f'id="message-{reply.pk}"' in caught_up
    assert "secret spot" not in caught_up
    assert "In reply to a deleted message" in caught_up


@pytest.mark.parametrize("author", ["aiko", "chika"])
def test_a_moderator_cannot_delete_the_owners_or_another_moderators_message(
    club, topic, daichi, author, request
):
    target = request.getfixturevalue(author)
    community_actions.set_role(
        community=club,
        member_id=request.getfixturevalue("chika").pk,
        role=Membership.Role.MODERATOR,
    )
    message = say(topic, target, "Mine")
    before = audit_kinds(club)

    status, reason = refused(delete(daichi, message))

    assert status == 403
    assert reason == "Moderators cannot act on the owner or on other moderators."
    message.refresh_from_db()
    assert not message.is_deleted and message.body == "Mine"
    assert audit_kinds(club) == before


def test_a_member_cannot_delete_someone_elses_message(club, topic, ben, chika):
    message = say(topic, chika, "Hello")

    status, _reason = refused(delete(ben, message))

    assert status == 403
    message.refresh_from_db()
    assert not message.is_deleted
    assert not ModerationAction.objects.exists()


def test_the_owner_deletes_a_moderators_message(club, topic, aiko, daichi):
    message = say(topic, daichi, "Oops")

    assert delete(aiko, message).status_code == 200

    assert Message.objects.get(pk=message.pk).is_deleted
    assert audit_kinds(club) == ["delete"]


def test_a_moderators_deletion_of_their_own_message_is_recorded_too(
    club, topic, daichi
):
    message = say(topic, daichi, "Typo")

    delete(daichi, message)

    action = ModerationAction.objects.get(kind="delete")
    assert (action.actor, action.member, action.public) == (daichi, daichi, False)
    assert not Notification.objects.filter(kind="message_removed").exists()


def test_a_members_deletion_of_their_own_message_is_no_moderation(club, topic, ben):
    message = say(topic, ben, "Typo")

    delete(ben, message)

    assert Message.objects.get(pk=message.pk).is_deleted
    assert not ModerationAction.objects.exists()


def test_a_rule_not_on_the_list_is_refused_and_nothing_is_deleted(
    club, topic, daichi, ben
):
    message = say(topic, ben, "Hi")

    status, _reason = refused(delete(daichi, message, rule="because"))

    assert status == 400
    assert not Message.objects.get(pk=message.pk).is_deleted


# --- Slow mode --------------------------------------------------------------------


def test_a_member_cannot_set_slow_mode(club, topic, ben):
    status, _reason = refused(
        post(ben, "slow-mode", topic_id=topic.pk, form={"seconds": 30})
    )

    assert status == 403
    assert Topic.objects.get(pk=topic.pk).slow_mode_seconds == 0
    assert not ModerationAction.objects.exists()


@pytest.mark.parametrize("seconds", ["7", "-5", "soon", "86400"])
def test_slow_mode_takes_only_the_listed_durations(club, topic, daichi, seconds):
    status, reason = refused(
        post(daichi, "slow-mode", topic_id=topic.pk, form={"seconds": seconds})
    )

    assert (status, reason) == (400, "Choose a slow mode from the list.")
    assert Topic.objects.get(pk=topic.pk).slow_mode_seconds == 0


def test_slow_mode_refuses_a_members_second_message_even_from_a_stale_page(
    club, topic, daichi, ben
):
    ben_client = client_for(ben)
    stale = ben_client.get(topic.get_absolute_url()).content.decode()
    assert "Slow mode:" not in stale

    response = post(daichi, "slow-mode", topic_id=topic.pk, form={"seconds": "30"})

    assert 'data-slow-mode="30"' in response.content.decode()
    assert "Slow mode: one message every 30 seconds" in page(ben, topic)
    action = ModerationAction.objects.get()
    assert (action.kind, action.detail, action.topic) == ("slow_mode", "30", topic)
    assert send(ben_client, topic, "First").status_code == 201
    second = send(ben_client, topic, "Second")
    status, reason = refused(second)
    assert status == 429
    assert re.fullmatch(
        r"Slow mode is on: you can send your next message in (\d+) seconds\.", reason
    )
    assert 28 <= int(second["Retry-After"]) <= 30
    assert list(Message.objects.values_list("body", flat=True)) == ["First"]
    # Once the time has passed, the next one goes.
    Message.objects.update(created_at=timezone.now() - timedelta(seconds=31))
    assert send(ben_client, topic, "Third").status_code == 201


def test_slow_mode_counts_per_member_and_spares_moderators(
    club, topic, daichi, ben, chika
):
    room.set_slow_mode(daichi, topic, 60)

    assert send(client_for(ben), topic, "ben").status_code == 201
    assert send(client_for(chika), topic, "chika").status_code == 201
    for n in range(2):
        assert send(client_for(daichi), topic, f"daichi {n}").status_code == 201
    # Off again: ben may send at once.
    room.set_slow_mode(daichi, topic, 0)
    assert send(client_for(ben), topic, "ben again").status_code == 201
    assert audit_kinds(club) == ["slow_mode", "slow_mode"]


# --- Lock -------------------------------------------------------------------------


def test_a_member_cannot_lock_a_topic(club, topic, ben):
    status, _reason = refused(post(ben, "lock", topic_id=topic.pk))

    assert status == 403
    assert Topic.objects.get(pk=topic.pk).locked_at is None


def test_a_locked_topic_takes_no_messages_and_stays_readable(club, topic, daichi, ben):
    say(topic, ben, "Before the lock")
    ben_client = client_for(ben)
    ben_client.get(topic.get_absolute_url())  # a page open before the lock

    post(daichi, "lock", topic_id=topic.pk)  # no `locked`: toggles

    assert Topic.objects.get(pk=topic.pk).locked_at is not None
    status, reason = refused(send(ben_client, topic, "After the lock"))
    assert (status, reason) == (403, "This topic is locked: no new messages.")
    shown = page(ben, topic)
    assert "Before the lock" in shown
    assert "This topic is locked." in shown
    assert not Message.objects.filter(body="After the lock").exists()

    post(daichi, "lock", topic_id=topic.pk, form={"locked": "0"})

    assert send(ben_client, topic, "After the unlock").status_code == 201
    assert audit_kinds(club) == ["lock", "unlock"]


def test_locking_twice_records_once_and_a_bad_value_changes_nothing(
    club, topic, daichi
):
    post(daichi, "lock", topic_id=topic.pk, form={"locked": "1"})
    post(daichi, "lock", topic_id=topic.pk, form={"locked": "1"})
    status, _reason = refused(
        post(daichi, "lock", topic_id=topic.pk, form={"locked": "x"})
    )

    assert status == 400
    assert Topic.objects.get(pk=topic.pk).locked_at is not None
    assert audit_kinds(club) == ["lock"]


# --- Pins -------------------------------------------------------------------------


def test_a_member_cannot_pin(club, topic, ben):
    message = say(topic, ben, "Pin me")

    status, _reason = refused(post(ben, "pin", message_id=message.pk))

    assert status == 403
    assert not Pin.objects.exists()


def test_three_pins_at_most_and_the_fourth_is_refused(club, topic, daichi, ben):
    messages = [say(topic, ben, f"Notice {n}") for n in range(4)]
    for message in messages[:3]:
        assert post(daichi, "pin", message_id=message.pk).status_code == 200

    status, reason = refused(post(daichi, "pin", message_id=messages[3].pk))

    assert (status, reason) == (
        400,
        "At most 3 messages can be pinned in a topic. Unpin one first.",
    )
    assert set(Pin.objects.values_list("message_id", flat=True)) == {
        m.pk for m in messages[:3]
    }
    shown = page(ben, topic)
    pinned = shown[shown.index('class="pins"') : shown.index("chat-scroller")]
    assert [f"Notice {n}" in pinned for n in range(4)] == [True, True, True, False]
    assert audit_kinds(club) == ["pin"] * 3

    post(daichi, "unpin", message_id=messages[0].pk)

    assert post(daichi, "pin", message_id=messages[3].pk).status_code == 200
    assert Pin.objects.count() == 3


def test_a_deleted_message_cannot_be_pinned_and_a_deletion_takes_its_pin(
    club, topic, daichi, ben
):
    gone = say(topic, ben, "Gone", deleted_at=timezone.now())
    status, _reason = refused(post(daichi, "pin", message_id=gone.pk))
    assert status == 400
    pinned = say(topic, ben, "Pinned then deleted")
    room.pin_message(daichi, pinned)

    delete(daichi, pinned)

    assert not Pin.objects.exists()
    assert "Pinned then deleted" not in page(ben, topic)


def test_a_message_of_a_topic_one_cannot_read_is_not_found(club, topic, daichi):
    from tests.factories import CommunityFactory, TopicFactory

    elsewhere = TopicFactory(community=CommunityFactory(name="Elsewhere"))
    message = say(elsewhere, daichi, "Not here")

    response = client_for(daichi).post(
        reverse("moderation:pin", kwargs={"message_id": message.pk})
    )

    assert response.status_code == 404
    assert not Pin.objects.exists()


# --- The page ---------------------------------------------------------------------


def test_the_message_menu_offers_every_action_and_the_page_says_who_is_looking(
    club, topic, daichi, ben
):
    message = say(topic, ben, "Hello")

    shown = page(daichi, topic)

    article = shown[shown.index(f'id="message-{message.pk}"') :]
    article = article[: article.index("</article>")]
    assert re.search(
        r'<button type="button" class="msg-menu-button"[^>]*aria-haspopup="menu"'
        r'[^>]*aria-expanded="false"[^>]*>More actions</button>',
        article,
    )
    assert 'role="menu"' in article
    items = re.findall(r'role="menuitem"[^>]*>([^<]+)<', article)
    assert items == [
        "Reply",
        "Copy text",
        "Edit",
        "Delete",
        "Report",
        "Mute author",
        "Ban author",
        "Pin",
        "Block",
    ]
    assert "data-moderator" in shown
    assert f'data-report-url="{reverse("moderation:report")}"' in shown
    mute = reverse(
        "moderation:mute", kwargs={"community_id": club.pk, "member_id": 1}
    ).replace("/1/", "/{member}/")
    assert f'data-mute-url="{mute}"' in shown
    assert "Lock topic" in shown and "Slow mode" in shown
    # Whom daichi may not act on: the owner (his menu leaves them out).
    assert f'data-protected="{club.owner_id}"' in shown
    # A member's page: the same message, no moderator on the page.
    assert "data-moderator" not in page(ben, topic)
    assert 'data-protected=""' in page(ben, topic)


# --- Live -------------------------------------------------------------------------

live = pytest.mark.django_db(transaction=True)


@live
async def test_a_deletion_pin_and_lock_reach_an_open_page(
    club, topic, daichi, ben, chika, aiko, open_socket
):
    quoted = await database_sync_to_async(say)(topic, ben, "Quoted text")
    reply = await database_sync_to_async(say)(topic, chika, "A reply", reply_to=quoted)
    socket = await open_socket(aiko, topic)

    await sync_to_async(room.pin_message)(daichi, reply)
    frame = await socket.receive_from(timeout=RECEIVE_TIMEOUT)
    assert f'<section id="topic-{topic.pk}-pins"' in frame
    assert 'hx-swap-oob="true"' in frame and "A reply" in frame

    await sync_to_async(delete)(daichi, quoted)
    frames = [await socket.receive_from(timeout=RECEIVE_TIMEOUT) for _ in range(2)]
    assert f'id="message-{quoted.pk}"' in frames[0]
    assert "This message was deleted." in frames[0]
    assert f'id="message-{reply.pk}"' in frames[1]
    assert "In reply to a deleted message" in frames[1]
    assert not any("Quoted text" in frame for frame in frames)

    await sync_to_async(room.lock_topic)(daichi, topic)
    frame = await socket.receive_from(timeout=RECEIVE_TIMEOUT)
    assert f'<p id="topic-{topic.pk}-locked"' in frame
    assert "This topic is locked." in frame
    assert f'<p id="topic-{topic.pk}-slow-mode-notice"' in frame


def test_a_banned_members_open_page_is_refused_its_catch_up_not_sent_a_404_page(
    club, topic, ben
):
    say(topic, ben, "Before")
    row = Membership.objects.get(community=club, member=ben)
    row.status = Membership.Status.BANNED
    row.save(update_fields=["status"])
    url = reverse("chat:message-list", kwargs={"topic_id": topic.pk})

    status, reason = refused(client_for(ben).get(url, {"after": 0}, **HTMX))

    assert (status, reason) == (404, "Only members of this community can do that.")
    assert client_for(ben).get(url, {"after": 0}).status_code == 404
