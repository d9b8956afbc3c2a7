"""Albums, photos and the one view that sends photo files.

Every read goes through photos/access.py (the audience, blocks): an album or
photo the viewer may not see answers 404, exactly as one that does not exist.
Changes are the owner's alone and go through photos/actions.py.
"""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Subquery
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.http import parse_etags
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from accounts import access as accounts_access
from photos import access, actions
from photos.forms import AlbumForm, CaptionForm, PhotoUploadForm
from photos.models import SIZES, Album, Photo

ALBUMS_PER_PAGE = 24
PHOTOS_PER_PAGE = 60


def album_list(request, nickname):
    """A member's albums the viewer may see, newest first."""
    member = accounts_access.access_member(request.user, nickname)
    first_photo = Photo.objects.filter(album=OuterRef("pk")).order_by("id")
    albums = (
        Album.objects.visible_to(request.user)
        .filter(owner=member)
        .annotate(
            photo_count=Count("photos"),
            cover_id=Subquery(first_photo.values("id")[:1]),
        )
        .order_by("-created_at", "-id")
    )
    page = Paginator(albums, ALBUMS_PER_PAGE).get_page(request.GET.get("page"))
    return TemplateResponse(
        request, "photos/album_list.html", {"member": member, "page": page}
    )


def album_create(request):
    form = AlbumForm(
        _posted(request), initial={"audience": request.user.default_audience}
    )
    if request.method == "POST" and form.is_valid():
        try:
            album = actions.create_album(owner=request.user, **form.cleaned_data)
        except actions.ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("photos:photo-add", album_id=album.pk)
    return TemplateResponse(
        request, "photos/album_form.html", {"form": form, "album": None}
    )


def album_detail(request, album_id):
    album = access.access_album(request.user, album_id)
    photos = album.photos.order_by("id")
    page = Paginator(photos, PHOTOS_PER_PAGE).get_page(request.GET.get("page"))
    return TemplateResponse(
        request,
        "photos/album_detail.html",
        {"album": album, "page": page, "is_owner": album.owner_id == request.user.pk},
    )


def album_edit(request, album_id):
    album = access.own_album(request.user, album_id)
    form = AlbumForm(
        _posted(request),
        initial={"title": album.title, "audience": album.audience},
    )
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_album(member=request.user, album=album, **form.cleaned_data)
        except actions.ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The album was saved."))
            return redirect(album)
    return TemplateResponse(
        request, "photos/album_form.html", {"form": form, "album": album}
    )


def album_delete(request, album_id):
    album = access.own_album(request.user, album_id)
    if request.method == "POST":
        actions.delete_album(member=request.user, album=album)
        messages.success(request, _("The album was deleted."))
        return redirect("photos:album-list", nickname=request.user.nickname)
    return TemplateResponse(
        request,
        "photos/album_confirm_delete.html",
        {"album": album, "photo_count": album.photos.count()},
    )


def photo_add(request, album_id):
    album = access.own_album(request.user, album_id)
    form = PhotoUploadForm(_posted(request), _posted(request, files=True))
    if request.method == "POST" and form.is_valid():
        try:
            photos = actions.add_photos(
                request.user,
                form.cleaned_data["photos"],
                album=album,
                caption=form.cleaned_data["caption"],
            )
        except actions.ActionRefused as exc:
            form.add_error("photos", str(exc))
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)d photo was added.",
                    "%(count)d photos were added.",
                    len(photos),
                )
                % {"count": len(photos)},
            )
            return redirect(album)
    return TemplateResponse(
        request,
        "photos/photo_add.html",
        {
            "form": form,
            "album": album,
            "max_files": _files_per_request(),
            "max_total_mb": settings.REQUEST_MAX_BYTES // (1024 * 1024),
        },
    )


def photo_detail(request, photo_id):
    photo = access.access_photo(request.user, photo_id)
    return TemplateResponse(
        request,
        "photos/photo_detail.html",
        {"photo": photo, "is_owner": photo.owner_id == request.user.pk},
    )


def photo_edit(request, photo_id):
    photo = access.own_photo(request.user, photo_id)
    form = CaptionForm(_posted(request), initial={"caption": photo.caption})
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_caption(
                member=request.user, photo=photo, caption=form.cleaned_data["caption"]
            )
        except actions.ActionRefused as exc:
            form.add_error("caption", str(exc))
        else:
            messages.success(request, _("The caption was saved."))
            return redirect(photo)
    return TemplateResponse(
        request, "photos/photo_edit.html", {"form": form, "photo": photo}
    )


def photo_delete(request, photo_id):
    photo = access.own_photo(request.user, photo_id)
    if request.method == "POST":
        back = photo.album or photo.entry
        actions.delete_photo(member=request.user, photo=photo)
        messages.success(request, _("The photo was deleted."))
        return redirect(back)
    return TemplateResponse(
        request, "photos/photo_confirm_delete.html", {"photo": photo}
    )


@require_GET
def photo_file(request, photo_id, size):
    """The bytes of one size of a photo, to whoever may see it (404 to anyone
    else, as for a photo that does not exist). Never cached by a shared cache
    ("private"), and revalidated by the browser at every use ("no-cache"), so a
    narrowed audience or a block stops the next look; the ETag makes that
    question cheap (304, no body)."""
    if size not in SIZES:
        raise Http404
    photo = access.access_photo(request.user, photo_id)
    return serve_stored(request, photo.file(size))


def serve_stored(request, stored) -> HttpResponse:
    """One stored photo file (a FieldFile of a re-encoded JPEG), for a view
    that has checked the viewer may see it: private, revalidated at every
    use, with an ETag from its random name (304 when unchanged). Also
    chat/photo_views.py, for a message's photos."""
    if not stored.name:
        raise Http404
    etag = f'"{stored.name.rsplit("/", 1)[-1].removesuffix(".jpg")}"'
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        response = HttpResponseNotModified()
    else:
        response = _file_response(stored)
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _files_per_request() -> int:
    """What one upload can carry: the action's cap, or fewer if Django's
    DATA_UPLOAD_MAX_NUMBER_FILES refuses a request with more (project/input.py
    answers it 400)."""
    parsed = settings.DATA_UPLOAD_MAX_NUMBER_FILES
    return min(actions.MAX_PER_UPLOAD, parsed or actions.MAX_PER_UPLOAD)


def _posted(request, *, files: bool = False):
    """A form's data (or files) when it was posted, even empty; else None, so
    the form is unbound and shows no errors."""
    if request.method != "POST":
        return None
    return request.FILES if files else request.POST


def _file_response(stored) -> HttpResponse:
    header = settings.PHOTOS_SENDFILE_HEADER
    if header:
        # The proxy sends the file (docs/photos.md); the answer carries none.
        response = HttpResponse(content_type="image/jpeg")
        if header.lower() == "x-accel-redirect":
            name = stored.name.removeprefix("photos/")
            response[header] = settings.PHOTOS_SENDFILE_PREFIX.rstrip("/") + "/" + name
        else:
            response[header] = stored.path
    else:
        try:
            response = FileResponse(stored.open("rb"), content_type="image/jpeg")
        except FileNotFoundError:
            # Written when its row committed; gone only if deleted meanwhile.
            raise Http404 from None
    response["Content-Disposition"] = "inline"
    return response
