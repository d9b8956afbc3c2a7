"""The kinds of notification Enishi records (registered by PresenceConfig.ready).

Each says what its target is, who may still see it (checked every time a row
is read, through the same readers the pages use), where its line leads and
how its rows group. Another app adds a kind the same way, from its own
AppConfig.ready: `presence.notifications.register(Kind(...))` and a template
for its line.

The lines' templates are partials of presence/notifications_lines.html.
"""

from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef, Q
from django.db.models.functions import TruncDate
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import FriendRequest, Friendship
from chat.models import Mention, Message
from communities.models import Membership
from diary.models import Comment, Entry, Like
from presence.models import Footprint, TopicMute
from presence.notifications import Kind, register

LINES = "presence/notifications_lines.html"


def _in_bulk(queryset):
    return lambda ids: queryset.in_bulk(ids)


# --- Friends ----------------------------------------------------------------------


def _friend_request_visible(recipient) -> Q:
    # Only while it waits for an answer (a block ends it: block_member).
    return Q(
        Exists(
            FriendRequest.objects.pending().filter(
                pk=OuterRef("target_id"), to_member=recipient
            )
        )
    )


def _friend_accepted_visible(recipient) -> Q:
    # Only while they are still friends.
    return Q(
        Exists(
            Friendship.objects.filter(member=recipient, friend_id=OuterRef("actor_id"))
        )
    )


# --- Diaries ----------------------------------------------------------------------


def _comment_visible(recipient) -> Q:
    return Q(
        Exists(Comment.objects.visible_to(recipient).filter(pk=OuterRef("target_id")))
    )


def _comment_group(target_id, actor_id) -> str:
    entry_id = (
        Comment.objects.filter(pk=target_id).values_list("entry_id", flat=True).first()
    )
    return f"diary_comment:{entry_id}"


def _like_visible(recipient) -> Q:
    # The entry as the recipient may see it now, and the like still there.
    return Q(
        Exists(Entry.objects.visible_to(recipient).filter(pk=OuterRef("target_id")))
    ) & Q(
        Exists(
            Like.objects.filter(
                entry_id=OuterRef("target_id"), member_id=OuterRef("actor_id")
            )
        )
    )


# --- Topics -----------------------------------------------------------------------


def _mention_visible(recipient) -> Q:
    # chat.access.access_topic's rule (an active membership of the topic's
    # community), the message not deleted and still mentioning them (an
    # edit may take the mention out). One filter() call: the same
    # membership row must be the recipient's and active.
    return Q(
        Exists(
            Mention.objects.filter(
                message_id=OuterRef("target_id"),
                member=recipient,
                message__deleted_at__isnull=True,
                message__topic__community__memberships__member=recipient,
                message__topic__community__memberships__status=(
                    Membership.Status.ACTIVE
                ),
            )
        )
    )


def _mention_recordable(recipient_id, target_id) -> bool:
    return not TopicMute.objects.filter(
        member_id=recipient_id, topic__messages=target_id
    ).exists()


# --- Communities ------------------------------------------------------------------

MODERATING = [Membership.Role.OWNER, Membership.Role.MODERATOR]


def _join_request_visible(recipient) -> Q:
    # While the request is open and the recipient moderates the community.
    return Q(
        Exists(
            Membership.objects.filter(
                pk=OuterRef("target_id"),
                status=Membership.Status.PENDING,
                community__memberships__member=recipient,
                community__memberships__status=Membership.Status.ACTIVE,
                community__memberships__role__in=MODERATING,
            )
        )
    )


def _join_request_group(target_id, actor_id) -> str:
    community_id = (
        Membership.objects.filter(pk=target_id)
        .values_list("community_id", flat=True)
        .first()
    )
    return f"join_request:{community_id}"


def _own_membership_visible(status):
    """Visible while the recipient's own membership has `status`: an answer
    while they are still in (a later ban or leaving ends it), an invitation
    while it is open."""

    def visible(recipient) -> Q:
        return Q(
            Exists(
                Membership.objects.filter(
                    pk=OuterRef("target_id"), member=recipient, status=status
                )
            )
        )

    return visible


def _community_url(membership, line) -> str:
    return membership.community.get_absolute_url()


def _memberships(ids):
    return Membership.objects.select_related("community").in_bulk(ids)


# --- Footprints -------------------------------------------------------------------


def _footprint_visible(recipient) -> Q:
    # Fair both ways: one who leaves no footprints sees none (read from the
    # row's recipient, not from `recipient`, which may be a bare id). The
    # footprint must still be there: its visitor may have deleted it.
    by_row = Q(target_id__isnull=False) & Q(
        Exists(Footprint.objects.filter(pk=OuterRef("target_id"), owner=recipient))
    )
    by_visitor = Q(target_id__isnull=True) & Q(
        Exists(
            Footprint.objects.filter(
                owner=recipient,
                visitor_id=OuterRef("actor_id"),
                day=TruncDate(
                    ExpressionWrapper(
                        OuterRef("created_at"), output_field=DateTimeField()
                    )
                ),
            )
        )
    )
    return Q(recipient__leaves_footprints=True) & (by_row | by_visitor)


def _footprints_url(target, line) -> str:
    try:
        return reverse("footprints:list")
    except NoReverseMatch:
        return reverse("presence:notifications")


def register_all() -> None:
    register(
        Kind(
            name="friend_request",
            label=_("Friend requests"),
            template=f"{LINES}#friend_request",
            visible=_friend_request_visible,
            load=_in_bulk(FriendRequest.objects.all()),
            url=lambda target, line: reverse("accounts:friend-requests"),
        )
    )
    register(
        Kind(
            name="friend_accepted",
            label=_("Accepted friend requests"),
            template=f"{LINES}#friend_accepted",
            visible=_friend_accepted_visible,
            load=_in_bulk(FriendRequest.objects.all()),
            url=lambda target, line: line.actor.get_absolute_url(),
        )
    )
    register(
        Kind(
            name="diary_comment",
            label=_("Comments on my diary"),
            template=f"{LINES}#diary_comment",
            visible=_comment_visible,
            load=_in_bulk(Comment.objects.select_related("entry")),
            url=lambda comment, line: (
                f"{comment.entry.get_absolute_url()}#comment-{comment.pk}"
            ),
            group_key=_comment_group,
        )
    )
    register(
        Kind(
            name="diary_like",
            label=_("Likes on my diary"),
            template=f"{LINES}#diary_like",
            visible=_like_visible,
            load=_in_bulk(Entry.objects.all()),
            url=lambda entry, line: entry.get_absolute_url(),
            group_key=lambda target_id, actor_id: f"diary_like:{target_id}",
            replaces_own=True,
        )
    )
    register(
        Kind(
            name="mention",
            label=_("Mentions in topics"),
            template=f"{LINES}#mention",
            visible=_mention_visible,
            load=_in_bulk(Message.objects.select_related("topic")),
            url=lambda message, line: (
                reverse("chat:topic-detail", kwargs={"topic_id": message.topic_id})
                + f"#message-{message.pk}"
            ),
            recordable=_mention_recordable,
        )
    )
    register(
        Kind(
            name="join_request",
            label=_("Requests to join communities I moderate"),
            template=f"{LINES}#join_request",
            visible=_join_request_visible,
            load=_memberships,
            url=lambda membership, line: (
                reverse(
                    "communities:members",
                    kwargs={"community_id": membership.community_id},
                )
                + "#requests"
            ),
            group_key=_join_request_group,
        )
    )
    register(
        Kind(
            name="join_answer",
            label=_("Answers to my requests to join"),
            template=f"{LINES}#join_answer",
            visible=_own_membership_visible(Membership.Status.ACTIVE),
            load=_memberships,
            url=_community_url,
        )
    )
    register(
        Kind(
            name="community_invitation",
            label=_("Invitations to communities"),
            template=f"{LINES}#community_invitation",
            visible=_own_membership_visible(Membership.Status.INVITED),
            load=_memberships,
            url=_community_url,
        )
    )
    register(
        Kind(
            name="footprint",
            label=_("Footprints"),
            template=f"{LINES}#footprint",
            visible=_footprint_visible,
            load=_in_bulk(Footprint.objects.all()),
            url=_footprints_url,
            replaces_own=True,
        )
    )
