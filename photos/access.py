"""Which albums and photos a member may see or change. Views call these; a
thing the viewer may not see answers exactly as one that does not exist."""

from django.http import Http404

from photos.models import Album, Photo


def access_album(viewer, album_id: int) -> Album:
    """The album if `viewer` may see it (its audience), else 404."""
    album = (
        Album.objects.visible_to(viewer)
        .select_related("owner")
        .filter(pk=album_id)
        .first()
    )
    if album is None:
        raise Http404
    return album


def own_album(member, album_id: int) -> Album:
    """`member`'s own album, else 404 (also for one they may only see)."""
    if not member.is_authenticated:
        raise Http404
    album = Album.objects.filter(pk=album_id, owner=member).first()
    if album is None:
        raise Http404
    return album


def access_photo(viewer, photo_id: int) -> Photo:
    """The photo if `viewer` may see its album or diary entry, else 404. Every
    thumbnail on a page asks this: only what the photo page shows is joined."""
    photo = (
        Photo.objects.visible_to(viewer)
        .select_related("album", "entry")
        .filter(pk=photo_id)
        .first()
    )
    if photo is None:
        raise Http404
    return photo


def own_photo(member, photo_id: int) -> Photo:
    if not member.is_authenticated:
        raise Http404
    photo = (
        Photo.objects.filter(pk=photo_id, owner=member)
        .select_related("album", "entry")
        .first()
    )
    if photo is None:
        raise Http404
    return photo
