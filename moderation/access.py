"""Who may moderate what (docs/moderation.md, "Roles").

A community has one owner (管理人) and any number of moderators (副管理人).
Moderators act on members' content and on members, never on the owner nor on
another moderator; the owner acts on everyone in the community but
themselves; staff act everywhere. Views, actions and the live consumer all
ask here.
"""

from django.utils.translation import gettext as _

from communities.access import Forbidden, membership_of
from communities.models import Membership


def moderating_membership(member, community) -> Membership | None:
    """The member's membership if they moderate the community (owner or
    moderator, active), else None."""
    membership = membership_of(member, community)
    if membership is not None and membership.is_moderator:
        return membership
    return None


def can_moderate(member, community) -> bool:
    return bool(
        member.is_authenticated
        and (member.is_staff or moderating_membership(member, community))
    )


def require_can_moderate(member, community) -> Membership | None:
    """The actor's moderating membership (None for staff who are not one), or
    Forbidden (403)."""
    if not member.is_authenticated:
        raise Forbidden(_("Only the owner and moderators can do that."))
    membership = moderating_membership(member, community)
    if membership is None and not member.is_staff:
        raise Forbidden(_("Only the owner and moderators can do that."))
    return membership


def _rank(member, membership: Membership | None) -> int:
    if member is not None and member.is_staff:
        return 3
    if membership is None or not membership.is_active:
        return 0
    return {Membership.Role.OWNER: 2, Membership.Role.MODERATOR: 1}.get(
        membership.role, 0
    )


def can_act_on(actor, community, target) -> bool:
    """Whether `actor` may act on `target` (a member) in `community`: mute,
    ban, delete their content. Staff act on anyone but staff; the owner on
    anyone but themselves; a moderator only on plain members."""
    if target is None or actor.pk == target.pk:
        return False
    actor_rank = _rank(actor, membership_of(actor, community))
    target_rank = _rank(target, membership_of(target, community))
    return actor_rank > 0 and target_rank < actor_rank


def require_can_act_on(actor, community, target) -> None:
    require_can_moderate(actor, community)
    if not can_act_on(actor, community, target):
        raise Forbidden(_("Moderators cannot act on the owner or on other moderators."))
