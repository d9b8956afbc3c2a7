"""Footprints (足あと) and Web Push subscriptions.

Notifications add their own models here (presence/notifications.py).
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
