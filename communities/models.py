from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import nicknames
from accounts.models import NarrowingUpdateQuerySet


class Category(models.TextChoices):
    HOBBIES = "hobbies", _("Hobbies")
    FOOD = "food", _("Food and drink")
    MUSIC = "music", _("Music")
    FILM = "film", _("Film and TV")
    BOOKS = "books", _("Books and manga")
    GAMES = "games", _("Games")
    SPORTS = "sports", _("Sports")
    TRAVEL = "travel", _("Travel")
    LOCAL = "local", _("Local area")
    STUDY = "study", _("Study and work")
    TECH = "tech", _("Technology")
    OTHER = "other", _("Other")


class JoinPolicy(models.TextChoices):
    OPEN = "open", _("Open: anyone may join")
    APPROVAL = "approval", _("Approval: the owner or a moderator accepts requests")
    SECRET = "secret", _("Secret: invisible to non-members; members invite friends")


class TopicPolicy(models.TextChoices):
    MEMBERS = "members", _("Any member")
    MODERATORS = "moderators", _("Only the owner and moderators")


class CommunityQuerySet(models.QuerySet):
    def visible_to(self, member):
        """Communities `member` may know exist: every non-secret one, and the
        secret ones they belong to or are invited to."""
        if not member.is_authenticated:
            return self.none()
        involved = Membership.objects.filter(
            community=OuterRef("pk"),
            member=member,
            status__in=[Membership.Status.ACTIVE, Membership.Status.INVITED],
        )
        return self.filter(~Q(join_policy=JoinPolicy.SECRET) | Exists(involved))

    def joined_by(self, member):
        return self.filter(
            memberships__member=member,
            memberships__status=Membership.Status.ACTIVE,
        )


class Community(models.Model):
    name = models.CharField(_("name"), max_length=80)
    # Unique among the communities anyone may know of; a secret community's
    # name is not, or trying a name would reveal that a secret one has it.
    name_key = models.CharField(max_length=240, editable=False)
    description = models.TextField(_("description"), max_length=5000, blank=True)
    category = models.CharField(
        _("category"), max_length=20, choices=Category.choices, default=Category.OTHER
    )
    icon = models.FileField(upload_to="community-icons/", blank=True)
    join_policy = models.CharField(
        _("who may join"),
        max_length=10,
        choices=JoinPolicy.choices,
        default=JoinPolicy.OPEN,
    )
    topic_policy = models.CharField(
        _("who may start topics"),
        max_length=10,
        choices=TopicPolicy.choices,
        default=TopicPolicy.MEMBERS,
    )
    event_policy = models.CharField(
        _("who may create events"),
        max_length=10,
        choices=TopicPolicy.choices,
        default=TopicPolicy.MEMBERS,
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The owner offered the community to this member, who has not yet
    # accepted (moderation: a handover).
    offered_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Members in their first hours may not post links (0: from the start).
    link_wait_hours = models.PositiveSmallIntegerField(
        _("hours before new members may post links"), default=24
    )
    # Denormalised for the directory's sort and counts; kept by actions.
    member_count = models.PositiveIntegerField(default=0)
    last_activity_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = CommunityQuerySet.as_manager()

    class Meta:
        verbose_name = _("community")
        verbose_name_plural = _("communities")
        constraints = [
            models.UniqueConstraint(
                fields=["name_key"],
                condition=~Q(join_policy="secret"),
                name="community_name_unique_unless_secret",
            )
        ]
        indexes = [
            models.Index(fields=["name_key"]),
            models.Index(fields=["-member_count"]),
            models.Index(fields=["category", "-last_activity_at"]),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.name = nicknames.normalize(self.name)
        self.name_key = nicknames.nickname_key(self.name)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("communities:detail", kwargs={"community_id": self.pk})

    @property
    def is_secret(self):
        return self.join_policy == JoinPolicy.SECRET


class MembershipQuerySet(NarrowingUpdateQuerySet):
    narrowing_fields = frozenset({"status", "role"})
    member_field = "member_id"


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MODERATOR = "moderator", _("Moderator")
        MEMBER = "member", _("Member")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Member")
        PENDING = "pending", _("Requested to join")
        INVITED = "invited", _("Invited")
        BANNED = "banned", _("Banned")
        # Left, withdrew a request, declined an invitation or was declined:
        # the row stays, so what it carries (a mute) is there if they return.
        # To every reader they are no member (access.membership_of).
        LEFT = "left", _("Left")

    community = models.ForeignKey(
        Community, on_delete=models.CASCADE, related_name="memberships"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    muted_until = models.DateTimeField(null=True, blank=True)
    # Why, as the moderator said it: shown to the muted member at the composer.
    mute_reason = models.CharField(max_length=500, blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["community", "member"], name="membership_once"
            ),
            models.UniqueConstraint(
                fields=["community"],
                condition=Q(role="owner"),
                name="one_owner_per_community",
            ),
        ]
        indexes = [models.Index(fields=["member", "status"])]

    def __str__(self):
        return f"{self.member_id} in {self.community_id} ({self.role}, {self.status})"

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE

    @property
    def is_moderator(self):
        """Owner or moderator, and still an active member."""
        return self.is_active and self.role in (self.Role.OWNER, self.Role.MODERATOR)

    def is_muted(self, now=None):
        return self.muted_until is not None and self.muted_until > (
            now or timezone.now()
        )


class TopicQuerySet(models.QuerySet):
    def in_community(self, community):
        return self.filter(community=community)

    def with_unread_for(self, member):
        """Annotate `unread`: messages after the member's read position, not
        their own and not from members hidden by a block."""
        from accounts.models import Block
        from chat.models import Message

        # Used inside the message subquery below: its outer row is the message,
        # so the topic is the message's (OuterRef("pk") would be the message id).
        read_id = TopicRead.objects.filter(
            topic=OuterRef("topic"), member=member
        ).values("last_read_id")[:1]
        unread = (
            Message.objects.filter(
                topic=OuterRef("pk"),
                id__gt=models.functions.Coalesce(
                    models.Subquery(read_id), models.Value(0)
                ),
                deleted_at__isnull=True,
            )
            .exclude(author=member)
            .exclude(author__in=Block.objects.hidden_ids_for(member))
            .exclude(reply_to__author__in=Block.objects.hidden_ids_for(member))
            .order_by()
            .values("topic")
            .annotate(n=models.Count("pk"))
            .values("n")
        )
        return self.annotate(
            unread=models.functions.Coalesce(
                models.Subquery(unread, output_field=models.IntegerField()),
                models.Value(0),
            )
        )


class Topic(models.Model):
    community = models.ForeignKey(
        Community, on_delete=models.CASCADE, related_name="topics"
    )
    title = models.CharField(_("title"), max_length=120)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(default=timezone.now)
    message_count = models.PositiveIntegerField(default=0)
    # Seconds one member waits between messages (0: no slow mode).
    slow_mode_seconds = models.PositiveIntegerField(default=0)
    # A locked topic takes no new messages; reading stays.
    locked_at = models.DateTimeField(null=True, blank=True)

    objects = TopicQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["community", "-last_message_at"])]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("chat:topic-detail", kwargs={"topic_id": self.pk})


class TopicRead(models.Model):
    """How far a member has read a topic (the id of the last message seen)."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    last_read_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["topic", "member"], name="topic_read_once")
        ]

    def __str__(self):
        return f"{self.member_id} read {self.topic_id} to {self.last_read_id}"
