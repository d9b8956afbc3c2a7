"""Who sees which album and photo, through every view: the expectations are a
table (audience -> viewers who see), checked for each page and file URL, for
albums and for photos attached to diary entries. Anything not to be seen
answers exactly as an id that does not exist; anonymous visitors are sent to
the login and get no bytes."""

import pytest
from django.test import Client

from accounts.audience import Audience
from diary.models import Entry
from photos import actions
from photos.models import Album, Photo
from tests.conftest import client_for
from tests.photos.conftest import VIEWERS
from tests.photos.files import jpeg, upload

pytestmark = pytest.mark.django_db

SEES = {
    Audience.MEMBERS: {"owner", "friend", "fof", "other"},
    Audience.FRIENDS_OF_FRIENDS: {"owner", "friend", "fof"},
    Audience.FRIENDS: {"owner", "friend"},
    Audience.ONLY_ME: {"owner"},
}
# Pages of one album or photo anyone allowed may see, and its files.
ALBUM_PAGES = ["/photos/albums/{album}/"]
PHOTO_PAGES = ["/photos/{photo}/", "/photos/{photo}/thumb/", "/photos/{photo}/display/"]
# Pages only the owner may open (GET), whatever the audience.
OWNER_ALBUM_PAGES = [
    "/photos/albums/{album}/edit/",
    "/photos/albums/{album}/delete/",
    "/photos/albums/{album}/add/",
]
OWNER_PHOTO_PAGES = ["/photos/{photo}/edit/", "/photos/{photo}/delete/"]
MISSING = 999_999


def album_with_photo(owner, audience, capture) -> tuple[Album, Photo]:
    album = Album.objects.create(
        owner=owner, title=f"Album {audience}", audience=audience
    )
    with capture(execute=True):
        (photo,) = actions.add_photos(
            owner, [upload("p.jpg", jpeg())], album=album, caption=f"Cap {audience}"
        )
    return album, photo


def entry_with_photo(owner, audience, capture) -> tuple[Entry, Photo]:
    entry = Entry.objects.create(
        author=owner, title=f"Entry {audience}", body="b", audience=audience
    )
    with capture(execute=True):
        (photo,) = actions.add_photos(owner, [upload("p.jpg", jpeg())], entry=entry)
    return entry, photo


def not_found_body(client, template: str) -> bytes:
    response = client.get(template.format(album=MISSING, photo=MISSING))
    assert response.status_code == 404
    return response.content


def assert_seen_as_the_audience_says(client, viewer, audience, url, template):
    response = client.get(url)
    if viewer in SEES[audience]:
        assert response.status_code == 200, (viewer, audience, url)
        if url.endswith(("/thumb/", "/display/")):
            assert response["Content-Type"] == "image/jpeg"
            assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    else:
        assert response.status_code == 404, (viewer, audience, url)
        assert response.content == not_found_body(client, template), url


@pytest.mark.parametrize("audience", list(SEES))
def test_album_pages_and_photo_files_follow_the_albums_audience(
    people, audience, django_capture_on_commit_callbacks
):
    album, photo = album_with_photo(
        people["owner"], audience, django_capture_on_commit_callbacks
    )
    for viewer in VIEWERS:
        client = client_for(people[viewer])
        for template in ALBUM_PAGES + PHOTO_PAGES:
            url = template.format(album=album.pk, photo=photo.pk)
            assert_seen_as_the_audience_says(client, viewer, audience, url, template)


@pytest.mark.parametrize("audience", list(SEES))
def test_photos_of_a_diary_entry_follow_the_entrys_audience(
    people, audience, django_capture_on_commit_callbacks
):
    _entry, photo = entry_with_photo(
        people["owner"], audience, django_capture_on_commit_callbacks
    )
    for viewer in VIEWERS:
        client = client_for(people[viewer])
        for template in PHOTO_PAGES:
            url = template.format(photo=photo.pk)
            assert_seen_as_the_audience_says(client, viewer, audience, url, template)


@pytest.mark.parametrize("audience", list(SEES))
def test_a_members_album_list_shows_the_albums_the_viewer_may_see(
    people, audience, django_capture_on_commit_callbacks
):
    album, photo = album_with_photo(
        people["owner"], audience, django_capture_on_commit_callbacks
    )
    for viewer in VIEWERS:
        response = client_for(people[viewer]).get("/photos/by/owner/")
        if viewer in ("blocked", "blocker"):
            # As for a nickname that does not exist.
            assert response.status_code == 404
            continue
        assert response.status_code == 200
        listed = album.get_absolute_url() in response.text
        cover = f"/photos/{photo.pk}/thumb/" in response.text
        assert listed == cover == (viewer in SEES[audience]), (viewer, audience)


def test_narrowing_an_albums_audience_stops_the_next_look(
    people, django_capture_on_commit_callbacks
):
    album, photo = album_with_photo(
        people["owner"], Audience.MEMBERS, django_capture_on_commit_callbacks
    )
    other = client_for(people["other"])
    assert other.get(f"/photos/{photo.pk}/display/").status_code == 200

    actions.update_album(
        member=people["owner"], album=album, title=album.title, audience="friends"
    )

    assert other.get(f"/photos/{photo.pk}/display/").status_code == 404
    assert other.get(f"/photos/albums/{album.pk}/").status_code == 404


def test_a_block_stops_the_next_look_at_a_file(
    people, django_capture_on_commit_callbacks
):
    from accounts.models import Block

    _album, photo = album_with_photo(
        people["owner"], Audience.MEMBERS, django_capture_on_commit_callbacks
    )
    other = client_for(people["other"])
    assert other.get(f"/photos/{photo.pk}/thumb/").status_code == 200

    Block.objects.create(blocker=people["other"], blocked=people["owner"])

    assert other.get(f"/photos/{photo.pk}/thumb/").status_code == 404


@pytest.mark.parametrize("audience", [Audience.MEMBERS, Audience.ONLY_ME])
def test_anonymous_visitors_are_sent_to_the_login_and_get_no_bytes(
    people, audience, django_capture_on_commit_callbacks
):
    album, photo = album_with_photo(
        people["owner"], audience, django_capture_on_commit_callbacks
    )
    client = Client()
    urls = [
        t.format(album=album.pk, photo=photo.pk)
        for t in ALBUM_PAGES + PHOTO_PAGES + OWNER_ALBUM_PAGES + OWNER_PHOTO_PAGES
    ] + ["/photos/by/owner/", "/photos/albums/new/"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url
        assert b"\xff\xd8" not in response.content


@pytest.mark.parametrize("audience", [Audience.MEMBERS, Audience.FRIENDS])
def test_only_the_owner_may_open_the_pages_that_change_an_album_or_photo(
    people, audience, django_capture_on_commit_callbacks
):
    album, photo = album_with_photo(
        people["owner"], audience, django_capture_on_commit_callbacks
    )
    _entry, entry_photo = entry_with_photo(
        people["owner"], audience, django_capture_on_commit_callbacks
    )
    for viewer in VIEWERS:
        client = client_for(people[viewer])
        for template in OWNER_ALBUM_PAGES + OWNER_PHOTO_PAGES:
            for target in (photo, entry_photo):
                if "album" in template and target is entry_photo:
                    continue
                url = template.format(album=album.pk, photo=target.pk)
                expected = 200 if viewer == "owner" else 404
                assert client.get(url).status_code == expected, (viewer, url)
                if viewer != "owner":
                    assert client.get(url).content == not_found_body(client, template)


def test_no_one_but_the_owner_changes_anything_by_posting(
    people, django_capture_on_commit_callbacks
):
    album, photo = album_with_photo(
        people["owner"], Audience.MEMBERS, django_capture_on_commit_callbacks
    )
    posts = [
        (f"/photos/albums/{album.pk}/edit/", {"title": "Hacked", "audience": "me"}),
        (f"/photos/albums/{album.pk}/add/", {"photos": [upload("x.jpg", jpeg())]}),
        (f"/photos/{photo.pk}/edit/", {"caption": "Hacked"}),
        (f"/photos/{photo.pk}/delete/", {}),
        (f"/photos/albums/{album.pk}/delete/", {}),
    ]
    for viewer in VIEWERS:
        if viewer == "owner":
            continue
        client = client_for(people[viewer])
        for url, data in posts:
            assert client.post(url, data).status_code == 404, (viewer, url)

    album.refresh_from_db()
    photo.refresh_from_db()
    assert (album.title, album.audience, photo.caption) == (
        "Album members",
        "members",
        "Cap members",
    )
    assert Photo.objects.count() == 1
