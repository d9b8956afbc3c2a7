"""Moderators' actions in a topic (docs/moderation.md, "Actions in the room"):
delete a message, slow mode, lock, pins.

Each checks who may act (moderation.access), writes and records its audit row
(moderation.audit) in one transaction, and after commit pushes one fragment
per language to the topic's sockets (chat.broadcast.send_topic_frames),
addressed by id, the same for every viewer: what differs between a
moderator's page and a member's is CSS keyed on the page.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chat import actions as chat_actions
from chat import broadcast, fragments
from chat.models import Message
from communities.access import NotAllowed
from communities.models import Topic
from moderation import audit
from moderation.access import (
    can_moderate,
    require_can_act_on,
    require_can_moderate,
)
from moderation.models import ModerationAction, Pin, Rule, TargetKind
from presence import notifications

# Seconds between one member's messages (0: off), as the moderator's select
# names them.
SLOW_MODE_OPTIONS = (
    (0, gettext_lazy("Off")),
    (5, gettext_lazy("5 seconds")),
    (10, gettext_lazy("10 seconds")),
    (30, gettext_lazy("30 seconds")),
    (60, gettext_lazy("1 minute")),
    (300, gettext_lazy("5 minutes")),
    (900, gettext_lazy("15 minutes")),
    (3600, gettext_lazy("1 hour")),
)
SLOW_MODE_CHOICES = tuple(seconds for seconds, _label in SLOW_MODE_OPTIONS)
MAX_PINS = 3
MAX_REASON = 500


def _clean_rule(rule: str) -> str:
    rule = (rule or "").strip()
    if rule and rule not in Rule.values:
        raise NotAllowed(_("Choose a rule from the list."))
    return rule


def delete_message(actor, message: Message, *, rule: str = "", reason: str = ""):
    """Delete a message: its author's own, or a member's by a moderator
    (moderation.access.can_act_on: never the owner's nor another
    moderator's: Forbidden, nothing changes).

    A moderator's deletion, of anyone's message including their own, is an
    audit row; of someone else's, a public one (its rule, without their name
    in the public log), and its author is notified ("message_removed"). Its pin
    goes. chat.actions.delete_message pushes the tombstone and the replies
    quoting it to every open tab."""
    topic = Topic.objects.select_related("community").get(pk=message.topic_id)
    community = topic.community
    own = message.author_id == actor.pk
    if not own:
        require_can_act_on(actor, community, message.author)
    rule = _clean_rule(rule)
    reason = (reason or "").strip()[:MAX_REASON]
    recorded = not own or can_moderate(actor, community)
    with transaction.atomic():
        # Two moderators deleting at once: one deletion, one audit row.
        message = Message.objects.select_for_update().get(pk=message.pk)
        if message.is_deleted:
            return message
        chat_actions.delete_message(message=message)
        unpinned, _n = Pin.objects.filter(message=message).delete()
        if recorded:
            action = audit.record(
                ModerationAction.Kind.DELETE,
                actor=actor,
                community=community,
                member=message.author,
                target_kind=TargetKind.MESSAGE,
                target_id=message.pk,
                topic=topic,
                rule=rule,
                reason=reason,
                # A removal of someone's message is in the public log; one's
                # own message taken back is in the moderators' log only.
                public=not own,
            )
            if not own:
                notifications.notify(
                    message.author_id, "message_removed", target_id=action.pk
                )
        if unpinned:
            transaction.on_commit(lambda: broadcast_pins(topic.pk))
    return message


# --- Slow mode and lock -----------------------------------------------------------


def set_slow_mode(actor, topic: Topic, seconds) -> Topic:
    """Let each member send one message every `seconds` in the topic (0: off;
    one of SLOW_MODE_CHOICES, else NotAllowed and nothing changes).
    Moderators only (Forbidden). Pushes the topic's state to open pages."""
    require_can_moderate(actor, topic.community)
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        seconds = -1
    if seconds not in SLOW_MODE_CHOICES:
        raise NotAllowed(_("Choose a slow mode from the list."))
    with transaction.atomic():
        topic = (
            Topic.objects.select_for_update()
            .select_related("community")
            .get(pk=topic.pk)
        )
        if topic.slow_mode_seconds == seconds:
            return topic
        topic.slow_mode_seconds = seconds
        topic.save(update_fields=["slow_mode_seconds"])
        _record_topic(ModerationAction.Kind.SLOW_MODE, actor, topic, str(seconds))
    return topic


def lock_topic(actor, topic: Topic) -> Topic:
    """No new messages in the topic; reading stays. Moderators only."""
    return _set_locked(actor, topic, locked=True)


def unlock_topic(actor, topic: Topic) -> Topic:
    return _set_locked(actor, topic, locked=False)


def _set_locked(actor, topic: Topic, *, locked: bool) -> Topic:
    require_can_moderate(actor, topic.community)
    with transaction.atomic():
        topic = (
            Topic.objects.select_for_update()
            .select_related("community")
            .get(pk=topic.pk)
        )
        if (topic.locked_at is not None) == locked:
            return topic
        topic.locked_at = timezone.now() if locked else None
        topic.save(update_fields=["locked_at"])
        kind = ModerationAction.Kind.LOCK if locked else ModerationAction.Kind.UNLOCK
        _record_topic(kind, actor, topic)
    return topic


def _record_topic(kind, actor, topic: Topic, detail: str = "") -> None:
    audit.record(
        kind, actor=actor, community=topic.community, topic=topic, detail=detail
    )
    transaction.on_commit(lambda: broadcast_state(topic))


def state_context(topic: Topic, **more) -> dict:
    return {"topic": topic, "slow_mode_choices": SLOW_MODE_OPTIONS, **more}


def broadcast_state(topic: Topic) -> None:
    """The topic's slow mode and lock, as every open page shows them."""
    frames = fragments.render_per_language("room-state", state_context(topic, oob=True))
    broadcast.send_topic_frames(topic.pk, frames, author_ids=())


# --- Pins -------------------------------------------------------------------------


def pinned_messages(topic_id: int) -> list[Message]:
    """The topic's pinned messages (not deleted), oldest pin first, with their
    authors: one query."""
    return list(
        Message.objects.filter(
            pk__in=Pin.objects.filter(topic_id=topic_id).values("message_id"),
            deleted_at__isnull=True,
        )
        .select_related("author")
        .order_by("pk")
    )


def pin_message(actor, message: Message) -> Pin:
    """Pin a message of the topic above its log (moderators only; a message
    not deleted; at most MAX_PINS a topic: the next is refused, nothing
    changes). Pushes the pinned list to open pages."""
    topic = Topic.objects.select_related("community").get(pk=message.topic_id)
    require_can_moderate(actor, topic.community)
    with transaction.atomic():
        # The topic's row orders pins of one topic: two moderators pinning at
        # once cannot both take the third place.
        Topic.objects.select_for_update().filter(pk=topic.pk).first()
        if Message.objects.filter(pk=message.pk, deleted_at__isnull=False).exists():
            raise NotAllowed(_("This message was deleted."))
        pin = Pin.objects.filter(topic=topic, message=message).first()
        if pin is not None:
            return pin
        if Pin.objects.filter(topic=topic).count() >= MAX_PINS:
            raise NotAllowed(
                _("At most %(max)d messages can be pinned in a topic. Unpin one first.")
                % {"max": MAX_PINS}
            )
        pin = Pin.objects.create(topic=topic, message=message, pinned_by=actor)
        _record_pin(ModerationAction.Kind.PIN, actor, topic, message)
    return pin


def unpin_message(actor, message: Message) -> None:
    topic = Topic.objects.select_related("community").get(pk=message.topic_id)
    require_can_moderate(actor, topic.community)
    with transaction.atomic():
        deleted, _n = Pin.objects.filter(topic=topic, message=message).delete()
        if deleted:
            _record_pin(ModerationAction.Kind.UNPIN, actor, topic, message)


def _record_pin(kind, actor, topic: Topic, message: Message) -> None:
    audit.record(
        kind,
        actor=actor,
        community=topic.community,
        member=message.author,
        target_kind=TargetKind.MESSAGE,
        target_id=message.pk,
        topic=topic,
    )
    transaction.on_commit(lambda: broadcast_pins(topic.pk))


def pins_context(topic_id: int, pins, *, oob: bool = False, hidden_ids=()) -> dict:
    """The `pins` fragment's context: a live one hides nothing (the hub keeps
    it from pages hidden from one of its authors)."""
    return {
        "topic_id": topic_id,
        "pins": pins,
        "hidden_ids": frozenset(hidden_ids),
        "oob": oob,
    }


def broadcast_pins(topic_id: int) -> None:
    """The pinned list, to every open page of the topic. Its authors are the
    frame's authors: the hub skips the pages of members hidden from one of
    them by a block (their page shows the list without that message)."""
    pins = pinned_messages(topic_id)
    frames = fragments.render_per_language(
        "pins", pins_context(topic_id, pins, oob=True)
    )
    broadcast.send_topic_frames(
        topic_id, frames, author_ids=tuple({m.author_id for m in pins})
    )
