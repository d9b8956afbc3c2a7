"""Photos in topics: up to four photos sent with a message.

They go through the diary photos' pipeline (photos/images.py: re-encoded, no
metadata, a display size and a thumbnail), are saved with their message in one
transaction and arrive live with it in one frame; a refused file refuses the
whole send and nothing is stored; a resend stores nothing twice. Their files
are served (chat/photo_views.py) only to a member who may see the message now,
and go when the message is deleted or its row goes.
"""

import io
import re
import uuid

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from accounts.models import Block
from chat import actions
from chat.models import Message, MessagePhoto
from communities.models import Membership
from project import ratelimit
from tests.chat.conftest import (
    HTMX,
    NOTHING_TIMEOUT,
    RECEIVE_TIMEOUT,
    alogin,
    asend,
    refused,
    send,
    set_status,
)
from tests.factories import MessageFactory, TopicFactory
from tests.photos.conftest import media_files
from tests.photos.files import (
    COMMENT,
    GPS_IFD,
    camera_jpeg,
    jpeg,
    png,
    png_html_polyglot_after_end,
    upload,
)

pytestmark = pytest.mark.django_db(transaction=True)

THUMB_SRC = re.compile(r'<img src="/messages/photos/(\d+)/thumb/" width="(\d+)"')


@pytest.fixture
async def watcher(other_member, other_membership, topic, open_socket):
    """ben, a member with the topic open in a tab."""
    return await open_socket(other_member, topic)


def photos(n: int, *, size=(64, 48)) -> list:
    return [
        upload(f"photo-{i}.jpg", jpeg(size=size, color=(i * 40, 100, 50)))
        for i in range(n)
    ]


def stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as f:
        return f.read()


def photo_url(photo, size="thumb") -> str:
    return reverse("chat:message-photo", kwargs={"photo_id": photo.pk, "size": size})


# --- Sending ------------------------------------------------------------------------


def test_photos_are_stored_re_encoded_without_metadata_with_a_thumbnail(
    member_client, membership, topic
):
    sent = [
        upload("IMG_0001.jpg", camera_jpeg(size=(2000, 1000))),
        upload("screen.png", png(size=(300, 200))),
    ]

    response = send(member_client, topic, "Look at this", photos=sent)

    assert response.status_code == 201
    message = Message.objects.get()
    assert message.body == "Look at this"
    rows = list(message.photos.all())
    assert [row.position for row in rows] == [1, 2]
    first = rows[0]
    display = stored(first.display.name)
    thumbnail = stored(first.thumbnail.name)
    shown = Image.open(io.BytesIO(display))
    # Turned upright by its EXIF orientation (6), and fitted to the display size.
    assert shown.format == "JPEG"
    assert (first.width, first.height) == shown.size == (640, 1280)
    # Nothing of the camera's: no EXIF, GPS, XMP, ICC profile or comment.
    assert not shown.getexif()
    assert not shown.getexif().get_ifd(GPS_IFD)
    assert "xmp" not in shown.info and "icc_profile" not in shown.info
    assert COMMENT not in display and b"EnishiCam" not in display
    small = Image.open(io.BytesIO(thumbnail))
    assert max(small.size) == settings.PHOTOS_THUMBNAIL_SIZE
    assert small.size == (first.thumb_width, first.thumb_height)
    assert media_files() == {
        name for row in rows for name in (row.display.name, row.thumbnail.name)
    }
    # The answer shows them, sized.
    html = response.content.decode()
    assert THUMB_SRC.findall(html) == [
        (str(rows[0].pk), str(rows[0].thumb_width)),
        (str(rows[1].pk), str(rows[1].thumb_width)),
    ]
    assert f'height="{first.thumb_height}"' in html
    assert "Photo 1 of 2 from aiko" in html
    assert f'href="{photo_url(first, "display")}"' in html


def test_photos_without_text_make_a_message(member_client, membership, topic):
    response = send(member_client, topic, "  ", photos=photos(1))

    assert response.status_code == 201
    message = Message.objects.get()
    assert message.body == "" and message.photos.count() == 1


def test_no_text_and_no_photos_is_still_refused(member_client, membership, topic):
    assert refused(send(member_client, topic, "")) == (400, "Write a message first.")


async def test_five_photos_are_refused_and_nothing_is_saved_nor_sent(
    member, membership, topic, watcher
):
    client = await alogin(member)

    response = await asend(client, topic, "five", photos=photos(5))

    assert refused(response) == (
        400,
        "A message has at most 4 photos (this one has 5).",
    )
    assert await database_sync_to_async(Message.objects.count)() == 0
    assert await database_sync_to_async(MessagePhoto.objects.count)() == 0
    assert media_files() == set()
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)


def test_four_photos_are_accepted(member_client, membership, topic):
    assert send(member_client, topic, "four", photos=photos(4)).status_code == 201
    assert MessagePhoto.objects.count() == 4


@pytest.mark.parametrize(
    "bad, reason",
    [
        (
            lambda: upload("notes.jpg", b"just some text, not a photo at all"),
            "“notes.jpg”: ",
        ),
        (lambda: upload("page.png", png_html_polyglot_after_end()), "“page.png”: "),
        (lambda: upload("photo.svg", b"<svg></svg>", "image/svg+xml"), "“photo.svg”: "),
    ],
    ids=["text-named-jpg", "png-html-polyglot", "svg"],
)
async def test_a_bad_file_refuses_the_whole_send_with_the_pipelines_reason(
    member, membership, topic, watcher, bad, reason
):
    client = await alogin(member)

    response = await asend(client, topic, "with a bad one", photos=[*photos(2), bad()])

    status, text = refused(response)
    assert status == 400 and text.startswith(reason)
    assert await database_sync_to_async(Message.objects.count)() == 0
    assert await database_sync_to_async(MessagePhoto.objects.count)() == 0
    assert media_files() == set()
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)


def test_too_many_pixels_refuses_the_send(member_client, membership, topic, settings):
    settings.PHOTOS_MAX_PIXELS = 100 * 100

    response = send(
        member_client, topic, "huge", photos=[upload("big.png", png(size=(200, 200)))]
    )

    status, text = refused(response)
    assert status == 400 and text.startswith("“big.png”: ")
    assert Message.objects.count() == 0 and media_files() == set()


def test_a_refused_photo_gives_back_the_sends_budget(member_client, membership, topic):
    bad = upload("notes.jpg", b"not a photo")
    for _ in range(actions.RATE_LIMIT):
        refused(send(member_client, topic, "x", photos=[bad]))
        bad.seek(0)

    # The refusals cost the send budget nothing: a text message still goes.
    assert send(member_client, topic, "still fine").status_code == 201


def test_sends_with_photos_have_a_budget_of_their_own(
    member_client, membership, topic, monkeypatch
):
    monkeypatch.setattr(
        actions, "PHOTO_SENDS", ratelimit.Budget("t-chat-photos", limit=2, per=60)
    )
    for _ in range(2):
        assert send(member_client, topic, "p", photos=photos(1)).status_code == 201

    status, text = refused(send(member_client, topic, "p", photos=photos(1)))

    assert status == 429 and text.startswith("You are sending photos too fast.")
    assert MessagePhoto.objects.count() == 2
    # Text alone is not held back by it.
    assert send(member_client, topic, "words only").status_code == 201


async def test_a_resend_with_the_same_client_id_stores_nothing_twice(
    member, membership, topic, watcher
):
    client = await alogin(member)
    client_id = uuid.uuid4().hex

    first = await asend(client, topic, "twice", client_id=client_id, photos=photos(2))
    frame = await watcher.receive_from(timeout=RECEIVE_TIMEOUT)
    files_after_first = media_files()
    second = await asend(client, topic, "twice", client_id=client_id, photos=photos(2))

    assert (first.status_code, second.status_code) == (201, 200)
    assert await database_sync_to_async(Message.objects.count)() == 1
    assert await database_sync_to_async(MessagePhoto.objects.count)() == 2
    assert media_files() == files_after_first and len(files_after_first) == 4
    # The resend's answer is the same message with the same photos.
    assert THUMB_SRC.findall(second.content.decode()) == THUMB_SRC.findall(
        first.content.decode()
    )
    assert len(THUMB_SRC.findall(frame)) == 2
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)


async def test_the_message_arrives_live_with_its_photos_in_one_frame(
    member, membership, topic, watcher
):
    client = await alogin(member)

    response = await asend(client, topic, "live photos", photos=photos(3))

    assert response.status_code == 201
    frame = await watcher.receive_from(timeout=RECEIVE_TIMEOUT)
    rows = await database_sync_to_async(
        lambda: list(MessagePhoto.objects.order_by("position"))
    )()
    assert "live photos" in frame
    assert [pk for pk, _width in THUMB_SRC.findall(frame)] == [
        str(row.pk) for row in rows
    ]
    assert frame.count('class="msg-photos msg-photos-3"') == 1
    # One frame for the message and its photos, nothing after it.
    assert await watcher.receive_nothing(timeout=NOTHING_TIMEOUT)
    # The files were written before the frame went: a viewer can load them.
    for row in rows:
        assert default_storage.exists(row.thumbnail.name)


def test_a_file_that_cannot_be_written_takes_its_message_back(
    member_client, membership, topic, monkeypatch
):
    real_save = default_storage.save
    saved = []

    def failing_save(name, content, **kwargs):
        if saved:
            raise OSError("disk full")
        saved.append(name)
        return real_save(name, content, **kwargs)

    monkeypatch.setattr(default_storage, "save", failing_save)
    member_client.raise_request_exception = False

    response = send(member_client, topic, "unlucky", photos=photos(1))

    assert response.status_code == 500
    # No message without its photos, no file left behind: a retry sends anew.
    assert Message.objects.count() == 0 and MessagePhoto.objects.count() == 0
    assert media_files() == set()


def test_a_message_with_photos_may_be_edited_to_no_text(
    member_client, membership, topic
):
    send(member_client, topic, "caption", photos=photos(1))
    message = Message.objects.get()
    url = reverse("chat:message-edit", kwargs={"message_id": message.pk})

    response = member_client.post(url, {"body": ""}, **HTMX)

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.body == "" and message.edited_at is not None
    assert len(THUMB_SRC.findall(response.content.decode())) == 1
    # Without photos, a message keeps needing its text.
    send(member_client, topic, "words")
    words = Message.objects.get(body="words")
    url = reverse("chat:message-edit", kwargs={"message_id": words.pk})
    assert refused(member_client.post(url, {"body": ""}, **HTMX)) == (
        400,
        "Write a message first.",
    )


# --- Serving ------------------------------------------------------------------------


@pytest.fixture
def sent_photo(member_client, membership, topic):
    """aiko's message with one photo in the topic."""
    assert send(member_client, topic, "mine", photos=photos(1)).status_code == 201
    return MessagePhoto.objects.select_related("message").get()


def test_a_member_of_the_topic_gets_the_photo_privately(
    other_client, other_membership, sent_photo
):
    for size, name in (
        ("thumb", sent_photo.thumbnail),
        ("display", sent_photo.display),
    ):
        response = other_client.get(photo_url(sent_photo, size))

        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["Cache-Control"] == "private, no-cache"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert b"".join(response.streaming_content) == stored(name.name)


def _leave(viewer, membership, author):
    membership.delete()


def _ban(viewer, membership, author):
    set_status(membership, Membership.Status.BANNED)


def _blocked_by_author(viewer, membership, author):
    Block.objects.create(blocker=author, blocked=viewer)


def _blocks_author(viewer, membership, author):
    Block.objects.create(blocker=viewer, blocked=author)


def _message_deleted(viewer, membership, author):
    actions.delete_message(message=Message.objects.get(author=author))


@pytest.mark.parametrize(
    "change",
    [_leave, _ban, _blocked_by_author, _blocks_author, _message_deleted],
    ids=["non-member", "banned", "blocked-by-author", "blocks-author", "deleted"],
)
def test_anyone_who_may_not_see_the_message_gets_404_as_for_a_missing_id(
    other_member, other_client, other_membership, member, sent_photo, change
):
    assert other_client.get(photo_url(sent_photo)).status_code == 200
    missing = other_client.get(
        reverse("chat:message-photo", kwargs={"photo_id": 999999, "size": "thumb"})
    )

    change(other_member, other_membership, member)

    for size in ("thumb", "display"):
        response = other_client.get(photo_url(sent_photo, size))
        assert response.status_code == missing.status_code == 404
        assert response.content == missing.content


def test_a_member_of_another_community_gets_404(
    member_factory, sent_photo, community, join
):
    from tests.conftest import client_for
    from tests.factories import CommunityFactory

    stranger = member_factory(nickname="stranger")
    join(stranger, CommunityFactory())

    assert client_for(stranger).get(photo_url(sent_photo)).status_code == 404


def test_an_unknown_size_is_404(member_client, sent_photo):
    url = photo_url(sent_photo).replace("/thumb/", "/original/")
    assert member_client.get(url).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, sent_photo):
    response = client.get(photo_url(sent_photo))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- Deleting -----------------------------------------------------------------------


def test_deleting_a_message_removes_its_photos_and_their_files(
    member_client, sent_photo
):
    message = sent_photo.message
    assert len(media_files()) == 2

    response = member_client.post(
        reverse("chat:message-delete", kwargs={"message_id": message.pk}), **HTMX
    )

    assert response.status_code == 200
    assert MessagePhoto.objects.count() == 0
    assert media_files() == set()
    # The tombstone shows no photos.
    html = response.content.decode()
    assert "This message was deleted." in html and "msg-photos" not in html
    page = member_client.get(message.topic.get_absolute_url()).content.decode()
    assert "/messages/photos/" not in page


def test_a_message_row_going_takes_its_photos_files(sent_photo):
    sent_photo.message.topic.delete()

    assert MessagePhoto.objects.count() == 0
    assert media_files() == set()


# --- Showing ------------------------------------------------------------------------


def _topic_with_photo_messages(topic, author, count: int) -> None:
    for i in range(count):
        message = MessageFactory(topic=topic, author=author)
        MessagePhoto.objects.bulk_create(
            MessagePhoto(
                message=message,
                position=p,
                thumbnail=f"photos/t{i}-{p}.jpg",
                display=f"photos/d{i}-{p}.jpg",
                width=640,
                height=480,
            )
            for p in range(1, 1 + (i % 4) + 1)
        )


def _queries(client, url, **headers) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_topic_page_query_count_stays_flat_with_photos(
    member, member_client, membership, community, other_member, other_membership
):
    small = TopicFactory(community=community)
    large = TopicFactory(community=community)
    _topic_with_photo_messages(small, other_member, 5)
    _topic_with_photo_messages(large, other_member, 30)
    for topic in (small, large):
        member_client.get(topic.get_absolute_url())  # the read position first

    small_count, small_html = _queries(member_client, small.get_absolute_url())
    large_count, large_html = _queries(member_client, large.get_absolute_url())

    assert len(THUMB_SRC.findall(small_html)) == 1 + 2 + 3 + 4 + 1
    assert len(THUMB_SRC.findall(large_html)) == 7 * 10 + 1 + 2
    assert small_count == large_count


def test_catch_up_shows_the_photos_and_the_tombstone_none(
    member_client, other_client, other_membership, sent_photo, topic
):
    url = reverse("chat:message-list", kwargs={"topic_id": topic.pk}) + "?after=0"
    # Twice: rendered, then from the fragment cache.
    for _ in range(2):
        html = other_client.get(url, **HTMX).content.decode()
        assert [pk for pk, _w in THUMB_SRC.findall(html)] == [str(sent_photo.pk)]

    actions.delete_message(message=sent_photo.message)

    html = other_client.get(url, **HTMX).content.decode()
    assert "This message was deleted." in html
    assert "/messages/photos/" not in html


def test_the_composer_knows_the_servers_photo_limits(
    member_client, membership, topic, settings
):
    settings.PHOTOS_MAX_BYTES = 3 * 1024 * 1024
    settings.REQUEST_MAX_BYTES = 8 * 1024 * 1024

    html = member_client.get(topic.get_absolute_url()).content.decode()

    assert 'data-max="4"' in html
    assert f'data-max-bytes="{3 * 1024 * 1024}"' in html
    assert f'data-max-total="{8 * 1024 * 1024 - 64 * 1024}"' in html
    assert "A photo is at most 3 MB." in html
    assert "The photos of one message are at most 7 MB in all." in html


def test_a_reply_to_a_photo_without_text_quotes_it_as_a_photo(
    member_client, membership, topic
):
    send(member_client, topic, "", photos=photos(1))
    photo_message = Message.objects.get()

    response = member_client.post(
        reverse("chat:message-create", args=[topic.pk]),
        {
            "body": "Lovely!",
            "client_id": uuid.uuid4().hex,
            "reply_to": photo_message.pk,
        },
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 201
    quote = re.search(
        r'<a class="msg-quote"[^>]*>(.*?)</a>', response.content.decode(), re.S
    )
    assert (
        re.sub(r"\s+", " ", re.sub("<[^>]+>", "", quote.group(1))).strip()
        == "aiko Photo"
    )
