"""Writes for communities: create, edit, join, request, invite, leave, roles,
topics. Each checks its preconditions and writes in one transaction."""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext_lazy

from accounts.images import reencode_square
from accounts.models import Block, Friendship, Member
from chat import actions as chat_actions
from chat.models import Message
from communities.access import NotAllowed, RateLimited
from communities.models import Community, JoinPolicy, Membership, Topic, TopicPolicy
from moderation import filters
from presence import notifications
from project.ratelimit import Budget

ICON_SIZE = 256
# Each invitation reaches the friend's notifications: a budget per inviter
# (project/ratelimit.py).
INVITATIONS = Budget("community-invitations", limit=20, per=3600)
INVITING_TOO_FAST = ngettext_lazy(
    "You are inviting too fast. Try again in %(seconds)d second.",
    "You are inviting too fast. Try again in %(seconds)d seconds.",
    "seconds",
)


def _save_icon(community: Community, icon) -> None:
    content = reencode_square(icon, ICON_SIZE)
    old = community.icon.name if community.icon else ""
    community.icon.save(
        f"{community.pk}-{timezone.now():%Y%m%d%H%M%S%f}.jpg", content, save=False
    )
    if old:
        storage = community.icon.storage
        transaction.on_commit(lambda: storage.delete(old))


def create_community(
    *,
    owner: Member,
    name: str,
    description: str = "",
    category: str,
    join_policy: str,
    topic_policy: str,
    event_policy: str = "",
    icon=None,
) -> Community:
    """A new community with `owner` as its only member and owner."""
    community = Community(
        name=name,
        description=description.strip(),
        category=category,
        join_policy=join_policy,
        topic_policy=topic_policy,
        event_policy=event_policy or TopicPolicy.MEMBERS,
        owner=owner,
        member_count=1,
    )
    try:
        with transaction.atomic():
            community.save()
            if icon is not None:
                _save_icon(community, icon)
                community.save(update_fields=["icon"])
            Membership.objects.create(
                community=community, member=owner, role=Membership.Role.OWNER
            )
    except IntegrityError as exc:
        raise NotAllowed(_("A community with this name already exists.")) from exc
    return community


def update_community(
    *,
    community: Community,
    name: str,
    description: str,
    category: str,
    join_policy: str,
    topic_policy: str,
    event_policy: str = "",
    icon=None,
    remove_icon: bool = False,
) -> Community:
    """Edit a community (the caller checked the actor is its owner). An empty
    `event_policy` leaves it as it is."""
    new_icon = ""
    try:
        with transaction.atomic():
            community.name = name
            community.description = description.strip()
            community.category = category
            community.join_policy = join_policy
            community.topic_policy = topic_policy
            if event_policy:
                community.event_policy = event_policy
            if icon is not None:
                _save_icon(community, icon)
                new_icon = community.icon.name
            elif remove_icon and community.icon:
                old, storage = community.icon.name, community.icon.storage
                community.icon = ""
                transaction.on_commit(lambda: storage.delete(old))
            community.save()
    except IntegrityError as exc:
        if new_icon:
            # The file is stored before the row is saved; no row points to it now.
            community.icon.storage.delete(new_icon)
        raise NotAllowed(_("A community with this name already exists.")) from exc
    return community


def _activate(membership: Membership) -> None:
    membership.status = Membership.Status.ACTIVE
    membership.save(update_fields=["status"])
    Community.objects.filter(pk=membership.community_id).update(
        member_count=F("member_count") + 1
    )


def join_community(*, member: Member, community: Community) -> Membership:
    """Join an open community at once; ask to join an approval community;
    accept an invitation to any community (secret ones need one). One who
    left comes back on the row they left, with what it carries (a mute)."""
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .filter(community=community, member=member)
            .first()
        )
        if membership is not None and membership.status != Membership.Status.LEFT:
            if membership.status == Membership.Status.BANNED:
                raise NotAllowed(_("You cannot join this community."))
            if membership.status == Membership.Status.INVITED:
                _activate(membership)
            return membership
        if community.join_policy == JoinPolicy.SECRET:
            raise NotAllowed(_("This community is by invitation only."))
        if membership is None:
            membership = Membership(community=community, member=member)
        membership.role = Membership.Role.MEMBER
        membership.created_at = timezone.now()
        membership.status = Membership.Status.PENDING
        membership.save()
        if community.join_policy == JoinPolicy.OPEN:
            _activate(membership)
        else:
            _notify_moderators(membership)
        return membership


def _notify_moderators(request: Membership) -> None:
    """A request to join, to the community's owner and moderators."""
    moderator_ids = Membership.objects.filter(
        community_id=request.community_id,
        status=Membership.Status.ACTIVE,
        role__in=[Membership.Role.OWNER, Membership.Role.MODERATOR],
    ).values_list("member_id", flat=True)
    for moderator_id in moderator_ids:
        notifications.notify(
            moderator_id,
            "join_request",
            actor_id=request.member_id,
            target_id=request.pk,
        )


def leave_community(*, member: Member, community: Community) -> None:
    """Leave, or withdraw a request, or decline an invitation. The owner stays.
    The row stays, as LEFT, with what it carries: a mute outlasts leaving and
    rejoining (and a ban cannot be left at all)."""
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .filter(community=community, member=member)
            .first()
        )
        if membership is None or membership.status in (
            Membership.Status.BANNED,
            Membership.Status.LEFT,
        ):
            return
        if membership.role == Membership.Role.OWNER:
            raise NotAllowed(_("The owner cannot leave their community."))
        was_active = membership.is_active
        membership.status = Membership.Status.LEFT
        membership.role = Membership.Role.MEMBER
        membership.save(update_fields=["status", "role"])
        if was_active:
            Community.objects.filter(pk=community.pk).update(
                member_count=F("member_count") - 1
            )


def decide_request(*, community: Community, member_id: int, accept: bool) -> None:
    """Accept or decline a request to join (the caller checked the actor is a
    moderator). A declined request is dropped silently (the row is LEFT, as if
    withdrawn): no one is told."""
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .filter(
                community=community,
                member_id=member_id,
                status=Membership.Status.PENDING,
            )
            .first()
        )
        if membership is None:
            raise NotAllowed(_("This request is no longer open."))
        if accept:
            _activate(membership)
            # Only a yes is told: a declined request is dropped silently.
            notifications.notify(
                membership.member_id, "join_answer", target_id=membership.pk
            )
        else:
            membership.status = Membership.Status.LEFT
            membership.save(update_fields=["status"])


def invite_friend(
    *, inviter: Member, community: Community, friend_id: int
) -> Membership:
    """Invite a friend into a community (the caller checked the inviter is an
    active member). The friend joins by accepting. Refused past the
    INVITATIONS budget (each one reaches the friend's notifications)."""
    friend = Member.objects.filter(pk=friend_id, is_active=True).first()
    if (
        friend is None
        or not Friendship.objects.filter(member=inviter, friend=friend).exists()
        or Block.objects.between(inviter, friend).exists()
    ):
        raise NotAllowed(_("You can only invite your friends."))
    INVITATIONS.spend(inviter.pk, INVITING_TOO_FAST, RateLimited)
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            community=community,
            member=friend,
            defaults={"status": Membership.Status.INVITED, "invited_by": inviter},
        )
        if not created and membership.status == Membership.Status.PENDING:
            # They asked already; a member's invitation lets them in.
            _activate(membership)
            notifications.notify(
                friend.pk, "join_answer", actor_id=inviter.pk, target_id=membership.pk
            )
        elif not created and membership.status == Membership.Status.LEFT:
            # They were here once; the row keeps what it carries (a mute).
            membership.status = Membership.Status.INVITED
            membership.invited_by = inviter
            membership.created_at = timezone.now()
            membership.save(update_fields=["status", "invited_by", "created_at"])
        elif not created:
            raise NotAllowed(
                _("%(nickname)s is already in this community or invited.")
                % {"nickname": friend.nickname}
            )
        if membership.status == Membership.Status.INVITED:
            notifications.notify(
                friend.pk,
                "community_invitation",
                actor_id=inviter.pk,
                target_id=membership.pk,
            )
    return membership


def set_role(*, community: Community, member_id: int, role: str) -> Membership:
    """Make a member a moderator or a plain member (the caller checked the
    actor is the owner). Ownership is not transferred here."""
    if role not in (Membership.Role.MODERATOR, Membership.Role.MEMBER):
        raise NotAllowed(_("Unknown role."))
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .filter(
                community=community,
                member_id=member_id,
                status=Membership.Status.ACTIVE,
            )
            .exclude(role=Membership.Role.OWNER)
            .first()
        )
        if membership is None:
            raise NotAllowed(_("This member is not in the community."))
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def start_topic(
    *,
    author: Member,
    community: Community,
    membership: Membership,
    title: str,
    body: str,
    client_id: str,
) -> Topic:
    """A topic with its first message (the caller checked can_start_topic).
    Refused, with nothing made, when the community's filters refuse the
    message, or would hold it: a topic is not held with it."""
    title = title.strip()
    if not title:
        raise NotAllowed(_("Give the topic a title."))
    chat_actions.clean_body(body)
    if filters.check_message(community, author, body) == filters.HOLD:
        raise NotAllowed(
            _(
                "This message has a word moderators review first: start the "
                "topic without it."
            )
        )
    resent = (
        Message.objects.filter(author=author, client_id=client_id)
        .select_related("topic")
        .first()
    )
    if resent is not None:
        # The same form sent twice (a double click, a browser resubmit): the
        # topic it made the first time, not a second, empty one.
        if resent.topic.community_id != community.pk:
            raise NotAllowed(
                _("This form is out of date. Reload the page and try again.")
            )
        return resent.topic
    with transaction.atomic():
        topic = Topic.objects.create(
            community=community, title=title[:120], created_by=author
        )
        chat_actions.send_message(
            author=author,
            topic=topic,
            membership=membership,
            body=body,
            client_id=client_id,
        )
    return topic
