"""The notification kinds of moderation/members.py (registered by
ModerationConfig.ready beside moderation/kinds.py's): "member_muted", a mute
told to the muted member, never naming the moderator (its target is the
mute's audit row, recorded with no actor on the notification), and
"ownership_offered", the owner's offer of their community, which leads to the
page where it is accepted or declined. Lines are partials of
moderation/member_lines.html."""

from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from communities.models import Community
from moderation.models import ModerationAction
from presence.notifications import Kind, register

LINES = "moderation/member_lines.html"


def _mute_visible(recipient) -> Q:
    # While that mute is the one in force: a later mute, an unmute or its end
    # ends its line. One filter() call: the same membership row must be the
    # recipient's and carry this mute's end.
    return Q(
        Exists(
            ModerationAction.objects.filter(
                pk=OuterRef("target_id"),
                member=recipient,
                kind=ModerationAction.Kind.MUTE,
                community__memberships__member=recipient,
                community__memberships__muted_until=F("until"),
                community__memberships__muted_until__gt=timezone.now(),
            )
        )
    )


def _offer_visible(recipient) -> Q:
    return Q(
        Exists(Community.objects.filter(pk=OuterRef("target_id"), offered_to=recipient))
    )


def register_all() -> None:
    register(
        Kind(
            name="member_muted",
            label=_("Being muted in a community"),
            template=f"{LINES}#member_muted",
            visible=_mute_visible,
            load=lambda ids: ModerationAction.objects.select_related(
                "community"
            ).in_bulk(ids),
            url=lambda action, line: action.community.get_absolute_url(),
        )
    )
    register(
        Kind(
            name="ownership_offered",
            label=_("Offers of a community to me"),
            template=f"{LINES}#ownership_offered",
            visible=_offer_visible,
            load=lambda ids: Community.objects.in_bulk(ids),
            url=lambda community, line: reverse(
                "moderation:handover", kwargs={"community_id": community.pk}
            ),
        )
    )
