"""The album and photo pages as the owner uses them: forms, what they keep,
confirmations, and query counts that stay flat as albums and photos grow."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.audience import Audience
from photos import actions
from photos.models import Album, Photo
from tests.conftest import client_for
from tests.photos.conftest import media_files
from tests.photos.files import jpeg, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(aiko):
    return client_for(aiko)


def add(owner, album, count, capture, caption=""):
    with capture(execute=True):
        return actions.add_photos(
            owner,
            [upload(f"{n}.jpg", jpeg((8, 8))) for n in range(count)],
            album=album,
            caption=caption,
        )


def test_new_album_form_has_title_and_who_can_see_this_from_the_default(aiko, client):
    aiko.default_audience = Audience.FRIENDS_OF_FRIENDS
    aiko.save()

    response = client.get("/photos/albums/new/")

    text = response.text
    assert '<label for="id_title">Title</label>' in text
    assert '<label for="id_audience">Who can see this</label>' in text
    for label in ("All members", "Friends of friends", "Friends", "Only me"):
        assert f">{label}</option>" in text
    assert '<option value="fof" selected>Friends of friends</option>' in text


def test_creating_an_album_leads_to_adding_photos(aiko, client):
    response = client.post(
        "/photos/albums/new/", {"title": " Kyoto ", "audience": "members"}
    )

    album = Album.objects.get()
    assert (album.owner, album.title, album.audience) == (aiko, "Kyoto", "members")
    assert response["Location"] == f"/photos/albums/{album.pk}/add/"


def test_an_album_without_a_title_is_refused_keeping_the_audience(client):
    response = client.post("/photos/albums/new/", {"title": "", "audience": "me"})

    assert response.status_code == 200
    assert "This field is required." in response.text
    assert '<option value="me" selected>Only me</option>' in response.text
    assert not Album.objects.exists()


def test_an_unknown_audience_is_refused(client):
    response = client.post("/photos/albums/new/", {"title": "T", "audience": "all"})
    assert "Select a valid choice." in response.text
    assert not Album.objects.exists()


def test_album_page_shows_thumbnails_and_captions(
    aiko, client, django_capture_on_commit_callbacks
):
    album = Album.objects.create(owner=aiko, title="Trip")
    photo, _ = add(aiko, album, 2, django_capture_on_commit_callbacks, caption="Sea")

    text = client.get(f"/photos/albums/{album.pk}/").text

    assert f'src="/photos/{photo.pk}/thumb/"' in text
    assert f'href="/photos/{photo.pk}/"' in text
    assert "Sea" in text
    assert "Add photos" in text


def test_an_empty_album_says_so(aiko, client, ben):
    album = Album.objects.create(owner=aiko, title="Trip", audience="members")
    text = client_for(ben).get(f"/photos/albums/{album.pk}/").text
    assert "No photos in this album yet." in text
    assert "Add photos" not in text and "Edit album" not in text


def test_editing_an_album_changes_title_and_audience(aiko, client):
    album = Album.objects.create(owner=aiko, title="Trip", audience="friends")
    form = client.get(f"/photos/albums/{album.pk}/edit/").text
    assert 'value="Trip"' in form
    assert '<option value="friends" selected>Friends</option>' in form

    response = client.post(
        f"/photos/albums/{album.pk}/edit/", {"title": "Kyoto", "audience": "me"}
    )

    assert response["Location"] == f"/photos/albums/{album.pk}/"
    album.refresh_from_db()
    assert (album.title, album.audience) == ("Kyoto", "me")


def test_deleting_an_album_asks_first_then_removes_its_photos_and_files(
    aiko, client, django_capture_on_commit_callbacks
):
    album = Album.objects.create(owner=aiko, title="Trip")
    add(aiko, album, 2, django_capture_on_commit_callbacks)

    confirm = client.get(f"/photos/albums/{album.pk}/delete/")
    assert "Delete “Trip” and its 2 photos?" in confirm.text
    assert Album.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/photos/albums/{album.pk}/delete/")

    assert response["Location"] == "/photos/by/aiko/"
    assert not Album.objects.exists() and not Photo.objects.exists()
    assert media_files() == set()


def test_adding_photos_keeps_the_caption_and_says_how_many(
    aiko, client, django_capture_on_commit_callbacks
):
    album = Album.objects.create(owner=aiko, title="Trip")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/photos/albums/{album.pk}/add/",
            {
                "photos": [upload("a.jpg", jpeg()), upload("b.png", jpeg())],
                "caption": "x",
            },
        )
    # b.png is a JPEG by content: refused, and a.jpg with it.
    assert "“b.png”: Its name says PNG but it is a JPEG image." in response.text
    assert not Photo.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/photos/albums/{album.pk}/add/",
            {"photos": [upload("a.jpg", jpeg()), upload("b.jpg", jpeg())]},
            follow=True,
        )
    assert "2 photos were added." in response.text
    assert album.photos.count() == 2


def test_the_upload_form_is_labelled_and_takes_several_images(aiko, client):
    album = Album.objects.create(owner=aiko, title="Trip")
    text = client.get(f"/photos/albums/{album.pk}/add/").text
    assert '<label for="id_photos">Photos</label>' in text
    assert "multiple" in text and 'accept="image/jpeg,' in text
    assert '<label for="id_caption">Caption</label>' in text
    assert 'enctype="multipart/form-data"' in text


def test_editing_a_caption(aiko, client, django_capture_on_commit_callbacks):
    album = Album.objects.create(owner=aiko, title="Trip")
    (photo,) = add(aiko, album, 1, django_capture_on_commit_callbacks, caption="Old")
    assert 'value="Old"' in client.get(f"/photos/{photo.pk}/edit/").text

    response = client.post(f"/photos/{photo.pk}/edit/", {"caption": " New "})

    assert response["Location"] == f"/photos/{photo.pk}/"
    photo.refresh_from_db()
    assert photo.caption == "New"
    too_long = client.post(f"/photos/{photo.pk}/edit/", {"caption": "x" * 201})
    assert too_long.status_code == 200
    assert 'value="' + "x" * 201 + '"' in too_long.text
    photo.refresh_from_db()
    assert photo.caption == "New"


def test_deleting_a_photo_asks_first_and_returns_to_the_album(
    aiko, client, django_capture_on_commit_callbacks
):
    album = Album.objects.create(owner=aiko, title="Trip")
    (photo,) = add(aiko, album, 1, django_capture_on_commit_callbacks)

    assert "Delete this photo?" in client.get(f"/photos/{photo.pk}/delete/").text
    assert Photo.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/photos/{photo.pk}/delete/")

    assert response["Location"] == f"/photos/albums/{album.pk}/"
    assert not Photo.objects.exists()
    assert media_files() == set()


def test_photo_page_shows_the_display_size_and_caption(
    aiko, ben, django_capture_on_commit_callbacks
):
    album = Album.objects.create(owner=aiko, title="Trip", audience="members")
    (photo,) = add(aiko, album, 1, django_capture_on_commit_callbacks, caption="Sea")

    text = client_for(ben).get(f"/photos/{photo.pk}/").text

    assert f'src="/photos/{photo.pk}/display/"' in text
    assert "<figcaption>Sea</figcaption>" in text
    assert "Edit caption" not in text


def test_a_members_albums_page_is_empty_until_they_make_one(aiko, client):
    text = client.get("/photos/by/aiko/").text
    assert "No albums to show." in text
    assert 'href="/photos/albums/new/"' in text


def test_album_list_is_paginated_newest_first(aiko, client):
    for n in range(30):
        Album.objects.create(owner=aiko, title=f"Album {n:02}")

    first = client.get("/photos/by/aiko/").text
    second = client.get("/photos/by/aiko/?page=2").text

    assert "Album 29" in first and "Album 06" in first and "Album 05" not in first
    assert "Album 05" in second and "Album 00" in second


# --- Query counts -----------------------------------------------------------------


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("viewer", ["aiko", "ben"])
def test_album_page_queries_stay_flat_from_10_to_100_photos(
    aiko, ben, viewer, django_capture_on_commit_callbacks, django_assert_num_queries
):
    from accounts.actions import make_friends

    make_friends(aiko, ben)
    album = Album.objects.create(owner=aiko, title="Trip", audience="friends")
    client = client_for({"aiko": aiko, "ben": ben}[viewer])
    url = f"/photos/albums/{album.pk}/"
    # Rows straight in: what is counted is the page, not the uploads.
    rows = [
        Photo(owner=aiko, album=album, thumbnail=f"photos/t{n}.jpg", display="d")
        for n in range(100)
    ]
    Photo.objects.bulk_create(rows[:10])
    client.get(url)  # the session and anything cached once
    ten = queries(client, url)
    Photo.objects.bulk_create(rows[10:])
    with django_assert_num_queries(ten):
        response = client.get(url)
    assert response.text.count("/thumb/") == 60  # one page


def test_album_list_queries_stay_flat_from_10_to_100_albums(
    aiko, ben, django_assert_num_queries
):
    from accounts.actions import make_friends

    make_friends(aiko, ben)
    client = client_for(ben)
    url = "/photos/by/aiko/"

    def albums(count):
        for n in range(count):
            album = Album.objects.create(owner=aiko, title=f"A{n}", audience="members")
            Photo.objects.create(
                owner=aiko, album=album, thumbnail=f"photos/{n}.jpg", display="d"
            )

    albums(10)
    client.get(url)
    ten = queries(client, url)
    albums(90)
    with django_assert_num_queries(ten):
        response = client.get(url)
    assert response.text.count("/thumb/") == 24


def test_a_members_page_links_to_their_albums(aiko, ben, client):
    assert 'href="/photos/albums/new/"' in client.get("/members/aiko/").text
    text = client_for(ben).get("/members/aiko/").text
    assert 'href="/photos/by/aiko/"' in text
    assert "aiko's albums" in text


def test_every_photos_page_is_well_formed_empty_and_with_errors(
    aiko, client, django_capture_on_commit_callbacks
):
    from tests.test_markup import check

    album = Album.objects.create(owner=aiko, title="Trip")
    (photo,) = add(aiko, album, 1, django_capture_on_commit_callbacks, caption="C")
    a, p = album.pk, photo.pk
    pages = [
        ("get", "/photos/albums/new/", None),
        ("post", "/photos/albums/new/", {"title": ""}),
        ("get", f"/photos/albums/{a}/", None),
        ("get", f"/photos/albums/{a}/edit/", None),
        ("post", f"/photos/albums/{a}/edit/", {"title": "", "audience": "x"}),
        ("get", f"/photos/albums/{a}/delete/", None),
        ("get", f"/photos/albums/{a}/add/", None),
        ("post", f"/photos/albums/{a}/add/", {"photos": [upload("a.txt", b"x")]}),
        ("get", f"/photos/{p}/", None),
        ("get", f"/photos/{p}/edit/", None),
        ("post", f"/photos/{p}/edit/", {"caption": "x" * 201}),
        ("get", f"/photos/{p}/delete/", None),
        ("get", "/photos/by/aiko/", None),
    ]
    for method, url, data in pages:
        response = getattr(client, method)(url, data)
        assert response.status_code == 200, url
        assert check(response.text).faults == [], url


def test_the_upload_page_says_what_one_upload_can_carry(aiko, client, settings):
    album = Album.objects.create(owner=aiko, title="Trip")
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 4
    settings.REQUEST_MAX_BYTES = 11 * 2**20
    assert "Up to 4 photos at a time, 11 MB in all." in (
        client.get(f"/photos/albums/{album.pk}/add/").text
    )
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 100
    assert "Up to 20 photos at a time" in (
        client.get(f"/photos/albums/{album.pk}/add/").text
    )
