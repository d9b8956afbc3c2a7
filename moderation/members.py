"""Writes on members and roles: mute, ban, moderators, handing a community
over (docs/moderation.md). Each checks who may act (moderation.access), writes
in one transaction with its audit row (moderation.audit.record), and
schedules its live effect on commit.

A ban needs no live step of its own: the membership row leaving "active" is
the revocation path's cause (project/revocation.py), which closes the banned
member's sockets on every process.
"""

from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from chat import broadcast
from communities import actions as community_actions
from communities.access import Forbidden, NotAllowed, membership_of, require_owner
from communities.models import Community, Membership
from moderation import audit
from moderation.access import require_can_act_on
from moderation.models import ModerationAction, Rule, TargetKind
from presence import notifications

MUTE_MIN_MINUTES = 10
MUTE_MAX_MINUTES = 7 * 24 * 60
# A mute "until lifted" is a mute until this moment: every reader of
# Membership.muted_until (chat.access.require_can_post) keeps one rule.
UNTIL_LIFTED = datetime(9999, 12, 31, tzinfo=UTC)
# A member must have been in the community this long to be offered it.
HANDOVER_STANDING = timedelta(days=30)
REASON_MAX = 500


def _record(kind: str, actor, community: Community, member, **fields):
    """The audit row of an action on a member."""
    return audit.record(
        kind,
        actor=actor,
        community=community,
        member=member,
        target_kind=TargetKind.MEMBER,
        target_id=member.pk,
        **fields,
    )


def is_until_lifted(until) -> bool:
    return until is not None and until.year == UNTIL_LIFTED.year


def _locked_membership(community: Community, member) -> Membership | None:
    """The member's row in the community, locked; None if they never had one."""
    return (
        Membership.objects.select_for_update()
        .filter(community=community, member=member)
        .first()
    )


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise NotAllowed(
            _("Keep the reason under %(count)d characters.") % {"count": REASON_MAX}
        )
    return reason


def _clean_rule(rule: str) -> str:
    if rule and rule not in Rule.values:
        raise NotAllowed(_("Choose a rule from the list."))
    return rule


def mute_frame(community_id: int, until, reason: str) -> str:
    """The bare notice that tells the muted member's open pages
    (static/js/moderation.js): language-neutral, the page holds the words."""
    return format_html(
        '<template id="live-mute" data-community="{}" data-until="{}" '
        'data-reason="{}"></template>',
        int(community_id),
        "" if until is None or is_until_lifted(until) else until.isoformat(),
        reason,
    )


def unmute_frame(community_id: int) -> str:
    return format_html(
        '<template id="live-unmute" data-community="{}"></template>',
        int(community_id),
    )


def _push_on_commit(member_id: int, html: str) -> None:
    transaction.on_commit(lambda: broadcast.send_html_to_member(member_id, html))


def mute_member(
    actor, community: Community, member, *, minutes: int | None, reason: str, rule=""
) -> Membership:
    """Mute `member` for `minutes` (10 minutes to 7 days), or until lifted
    (None). The member must be active in the community. Broadcasts the
    live-mute notice to the member's own sockets: their open composers say why
    and until when."""
    require_can_act_on(actor, community, member)
    if minutes is not None and not (MUTE_MIN_MINUTES <= minutes <= MUTE_MAX_MINUTES):
        raise NotAllowed(_("A mute lasts from 10 minutes to 7 days."))
    reason = _clean_reason(reason)
    rule = _clean_rule(rule)
    with transaction.atomic():
        membership = _locked_membership(community, member)
        if membership is None or not membership.is_active:
            raise NotAllowed(_("This member is not in the community."))
        until = (
            UNTIL_LIFTED
            if minutes is None
            else timezone.now() + timedelta(minutes=minutes)
        )
        membership.muted_until = until
        membership.mute_reason = reason
        membership.save(update_fields=["muted_until", "mute_reason"])
        action = _record(
            ModerationAction.Kind.MUTE,
            actor,
            community,
            member,
            rule=rule,
            reason=reason,
            until=until,
            detail="" if minutes is None else str(minutes),
        )
        # Told without the moderator's name (no actor).
        notifications.notify(member.pk, "member_muted", target_id=action.pk)
        _push_on_commit(member.pk, mute_frame(community.pk, until, reason))
    return membership


def unmute_member(actor, community: Community, member) -> Membership:
    """Lift a mute now. Broadcasts live-unmute to the member's sockets."""
    require_can_act_on(actor, community, member)
    with transaction.atomic():
        membership = _locked_membership(community, member)
        if membership is None or not membership.is_muted():
            raise NotAllowed(_("This member is not muted."))
        membership.muted_until = None
        membership.mute_reason = ""
        membership.save(update_fields=["muted_until", "mute_reason"])
        _record(ModerationAction.Kind.UNMUTE, actor, community, member)
        _push_on_commit(member.pk, unmute_frame(community.pk))
    return membership


def ban_member(actor, community: Community, member, *, reason: str, rule="") -> None:
    """Ban `member` (active, asking, invited or gone: a ban keeps them out
    either way). Their sockets close through the revocation path; they cannot
    rejoin or be invited until unbanned. Public in the removals log."""
    require_can_act_on(actor, community, member)
    reason = _clean_reason(reason)
    rule = _clean_rule(rule)
    with transaction.atomic():
        membership = _locked_membership(community, member)
        if membership is None:
            membership = Membership(community=community, member=member)
        elif membership.status == Membership.Status.BANNED:
            raise NotAllowed(_("This member is banned already."))
        was_active = membership.is_active
        membership.status = Membership.Status.BANNED
        membership.role = Membership.Role.MEMBER
        membership.save()
        if was_active:
            Community.objects.filter(pk=community.pk).update(
                member_count=F("member_count") - 1
            )
        # A ban ends an open handover offer to them.
        Community.objects.filter(pk=community.pk, offered_to=member).update(
            offered_to=None
        )
        _record(
            ModerationAction.Kind.BAN,
            actor,
            community,
            member,
            rule=rule,
            reason=reason,
            public=True,
        )


def unban_member(actor, community: Community, member) -> None:
    """Lift a ban: the row becomes LEFT (what it carries, a mute, stays), so
    they may join or be invited again."""
    require_can_act_on(actor, community, member)
    with transaction.atomic():
        membership = _locked_membership(community, member)
        if membership is None or membership.status != Membership.Status.BANNED:
            raise NotAllowed(_("This member is not banned."))
        membership.status = Membership.Status.LEFT
        membership.save(update_fields=["status"])
        _record(ModerationAction.Kind.UNBAN, actor, community, member)


# --- Roles --------------------------------------------------------------------


def _require_owner(actor, community: Community) -> None:
    require_owner(membership_of(actor, community))


def _set_role(actor, community: Community, member, *, role: str, kind: str):
    _require_owner(actor, community)
    with transaction.atomic():
        membership = community_actions.set_role(
            community=community, member_id=member.pk, role=role
        )
        _record(kind, actor, community, member)
    return membership


def appoint_moderator(owner, community: Community, member) -> Membership:
    """Make an active plain member a moderator (the owner only)."""
    current = membership_of(member, community)
    if current is not None and current.is_moderator:
        raise NotAllowed(_("%(nickname)s is a moderator already.") % _named(member))
    return _set_role(
        owner,
        community,
        member,
        role=Membership.Role.MODERATOR,
        kind=ModerationAction.Kind.APPOINT,
    )


def remove_moderator(owner, community: Community, member) -> Membership:
    """Make a moderator a plain member again (the owner only)."""
    current = membership_of(member, community)
    if current is None or current.role != Membership.Role.MODERATOR:
        raise NotAllowed(_("%(nickname)s is not a moderator.") % _named(member))
    return _set_role(
        owner,
        community,
        member,
        role=Membership.Role.MEMBER,
        kind=ModerationAction.Kind.DISMISS_MODERATOR,
    )


def _named(member) -> dict:
    return {"nickname": member.nickname}


def _require_standing(community: Community, member) -> Membership:
    """The member's active membership of at least HANDOVER_STANDING."""
    membership = membership_of(member, community)
    if membership is None or not membership.is_active:
        raise NotAllowed(_("This member is not in the community."))
    if membership.created_at > timezone.now() - HANDOVER_STANDING:
        raise NotAllowed(
            _(
                "A community can only be handed over to a member of at least "
                "30 days' standing."
            )
        )
    return membership


def offer_ownership(owner, community: Community, member) -> None:
    """Offer the community to an active member of 30 days' standing, who must
    accept (the owner only). A new offer replaces an open one."""
    _require_owner(owner, community)
    if member.pk == owner.pk:
        raise NotAllowed(_("You own this community already."))
    _require_standing(community, member)
    with transaction.atomic():
        Community.objects.filter(pk=community.pk).update(offered_to=member)
        community.offered_to = member
        _record(ModerationAction.Kind.OFFER_OWNERSHIP, owner, community, member)
        notifications.notify(
            member.pk, "ownership_offered", actor_id=owner.pk, target_id=community.pk
        )


def _locked_offer(member, community: Community) -> Community:
    locked = Community.objects.select_for_update().get(pk=community.pk)
    if locked.offered_to_id != member.pk:
        raise Forbidden(_("This community was not offered to you."))
    return locked


def accept_ownership(member, community: Community) -> None:
    """The offered member takes the community: they become its owner and the
    old owner a moderator. Their standing is checked again (they may have
    left and come back since the offer)."""
    with transaction.atomic():
        locked = _locked_offer(member, community)
        _require_standing(locked, member)
        old_owner = locked.owner
        # one_owner_per_community: the old owner steps down before the new
        # one steps up.
        Membership.objects.filter(community=locked, role=Membership.Role.OWNER).update(
            role=Membership.Role.MODERATOR
        )
        Membership.objects.filter(community=locked, member=member).update(
            role=Membership.Role.OWNER
        )
        locked.owner = member
        locked.offered_to = None
        locked.save(update_fields=["owner", "offered_to"])
        _record(ModerationAction.Kind.TRANSFER, member, locked, old_owner)
    community.owner = member
    community.offered_to = None


def decline_ownership(member, community: Community) -> None:
    """The offered member says no: the offer is gone, the owner stays."""
    with transaction.atomic():
        locked = _locked_offer(member, community)
        locked.offered_to = None
        locked.save(update_fields=["offered_to"])
    community.offered_to = None
