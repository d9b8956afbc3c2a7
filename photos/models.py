"""Albums and photos.

A photo belongs to an album or to a diary entry, and has that one's audience
(accounts/audience.py). Nothing a member uploads is stored as sent: each photo
is stored re-encoded, without metadata, in two sizes made at upload (a 320 px
thumbnail and a 1280 px display size), under names nobody can guess, and is
served only by a view that asks `Photo.objects.visible_to(viewer)`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audience import Audience, visible_q


class AlbumQuerySet(models.QuerySet):
    def visible_to(self, viewer):
        return self.filter(visible_q(viewer, "owner", "audience"))


class Album(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(_("title"), max_length=100)
    audience = models.CharField(
        _("who can see this"),
        max_length=8,
        choices=Audience.choices,
        default=Audience.FRIENDS,
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = AlbumQuerySet.as_manager()

    class Meta:
        verbose_name = _("album")
        verbose_name_plural = _("albums")
        indexes = [models.Index(fields=["owner", "-created_at", "-id"])]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("photos:album-detail", kwargs={"album_id": self.pk})


class PhotoQuerySet(models.QuerySet):
    def visible_to(self, viewer):
        """Photos of albums and of diary entries `viewer` may see."""
        return self.filter(
            Q(album__isnull=False, entry__isnull=True)
            & visible_q(viewer, "album__owner", "album__audience")
            | Q(entry__isnull=False, album__isnull=True)
            & visible_q(viewer, "entry__author", "entry__audience")
        )


class StoredPhoto:
    """What a row of a stored photo answers, whichever model keeps it (an
    album's or an entry's Photo, a chat message's MessagePhoto): its
    `thumbnail` and `display` files, as photos/images.py made them, their
    URLs through the model's own access-checked view (FILE_VIEW, taking
    photo_id and size), and the thumbnail's size from `width` x `height`."""

    FILE_VIEW = ""

    def file(self, size: str):
        """The stored file of `size` (one of SIZES)."""
        return {"thumb": self.thumbnail, "display": self.display}[size]

    def file_url(self, size: str) -> str:
        return reverse(self.FILE_VIEW, kwargs={"photo_id": self.pk, "size": size})

    @property
    def thumb_url(self) -> str:
        return self.file_url("thumb")

    @property
    def display_url(self) -> str:
        return self.file_url("display")

    @property
    def thumb_width(self) -> int:
        return thumb_size(self.width, self.height)[0]

    @property
    def thumb_height(self) -> int:
        return thumb_size(self.width, self.height)[1]


class Photo(StoredPhoto, models.Model):
    FILE_VIEW = "photos:photo-file"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    album = models.ForeignKey(
        Album, null=True, blank=True, on_delete=models.CASCADE, related_name="photos"
    )
    entry = models.ForeignKey(
        "diary.Entry",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="photos",
    )
    caption = models.CharField(_("caption"), max_length=200, blank=True)
    # Re-encoded JPEGs under random names (photos/images.py).
    thumbnail = models.FileField(upload_to="photos/")
    display = models.FileField(upload_to="photos/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    objects = PhotoQuerySet.as_manager()

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        constraints = [
            # In exactly one place: an album or a diary entry.
            models.CheckConstraint(
                condition=Q(album__isnull=False, entry__isnull=True)
                | Q(album__isnull=True, entry__isnull=False),
                name="photo_in_one_place",
            )
        ]
        indexes = [
            models.Index(fields=["album", "id"]),
            models.Index(fields=["entry", "id"]),
        ]

    def __str__(self):
        return self.caption or f"photo {self.pk}"

    def get_absolute_url(self):
        return reverse("photos:photo-detail", kwargs={"photo_id": self.pk})


def thumb_size(width: int, height: int) -> tuple[int, int]:
    """The thumbnail's size of a photo whose display size is width x height,
    as photos/images.py made it: fitted into the thumbnail's, never enlarged
    (StoredPhoto.thumb_width and thumb_height)."""
    longest = max(width, height, 1)
    scale = min(1, settings.PHOTOS_THUMBNAIL_SIZE / longest)
    if scale == 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


# The sizes a photo is kept in, as its file URL names them.
SIZES = ("thumb", "display")
