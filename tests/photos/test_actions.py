"""photos.actions: limits, all or nothing, and files that follow their rows
(written when the rows commit, removed when they are deleted)."""

import pytest
from django.db import transaction

from accounts.audience import Audience
from diary.models import Entry
from photos import actions
from photos.models import Album, Photo
from tests.photos.conftest import media_files
from tests.photos.files import jpeg, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def album(aiko):
    return Album.objects.create(owner=aiko, title="Trip")


@pytest.fixture
def entry(aiko):
    return Entry.objects.create(author=aiko, title="Today", body="Sunny")


def jpegs(count: int) -> list:
    return [upload(f"{n}.jpg", jpeg((16, 16))) for n in range(count)]


def test_photos_are_added_to_an_album_and_written_on_commit(
    aiko, album, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        photos = actions.add_photos(aiko, jpegs(2), album=album, caption=" Hi ")
        # Rows first; no file until the transaction commits.
        assert media_files() == set()
    for callback in callbacks:
        callback()

    assert [p.album_id for p in photos] == [album.pk, album.pk]
    assert {p.caption for p in photos} == {"Hi"}
    assert len(media_files()) == 4


def test_a_diary_entry_takes_at_most_three_photos(
    aiko, entry, django_capture_on_commit_callbacks
):
    with pytest.raises(actions.ActionRefused, match="at most 3 photos"):
        actions.add_photos(aiko, jpegs(4), entry=entry)
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_photos(aiko, jpegs(2), entry=entry)
    with pytest.raises(actions.ActionRefused, match="at most 3 photos"):
        actions.add_photos(aiko, jpegs(2), entry=entry)
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_photos(aiko, jpegs(1), entry=entry)

    assert entry.photos.count() == 3
    assert len(media_files()) == 6


def test_an_album_upload_takes_at_most_twenty_files(aiko, album):
    with pytest.raises(actions.ActionRefused, match="at most 20 photos at a time"):
        actions.add_photos(aiko, jpegs(21), album=album)
    assert not Photo.objects.exists()


def test_photos_go_only_into_the_uploaders_own_album_or_entry(aiko, ben, album, entry):
    with pytest.raises(actions.ActionRefused):
        actions.add_photos(ben, jpegs(1), album=album)
    with pytest.raises(actions.ActionRefused):
        actions.add_photos(ben, jpegs(1), entry=entry)
    assert not Photo.objects.exists()


def test_nothing_at_all_is_refused(aiko, album):
    with pytest.raises(actions.ActionRefused, match="at least one photo"):
        actions.add_photos(aiko, [], album=album)


def test_an_image_refusal_is_an_action_refusal_naming_the_file(aiko, album):
    with pytest.raises(actions.ImageRejected, match="“notes.txt”") as refused:
        actions.add_photos(aiko, [upload("notes.txt", b"hi")], album=album)
    assert isinstance(refused.value, actions.ActionRefused)


def test_a_callers_rolled_back_transaction_leaves_no_file_and_no_row(
    aiko, entry, django_capture_on_commit_callbacks
):
    # The diary form saves an entry and its photos together; when something
    # after add_photos fails, neither rows nor files stay.
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        actions.add_photos(aiko, jpegs(2), entry=entry)
        raise RuntimeError("the entry could not be saved")

    assert callbacks == []
    assert not Photo.objects.exists()
    assert media_files() == set()


def test_files_that_cannot_be_written_take_their_rows_with_them(
    aiko, album, django_capture_on_commit_callbacks, monkeypatch
):
    from django.core.files.storage import default_storage

    real_save = default_storage.save
    saved = []

    def failing_save(name, content, **kwargs):
        if len(saved) == 3:
            raise OSError("disk full")
        saved.append(name)
        return real_save(name, content, **kwargs)

    monkeypatch.setattr(default_storage, "save", failing_save)
    with (
        pytest.raises(OSError, match="disk full"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        actions.add_photos(aiko, jpegs(2), album=album)

    assert not Photo.objects.exists()
    assert media_files() == set()


def test_deleting_a_photo_removes_its_files_after_commit(
    aiko, album, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        kept, gone = actions.add_photos(aiko, jpegs(2), album=album)
    with django_capture_on_commit_callbacks(execute=True):
        actions.delete_photo(member=aiko, photo=gone)

    assert media_files() == {kept.thumbnail.name, kept.display.name}


def test_a_deletion_rolled_back_keeps_the_files(
    aiko, album, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        (photo,) = actions.add_photos(aiko, jpegs(1), album=album)
    photo_id = photo.pk
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        actions.delete_photo(member=aiko, photo=photo)
        raise RuntimeError

    assert Photo.objects.filter(pk=photo_id).exists()
    assert len(media_files()) == 2


@pytest.mark.parametrize("deleted", ["album", "entry", "owner"])
def test_photos_deleted_by_cascade_lose_their_files(
    aiko, album, entry, deleted, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_photos(aiko, jpegs(2), album=album)
        actions.add_photos(aiko, jpegs(1), entry=entry)
    assert len(media_files()) == 6

    with django_capture_on_commit_callbacks(execute=True):
        if deleted == "album":
            actions.delete_album(member=aiko, album=album)
        else:
            {"entry": entry, "owner": aiko}[deleted].delete()

    left = {"album": 2, "entry": 4, "owner": 0}[deleted]
    assert len(media_files()) == left
    assert Photo.objects.count() == left // 2


def test_only_the_owner_changes_or_deletes(
    aiko, ben, album, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        (photo,) = actions.add_photos(aiko, jpegs(1), album=album)
    with pytest.raises(actions.ActionRefused):
        actions.update_album(
            member=ben, album=album, title="Mine", audience=Audience.MEMBERS
        )
    with pytest.raises(actions.ActionRefused):
        actions.delete_album(member=ben, album=album)
    with pytest.raises(actions.ActionRefused):
        actions.update_caption(member=ben, photo=photo, caption="Mine")
    with pytest.raises(actions.ActionRefused):
        actions.delete_photo(member=ben, photo=photo)
    album.refresh_from_db()
    assert album.title == "Trip"
    assert Photo.objects.filter(pk=photo.pk).exists()


def test_album_needs_a_title_and_a_known_audience(aiko):
    with pytest.raises(actions.ActionRefused):
        actions.create_album(owner=aiko, title="  ", audience=Audience.FRIENDS)
    with pytest.raises(actions.ActionRefused):
        actions.create_album(owner=aiko, title="Trip", audience="everyone")
    assert not Album.objects.exists()


def test_room_is_checked_again_once_the_files_are_decoded(
    aiko, entry, django_capture_on_commit_callbacks, monkeypatch
):
    # Another upload to the same entry finished while this one was decoding:
    # the second look, under the entry's row lock, sees it.
    from photos import images

    real = images.process_photo
    calls = []

    def slow_decode(file):
        if not calls:
            calls.append(file)
            with django_capture_on_commit_callbacks(execute=True):
                actions.add_photos(aiko, jpegs(2), entry=entry)
        return real(file)

    monkeypatch.setattr(actions, "process_photo", slow_decode)
    with pytest.raises(actions.ActionRefused, match="at most 3 photos"):
        actions.add_photos(aiko, jpegs(2), entry=entry)

    assert entry.photos.count() == 2
    assert len(media_files()) == 4


def test_a_caption_too_long_is_refused(aiko, album):
    with pytest.raises(actions.ActionRefused, match="caption is too long"):
        actions.add_photos(aiko, jpegs(1), album=album, caption="x" * 201)
    assert not Photo.objects.exists()
