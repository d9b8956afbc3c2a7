"""Messages a word filter held (moderation.filters.hold_message): a
moderator approves one, and it is posted through chat's own send as its
author wrote it, or rejects it, and it is gone. Both are audited."""

from django.db import transaction
from django.utils.translation import gettext as _

from chat import actions as chat_actions
from communities.access import (
    AccessDenied,
    NotAllowed,
    access_community,
    membership_of,
)
from communities.models import Community
from moderation import audit
from moderation.access import require_can_moderate
from moderation.models import HeldMessage, ModerationAction


def held_in(community: Community):
    """The community's held messages, oldest first, with what a list shows."""
    return (
        HeldMessage.objects.filter(topic__community=community)
        .select_related("author", "topic")
        .order_by("pk")
    )


def access_held(actor, held_id: int) -> HeldMessage:
    """The held message if `actor` moderates its community; a stranger to it
    (or a wrong id) gets AccessDenied (404), a member Forbidden (403)."""
    held = (
        HeldMessage.objects.select_related("topic", "author").filter(pk=held_id).first()
    )
    if held is None:
        raise AccessDenied
    access_community(actor, held.topic.community_id)
    require_can_moderate(actor, held.topic.community)
    return held


def approve_held(*, actor, held: HeldMessage):
    """Post the held message as its author wrote it, with its own client id
    (a resend of that form finds it), past the filters and the rate budget it
    already passed when it was held. Refused when the author may no longer
    post there (left, banned, muted). Audited as APPROVE."""
    community = held.topic.community
    membership = membership_of(held.author, community)
    if membership is None or not membership.is_active:
        raise NotAllowed(_("Its author is no longer a member here: reject it instead."))
    with transaction.atomic():
        message, _created = chat_actions.send_message(
            author=held.author,
            topic=held.topic,
            membership=membership,
            body=held.body,
            client_id=held.client_id,
            reply_to_id=held.reply_to_id,
            approved=True,
        )
        audit.record(
            ModerationAction.Kind.APPROVE,
            actor=actor,
            community=community,
            member=held.author,
            target_kind="message",
            target_id=message.pk,
            topic=held.topic,
            detail=held.matched,
        )
        held.delete()
    return message


def reject_held(*, actor, held: HeldMessage) -> None:
    with transaction.atomic():
        audit.record(
            ModerationAction.Kind.REJECT,
            actor=actor,
            community=held.topic.community,
            member=held.author,
            topic=held.topic,
            detail=held.matched,
        )
        held.delete()
