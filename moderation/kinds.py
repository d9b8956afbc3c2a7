"""The notification kinds moderation records (registered by
ModerationConfig.ready, as presence/kinds.py does its own)."""

from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from moderation.models import ModerationAction
from presence.notifications import Kind, register

LINES = "moderation/notifications_lines.html"


def _removal_visible(recipient) -> Q:
    # The removal of the recipient's own content, for as long as its row is.
    return Q(
        Exists(
            ModerationAction.objects.filter(
                pk=OuterRef("target_id"),
                member=recipient,
                kind=ModerationAction.Kind.DELETE,
            )
        )
    )


def _removal_url(action, line) -> str:
    if action.topic_id is None:
        return reverse("presence:notifications")
    return reverse("chat:topic-detail", kwargs={"topic_id": action.topic_id})


def register_all() -> None:
    register(
        Kind(
            # The target is the audit row: what rule, where; never who.
            name="message_removed",
            label=_("Moderators removing my messages"),
            template=f"{LINES}#message_removed",
            visible=_removal_visible,
            load=lambda ids: ModerationAction.objects.select_related("topic").in_bulk(
                ids
            ),
            url=_removal_url,
        )
    )
