"""Uploads through the album page: what is stored is re-encoded, upright and
stripped; what is refused says why, names the file and leaves nothing behind
(no file under MEDIA_ROOT, no row)."""

import io

import pytest
from django.conf import settings
from PIL import Image

from accounts.audience import Audience
from photos.images import HEAD_BYTES
from photos.models import Album, Photo
from tests.accounts.image_files import gradient, png_of_huge_dimensions
from tests.conftest import client_for
from tests.photos.conftest import media_files
from tests.photos.files import (
    COMMENT,
    SVG,
    camera_jpeg,
    encoded,
    iphone_heic,
    jpeg,
    noise,
    opened,
    png,
    png_html_polyglot_after_end,
    png_html_polyglot_in_head,
    upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def album(aiko):
    return Album.objects.create(owner=aiko, title="Trip", audience=Audience.FRIENDS)


@pytest.fixture
def send(aiko, album, django_capture_on_commit_callbacks):
    """Post files to the album's upload form as aiko; files are written when
    the transaction commits, as in production."""
    client = client_for(aiko)

    def send(*files, caption=""):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/photos/albums/{album.pk}/add/",
                {"photos": list(files), "caption": caption},
            )

    return send


def stored(photo: Photo, size: str) -> bytes:
    with photo.file(size).open("rb") as f:
        return f.read()


def assert_no_metadata(data: bytes) -> None:
    image = opened(data)
    assert image.format == "JPEG"
    assert not image.getexif(), dict(image.getexif())
    for key in ("exif", "xmp", "icc_profile", "comment"):
        assert key not in image.info, key
    for marker in (b"Exif\x00", b"EnishiCam", b"ns.adobe.com/xap", b"ICC_PROFILE"):
        assert marker not in data, marker
    assert COMMENT not in data
    assert b"35,39" not in data


# --- What is stored ---------------------------------------------------------------


def test_sideways_jpeg_with_gps_comes_back_upright_with_no_metadata_in_both_sizes(
    send, album
):
    # 400 x 200 as stored, red on the left; orientation 6 means "turn it a
    # quarter clockwise to view": upright it is 200 x 400 with red on top.
    response = send(upload("IMG_0001.JPG", camera_jpeg((400, 200), orientation=6)))

    assert response.status_code == 302
    photo = Photo.objects.get(album=album)
    assert (photo.width, photo.height) == (200, 400)
    for size in ("thumb", "display"):
        data = stored(photo, size)
        assert_no_metadata(data)
        image = opened(data).convert("RGB")
        assert image.width < image.height
        top = image.getpixel((image.width // 2, image.height // 8))
        bottom = image.getpixel((image.width // 2, image.height * 7 // 8))
        assert top[0] > 200 and top[2] < 60, top  # red
        assert bottom[2] > 200 and bottom[0] < 60, bottom  # blue


def test_iphone_heic_is_accepted_and_stored_as_jpeg_without_its_exif(send, album):
    # An iPhone's 12-megapixel photo, with its camera and place in EXIF.
    response = send(upload("IMG_0002.HEIC", iphone_heic((4032, 3024))))

    assert response.status_code == 302
    photo = Photo.objects.get(album=album)
    assert (photo.width, photo.height) == (1280, 960)
    assert opened(stored(photo, "thumb")).size == (320, 240)
    assert_no_metadata(stored(photo, "display"))
    assert_no_metadata(stored(photo, "thumb"))


def test_heic_sent_as_octet_stream_is_accepted(send, album):
    # Browsers that do not know HEIC send it untyped; the content decides.
    send(upload("IMG_0003.heic", iphone_heic(), "application/octet-stream"))
    assert Photo.objects.filter(album=album).count() == 1


@pytest.mark.parametrize(
    ("name", "fmt", "options"),
    [
        ("a.png", "PNG", {}),
        ("a.webp", "WEBP", {}),
        ("a.jpeg", "JPEG", {}),
    ],
)
def test_other_formats_are_stored_as_jpeg(send, album, name, fmt, options):
    image = Image.new("RGB", (500, 250), (10, 200, 30))
    send(upload(name, encoded(image, fmt, **options)))

    photo = Photo.objects.get(album=album)
    for size in ("thumb", "display"):
        assert opened(stored(photo, size)).format == "JPEG"


def test_phone_jpeg_with_more_images_after_the_first_is_a_jpeg(send, album):
    # MPF: depth or gain maps, previews. Pillow calls it MPO.
    first = Image.new("RGB", (300, 200), (255, 0, 0))
    out = io.BytesIO()
    first.save(
        out,
        format="MPO",
        save_all=True,
        append_images=[Image.new("RGB", (150, 100), (0, 0, 255))],
    )
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"

    send(upload("IMG_0005.JPG", out.getvalue()))

    image = opened(stored(Photo.objects.get(album=album), "display")).convert("RGB")
    assert image.size == (300, 200)
    red, _green, blue = image.getpixel((150, 100))
    assert red > 200 and blue < 60


def test_animated_gif_keeps_its_first_frame(send, album):
    frames = [Image.new("RGB", (100, 100), c) for c in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])

    send(upload("anim.gif", out.getvalue()))

    image = opened(stored(Photo.objects.get(album=album), "display")).convert("RGB")
    red, _green, blue = image.getpixel((50, 50))
    assert red > 200 and blue < 60


def test_large_photo_gets_a_1280_display_and_a_320_thumbnail(send, album):
    send(upload("big.jpg", jpeg((3000, 2000))))

    photo = Photo.objects.get(album=album)
    assert opened(stored(photo, "display")).size == (1280, 853)
    assert opened(stored(photo, "thumb")).size == (320, 213)
    assert (photo.thumb_width, photo.thumb_height) == (320, 213)


def test_small_photo_is_never_enlarged(send, album):
    send(upload("small.png", png((200, 100))))

    photo = Photo.objects.get(album=album)
    assert opened(stored(photo, "display")).size == (200, 100)
    assert opened(stored(photo, "thumb")).size == (200, 100)


def test_a_panorama_longer_than_an_avatar_may_be_is_accepted(send, album):
    send(upload("pano.png", png_of_huge_dimensions(20_000, 2_000)))

    photo = Photo.objects.get(album=album)
    assert opened(stored(photo, "display")).size == (1280, 128)


def test_files_are_stored_under_random_names_in_media_photos(send, album):
    before = media_files()
    send(upload("a.jpg", jpeg()), upload("b.jpg", jpeg()), caption="Beach")

    new = media_files() - before
    assert len(new) == 4
    photos = Photo.objects.filter(album=album)
    assert {p.caption for p in photos} == {"Beach"}
    names = {p.thumbnail.name for p in photos} | {p.display.name for p in photos}
    assert names == new
    for name in names:
        assert name.startswith("photos/") and name.endswith(".jpg")
        token = name.removeprefix("photos/").removesuffix(".jpg")
        assert len(token) >= 24  # 144 random bits, URL-safe


# --- What is refused ----------------------------------------------------------


REFUSED = {
    "renamed text file": (
        upload("holiday.jpg", b"These are my notes, not a photo.\n" * 20),
        "not an image we can read",
    ),
    "text file": (
        upload("notes.txt", b"These are my notes.\n"),
        "Upload a JPEG, PNG, GIF, WebP or HEIC image.",
    ),
    "SVG": (upload("drawing.svg", SVG), "Upload a JPEG, PNG, GIF, WebP or HEIC image."),
    "SVG named as a PNG": (
        upload("drawing.png", SVG),
        "This file is not only an image.",
    ),
    "PNG with a page after its end": (
        upload("cat.png", png_html_polyglot_after_end()),
        "This file is not only an image.",
    ),
    "PNG with a page in its head": (
        upload("cat.png", png_html_polyglot_in_head()),
        "This file is not only an image.",
    ),
    "zero bytes": (upload("empty.jpg", b""), "The file is empty."),
    "PNG named as a JPEG": (
        upload("cat.jpg", png()),
        "Its name says JPEG but it is a PNG image.",
    ),
    "type that contradicts the name": (
        upload("cat.png", png(), "image/jpeg"),
        "Its name and its type say different things.",
    ),
    "over 40 megapixels": (
        upload("wide.png", png_of_huge_dimensions(8000, 6000)),
        "This image has too many pixels (at most 40 million).",
    ),
    "a strip longer than a side may be": (
        upload("strip.png", png_of_huge_dimensions(20_001, 10)),
        "This image is too large (at most 20000 pixels on a side).",
    ),
    "decompression bomb": (
        upload("bomb.png", png_of_huge_dimensions(20_000, 20_000)),
        "This image has too many pixels (at most 40 million).",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_file_says_why_names_the_file_and_leaves_nothing(send, album, case):
    file, reason = REFUSED[case]
    before = media_files()

    response = send(file)

    assert response.status_code == 200
    assert f"“{file.name}”" in response.text
    assert reason in response.text
    assert not Photo.objects.exists()
    assert media_files() == before


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("big.png", encoded(noise(), "PNG")),
        ("anim.gif", encoded(gradient((300, 300)), "GIF")),
        ("a.webp", encoded(noise(), "WEBP")),
        ("IMG.HEIC", iphone_heic()),
    ],
)
def test_bytes_after_the_end_of_a_png_gif_webp_or_heic_are_refused(
    send, album, name, data
):
    # Past the head a browser sniffs: only the format's own end tells. A page
    # or a ZIP archive after the picture makes the file something else too.
    assert len(data) > HEAD_BYTES
    for tail in (b"<html><script>alert(1)</script></html>", b"PK\x03\x04" + b"\0" * 40):
        response = send(upload(name, data + tail))
        assert "This file is not only an image." in response.text
    assert not Photo.objects.exists()
    assert media_files() == set()

    send(upload(name, data))
    assert Photo.objects.count() == 1


def test_file_over_10_mb_is_refused_and_leaves_nothing(send, album):
    # A real JPEG, made past the limit with a trailer of bytes after it.
    big = jpeg((100, 100)) + b"\x00" * (settings.PHOTOS_MAX_BYTES + 1)
    before = media_files()

    response = send(upload("huge.jpg", big))

    assert "“huge.jpg”" in response.text
    assert "This file is too large (at most 10 MB)." in response.text
    assert not Photo.objects.exists()
    assert media_files() == before


def test_a_file_the_upload_handler_cut_off_is_too_large_whatever_the_photo_limit(
    send, settings
):
    # project/uploads.py keeps no byte past AVATAR_MAX_BYTES: a higher photo
    # limit cannot let through a file it emptied.
    settings.AVATAR_MAX_BYTES = 1024 * 1024
    settings.PHOTOS_MAX_BYTES = 50 * 1024 * 1024
    big = jpeg((100, 100)) + b"\x00" * (2 * 1024 * 1024)

    response = send(upload("huge.jpg", big))

    assert "This file is too large (at most 1 MB)." in response.text
    assert not Photo.objects.exists()


def test_one_refused_file_stores_none_of_the_others(send, album):
    before = media_files()

    response = send(
        upload("a.jpg", jpeg()),
        upload("b.txt", b"hello"),
        upload("c.jpg", jpeg()),
    )

    assert "“b.txt”" in response.text
    assert not Photo.objects.exists()
    assert media_files() == before


def test_jpeg_may_carry_data_after_its_picture(send, album):
    # Phones append MPF images or a motion-photo video after the JPEG's end;
    # re-encoding drops it, so it is no reason to refuse the photo.
    send(upload("motion.jpg", jpeg() + b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 500))
    assert Photo.objects.filter(album=album).count() == 1


def test_the_form_keeps_the_caption_typed_when_a_file_is_refused(send):
    response = send(upload("notes.txt", b"hi"), caption="Our summer")
    assert 'value="Our summer"' in response.text


def test_no_file_at_all_is_a_form_error(aiko, album):
    response = client_for(aiko).post(f"/photos/albums/{album.pk}/add/", {})
    assert response.status_code == 200
    assert "Choose at least one photo." in response.text


def test_more_than_twenty_files_at_once_are_refused(send, album, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 30
    before = media_files()

    response = send(*[upload(f"{n}.jpg", jpeg((8, 8))) for n in range(21)])

    assert "Add at most 20 photos at a time." in response.text
    assert not Photo.objects.exists()
    assert media_files() == before
