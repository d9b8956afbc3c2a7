"""Who may see and do what in a community. Views and consumers use these same
functions, so a page and its live stream can never disagree."""

from django.http import Http404
from django.utils.translation import gettext as _

from communities.models import Community, JoinPolicy, Membership, TopicPolicy
from project.ratelimit import TooFast


class AccessDenied(Http404):
    """Raised when the member may not see the thing: shown as "not found", so a
    guessed id reveals nothing (not even that a secret community exists)."""


class NotAllowed(Exception):
    """The member may see the thing but not do this; str() is for the member,
    `status` the HTTP status a view answers with."""

    status = 400


class Forbidden(NotAllowed):
    status = 403


class RateLimited(TooFast, NotAllowed):
    """Too many in too short a time: 429, with `retry_after` seconds
    (project.ratelimit.Budget.spend)."""


def membership_of(member, community) -> Membership | None:
    """The member's relation to the community; None for none, and for one who
    left (their row is kept only for what it carries, such as a mute)."""
    if not member.is_authenticated:
        return None
    return (
        Membership.objects.filter(community=community, member=member)
        .exclude(status=Membership.Status.LEFT)
        .first()
    )


def access_community(member, community_id: int) -> tuple[Community, Membership | None]:
    """The community if `member` may know it exists, with their membership."""
    community = Community.objects.visible_to(member).filter(pk=community_id).first()
    if community is None:
        raise AccessDenied
    membership = membership_of(member, community)
    banned = membership is not None and membership.status == Membership.Status.BANNED
    if banned and community.is_secret:
        # A banned member sees a secret community no more than a stranger.
        raise AccessDenied
    return community, membership


def require_active(membership: Membership | None) -> Membership:
    if membership is None or not membership.is_active:
        raise Forbidden(_("Only members of this community can do that."))
    return membership


def require_moderator(membership: Membership | None) -> Membership:
    if membership is None or not membership.is_moderator:
        raise Forbidden(_("Only the owner and moderators can do that."))
    return membership


def require_owner(membership: Membership | None) -> Membership:
    if (
        membership is None
        or not membership.is_active
        or membership.role != Membership.Role.OWNER
    ):
        raise Forbidden(_("Only the owner can do that."))
    return membership


def can_start_topic(community: Community, membership: Membership | None) -> bool:
    if membership is None or not membership.is_active:
        return False
    if community.topic_policy == TopicPolicy.MODERATORS:
        return membership.is_moderator
    return True


def require_can_invite(community: Community, membership: Membership | None) -> None:
    """Members invite friends; in an approval community an invitation lets the
    friend in without a request, so only the owner and moderators may."""
    if community.join_policy == JoinPolicy.APPROVAL:
        require_moderator(membership)
    else:
        require_active(membership)


def can_invite(community: Community, membership: Membership | None) -> bool:
    try:
        require_can_invite(community, membership)
    except NotAllowed:
        return False
    return True
