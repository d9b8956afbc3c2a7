"""Writes to albums and photos.

Uploads are all or nothing: every file is checked and re-encoded
(photos/images.py) before anything is stored, so one refused file stores none
of them. The rows are written in a transaction and the files once it commits
(`transaction.on_commit`): a transaction rolled back, here or in a caller's
(the diary form saves an entry and its photos together), leaves no file
behind. Files of deleted photos go the same way, after the commit, whatever
deleted them (remove_files_on_delete).
"""

import logging
import secrets

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.actions import ActionRefused
from accounts.audience import Audience
from photos.images import ImageRejected, process_photo
from photos.models import Album, Photo

__all__ = [
    "ActionRefused",
    "ImageRejected",
    "MAX_PER_ENTRY",
    "MAX_PER_UPLOAD",
    "add_photos",
    "create_album",
    "delete_album",
    "delete_photo",
    "new_name",
    "remove_files",
    "update_album",
    "update_caption",
    "write_files",
]

logger = logging.getLogger(__name__)

# A diary entry shows at most three photos (mixi's own limit).
MAX_PER_ENTRY = 3
# Files in one album upload: each is decoded in turn, so this bounds how long
# one request holds a decode thread.
MAX_PER_UPLOAD = 20
# Photos in one album.
MAX_PER_ALBUM = 1000


def add_photos(
    owner, files, *, album=None, entry=None, caption: str = ""
) -> list[Photo]:
    """Store `files` (uploaded files) as photos of `album` or of the diary
    `entry`, both `owner`'s, with `caption` each. Refused (ActionRefused, or
    ImageRejected naming the file) when there are none or too many, when the
    album or entry is not owner's, or when any file is not an acceptable
    image; then nothing is stored. Files are written when the transaction
    commits."""
    files = list(files)
    if (album is None) == (entry is None):
        raise ValueError("a photo goes in an album or in a diary entry")
    container_owner_id = album.owner_id if album is not None else entry.author_id
    if container_owner_id != owner.pk:
        raise ActionRefused(
            _("You can only add photos to your own albums and entries.")
        )
    if not files:
        raise ActionRefused(_("Choose at least one photo."))
    if album is not None and len(files) > MAX_PER_UPLOAD:
        raise ActionRefused(
            ngettext(
                "Add at most %(max)d photo at a time.",
                "Add at most %(max)d photos at a time.",
                MAX_PER_UPLOAD,
            )
            % {"max": MAX_PER_UPLOAD}
        )
    caption = _caption(caption)
    _check_room(album, entry, len(files))
    # Every file is checked and re-encoded before anything is written (and
    # before any lock: decoding takes a while).
    processed = [process_photo(f) for f in files]
    photos = []
    pending = []
    with transaction.atomic():
        # Again, under the album's or entry's row lock: two uploads at once
        # must not both fit in the room one of them saw.
        container = album if album is not None else entry
        type(container).objects.select_for_update().filter(pk=container.pk).first()
        _check_room(album, entry, len(files))
        for result in processed:
            thumbnail, display = new_name(), new_name()
            photos.append(
                Photo.objects.create(
                    owner=owner,
                    album=album,
                    entry=entry,
                    caption=caption,
                    thumbnail=thumbnail,
                    display=display,
                    width=result.width,
                    height=result.height,
                )
            )
            pending += [(thumbnail, result.thumbnail), (display, result.display)]
        photo_ids = [photo.pk for photo in photos]
        transaction.on_commit(
            lambda: write_files(
                pending, undo=Photo.objects.filter(pk__in=photo_ids).delete
            )
        )
    return photos


def create_album(*, owner, title: str, audience: str) -> Album:
    return Album.objects.create(
        owner=owner, title=_title(title), audience=_audience(audience)
    )


def update_album(*, member, album: Album, title: str, audience: str) -> Album:
    """Narrowing an album's audience takes effect on every later request: its
    photos are served through `Photo.objects.visible_to`."""
    _own(member, album)
    album.title = _title(title)
    album.audience = _audience(audience)
    album.save(update_fields=["title", "audience"])
    return album


def delete_album(*, member, album: Album) -> None:
    """The album and its photos; their files go once the deletion commits
    (remove_files_on_delete)."""
    _own(member, album)
    album.delete()


def update_caption(*, member, photo: Photo, caption: str) -> Photo:
    _own(member, photo)
    photo.caption = _caption(caption)
    photo.save(update_fields=["caption"])
    return photo


def delete_photo(*, member, photo: Photo) -> None:
    _own(member, photo)
    photo.delete()


def remove_files_on_delete(sender, instance: Photo, **kwargs) -> None:
    """post_delete of Photo (photos/apps.py): however a photo goes (its album,
    its diary entry or its owner deleted, the admin), its files go once the
    deletion commits, and stay if it is rolled back."""
    names = [name for name in (instance.thumbnail.name, instance.display.name) if name]
    transaction.on_commit(lambda: remove_files(names))


# --- Helpers ---------------------------------------------------------------------


def _own(member, thing) -> None:
    if thing.owner_id != member.pk:
        # Views fetch what the member may see; one they may not change is refused.
        raise ActionRefused(_("Only its owner can change this."))


def _check_room(album, entry, adding: int) -> None:
    if entry is not None:
        if entry.photos.count() + adding > MAX_PER_ENTRY:
            raise ActionRefused(
                ngettext(
                    "A diary entry has at most %(max)d photo.",
                    "A diary entry has at most %(max)d photos.",
                    MAX_PER_ENTRY,
                )
                % {"max": MAX_PER_ENTRY}
            )
    elif album.photos.count() + adding > MAX_PER_ALBUM:
        raise ActionRefused(
            _("An album holds at most %(max)d photos.") % {"max": MAX_PER_ALBUM}
        )


def _caption(caption: str) -> str:
    caption = caption.strip()
    if len(caption) > Photo._meta.get_field("caption").max_length:
        raise ActionRefused(_("The caption is too long."))
    return caption


def _title(title: str) -> str:
    title = title.strip()
    if not title:
        raise ActionRefused(_("Give the album a title."))
    if len(title) > Album._meta.get_field("title").max_length:
        raise ActionRefused(_("The title is too long."))
    return title


def _audience(audience: str) -> str:
    if audience not in Audience.values:
        raise ActionRefused(_("Choose who can see this."))
    return audience


# --- Files: shared with the other places photos are kept (chat/actions.py) ------


def new_name() -> str:
    """A stored photo file's name: 144 random bits, a name nobody can guess
    (and no view serves by name)."""
    return f"photos/{secrets.token_urlsafe(18)}.jpg"


def write_files(pending: list[tuple[str, bytes]], *, undo) -> None:
    """Write each (name, bytes) of `pending`, once the rows naming them have
    committed (call it from transaction.on_commit). If any write fails, the
    files already written are removed, `undo()` deletes the rows (their files
    would be missing), and the error goes on."""
    written = []
    try:
        for name, data in pending:
            stored = default_storage.save(name, ContentFile(data))
            if stored != name:  # never happens with 144 random bits; be sure
                default_storage.delete(stored)
                raise OSError(f"photo file name taken: {name}")
            written.append(name)
    except Exception:
        # Rows without their files would be broken photos: take them back.
        logger.exception("Could not write photo files; their photos are removed")
        # The rows' deletion removes their files too (remove_files_on_delete),
        # but only if it succeeds and its hook gets to run: these go first.
        remove_files(written)
        undo()
        raise


def remove_files(names: list[str]) -> None:
    """Delete these stored files (call it from transaction.on_commit once the
    rows naming them are gone); one that cannot be removed is logged."""
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.exception("Could not remove photo file %s", name)
