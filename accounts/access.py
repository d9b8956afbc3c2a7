"""Who may see which member. Views and consumers call these same functions."""

from django.http import Http404

from accounts import nicknames
from accounts.models import Member


def access_member(viewer: Member, nickname: str) -> Member:
    """The active member with this nickname, as `viewer` may see them, or 404.

    Blocks and profile-field audiences narrow this when those features land.
    """
    if not viewer.is_authenticated:
        raise Http404
    member = Member.objects.filter(
        nickname_key=nicknames.nickname_key(nickname), is_active=True
    ).first()
    if member is None:
        raise Http404
    return member
