"""Writes for members, invitations and friendships.

Each function checks its preconditions, writes in one transaction, and raises
ActionRefused (with a message meant for the member) when it cannot go on.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import nicknames
from accounts.images import reencode_avatar
from accounts.models import Friendship, Invitation, Member


class ActionRefused(Exception):
    """A write that was refused; str(exc) is the reason, fit to show the member."""


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


def update_profile(
    *, member: Member, introduction: str, avatar=None, remove_avatar: bool = False
) -> Member:
    """Change the self-introduction and avatar. The avatar is re-encoded first,
    so a refused image changes nothing."""
    new_avatar = reencode_avatar(avatar) if avatar is not None else None
    old_name = member.avatar.name if member.avatar else ""
    with transaction.atomic():
        member.introduction = introduction.strip()
        if new_avatar is not None:
            member.avatar.save(
                f"{member.pk}-{secrets.token_hex(8)}.jpg", new_avatar, save=False
            )
        elif remove_avatar:
            member.avatar = ""
        member.save(update_fields=["introduction", "avatar"])
        if old_name and (new_avatar is not None or remove_avatar):
            storage = member.avatar.storage
            transaction.on_commit(lambda: storage.delete(old_name))
    return member
