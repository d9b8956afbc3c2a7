"""Footprints (足あと), Web Push subscriptions, notifications and their settings.

The kinds of notification and what each may show live in presence/notifications.py.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Footprint(models.Model):
    """`visitor` opened a page of `owner` on `day` (the site's time zone):
    one row per visitor, owner and day, keeping the latest time and how many
    visits. Only the owner ever sees these rows."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    visitor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()
    visited_at = models.DateTimeField(default=timezone.now)
    visits = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("footprint")
        verbose_name_plural = _("footprints")
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "visitor", "day"], name="footprint_once_a_day"
            ),
            models.CheckConstraint(
                condition=~Q(owner=F("visitor")), name="footprint_not_self"
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "-visited_at"]),
            # The purge (rows older than 30 days).
            models.Index(fields=["day"]),
        ]

    def __str__(self):
        return f"{self.visitor_id} visited {self.owner_id} on {self.day}"


class FootprintErasure(models.Model):
    """A visitor deleted one of their footprints: counted for the monthly
    quota, never shown to anyone."""

    visitor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    erased_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["visitor", "-erased_at"])]

    def __str__(self):
        return f"{self.visitor_id} erased a footprint at {self.erased_at}"


class PushSubscription(models.Model):
    """One browser of a member that receives Web Push (its endpoint and keys,
    as the browser's PushSubscription gives them)."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    endpoint = models.URLField(max_length=2000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    # What the member sees in their list of devices ("Chrome on Android").
    label = models.CharField(_("device"), max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")
        indexes = [models.Index(fields=["member", "-created_at"])]

    def __str__(self):
        return f"{self.member_id}: {self.label or self.endpoint[:40]}"


class Notification(models.Model):
    """One thing `recipient` should know about, of a kind registered in
    presence/notifications.py (which says what `target_id` points to and who
    may still see it). Rows sharing a `group_key` show as one line ("ben and
    9 others liked ..."). What a row points to is checked again each time it
    is shown: a row is never proof that its recipient may see the thing."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    target_id = models.BigIntegerField(null=True, blank=True)
    # Never empty: a row that groups with no other gets a key of its own.
    group_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["recipient", "group_key"]),
            models.Index(fields=["recipient", "-id"]),
            # The badge: a member's unread rows.
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            ),
        ]

    def __str__(self):
        return f"{self.kind} for {self.recipient_id} ({self.group_key})"


class NotificationSetting(models.Model):
    """A member's choice for one kind of notification; no row means on."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=40)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "kind"], name="notification_setting_once"
            )
        ]

    def __str__(self):
        return f"{self.member_id} {self.kind}: {'on' if self.enabled else 'off'}"


class TopicMute(models.Model):
    """`member` wants no notifications from this topic (mentions)."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    topic = models.ForeignKey(
        "communities.Topic", on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "topic"], name="topic_mute_once")
        ]

    def __str__(self):
        return f"{self.member_id} muted topic {self.topic_id}"
