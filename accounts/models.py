import hashlib

from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    PermissionsMixin,
)
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import nicknames
from accounts.audience import Audience
from accounts.signals import access_narrowed


class NarrowingUpdateQuerySet(models.QuerySet):
    """update() sends no model signals; an update of a field that can narrow
    what members may see reports the members it touched (access_narrowed),
    so their open sockets are authorized again (project/revocation.py)."""

    narrowing_fields: frozenset[str] = frozenset()
    member_field = "pk"

    def update(self, **kwargs):
        if self.narrowing_fields.isdisjoint(kwargs):
            return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            # Locked, so no row starts to match between the read and the update.
            member_ids = list(
                self.select_for_update().values_list(self.member_field, flat=True)
            )
            count = super().update(**kwargs)
            access_narrowed.send(
                sender=self.model, member_ids=member_ids, fields=frozenset(kwargs)
            )
        return count


class MemberQuerySet(NarrowingUpdateQuerySet):
    # shows_presence: project/revocation.py, _member_saving.
    narrowing_fields = frozenset({"is_active", "password", "shows_presence"})


class MemberManager(BaseUserManager.from_queryset(MemberQuerySet)):
    use_in_migrations = True

    def get_by_natural_key(self, nickname):
        return self.get(nickname_key=nicknames.nickname_key(nickname))

    def check_nickname_free(self, nickname, *, member_pk=None) -> None:
        """Raise ValidationError if another member has this nickname, or one that
        looks like it (the same TR39 skeleton). The unique columns stay the
        last word on a race; this gives the member the reason."""
        others = self.exclude(pk=member_pk) if member_pk else self.all()
        if others.filter(nickname_key=nicknames.nickname_key(nickname)).exists():
            raise ValidationError(
                _("This nickname is taken. Choose another one."), code="taken"
            )
        skeleton = nicknames.nickname_skeleton(nickname)
        if others.filter(nickname_skeleton=skeleton).exists():
            raise ValidationError(
                _(
                    "This nickname looks too much like an existing one. "
                    "Choose another one."
                ),
                code="look_alike",
            )

    def create_user(self, nickname, password=None, **extra):
        nicknames.validate_nickname(nickname)
        self.check_nickname_free(nickname)
        member = self.model(nickname=nickname, **extra)
        member.set_password(password)
        member.save(using=self._db)
        return member

    def create_superuser(self, nickname, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(nickname, password, **extra)


class Member(AbstractBaseUser, PermissionsMixin):
    """A member of Enishi, known by a nickname only: never a real name."""

    nickname = models.CharField(
        _("nickname"),
        max_length=nicknames.MAX_LENGTH,
        unique=True,
        validators=[nicknames.validate_nickname],
    )
    # The comparison form (NFKC + casefold): "ＡＩＫＯ" and "aiko" are one member.
    nickname_key = models.CharField(max_length=120, unique=True, editable=False)
    # The look-alike form (TR39 skeleton of the key): "аiko" with a Cyrillic "а"
    # and "aiko" cannot both be members. Unbounded: a Hangul syllable alone
    # grows to seven characters.
    nickname_skeleton = models.TextField(unique=True, editable=False)
    introduction = models.TextField(_("self-introduction"), max_length=2000, blank=True)
    avatar = models.FileField(upload_to="avatars/", blank=True)
    # Who may read the self-introduction and the friend list; the audience
    # new diary entries and albums start with (accounts/audience.py).
    introduction_audience = models.CharField(
        _("who can see your self-introduction"),
        max_length=8,
        choices=Audience.choices,
        default=Audience.FRIENDS,
    )
    friends_audience = models.CharField(
        _("who can see your friend list"),
        max_length=8,
        choices=Audience.choices,
        default=Audience.FRIENDS,
    )
    # Footprints (presence/footprints.py): off, the member leaves none and
    # sees no one's (fair both ways).
    leaves_footprints = models.BooleanField(_("leave footprints"), default=True)
    # Who's here (presence/here.py): off, the member is never listed.
    shows_presence = models.BooleanField(_("show when I am here"), default=True)
    # Times are entered and shown in this zone (project/timezones.py).
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Tokyo")
    default_audience = models.CharField(
        _("who can see new diary entries and albums"),
        max_length=8,
        choices=Audience.choices,
        default=Audience.FRIENDS,
    )
    invited_by = models.ForeignKey(
        "self",
        verbose_name=_("invited by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitees",
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff"), default=False)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)

    objects = MemberManager()

    USERNAME_FIELD = "nickname"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        indexes = [
            # Member search is a prefix match on the key (LIKE 'ai%'); in
            # PostgreSQL only a pattern-ops index serves that under any
            # collation but C (other databases ignore the opclass).
            models.Index(
                fields=["nickname_key"],
                name="member_nickname_key_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self):
        return self.nickname

    def clean(self):
        super().clean()
        # The admin's forms leave out the derived columns, so their unique
        # checks would not run: a clash would be an IntegrityError.
        try:
            Member.objects.check_nickname_free(self.nickname, member_pk=self.pk)
        except ValidationError as exc:
            raise ValidationError({"nickname": exc}) from exc

    def save(self, *args, **kwargs):
        # Normalisation is part of the field's meaning, not business logic.
        self.nickname = nicknames.normalize(self.nickname)
        self.nickname_key = nicknames.nickname_key(self.nickname)
        self.nickname_skeleton = nicknames.nickname_skeleton(self.nickname)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "nickname" in update_fields:
            kwargs["update_fields"] = {
                *update_fields,
                "nickname_key",
                "nickname_skeleton",
            }
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("accounts:member-detail", kwargs={"nickname": self.nickname})


class InvitationQuerySet(models.QuerySet):
    def open(self, now=None):
        now = now or timezone.now()
        return self.filter(
            used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
        )

    def created_by(self, member):
        return self.filter(inviter=member)


class Invitation(models.Model):
    """A single-use link to join. Only the SHA-256 of its token is stored."""

    inviter = models.ForeignKey(
        Member,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="invitations",
        help_text=_("Empty for invitations that bootstrap a site."),
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    note = models.CharField(_("note"), max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.OneToOneField(
        Member,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="joined_with",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        indexes = [models.Index(fields=["inviter", "-created_at"])]

    def __str__(self):
        return f"Invitation {self.pk} by {self.inviter or 'the site'}"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def status(self) -> str:
        if self.used_at:
            return "used"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"

    def get_status_display(self) -> str:
        return {
            "used": _("Used"),
            "revoked": _("Revoked"),
            "expired": _("Expired"),
            "open": _("Open"),
        }[self.status]


class FriendshipQuerySet(models.QuerySet):
    def of(self, member):
        return self.filter(member=member)


class Friendship(models.Model):
    """One direction of a friendship; a friendship is always both rows.

    Two rows make "my friends" a plain indexed filter. Made by invitations and
    accepted friend requests, ended by unfriending or a block, all in
    accounts/actions.py.
    """

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    friend = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = FriendshipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "friend"], name="friendship_once"
            ),
            models.CheckConstraint(
                condition=~Q(member=models.F("friend")), name="friendship_not_self"
            ),
        ]
        verbose_name = _("friendship")
        verbose_name_plural = _("friendships")

    def __str__(self):
        return f"{self.member_id} → {self.friend_id}"


class FriendRequestQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=FriendRequest.Status.PENDING)

    def between(self, a, b):
        return self.filter(
            Q(from_member=a, to_member=b) | Q(from_member=b, to_member=a)
        )


class FriendRequest(models.Model):
    """`from_member` asked `to_member` to be friends.

    A decline is silent: the requester keeps seeing the request as pending
    (accounts/friends.py reads it so), and `declined_at` stays on the row
    whatever happens to it later, for the 30 days in which the requester may
    not ask that member again (accounts/actions.send_friend_request).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        CANCELLED = "cancelled", _("Cancelled")

    MESSAGE_MAX_LENGTH = 200

    from_member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="friend_requests_sent"
    )
    to_member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="friend_requests_received"
    )
    message = models.CharField(_("message"), max_length=MESSAGE_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=9, choices=Status.choices, default=Status.PENDING
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)

    objects = FriendRequestQuerySet.as_manager()

    class Meta:
        constraints = [
            # One pending request per pair, whichever of the two asked: the
            # last word on two members asking each other at the same moment.
            models.UniqueConstraint(
                Least("from_member", "to_member"),
                Greatest("from_member", "to_member"),
                condition=Q(status="pending"),
                name="friend_request_pending_once",
            ),
            models.CheckConstraint(
                condition=~Q(from_member=models.F("to_member")),
                name="friend_request_not_self",
            ),
        ]
        indexes = [
            models.Index(fields=["to_member", "status"]),
            models.Index(fields=["from_member", "to_member"]),
        ]
        verbose_name = _("friend request")
        verbose_name_plural = _("friend requests")

    def __str__(self):
        return f"{self.from_member_id} asks {self.to_member_id} ({self.status})"


class BlockQuerySet(models.QuerySet):
    def hidden_ids_for(self, member):
        """Ids of members hidden from `member` by a block in either direction
        (a block hides both members from each other everywhere)."""
        return Member.objects.filter(
            Q(blocks_received__blocker=member) | Q(blocks_made__blocked=member)
        ).values("pk")

    def hidden_id_set(self, member) -> frozenset[int]:
        """hidden_ids_for, evaluated: for checks in Python (templates, the
        live hub's per-frame filter)."""
        return self.hidden_id_sets([member.pk])[member.pk]

    def hidden_id_sets(self, member_ids) -> dict[int, frozenset[int]]:
        """hidden_id_set for each of several members, in one query (the live
        sockets opening at the same moment)."""
        hidden: dict[int, set[int]] = {member_id: set() for member_id in member_ids}
        if not hidden:
            return {}
        pairs = self.filter(Q(blocker__in=hidden) | Q(blocked__in=hidden)).values_list(
            "blocker_id", "blocked_id"
        )
        for blocker, blocked in pairs:
            if blocker in hidden:
                hidden[blocker].add(blocked)
            if blocked in hidden:
                hidden[blocked].add(blocker)
        return {member_id: frozenset(ids) for member_id, ids in hidden.items()}

    def between(self, a, b):
        return self.filter(Q(blocker=a, blocked=b) | Q(blocker=b, blocked=a))


class Block(models.Model):
    """`blocker` blocked `blocked`: the two are hidden from each other
    everywhere, both ways (Block.objects.hidden_ids_for)."""

    blocker = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="blocks_made"
    )
    blocked = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="blocks_received"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = BlockQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_once"),
            models.CheckConstraint(
                condition=~Q(blocker=models.F("blocked")), name="block_not_self"
            ),
        ]
        verbose_name = _("block")
        verbose_name_plural = _("blocks")

    def __str__(self):
        return f"{self.blocker_id} blocks {self.blocked_id}"
