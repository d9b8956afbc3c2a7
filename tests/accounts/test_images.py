"""Avatar uploads: re-encoded, stripped of metadata, size- and pixel-capped."""

import io
import os
import warnings

import pillow_heif
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.images import ImageRejected, reencode_avatar
from accounts.models import Member
from tests.accounts.image_files import png_of_huge_dimensions

PROFILE_URL = "/settings/profile/"
GPS_IFD = 0x8825
EXIF_IFD = 0x8769


def jpeg_with_gps(size=(800, 600)) -> bytes:
    """A camera-like JPEG: maker, model and the place it was taken."""
    image = Image.new("RGB", size, (120, 160, 200))
    exif = Image.Exif()
    exif[0x010F] = "EnishiCam"  # Make
    exif[0x0110] = "Model-X100"  # Model
    exif[0x0132] = "2025:04:01 10:00:00"  # DateTime
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (35.0, 39.0, 40.5)  # GPSLatitude: Shimokitazawa
    gps[3] = "E"
    gps[4] = (139.0, 40.0, 5.25)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    data = out.getvalue()
    # The fixture itself must carry what the upload is supposed to lose.
    sent = Image.open(io.BytesIO(data)).getexif()
    assert sent[0x010F] == "EnishiCam"
    assert sent.get_ifd(GPS_IFD)[1] == "N"
    return data


def png_bytes(size, mode="RGB", color=(0, 128, 0)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format="PNG")
    return out.getvalue()


def image_bytes(fmt: str, size=(300, 200)) -> bytes:
    image = Image.new("RGB", size, (200, 100, 50))
    out = io.BytesIO()
    if fmt == "HEIF":
        # Encoded without registering pillow-heif's opener in this process: the
        # app must be able to read iPhone photos on its own.
        pillow_heif.from_pillow(image).save(out)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


def upload(client, data: bytes, name="photo.jpg", introduction="hello"):
    return client.post(
        PROFILE_URL,
        {
            "introduction": introduction,
            "avatar": SimpleUploadedFile(name, data, "image/jpeg"),
        },
    )


def stored_avatar(member: Member) -> Image.Image:
    member.refresh_from_db()
    assert member.avatar, "no avatar was stored"
    with member.avatar.open("rb") as f:
        data = f.read()
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def avatar_path(member: Member) -> str:
    member.refresh_from_db()
    return member.avatar.path


# --- What is stored ---------------------------------------------------------------


def test_uploaded_jpeg_is_stored_as_a_256_square_jpeg_without_exif_or_gps(
    member, member_client
):
    response = upload(member_client, jpeg_with_gps())

    assert response.status_code == 302
    image = stored_avatar(member)
    assert image.format == "JPEG"
    assert image.size == (256, 256)
    assert len(image.getexif()) == 0
    assert "exif" not in image.info
    with member.avatar.open("rb") as f:
        raw = f.read()
    assert b"EnishiCam" not in raw
    assert b"Exif" not in raw


def test_a_comment_in_the_uploaded_jpeg_is_not_kept(member, member_client):
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (0, 128, 0)).save(
        out, format="JPEG", comment=b"taken at home, 1-2-3 Kitazawa"
    )

    assert upload(member_client, out.getvalue()).status_code == 302

    assert "comment" not in stored_avatar(member).info
    with member.avatar.open("rb") as f:
        assert b"Kitazawa" not in f.read()


def test_served_avatar_is_the_stripped_one(member, member_client):
    upload(member_client, jpeg_with_gps())

    response = member_client.get("/members/aiko/avatar/")

    served = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert served.size == (256, 256)
    assert len(served.getexif()) == 0


def test_png_with_transparency_becomes_a_jpeg_on_white(member, member_client):
    response = upload(
        member_client,
        png_bytes((300, 300), mode="RGBA", color=(255, 0, 0, 0)),
        name="icon.png",
    )

    assert response.status_code == 302
    image = stored_avatar(member)
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert image.size == (256, 256)
    red, green, blue = image.getpixel((128, 128))
    assert min(red, green, blue) > 245  # transparent red is white, not red


def test_phone_jpeg_with_more_images_after_the_first_is_taken(member, member_client):
    # MPF (depth or gain maps, previews): Pillow opens it as "MPO".
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (255, 0, 0)).save(
        out,
        format="MPO",
        save_all=True,
        append_images=[Image.new("RGB", (150, 100), (0, 0, 255))],
    )

    assert upload(member_client, out.getvalue()).status_code == 302

    red, _green, blue = stored_avatar(member).convert("RGB").getpixel((128, 128))
    assert red > 200 and blue < 60


def test_half_transparent_png_keeps_its_opaque_part(member, member_client):
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (0, 0, 200, 100))  # opaque blue top half
    out = io.BytesIO()
    image.save(out, format="PNG")

    upload(member_client, out.getvalue(), name="half.png")

    stored = stored_avatar(member)
    top, bottom = stored.getpixel((128, 30)), stored.getpixel((128, 226))
    assert top[2] > 200 and top[0] < 50
    assert min(bottom) > 245


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP", "HEIF"])
def test_other_common_formats_are_reencoded_as_jpeg(member, member_client, fmt):
    response = upload(member_client, image_bytes(fmt), name=f"photo.{fmt.lower()}")

    assert response.status_code == 302
    image = stored_avatar(member)
    assert (image.format, image.size) == ("JPEG", (256, 256))


def test_photo_taken_sideways_is_turned_upright(member, member_client):
    # Stored 200x100 with red left and blue right; EXIF orientation 6 says the
    # camera was turned, so upright it is 100x200 with red on top.
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    image.paste((0, 0, 255), (100, 0, 200, 100))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)

    upload(member_client, out.getvalue())

    stored = stored_avatar(member)
    top, bottom = stored.getpixel((128, 20)), stored.getpixel((128, 236))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


# --- What is refused --------------------------------------------------------------


def test_text_file_named_jpg_is_refused_and_nothing_changes(member, member_client):
    upload(member_client, jpeg_with_gps(), introduction="before")
    old_path = avatar_path(member)

    response = upload(
        member_client, b"just some words, not a picture\n" * 20, introduction="after"
    )

    assert response.status_code == 200
    assert "This file is not an image we can read." in response.text
    member.refresh_from_db()
    assert member.introduction == "before"
    assert member.avatar.path == old_path
    assert os.path.exists(old_path)


def test_image_format_outside_the_list_is_refused(member, member_client):
    response = upload(member_client, image_bytes("BMP"), name="photo.bmp")

    assert "Upload a JPEG, PNG, GIF, WebP or HEIC image." in response.text
    member.refresh_from_db()
    assert not member.avatar


def test_truncated_jpeg_is_refused_as_damaged(member, member_client):
    data = jpeg_with_gps()

    response = upload(member_client, data[: len(data) // 2])

    assert "This image is damaged and cannot be read." in response.text
    member.refresh_from_db()
    assert not member.avatar


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_image_claiming_a_hundred_million_pixels_is_refused(member, member_client):
    bomb = png_of_huge_dimensions(10_000, 10_000)
    assert len(bomb) < 100_000
    assert Image.open(io.BytesIO(bomb)).size == (10_000, 10_000)

    response = upload(member_client, bomb, name="bomb.png")

    assert response.status_code == 200
    assert "This image has too many pixels" in response.text
    member.refresh_from_db()
    assert not member.avatar


def test_bomb_is_refused_when_pillows_warning_is_an_error_as_in_production(
    member, member_client
):
    # accounts/images.py turns DecompressionBombWarning into an error when it is
    # imported; pytest restores warning filters around each test, so put that
    # production state back explicitly.
    bomb = png_of_huge_dimensions(10_000, 10_000)

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        response = upload(member_client, bomb, name="bomb.png")

    assert response.status_code == 200
    assert "This image has too many pixels" in response.text
    member.refresh_from_db()
    assert not member.avatar


def test_image_far_beyond_pillows_own_limit_is_refused(member, member_client):
    bomb = png_of_huge_dimensions(20_000, 20_000)

    response = upload(member_client, bomb, name="bomb.png")

    assert response.status_code == 200
    assert "This image has too many pixels" in response.text
    member.refresh_from_db()
    assert not member.avatar


def test_image_over_the_pixel_limit_is_refused_and_one_at_it_is_accepted(
    member, member_client, settings
):
    settings.AVATAR_MAX_PIXELS = 1_000_000

    refused = upload(member_client, png_bytes((1001, 1000)), name="big.png")
    member.refresh_from_db()
    assert "This image has too many pixels (at most 1 million)." in refused.text
    assert not member.avatar

    accepted = upload(member_client, png_bytes((1000, 1000)), name="ok.png")
    assert accepted.status_code == 302
    assert stored_avatar(member).size == (256, 256)


def test_file_over_the_byte_limit_is_refused_and_nothing_changes(
    member, member_client, settings
):
    settings.AVATAR_MAX_BYTES = 1024 * 1024
    noise = Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG")
    assert len(out.getvalue()) > 1024 * 1024

    response = upload(member_client, out.getvalue(), name="noise.png")

    assert response.status_code == 200
    assert "This file is too large (at most 1 MB)." in response.text
    member.refresh_from_db()
    assert not member.avatar
    assert member.introduction == ""


def test_reencoding_itself_refuses_a_file_over_the_byte_limit(settings):
    settings.AVATAR_MAX_BYTES = 1000
    uploaded = SimpleUploadedFile("photo.png", png_bytes((64, 64)) + b"\0" * 1000)

    with pytest.raises(ImageRejected, match="too large"):
        reencode_avatar(uploaded)


# --- Replacing and removing -----------------------------------------------------------


def test_replaced_avatar_file_is_deleted(
    member, member_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(member_client, jpeg_with_gps())
    old_path = avatar_path(member)

    with django_capture_on_commit_callbacks(execute=True):
        upload(member_client, png_bytes((300, 300)), name="new.png")

    new_path = avatar_path(member)
    assert new_path != old_path
    assert os.path.exists(new_path)
    assert not os.path.exists(old_path)


def test_removed_avatar_file_is_deleted(
    member, member_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(member_client, jpeg_with_gps())
    old_path = avatar_path(member)

    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(PROFILE_URL, {"introduction": "", "remove_avatar": "on"})

    member.refresh_from_db()
    assert not member.avatar
    assert not os.path.exists(old_path)
    assert member_client.get("/members/aiko/avatar/").status_code == 404


def test_saving_the_introduction_alone_keeps_the_avatar(
    member, member_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(member_client, jpeg_with_gps())
    old_path = avatar_path(member)

    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(PROFILE_URL, {"introduction": "only words"})

    assert avatar_path(member) == old_path
    assert os.path.exists(old_path)
