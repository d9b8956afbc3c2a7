"""Uploads cannot exhaust memory (issue 6, section 2).

A hostile file is refused before it is decoded; what is accepted stays within a
measured memory budget, also four at a time; a file that Pillow chokes on is a
form error, never a 500; and a request body is counted against its limit before
Django reads it.
"""

import json
import math
import os
import struct
import subprocess
import sys
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import RequestFactory
from PIL import Image, ImageFile

from accounts import images
from accounts.models import Member
from project.asgi import application
from project.uploads import OversizedUpload
from tests.accounts.image_files import encoded, gradient, png_chunk, png_of_zeros
from tests.accounts.test_images import PROFILE_URL, stored_avatar, upload
from tests.conftest import client_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MB = 2**20


def refused_without_decoding(monkeypatch) -> list:
    """Every decode Pillow starts is recorded (and fails the upload loudly)."""
    decodes = []

    def load(image):
        decodes.append(image.size)
        raise AssertionError("decoded an image that should have been refused")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return decodes


# --- Refused before decoding ------------------------------------------------------


def test_png_of_one_by_forty_million_pixels_is_refused_without_decoding(
    member, member_client, monkeypatch
):
    # 78 KB that once took the server to 1.85 GB: few pixels, 40 million rows.
    tall = png_of_zeros(1, 40_000_000, bit_depth=1, color_type=0)
    assert len(tall) < 100_000
    decodes = refused_without_decoding(monkeypatch)

    response = upload(member_client, tall, name="tall.png")

    assert response.status_code == 200
    assert "This image is too large (at most 10000 pixels on a side)." in response.text
    assert decodes == []
    member.refresh_from_db()
    assert not member.avatar


@pytest.mark.parametrize("size", [(10_001, 100), (100, 10_001)])
def test_image_one_pixel_over_the_side_bound_is_refused_without_decoding(
    member, member_client, monkeypatch, size
):
    decodes = refused_without_decoding(monkeypatch)

    response = upload(member_client, png_of_zeros(*size), name="wide.png")

    assert "This image is too large (at most 10000 pixels on a side)." in response.text
    assert decodes == []
    member.refresh_from_db()
    assert not member.avatar


@pytest.mark.parametrize("size", [(10_000, 100), (100, 10_000)])
def test_image_at_the_side_bound_is_accepted(member, member_client, size):
    response = upload(member_client, png_of_zeros(*size), name="wide.png")

    assert response.status_code == 302
    assert stored_avatar(member).size == (256, 256)


def test_formats_that_cost_more_to_decode_may_have_fewer_pixels(
    member, member_client, settings
):
    # WebP is decoded by libwebp into a canvas of its own, copied out, then
    # into Pillow: 17 bytes a pixel against PNG's 5.
    settings.IMAGE_DECODE_MAX_MB = 17
    picture = gradient((1100, 1000))

    refused = upload(member_client, encoded(picture, "WEBP"), name="p.webp")
    assert "This image has too many pixels (at most 1 million)." in refused.text
    member.refresh_from_db()
    assert not member.avatar

    accepted = upload(member_client, encoded(picture, "PNG"), name="p.png")
    assert accepted.status_code == 302


# --- Memory of what is accepted -------------------------------------------------------


def _probe(fmt: str, size: tuple[int, int], *, progressive: bool = False):
    """What the checks before decoding see of an image: its header."""
    return SimpleNamespace(format=fmt, size=size, info={"progressive": progressive})


def _largest(fmt: str, *, progressive: bool = False) -> tuple[int, int]:
    """The size of the largest image of `fmt` that is accepted: as near a square
    as the pixel limit for the format allows, and every pixel of it used."""
    per_pixel = images._decode_bytes_per_pixel(
        _probe(fmt, (1, 1), progressive=progressive)
    )
    budget = django_settings.IMAGE_DECODE_MAX_MB * MB // per_pixel
    max_pixels = min(django_settings.AVATAR_MAX_PIXELS, budget)
    width = min(math.isqrt(max_pixels), django_settings.AVATAR_MAX_SIDE)
    return width, min(max_pixels // width, django_settings.AVATAR_MAX_SIDE)


def _flat(size: tuple[int, int], mode: str) -> Image.Image:
    # Decoders hold the same buffers whatever the picture: flat is as costly
    # to decode as a photo, and far quicker to encode.
    colour = {"RGBA": (200, 100, 50, 128), "CMYK": (10, 20, 30, 40), "P": 3}[mode]
    return Image.new(mode, size, colour)


# Each format at its most expensive: alpha where it has one, CMYK (four full
# channels) for JPEG, progressive JPEG (every coefficient kept).
WORST = {
    "png": lambda size: png_of_zeros(*size, color_type=6, interlace=True),
    "jpeg": lambda size: encoded(_flat(size, "CMYK"), "JPEG"),
    "progressive.jpeg": lambda size: encoded(
        _flat(size, "CMYK"), "JPEG", progressive=True
    ),
    "gif": lambda size: encoded(_flat(size, "P"), "GIF"),
    "webp": lambda size: encoded(_flat(size, "RGBA"), "WEBP", quality=50),
    "avif": lambda size: encoded(_flat(size, "RGBA"), "AVIF", quality=50, speed=10),
    "heic": lambda size: encoded(
        _flat(size, "RGBA"), "HEIF", quality=30, enc_params={"preset": "ultrafast"}
    ),
}
FORMAT_OF = {
    "png": "PNG",
    "jpeg": "JPEG",
    "progressive.jpeg": "JPEG",
    "gif": "GIF",
    "webp": "WEBP",
    "avif": "AVIF",
    "heic": "HEIF",
}


def _is_progressive(name: str) -> bool:
    return name.startswith("progressive")


@pytest.fixture(scope="module")
def worst_accepted(tmp_path_factory) -> dict:
    """The largest accepted image of each format, at its most expensive."""
    folder = tmp_path_factory.mktemp("worst")

    def write(name: str) -> str:
        size = _largest(FORMAT_OF[name], progressive=_is_progressive(name))
        path = folder / f"worst.{name}"
        path.write_bytes(WORST[name](size))
        return str(path)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(WORST, pool.map(write, WORST), strict=True))


def peak_growth_mb(*paths: str) -> dict:
    """Re-encode `paths` in parallel in a fresh process; its memory growth."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.accounts.decode_peak", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_worst_accepted_image_of_each_format_stays_within_the_decode_budget(
    worst_accepted,
):
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(
            zip(
                worst_accepted,
                pool.map(peak_growth_mb, worst_accepted.values()),
                strict=True,
            )
        )

    for name, run in runs.items():
        assert run["outcomes"] == ["ok"], (name, run)
    growth = {name: round(run["growth_mb"]) for name, run in runs.items()}
    assert max(growth.values()) <= django_settings.IMAGE_DECODE_MAX_MB, growth


@pytest.mark.parametrize("name", WORST)
def test_one_row_more_than_the_worst_accepted_image_is_refused(name):
    fmt, progressive = FORMAT_OF[name], _is_progressive(name)
    width, height = _largest(fmt, progressive=progressive)
    images._check_dimensions(_probe(fmt, (width, height), progressive=progressive))

    with pytest.raises(images.ImageRejected):
        images._check_dimensions(
            _probe(fmt, (width, height + 1), progressive=progressive)
        )


def test_four_parallel_uploads_of_the_worst_images_take_one_decode_budget(
    worst_accepted,
):
    # Without a bound on decodes at once, these four take a gigabyte.
    four = [worst_accepted[name] for name in ("png", "webp", "avif", "heic")]

    run = peak_growth_mb(*four)

    assert run["outcomes"] == ["ok"] * 4
    limit = django_settings.IMAGE_DECODE_MAX_MB * django_settings.IMAGE_DECODES_AT_ONCE
    assert run["growth_mb"] <= limit, run


def test_upload_waiting_too_long_for_a_decode_is_refused_with_a_message(
    member, member_client, settings
):
    settings.IMAGE_DECODE_WAIT_SECONDS = 0.1
    busy = threading.Event()
    for _ in range(django_settings.IMAGE_DECODES_AT_ONCE):
        images._decoders.submit(busy.wait, 10)
    try:
        response = upload(member_client, png_of_zeros(300, 300), name="p.png")
    finally:
        busy.set()

    assert "Many images are being processed right now." in response.text
    member.refresh_from_db()
    assert not member.avatar


# --- Files Pillow chokes on -------------------------------------------------------


def _z(kind: bytes, keyword: bytes, text: bytes) -> bytes:
    """A compressed text chunk (zTXt, or iTXt with the compression flag)."""
    packed = zlib.compress(text, 9)
    if kind == b"zTXt":
        return png_chunk(b"zTXt", keyword + b"\0\0" + packed)
    return png_chunk(b"iTXt", keyword + b"\0\1\0" + b"\0\0" + packed)


TWO_MB_OF_TEXT = b"A" * (2 * MB)
HOSTILE_CHUNKS = {
    "zTXt inflating past 1 MB": _z(b"zTXt", b"Comment", TWO_MB_OF_TEXT),
    "iTXt inflating past 1 MB": _z(b"iTXt", b"XML:com.adobe.xmp", TWO_MB_OF_TEXT),
    "iCCP profile inflating past 1 MB": png_chunk(
        b"iCCP", b"icc\0\0" + zlib.compress(TWO_MB_OF_TEXT, 9)
    ),
    "text chunks of 8 MB in all": b"".join(
        _z(b"zTXt", b"Comment%d" % i, b"B" * (MB - 1)) for i in range(8)
    ),
}


@pytest.mark.parametrize("chunks", HOSTILE_CHUNKS.values(), ids=HOSTILE_CHUNKS)
@pytest.mark.parametrize("where", ["before the image data", "after the image data"])
def test_png_with_oversized_ancillary_chunks_is_a_form_error(
    member, member_client, chunks, where
):
    if where == "before the image data":
        data = png_of_zeros(64, 64, before_data=chunks)
    else:
        data = png_of_zeros(64, 64)
        data = data[:-12] + chunks + data[-12:]  # just before IEND

    response = upload(member_client, data, name="chunks.png", introduction="after")

    assert response.status_code == 200
    assert (
        "This file is not an image we can read." in response.text
        or "This image is damaged and cannot be read." in response.text
    )
    member.refresh_from_db()
    assert not member.avatar
    assert member.introduction == ""


@pytest.mark.parametrize(
    "error",
    [
        ValueError("Decompressed data too large"),
        SyntaxError("broken PNG file"),
        EOFError(),
        IndexError("list index out of range"),
        KeyError("mode"),
        TypeError("bad tile"),
        MemoryError(),
        struct.error("unpack requires a buffer of 4 bytes"),
    ],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize("step", ["open", "load"])
def test_any_error_pillow_raises_on_a_file_is_a_form_error(
    member, member_client, monkeypatch, error, step
):
    data = encoded(gradient((64, 64)), "PNG")

    def fail(*args, **kwargs):
        raise error

    if step == "open":
        monkeypatch.setattr(Image, "open", fail)
        message = "This file is not an image we can read."
    else:
        monkeypatch.setattr(ImageFile.ImageFile, "load", fail)
        message = "This image is damaged and cannot be read."

    response = upload(member_client, data, name="p.png")

    assert response.status_code == 200
    assert message in response.text
    member.refresh_from_db()
    assert not member.avatar


# --- Request bodies, counted before Django reads them -------------------------------


def multipart(fields: dict, filename: str, content: bytes) -> tuple[bytes, bytes]:
    boundary = b"enishi-test-boundary"
    parts = []
    for name, value in fields.items():
        parts.append(
            b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
            % (boundary, name.encode(), value.encode())
        )
    parts.append(
        b'--%s\r\nContent-Disposition: form-data; name="avatar"; '
        b'filename="%s"\r\nContent-Type: image/png\r\n\r\n'
        % (boundary, filename.encode())
        + content
        + b"\r\n"
    )
    parts.append(b"--%s--\r\n" % boundary)
    return b"".join(parts), b"multipart/form-data; boundary=" + boundary


def http_scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def response_of(communicator: ApplicationCommunicator) -> tuple[int, bytes]:
    start = await communicator.receive_output(timeout=10)
    assert start["type"] == "http.response.start"
    body = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            return start["status"], body


async def test_body_declared_over_the_cap_is_answered_413_without_being_read(
    settings,
):
    settings.REQUEST_MAX_BYTES = 2 * MB
    communicator = ApplicationCommunicator(
        application,
        http_scope(PROFILE_URL, [(b"content-length", b"%d" % (2 * MB + 1))]),
    )

    # Not one byte of the body is sent: an answer proves none was awaited.
    status, body = await response_of(communicator)

    assert status == 413
    assert b"Upload too large" in body
    assert b"at most 2 MB" in body
    await communicator.wait(timeout=5)


async def test_413_page_is_in_the_members_language(settings):
    settings.REQUEST_MAX_BYTES = 2 * MB
    communicator = ApplicationCommunicator(
        application,
        http_scope(
            PROFILE_URL,
            [(b"content-length", b"%d" % (3 * MB)), (b"accept-language", b"ja")],
        ),
    )

    status, body = await response_of(communicator)

    assert status == 413
    assert '<html lang="ja">' in body.decode()
    assert "Upload too large" not in body.decode()


async def test_chunked_body_is_cut_off_once_it_passes_the_cap(settings):
    settings.REQUEST_MAX_BYTES = 2 * MB
    content, content_type = multipart({"introduction": "x"}, "big.png", b"\0" * 5 * MB)
    communicator = ApplicationCommunicator(
        application, http_scope(PROFILE_URL, [(b"content-type", content_type)])
    )
    # No Content-Length: the body arrives in pieces, as with chunked encoding.
    chunks = [content[i : i + MB // 2] for i in range(0, len(content), MB // 2)]
    for chunk in chunks:
        await communicator.send_input(
            {"type": "http.request", "body": chunk, "more_body": True}
        )

    status, body = await response_of(communicator)

    assert status == 413
    assert b"Upload too large" in body
    # The pieces past the cap were never taken from the server.
    assert not communicator.input_queue.empty()


@pytest.mark.django_db(transaction=True)
async def test_upload_over_the_body_cap_through_the_real_app_stores_nothing(
    member, settings
):
    settings.REQUEST_MAX_BYTES = 2 * MB
    client = await _logged_in_client(member)
    token = client.cookies["csrftoken"].value
    cookie = "; ".join(f"{c.key}={c.value}" for c in client.cookies.values())
    content, content_type = multipart(
        {"introduction": "changed", "csrfmiddlewaretoken": token},
        "big.png",
        encoded(gradient((64, 64)), "PNG") + b"\0" * 3 * MB,
    )
    communicator = ApplicationCommunicator(
        application,
        http_scope(
            PROFILE_URL,
            [
                (b"content-type", content_type),
                (b"content-length", b"%d" % len(content)),
                (b"cookie", cookie.encode()),
            ],
        ),
    )
    await communicator.send_input({"type": "http.request", "body": content})

    status, _body = await response_of(communicator)

    assert status == 413
    stored = await _in_a_thread(lambda: Member.objects.get(pk=member.pk))
    assert stored.introduction == ""
    assert not stored.avatar


async def _logged_in_client(member):
    def make():
        client = client_for(member)
        client.get(PROFILE_URL)  # sets the CSRF cookie
        return client

    return await _in_a_thread(make)


async def _in_a_thread(work):
    """Run database work in a worker thread and close that thread's connection,
    which would otherwise keep the test database from being dropped."""

    def run():
        try:
            return work()
        finally:
            connection.close()

    return await sync_to_async(run)()


def test_file_past_the_limit_is_not_kept_while_the_request_is_parsed(settings):
    settings.AVATAR_MAX_BYTES = 1 * MB
    sent = b"\x89PNG" + b"\0" * (3 * MB)
    request = RequestFactory().post(
        PROFILE_URL,
        {"introduction": "hi", "avatar": SimpleUploadedFile("big.png", sent)},
    )

    avatar = request.FILES["avatar"]

    assert isinstance(avatar, OversizedUpload)
    assert avatar.size > settings.AVATAR_MAX_BYTES
    assert avatar.read() == b""
    assert request.POST["introduction"] == "hi"


def test_file_under_the_limit_arrives_whole(settings):
    settings.AVATAR_MAX_BYTES = 1 * MB
    sent = os.urandom(MB)
    request = RequestFactory().post(
        PROFILE_URL, {"avatar": SimpleUploadedFile("ok.png", sent)}
    )

    assert request.FILES["avatar"].read() == sent


def test_file_past_the_limit_is_a_form_error_on_the_profile_and_community_pages(
    member, settings
):
    settings.AVATAR_MAX_BYTES = 1 * MB
    client = client_for(member)
    big = encoded(gradient((64, 64)), "PNG") + b"\0" * (2 * MB)

    profile = upload(client, big, name="big.png", introduction="changed")
    community = client.post(
        "/communities/new/",
        {
            "name": "Tea",
            "category": "other",
            "join_policy": "open",
            "topic_policy": "members",
            "icon": SimpleUploadedFile("big.png", big),
        },
    )

    assert "This file is too large (at most 1 MB)." in profile.text
    assert "This file is too large (at most 1 MB)." in community.text
    member.refresh_from_db()
    assert member.introduction == ""
    assert not member.avatar
