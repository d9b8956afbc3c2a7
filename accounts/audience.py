"""Who may see a member's things: one rule for every kind of thing.

A diary entry, an album (and its photos), a member's self-introduction and
their friend list each carry an audience. Every model with one reads through
its QuerySet's `visible_to(viewer)`, and each of those is `visible_q` below:
pages, lists, feeds, search, notifications, files and live pushes all ask the
same question the same way.

Blocks come first: two members of whom one blocked the other never see each
other's things, whatever the audience (accounts.models.Block). Anonymous
visitors see nothing; inactive members' things are seen by no one.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Audience(models.TextChoices):
    # Stored values are short and stable; the labels are the form's options.
    MEMBERS = "members", _("All members")
    FRIENDS_OF_FRIENDS = "fof", _("Friends of friends")
    FRIENDS = "friends", _("Friends")
    ONLY_ME = "me", _("Only me")


DEFAULT = Audience.FRIENDS


def friend_ids(member):
    """A subquery: the ids of `member`'s friends."""
    from accounts.models import Friendship

    return Friendship.objects.filter(member=member).values("friend_id")


def friend_of_friend_ids(member):
    """A subquery: the ids of the friends of `member`'s friends (one join,
    never a loop over friends). It holds `member` too, and may hold friends."""
    from accounts.models import Friendship

    return Friendship.objects.filter(member__in=friend_ids(member)).values("friend_id")


def visible_q(viewer, owner: str, audience: str) -> Q:
    """The rows whose owner (the field `owner`) lets `viewer` see them under
    their audience (the field `audience`)."""
    if viewer is None or not viewer.is_authenticated:
        return Q(pk__in=[])
    from accounts.models import Block

    own = Q(**{owner: viewer.pk})
    shared = (
        Q(**{audience: Audience.MEMBERS})
        | Q(
            **{
                f"{audience}__in": [Audience.FRIENDS, Audience.FRIENDS_OF_FRIENDS],
                f"{owner}__in": friend_ids(viewer),
            }
        )
        | Q(
            **{
                audience: Audience.FRIENDS_OF_FRIENDS,
                f"{owner}__in": friend_of_friend_ids(viewer),
            }
        )
    )
    return own | (
        shared
        & Q(**{f"{owner}__is_active": True})
        & ~Q(**{f"{owner}__in": Block.objects.hidden_ids_for(viewer)})
    )


def can_see(viewer, owner, audience: str) -> bool:
    """visible_q for one thing already in hand (its owner and audience), in
    at most three queries; for a list, filter with visible_q instead."""
    from accounts.models import Block, Friendship

    if viewer is None or not viewer.is_authenticated:
        return False
    if owner.pk == viewer.pk:
        return True
    if not owner.is_active or Block.objects.between(viewer, owner).exists():
        return False
    if audience == Audience.MEMBERS:
        return True
    if audience == Audience.FRIENDS:
        return Friendship.objects.filter(member=viewer, friend=owner).exists()
    if audience == Audience.FRIENDS_OF_FRIENDS:
        return Friendship.objects.filter(
            Q(member=viewer, friend=owner)
            | Q(member=owner, friend__in=friend_ids(viewer))
        ).exists()
    return False
