"""Moderation: what moderators did (the audit log), what members reported,
the communities' word filters, messages held for review, and pinned
messages. docs/moderation.md says who may do what.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Rule(models.TextChoices):
    """Why: a report's reason, and the rule a removal names in the public log."""

    SPAM = "spam", _("Spam or advertising")
    HARASSMENT = "harassment", _("Harassment or bullying")
    HATE = "hate", _("Hate or discrimination")
    SEXUAL = "sexual", _("Sexual content")
    VIOLENCE = "violence", _("Violence or threats")
    PRIVATE = "private", _("Someone's private information")
    OFF_TOPIC = "off_topic", _("Off topic or disruptive")
    OTHER = "other", _("Something else")


class TargetKind(models.TextChoices):
    MESSAGE = "message", _("Message")
    ENTRY = "entry", _("Diary entry")
    COMMENT = "comment", _("Diary comment")
    PHOTO = "photo", _("Photo")
    EVENT = "event", _("Event")
    MEMBER = "member", _("Member")


class ModerationAction(models.Model):
    """One thing a moderator (or staff, or the system's filters) did: the
    audit log. `public` rows (removals) show in the community's public log
    without the actor's name."""

    class Kind(models.TextChoices):
        DELETE = "delete", _("Deleted content")
        MUTE = "mute", _("Muted a member")
        UNMUTE = "unmute", _("Lifted a mute")
        BAN = "ban", _("Banned a member")
        UNBAN = "unban", _("Lifted a ban")
        SLOW_MODE = "slow_mode", _("Changed slow mode")
        LOCK = "lock", _("Locked a topic")
        UNLOCK = "unlock", _("Unlocked a topic")
        PIN = "pin", _("Pinned a message")
        UNPIN = "unpin", _("Unpinned a message")
        APPOINT = "appoint", _("Appointed a moderator")
        DISMISS_MODERATOR = "dismiss_moderator", _("Removed a moderator")
        OFFER_OWNERSHIP = "offer_ownership", _("Offered the community to a member")
        TRANSFER = "transfer", _("Handed the community over")
        RESOLVE_REPORT = "resolve_report", _("Resolved a report")
        DISMISS_REPORT = "dismiss_report", _("Dismissed a report")
        FILTER = "filter", _("Changed the word filter")
        HOLD = "hold", _("Held a message for review")
        APPROVE = "approve", _("Approved a held message")
        REJECT = "reject", _("Rejected a held message")

    community = models.ForeignKey(
        "communities.Community",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # None: the site's own filters, or an actor since deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    target_kind = models.CharField(
        max_length=10, choices=TargetKind.choices, blank=True
    )
    target_id = models.BigIntegerField(null=True, blank=True)
    topic = models.ForeignKey(
        "communities.Topic",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    rule = models.CharField(max_length=12, choices=Rule.choices, blank=True)
    reason = models.TextField(_("reason"), max_length=500, blank=True)
    # A mute's end, a slow mode's seconds are in `detail`.
    until = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    public = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("moderation action")
        verbose_name_plural = _("moderation actions")
        indexes = [
            models.Index(fields=["community", "-id"]),
            models.Index(
                fields=["community", "-id"],
                condition=Q(public=True),
                name="moderation_public_log",
            ),
        ]

    def __str__(self):
        return f"{self.kind} by {self.actor_id} in {self.community_id}"


class Report(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DISMISSED = "dismissed", _("Dismissed")
        ACTIONED = "actioned", _("Action taken")

    class Outcome(models.TextChoices):
        DISMISSED = "dismissed", _("No rule was broken")
        DELETED = "deleted", _("The content was removed")
        MUTED = "muted", _("The member was muted")
        BANNED = "banned", _("The member was banned")

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # The community whose moderators see it; None: staff's queue (members,
    # diaries, photos: private content).
    community = models.ForeignKey(
        "communities.Community",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    topic = models.ForeignKey(
        "communities.Topic",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    target_kind = models.CharField(max_length=10, choices=TargetKind.choices)
    target_id = models.BigIntegerField()
    # Who the reported thing is by (or is, for a member).
    target_member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    rule = models.CharField(_("reason"), max_length=12, choices=Rule.choices)
    details = models.TextField(_("details"), max_length=1000, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        constraints = [
            models.UniqueConstraint(
                fields=["reporter", "target_kind", "target_id"],
                name="report_once",
            )
        ]
        indexes = [
            models.Index(fields=["community", "status", "-id"]),
            models.Index(fields=["status", "-id"]),
        ]

    def __str__(self):
        return f"report {self.pk} of {self.target_kind} {self.target_id}"


class WordFilter(models.Model):
    """A word or simple pattern a community does not allow in its topics."""

    class Action(models.TextChoices):
        BLOCK = "block", _("Refuse the message")
        HOLD = "hold", _("Hold it for review")

    community = models.ForeignKey(
        "communities.Community", on_delete=models.CASCADE, related_name="+"
    )
    pattern = models.CharField(_("word or pattern"), max_length=100)
    action = models.CharField(
        _("action"), max_length=5, choices=Action.choices, default=Action.BLOCK
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["community", "pattern"], name="word_filter_once"
            )
        ]

    def __str__(self):
        return self.pattern


class HeldMessage(models.Model):
    """A message a word filter held for review: posted as it was written
    when a moderator approves it, gone when they reject it."""

    topic = models.ForeignKey(
        "communities.Topic", on_delete=models.CASCADE, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    body = models.TextField(max_length=4000)
    client_id = models.CharField(max_length=64)
    reply_to_id = models.BigIntegerField(null=True, blank=True)
    matched = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"held {self.pk} in {self.topic_id}"


class Pin(models.Model):
    """A message pinned above its topic's log (at most three a topic)."""

    topic = models.ForeignKey(
        "communities.Topic", on_delete=models.CASCADE, related_name="+"
    )
    message = models.ForeignKey(
        "chat.Message", on_delete=models.CASCADE, related_name="+"
    )
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["topic", "message"], name="pin_once")
        ]

    def __str__(self):
        return f"pin {self.message_id} in {self.topic_id}"
