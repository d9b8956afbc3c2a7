"""Diary entries (日記), their comments and likes (イイネ!).

Who may see an entry is its audience (accounts/audience.py); its comments
and likes are seen by whoever may see the entry, and read through
`visible_to(viewer)` like the entry itself.
"""

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audience import Audience, visible_q
from accounts.models import Block
from diary.signals import entries_narrowed


def entry_visible_q(viewer):
    """The entries `viewer` may see (accounts/audience.py: visible_q on an
    entry's author and audience): the one rule of the entry page and of the
    live socket's entry stream (diary/access.py)."""
    return visible_q(viewer, "author", "audience")


class EntryQuerySet(models.QuerySet):
    def visible_to(self, viewer):
        return self.filter(entry_visible_q(viewer))

    def update(self, **kwargs):
        """update() sends no model signals: one that sets the audience reports
        the entries it touched (entries_narrowed), so the sockets showing them
        are authorized again (project/revocation.py)."""
        if "audience" not in kwargs:
            return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            # Locked, so no row starts to match between the read and the update.
            entry_ids = list(self.select_for_update().values_list("pk", flat=True))
            count = super().update(**kwargs)
            entries_narrowed.send(sender=self.model, entry_ids=entry_ids)
        return count


class Entry(models.Model):
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("body"), max_length=10_000)
    audience = models.CharField(
        _("who can see this"),
        max_length=8,
        choices=Audience.choices,
        default=Audience.FRIENDS,
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = EntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("diary entry")
        verbose_name_plural = _("diary entries")
        indexes = [
            # A member's entries, newest first (their page, the home feed).
            models.Index(fields=["author", "-created_at", "-id"]),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("diary:entry-detail", kwargs={"entry_id": self.pk})


class CommentQuerySet(models.QuerySet):
    def visible_to(self, viewer):
        """Comments on entries `viewer` may see, leaving out those of members
        hidden from them by a block either way."""
        return self.filter(
            visible_q(viewer, "entry__author", "entry__audience")
        ).exclude(author__in=Block.objects.hidden_ids_for(viewer))


class Comment(models.Model):
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    body = models.TextField(_("comment"), max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    objects = CommentQuerySet.as_manager()

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        indexes = [models.Index(fields=["entry", "id"])]

    def __str__(self):
        return f"{self.author_id} on {self.entry_id}"


class Like(models.Model):
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="likes")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("like")
        verbose_name_plural = _("likes")
        constraints = [
            models.UniqueConstraint(fields=["entry", "member"], name="diary_like_once")
        ]

    def __str__(self):
        return f"{self.member_id} likes {self.entry_id}"
