"""Writes for members, invitations, friendships, friend requests and blocks.

Each function checks its preconditions, writes in one transaction, and raises
ActionRefused (with a message meant for the member) when it cannot go on.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext_lazy

from accounts import friends, nicknames
from accounts.images import reencode_avatar
from accounts.models import Block, FriendRequest, Friendship, Invitation, Member
from presence import notifications
from project.ratelimit import Budget, TooFast
from project.timezones import zone_names

# Each request reaches another member's notifications: a budget per sender
# (project/ratelimit.py), on top of the cap on pending ones.
FRIEND_REQUESTS = Budget("friend-requests", limit=20, per=3600)
SENDING_REQUESTS_TOO_FAST = ngettext_lazy(
    "You are sending friend requests too fast. Try again in %(seconds)d second.",
    "You are sending friend requests too fast. Try again in %(seconds)d seconds.",
    "seconds",
)


class ActionRefused(Exception):
    """A write that was refused; str(exc) is the reason, fit to show the member."""


class RateLimited(TooFast, ActionRefused):
    """Too many in too short a time: 429, with `retry_after` seconds."""


class MemberNotFound(ActionRefused):
    """The other member does not exist, is deactivated, or a block stands
    between the two: all three are answered alike (views answer 404), so a
    block is never told apart from a missing nickname."""

    def __init__(self, message=None):
        super().__init__(message or _("There is no member with this nickname."))


class InvitationInvalid(ActionRefused):
    """The link cannot be used; `gone` tells a known-but-spent link from a bad one."""

    def __init__(self, message, *, gone: bool = True):
        super().__init__(message)
        self.gone = gone


def create_invitation(
    *, inviter: Member | None, note: str = ""
) -> tuple[Invitation, str]:
    """Create an invitation and return it with its token (shown once, never stored).

    A member may hold at most INVITATION_MAX_OPEN open invitations; the count is
    taken under a lock on the inviter's row so two tabs cannot both pass it.
    """
    token = secrets.token_urlsafe(32)  # 256 bits
    now = timezone.now()
    with transaction.atomic():
        if inviter is not None:
            Member.objects.select_for_update().filter(pk=inviter.pk).first()
            open_count = Invitation.objects.created_by(inviter).open(now).count()
            if open_count >= settings.INVITATION_MAX_OPEN:
                raise ActionRefused(
                    _(
                        "You already have %(max)d open invitations. Revoke one or "
                        "wait until one is used or expires."
                    )
                    % {"max": settings.INVITATION_MAX_OPEN}
                )
            # Whoever joins becomes the inviter's friend.
            _check_own_capacity(inviter)
        invitation = Invitation.objects.create(
            inviter=inviter,
            token_hash=Invitation.hash_token(token),
            note=note.strip()[:100],
            created_at=now,
            expires_at=now + timedelta(days=settings.INVITATION_VALID_DAYS),
        )
    return invitation, token


def revoke_invitation(*, member: Member, invitation_id: int) -> Invitation:
    """Revoke one of the member's own open invitations."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .filter(pk=invitation_id, inviter=member)
            .first()
        )
        if invitation is None:
            raise ActionRefused(_("This invitation does not exist."))
        if invitation.status != "open":
            raise ActionRefused(_("Only an open invitation can be revoked."))
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


def find_open_invitation(token: str) -> Invitation:
    """The open invitation for a token, or InvitationInvalid saying why not."""
    invitation = (
        Invitation.objects.select_related("inviter")
        .filter(token_hash=Invitation.hash_token(token))
        .first()
    )
    if invitation is None:
        raise InvitationInvalid(_("This invitation link is not valid."), gone=False)
    status = invitation.status
    if status == "used":
        raise InvitationInvalid(_("This invitation has already been used."))
    if status == "revoked":
        raise InvitationInvalid(
            _("This invitation was withdrawn by the member who sent it.")
        )
    if status == "expired":
        raise InvitationInvalid(_("This invitation has expired."))
    return invitation


def _check_new_member(nickname: str, password: str) -> str:
    nicknames.validate_nickname(nickname)
    nickname = nicknames.normalize(nickname)
    _require_nickname_free(nickname)
    validate_password(password, Member(nickname=nickname))
    return nickname


def _require_nickname_free(nickname: str) -> None:
    """ActionRefused saying why if the nickname is taken or looks like one that
    is (create_user checks again, and the unique columns settle a race)."""
    try:
        Member.objects.check_nickname_free(nickname)
    except ValidationError as exc:
        raise ActionRefused(exc.messages[0]) from exc


def _clash(nickname: str) -> ActionRefused:
    """The refusal for a member that lost a race for the nickname, or one like it."""
    try:
        _require_nickname_free(nickname)
    except ActionRefused as refused:
        return refused
    return ActionRefused(_("This nickname is taken. Choose another one."))


def join_with_invitation(*, token: str, nickname: str, password: str) -> Member:
    """Create a member from an invitation; inviter and invitee become friends.

    The invitation is claimed with a conditional UPDATE inside the transaction,
    so of two people racing for one link exactly one gets in; if creating the
    member fails afterwards, the claim is rolled back with it.
    """
    invitation = find_open_invitation(token)
    nickname = _check_new_member(nickname, password)
    now = timezone.now()
    try:
        with transaction.atomic():
            claimed = (
                Invitation.objects.open(now)
                .filter(pk=invitation.pk)
                .update(used_at=now)
            )
            if not claimed:
                raise InvitationInvalid(_("This invitation has already been used."))
            member = Member.objects.create_user(
                nickname, password, invited_by=invitation.inviter
            )
            Invitation.objects.filter(pk=invitation.pk).update(used_by=member)
            if invitation.inviter is not None:
                # Under the inviter's row lock, as every new friendship is
                # (_lock_pair): an inviter who reached MAX_FRIENDS since the
                # link was made still brings the invitee in, as a non-friend.
                Member.objects.select_for_update().filter(
                    pk=invitation.inviter_id
                ).first()
                if friends.friend_count(invitation.inviter) < friends.MAX_FRIENDS:
                    make_friends(member, invitation.inviter)
    except (IntegrityError, ValidationError) as exc:
        raise _clash(nickname) from exc
    return member


def register_member(*, nickname: str, password: str) -> Member:
    """Open registration (OPEN_REGISTRATION): a member with no inviter."""
    if not settings.OPEN_REGISTRATION:
        raise ActionRefused(_("Enishi is invitation-only. Ask a member for a link."))
    nickname = _check_new_member(nickname, password)
    try:
        with transaction.atomic():
            return Member.objects.create_user(nickname, password)
    except (IntegrityError, ValidationError) as exc:
        raise _clash(nickname) from exc


def make_friends(a: Member, b: Member) -> None:
    """Make two members friends (both rows); a no-op if they already are."""
    if a.pk == b.pk:
        raise ActionRefused(_("You cannot befriend yourself."))
    with transaction.atomic():
        for member, friend in ((a, b), (b, a)):
            Friendship.objects.get_or_create(member=member, friend=friend)


AUDIENCE_FIELDS = ("introduction_audience", "friends_audience", "default_audience")


def update_profile(
    *,
    member: Member,
    introduction: str,
    avatar=None,
    remove_avatar: bool = False,
    shows_presence: bool | None = None,
    leaves_footprints: bool | None = None,
    time_zone: str = "",
    **audiences: str,
) -> Member:
    """Change the self-introduction and avatar, and the audiences named in
    AUDIENCE_FIELDS that are given (empty or missing: unchanged). The avatar
    is re-encoded first, so a refused image changes nothing.

    Narrowing the introduction's or the friend list's audience closes no
    socket (project/revocation.py): nothing live shows either; the next page
    that shows them asks accounts.audience.can_see again. default_audience
    only sets what new entries and albums start with. `leaves_footprints`
    (None: unchanged) turns footprints on or off both ways. `time_zone` (a
    name from project.timezones.zone_names; empty: unchanged) is the zone the
    member sees and enters times in."""
    unknown = set(audiences) - set(AUDIENCE_FIELDS)
    if unknown:
        raise TypeError(f"update_profile() got unexpected fields {sorted(unknown)}")
    if time_zone and time_zone not in zone_names():
        raise ValueError(f"update_profile() got an unknown time zone {time_zone!r}")
    new_avatar = reencode_avatar(avatar) if avatar is not None else None
    old_name = member.avatar.name if member.avatar else ""
    with transaction.atomic():
        member.introduction = introduction.strip()
        changed = []
        if shows_presence is not None:
            # project/revocation.py reconnects the member's sockets when it
            # changes, which puts them on or takes them off "Who's here".
            member.shows_presence = shows_presence
            changed.append("shows_presence")
        if leaves_footprints is not None:
            member.leaves_footprints = leaves_footprints
            changed.append("leaves_footprints")
        if time_zone:
            member.time_zone = time_zone
            changed.append("time_zone")
        for field, value in audiences.items():
            if value:
                setattr(member, field, value)
                changed.append(field)
        if new_avatar is not None:
            member.avatar.save(
                f"{member.pk}-{secrets.token_hex(8)}.jpg", new_avatar, save=False
            )
        elif remove_avatar:
            member.avatar = ""
        member.save(update_fields=["introduction", "avatar", *changed])
        if old_name and (new_avatar is not None or remove_avatar):
            storage = member.avatar.storage
            transaction.on_commit(lambda: storage.delete(old_name))
    return member


# --- Friend requests, friends and blocks -----------------------------------------
#
# Every write between two members first locks both members' rows, in the
# order of their ids (so two writes never wait on each other crosswise): two
# requests crossing, an accept racing a cancel, a block racing an accept, or
# the 1,000th friend being accepted twice at once all run one after the
# other, and each sees what the one before it wrote. The unique constraints
# (one friendship per direction, one pending request per pair) are the last
# word should a write skip this.


def _lock_pair(a_id: int, b_id: int) -> dict[int, Member]:
    locked = Member.objects.select_for_update().filter(pk__in=[a_id, b_id])
    return {member.pk: member for member in locked.order_by("pk")}


def _check_own_capacity(member: Member) -> None:
    limit = friends.MAX_FRIENDS
    if friends.friend_count(member) >= limit:
        raise ActionRefused(
            _(
                "You already have %(max)s friends, the most a member may have. "
                "Unfriend someone first."
            )
            % {"max": f"{limit:,}"}
        )


def _check_capacity(member: Member, other: Member) -> None:
    _check_own_capacity(member)
    limit = friends.MAX_FRIENDS
    if friends.friend_count(other) >= limit:
        raise ActionRefused(
            _("%(nickname)s already has %(max)s friends, the most a member may have.")
            % {"nickname": other.nickname, "max": f"{limit:,}"}
        )


def _request_pending_refusal(other: Member) -> ActionRefused:
    return ActionRefused(
        _("Your friend request to %(nickname)s is pending.")
        % {"nickname": other.nickname}
    )


def send_friend_request(
    *, sender: Member, recipient: Member, message: str = ""
) -> FriendRequest:
    """Ask `recipient` to be friends, with an optional short message.

    Refused: to oneself; when already friends; when a request between the two
    is pending either way (if the recipient already asked, accepting theirs is
    the answer); when a block stands between them (answered as for a member
    who does not exist, MemberNotFound); when either has MAX_FRIENDS friends.
    A decline is silent: for 30 days after the recipient declined, the sender
    sees their request as pending, and a new one is refused as pending too.
    (If the sender withdrew the declined request meanwhile, asking again
    brings it back as pending, and the recipient hears nothing.)

    Broadcasts the recipient's new request count to their open pages.
    """
    message = message.strip()
    if len(message) > FriendRequest.MESSAGE_MAX_LENGTH:
        raise ActionRefused(
            _("A message has at most %(max)d characters.")
            % {"max": FriendRequest.MESSAGE_MAX_LENGTH}
        )
    if sender.pk == recipient.pk:
        raise ActionRefused(_("You cannot send a friend request to yourself."))
    FRIEND_REQUESTS.spend(sender.pk, SENDING_REQUESTS_TOO_FAST, RateLimited)
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_pair(sender.pk, recipient.pk)
        recipient = locked.get(recipient.pk)
        if (
            recipient is None
            or not recipient.is_active
            or Block.objects.between(sender, recipient).exists()
        ):
            raise MemberNotFound()
        if friends.is_friend(sender, recipient):
            raise ActionRefused(
                _("You and %(nickname)s are already friends.")
                % {"nickname": recipient.nickname}
            )
        if friends.received_from(sender, recipient) is not None:
            raise ActionRefused(
                _(
                    "%(nickname)s has already sent you a friend request: "
                    "accept theirs instead."
                )
                % {"nickname": recipient.nickname}
            )
        if friends.sent_to(sender, recipient) is not None:
            raise _request_pending_refusal(recipient)
        declined = (
            FriendRequest.objects.filter(
                from_member=sender,
                to_member=recipient,
                declined_at__gt=now - friends.DECLINE_QUIET,
            )
            .order_by("-declined_at")
            .first()
        )
        if declined is not None:
            # Withdrawn after a (silent) decline: as far as the sender can
            # tell, this request is sent; the recipient is not asked again.
            declined.status = FriendRequest.Status.DECLINED
            declined.message = message
            declined.created_at = now
            declined.save(update_fields=["status", "message", "created_at"])
            return declined
        _check_capacity(sender, recipient)
        try:
            with transaction.atomic():
                request = FriendRequest.objects.create(
                    from_member=sender,
                    to_member=recipient,
                    message=message,
                    created_at=now,
                )
        except IntegrityError as exc:
            # Only without the row locks above (they serialize every pair).
            raise _request_pending_refusal(recipient) from exc
        recipient_id = recipient.pk
        transaction.on_commit(lambda: friends.push_request_badge(recipient_id))
        notifications.notify(
            recipient.pk, "friend_request", actor_id=sender.pk, target_id=request.pk
        )
    return request


def _pending_request_to(member: Member, request_id: int) -> FriendRequest:
    """The pending request `request_id` addressed to `member`, locked with
    both members' rows, or ActionRefused."""
    request = FriendRequest.objects.filter(pk=request_id, to_member=member).first()
    if request is not None:
        _lock_pair(request.from_member_id, member.pk)
        request = (
            FriendRequest.objects.select_for_update()
            .select_related("from_member")
            .filter(pk=request_id, status=FriendRequest.Status.PENDING)
            .first()
        )
    if request is None:
        raise ActionRefused(_("This friend request is no longer open."))
    return request


def accept_friend_request(*, member: Member, request_id: int) -> FriendRequest:
    """Accept a request addressed to `member`: the two become friends (both
    Friendship rows). Refused when it is no longer pending, or when either
    already has MAX_FRIENDS friends. Broadcasts `member`'s new count."""
    with transaction.atomic():
        request = _pending_request_to(member, request_id)
        sender = request.from_member
        if not sender.is_active or Block.objects.between(sender, member).exists():
            raise ActionRefused(_("This friend request is no longer open."))
        _check_capacity(member, sender)
        make_friends(member, sender)
        now = timezone.now()
        request.status = FriendRequest.Status.ACCEPTED
        request.decided_at = now
        request.save(update_fields=["status", "decided_at"])
        notifications.notify(
            sender.pk, "friend_accepted", actor_id=member.pk, target_id=request.pk
        )
        # What stood between them before (a silently declined request the
        # other way) is moot now: it neither shows as pending nor holds
        # anyone back from asking again after an unfriending.
        FriendRequest.objects.between(member, sender).exclude(pk=request.pk).filter(
            status__in=[FriendRequest.Status.PENDING, FriendRequest.Status.DECLINED]
        ).update(
            status=FriendRequest.Status.CANCELLED, decided_at=now, declined_at=None
        )
        transaction.on_commit(lambda: friends.push_request_badge(member.pk))
        # The request's notification is answered: it leaves the count.
        transaction.on_commit(lambda: notifications.push_badge(member.pk))
    return request


def decline_friend_request(*, member: Member, request_id: int) -> FriendRequest:
    """Decline a request addressed to `member`. Silent: nothing tells the
    sender, who keeps seeing it as pending and may not ask `member` again for
    30 days. Broadcasts `member`'s new count."""
    with transaction.atomic():
        request = _pending_request_to(member, request_id)
        now = timezone.now()
        request.status = FriendRequest.Status.DECLINED
        request.decided_at = now
        request.declined_at = now
        request.save(update_fields=["status", "decided_at", "declined_at"])
        transaction.on_commit(lambda: friends.push_request_badge(member.pk))
        transaction.on_commit(lambda: notifications.push_badge(member.pk))
    return request


def cancel_friend_request(*, member: Member, request_id: int) -> FriendRequest:
    """Withdraw a request `member` sent and still sees as pending (a
    silently declined one included: withdrawing it must look the same).
    Broadcasts the recipient's new count."""
    with transaction.atomic():
        request = FriendRequest.objects.filter(
            pk=request_id, from_member=member
        ).first()
        if request is not None:
            _lock_pair(member.pk, request.to_member_id)
            request = (
                FriendRequest.objects.select_for_update()
                .filter(pk=request_id)
                .filter(friends._seen_as_pending_by_sender())
                .first()
            )
        if request is None:
            raise ActionRefused(_("This friend request is no longer open."))
        was_pending = request.status == FriendRequest.Status.PENDING
        request.status = FriendRequest.Status.CANCELLED
        request.decided_at = timezone.now()
        request.save(update_fields=["status", "decided_at"])
        if was_pending:
            recipient_id = request.to_member_id
            transaction.on_commit(lambda: friends.push_request_badge(recipient_id))
            transaction.on_commit(lambda: notifications.push_badge(recipient_id))
    return request


def unfriend(*, member: Member, friend: Member) -> None:
    """End a friendship (both rows). The revocation path re-authorizes both
    members' open sockets (project/revocation.py, Friendship post_delete)."""
    with transaction.atomic():
        _lock_pair(member.pk, friend.pk)
        deleted, _rows = Friendship.objects.filter(
            Q(member=member, friend=friend) | Q(member=friend, friend=member)
        ).delete()
        if not deleted:
            raise ActionRefused(
                _("You and %(nickname)s are not friends.")
                % {"nickname": friend.nickname}
            )


def block_member(*, member: Member, other: Member) -> Block:
    """`member` blocks `other`: in one transaction the block is made, a
    friendship between them ends (both rows) and any pending request between
    them, either way, is withdrawn. Both members' open sockets are authorized
    again (project/revocation.py: Block post_save, Friendship post_delete).
    Blocking again is harmless."""
    if member.pk == other.pk:
        raise ActionRefused(_("You cannot block yourself."))
    with transaction.atomic():
        locked = _lock_pair(member.pk, other.pk)
        if other.pk not in locked:
            raise MemberNotFound()
        block, created = Block.objects.get_or_create(blocker=member, blocked=other)
        Friendship.objects.filter(
            Q(member=member, friend=other) | Q(member=other, friend=member)
        ).delete()
        ended = FriendRequest.objects.between(member, other).filter(
            status__in=[FriendRequest.Status.PENDING, FriendRequest.Status.DECLINED]
        )
        waiting_for = set(
            ended.filter(status=FriendRequest.Status.PENDING).values_list(
                "to_member_id", flat=True
            )
        )
        ended.update(status=FriendRequest.Status.CANCELLED, decided_at=timezone.now())
        for member_id in waiting_for:
            transaction.on_commit(
                lambda member_id=member_id: friends.push_request_badge(member_id)
            )
    return block


def unblock_member(*, member: Member, other_id: int) -> None:
    """Lift a block `member` made (only their own: a block made by the other
    member stays, and is never shown to this one)."""
    with transaction.atomic():
        deleted, _rows = Block.objects.filter(
            blocker=member, blocked_id=other_id
        ).delete()
    if not deleted:
        raise ActionRefused(_("You have not blocked this member."))
