"""How photo files are served: only by photos:photo-file, with headers that keep
them out of shared caches and make the browser ask again at every use, or by
the proxy when PHOTOS_SENDFILE_HEADER is set. No other URL reaches a file under
MEDIA_ROOT/photos."""

import pytest
from django.urls import URLPattern, get_resolver
from django.views import static

from accounts.audience import Audience
from photos import actions, views
from photos.models import Album
from tests.conftest import client_for
from tests.photos.files import jpeg, upload
from tests.test_url_surface import resolvable_routes

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo(aiko, django_capture_on_commit_callbacks):
    album = Album.objects.create(owner=aiko, title="Trip", audience=Audience.MEMBERS)
    with django_capture_on_commit_callbacks(execute=True):
        (photo,) = actions.add_photos(aiko, [upload("p.jpg", jpeg())], album=album)
    return photo


@pytest.mark.parametrize("size", ["thumb", "display"])
def test_a_photo_file_is_private_revalidated_inline_and_not_sniffed(photo, ben, size):
    response = client_for(ben).get(f"/photos/{photo.pk}/{size}/")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-cache"
    assert "public" not in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == "inline"
    with photo.file(size).open("rb") as f:
        assert b"".join(response.streaming_content) == f.read()


def test_the_browser_revalidates_cheaply_with_the_etag(photo, ben):
    client = client_for(ben)
    etag = client.get(f"/photos/{photo.pk}/thumb/")["ETag"]

    again = client.get(f"/photos/{photo.pk}/thumb/", headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert again.content == b""
    assert again["Cache-Control"] == "private, no-cache"
    # The other size is another file: its own tag.
    assert client.get(f"/photos/{photo.pk}/display/")["ETag"] != etag


def test_revalidation_checks_the_audience_first(photo, aiko, ben):
    etag = client_for(ben).get(f"/photos/{photo.pk}/thumb/")["ETag"]
    actions.update_album(
        member=aiko, album=photo.album, title="Trip", audience=Audience.ONLY_ME
    )

    response = client_for(ben).get(
        f"/photos/{photo.pk}/thumb/", headers={"If-None-Match": etag}
    )

    assert response.status_code == 404


@pytest.mark.parametrize("size", ["original", "full", "thumb.jpg", "THUMB"])
def test_only_the_two_sizes_are_served(photo, aiko, size):
    assert client_for(aiko).get(f"/photos/{photo.pk}/{size}/").status_code == 404


def test_photo_files_are_get_only(photo, aiko):
    assert client_for(aiko).post(f"/photos/{photo.pk}/thumb/").status_code == 405


def test_with_x_accel_redirect_nginx_sends_the_bytes(photo, ben, settings):
    settings.PHOTOS_SENDFILE_HEADER = "X-Accel-Redirect"
    settings.PHOTOS_SENDFILE_PREFIX = "/protected-photos/"

    response = client_for(ben).get(f"/photos/{photo.pk}/display/")

    name = photo.display.name.removeprefix("photos/")
    assert response["X-Accel-Redirect"] == f"/protected-photos/{name}"
    assert response.content == b""
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-cache"


def test_with_x_sendfile_apache_sends_the_bytes(photo, ben, settings):
    settings.PHOTOS_SENDFILE_HEADER = "X-Sendfile"

    response = client_for(ben).get(f"/photos/{photo.pk}/thumb/")

    assert response["X-Sendfile"] == str(settings.MEDIA_ROOT / photo.thumbnail.name)
    assert response.content == b""


def test_with_sendfile_a_photo_not_to_be_seen_names_no_file(photo, aiko, ben, settings):
    settings.PHOTOS_SENDFILE_HEADER = "X-Accel-Redirect"
    actions.update_album(
        member=aiko, album=photo.album, title="Trip", audience=Audience.ONLY_ME
    )

    response = client_for(ben).get(f"/photos/{photo.pk}/thumb/")

    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response


def test_a_file_deleted_meanwhile_is_not_found(photo, aiko):
    photo.thumbnail.storage.delete(photo.thumbnail.name)
    assert client_for(aiko).get(f"/photos/{photo.pk}/thumb/").status_code == 404


def test_no_url_serves_a_stored_photo_file_by_its_name(photo, aiko):
    client = client_for(aiko)
    name = photo.display.name  # photos/<random>.jpg
    for url in (
        f"/media/{name}",
        f"/{name}",
        f"/static/{name}",
        f"/photos/{name.removeprefix('photos/')}",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"\xff\xd8" not in response.content


def test_no_url_pattern_but_the_photo_view_serves_files():
    # Django's static file view (what static() or a MEDIA_URL route would
    # mount) is nowhere, and only photos:photo-file answers with a file.
    def callbacks(resolver):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLPattern):
                yield pattern.callback
            else:
                yield from callbacks(pattern)

    found = list(callbacks(get_resolver()))
    assert static.serve not in found
    assert static.directory_index not in found
    serving = [
        route for route, name in resolvable_routes() if name == "photos:photo-file"
    ]
    assert serving == ["photos/<photo_id>/<size>/"]
    assert views.photo_file in found
