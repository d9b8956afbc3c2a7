"""Who may see which member. Views and consumers call these same functions."""

from django.http import Http404

from accounts import nicknames
from accounts.models import Block, Member


def access_member(viewer: Member, nickname: str) -> Member:
    """The active member with this nickname, as `viewer` may see them, or 404.

    A block either way answers exactly as a nickname that does not exist: the
    blocked member cannot tell a block from a deleted account. (What of the
    member's page each viewer sees, their self-introduction and friend list,
    goes by its audience: accounts.audience.can_see.)
    """
    if not viewer.is_authenticated:
        raise Http404
    member = (
        visible_members(viewer)
        .filter(nickname_key=nicknames.nickname_key(nickname))
        .first()
    )
    if member is None:
        raise Http404
    return member


def visible_members(viewer):
    """Active members that `viewer` may see at all: no block either way.
    Every page and list of members starts from this (accounts/friends.py)."""
    return Member.objects.filter(is_active=True).exclude(
        pk__in=Block.objects.hidden_ids_for(viewer)
    )
