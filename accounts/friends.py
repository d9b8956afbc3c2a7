"""Reads about friends, friend requests and finding members, each starting
from the member who is looking.

Every list here is one query (or a count beside it), whatever the number of
friends: friends in common and friends of friends are subqueries
(accounts/audience.py), never a loop over friends. Members hidden by a block
in either direction, and deactivated members, are left out of every list.

The writes are in accounts/actions.py; this module also pushes the friend
request badge to a member's open pages (through chat/broadcast.py, the one
module that talks to the channel layer).
"""

from datetime import timedelta

from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from accounts import nicknames
from accounts.access import visible_members
from accounts.audience import friend_ids
from accounts.models import Block, FriendRequest, Friendship, Member
from chat import broadcast

# mixi's limit: at most this many friends ("マイミク") each. Read at call time
# (friends.MAX_FRIENDS), so a test may lower it.
MAX_FRIENDS = 1000
# After a member declines a request, the requester may not ask them again for
# this long (and is never told: they see the request as pending).
DECLINE_QUIET = timedelta(days=30)
SEARCH_PAGE_SIZE = 20
FRIENDS_PAGE_SIZE = 50
IN_COMMON_SHOWN = 8


def is_friend(member, other) -> bool:
    return Friendship.objects.filter(member=member, friend=other).exists()


def friend_count(member) -> int:
    return Friendship.objects.of(member).count()


def friends_of(member, viewer):
    """`member`'s friends as `viewer` may see them (a block between the
    viewer and a friend leaves that friend out), in nickname order."""
    return (
        visible_members(viewer)
        .filter(pk__in=friend_ids(member))
        .order_by("nickname_key")
    )


def in_common(viewer, member):
    """The friends `viewer` and `member` have in common: one query (two
    subqueries), however many friends either has."""
    return (
        visible_members(viewer)
        .filter(pk__in=friend_ids(viewer))
        .filter(pk__in=friend_ids(member))
        .order_by("nickname_key")
    )


def search(viewer, query: str):
    """Members whose nickname starts with `query`, compared as nicknames are
    (NFKC, case folded: "ＡＩ" finds "aiko", "あい" finds "あいこ"). The viewer
    is left out; so are inactive members and members hidden by a block."""
    key = nicknames.nickname_key(query)
    if not key:
        return Member.objects.none()
    return (
        visible_members(viewer)
        .filter(nickname_key__startswith=key)
        .exclude(pk=viewer.pk)
        .order_by("nickname_key")
    )


def pending_received(member):
    """The friend requests waiting for `member`'s answer, newest first."""
    return (
        FriendRequest.objects.pending()
        .filter(to_member=member, from_member__is_active=True)
        # A block ends pending requests (actions.block_member); this keeps a
        # block made some other way (the admin) from showing one.
        .exclude(from_member__in=Block.objects.hidden_ids_for(member))
        .select_related("from_member")
        .order_by("-created_at")
    )


def pending_sent(member):
    """The requests `member` sent that they see as pending: the ones not yet
    answered, and the ones declined within the last 30 days (a decline is
    silent), newest first."""
    return (
        FriendRequest.objects.filter(from_member=member, to_member__is_active=True)
        .filter(_seen_as_pending_by_sender())
        .exclude(to_member__in=Block.objects.hidden_ids_for(member))
        .select_related("to_member")
        .order_by("-created_at")
    )


def _seen_as_pending_by_sender(now=None) -> Q:
    now = now or timezone.now()
    return Q(status=FriendRequest.Status.PENDING) | Q(
        status=FriendRequest.Status.DECLINED, declined_at__gt=now - DECLINE_QUIET
    )


def pending_received_count(member) -> int:
    return pending_received(member).count()


def sent_to(member, other) -> FriendRequest | None:
    """The request from `member` to `other` that `member` sees as pending."""
    return (
        FriendRequest.objects.filter(from_member=member, to_member=other)
        .filter(_seen_as_pending_by_sender())
        .order_by("-created_at")
        .first()
    )


def received_from(member, other) -> FriendRequest | None:
    """The pending request from `other` waiting for `member`'s answer."""
    return (
        FriendRequest.objects.pending()
        .filter(from_member=other, to_member=member)
        .first()
    )


def badge_html(count: int) -> str:
    """The navigation's friend request badge, as an out-of-band fragment."""
    return render_to_string(
        "accounts/_friend_request_badge.html",
        {"pending_friend_requests": count, "oob": True},
    )


def push_request_badge(member_id: int) -> None:
    """Send `member_id`'s open pages their new count of waiting requests.
    Call after the change has committed (transaction.on_commit)."""
    count = pending_received_count(Member(pk=member_id))
    broadcast.send_html_to_member(member_id, badge_html(count))
