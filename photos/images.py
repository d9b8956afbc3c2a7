"""The photo upload pipeline: what a member sends is never what is stored.

Each file is checked before anything is decoded: not empty, at most
PHOTOS_MAX_BYTES, a name (and content type) that claims one of the formats we
take, and content of that same format as Pillow detects it from the bytes.
Then it is decoded through accounts/images.py (the same guards as avatars:
pixels and sides bounded before decoding, a per-format memory budget,
decompression bombs refused, a few decodes at a time), turned upright by its
EXIF orientation and re-encoded as two JPEGs, a display size and a thumbnail,
with no EXIF, GPS, XMP, ICC profile or comment. Nothing here writes to disk:
photos/actions.py stores the result.

Polyglots (a file that is an image and also, say, an HTML page) are refused by
two rules, documented in docs/photos.md: no markup in the head of the file,
where a browser sniffing a type would find it, and, for the formats whose end
is well defined (PNG, GIF, WebP, HEIF), no bytes after that end. JPEG is
exempt from the second: phones put real data after the picture (MPF images,
motion-photo video). Neither rule is what keeps members safe (the bytes sent are
never stored or served); they refuse files that are not what they claim.
"""

import io
import os
import struct
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image

from accounts import images
from accounts.actions import ActionRefused

# As Pillow detects them: the avatars' formats but AVIF (no name below claims
# it). A phone's JPEG may open as "MPO" (accounts/images.JPEG_FORMATS).
FORMATS = images.ALLOWED_FORMATS - {"AVIF"}

# What a file's name says it is (browsers derive the content type from it too).
EXTENSIONS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".jfif": "JPEG",
    ".png": "PNG",
    ".gif": "GIF",
    ".webp": "WEBP",
    ".heic": "HEIF",
    ".heif": "HEIF",
    ".hif": "HEIF",
}
CONTENT_TYPES = {
    "image/jpeg": "JPEG",
    "image/pjpeg": "JPEG",
    "image/png": "PNG",
    "image/x-png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/heic": "HEIF",
    "image/heif": "HEIF",
    "image/heic-sequence": "HEIF",
    "image/heif-sequence": "HEIF",
}
# Some browsers and phones send these for a HEIC they do not know: no claim.
UNCLAIMED_CONTENT_TYPES = {"", "application/octet-stream"}

# The most a browser reads of a file to sniff its type (WHATWG MIME Sniffing,
# "resource header"): markup there could make a browser take it for a page.
HEAD_BYTES = 1445
MARKUP = (
    b"<!doctype",
    b"<html",
    b"<head",
    b"<body",
    b"<script",
    b"<iframe",
    b"<svg",
    b"<object",
    b"<embed",
)


class ImageRejected(ActionRefused):
    """One uploaded file is refused; the message names it."""


@dataclass(frozen=True)
class ProcessedPhoto:
    display: bytes
    thumbnail: bytes
    # Of the display size.
    width: int
    height: int


def process_photo(uploaded) -> ProcessedPhoto:
    """The two re-encoded sizes of one uploaded file, or ImageRejected."""
    name = os.path.basename(uploaded.name or "")
    try:
        claimed = _claimed_format(uploaded)
        if uploaded.size == 0:
            raise images.ImageRejected(_("The file is empty."))
        # project/uploads.py keeps nothing of a file past AVATAR_MAX_BYTES.
        images.check_bytes(
            uploaded, min(settings.PHOTOS_MAX_BYTES, settings.AVATAR_MAX_BYTES)
        )
        uploaded.seek(0)
        return images.decode_in_turn(_process, uploaded, claimed)
    except images.ImageRejected as exc:
        raise ImageRejected(
            _("“%(name)s”: %(reason)s") % {"name": name, "reason": exc}
        ) from exc


def _claimed_format(uploaded) -> str:
    extension = os.path.splitext(uploaded.name or "")[1].lower()
    claimed = EXTENSIONS.get(extension)
    content_type = (uploaded.content_type or "").split(";")[0].strip().lower()
    typed = CONTENT_TYPES.get(content_type)
    if claimed is None or (
        typed is None and content_type not in UNCLAIMED_CONTENT_TYPES
    ):
        raise images.ImageRejected(_("Upload a JPEG, PNG, GIF, WebP or HEIC image."))
    if typed is not None and typed != claimed:
        raise images.ImageRejected(
            _("Its name and its type say different things. Upload the photo as it is.")
        )
    return claimed


def _process(file, claimed: str) -> ProcessedPhoto:
    data = file.read()
    if any(marker in data[:HEAD_BYTES].lower() for marker in MARKUP):
        raise images.ImageRejected(_("This file is not only an image."))
    with images.open_checked(
        io.BytesIO(data),
        formats=FORMATS,
        max_pixels=settings.PHOTOS_MAX_PIXELS,
        max_side=settings.PHOTOS_MAX_SIDE,
    ) as image:
        actual = "JPEG" if image.format in images.JPEG_FORMATS else image.format
        if actual != claimed:
            raise images.ImageRejected(
                _("Its name says %(claimed)s but it is a %(actual)s image.")
                % {"claimed": _LABELS[claimed], "actual": _LABELS[actual]}
            )
        if _has_bytes_past_its_end(actual, data):
            raise images.ImageRejected(_("This file is not only an image."))
        upright = images.shrink_upright(image, settings.PHOTOS_DISPLAY_SIZE)
    display = _fit(upright, settings.PHOTOS_DISPLAY_SIZE)
    thumbnail = _fit(display, settings.PHOTOS_THUMBNAIL_SIZE)
    return ProcessedPhoto(
        display=images.encode_jpeg(display, progressive=True),
        thumbnail=images.encode_jpeg(thumbnail, progressive=True),
        width=display.width,
        height=display.height,
    )


_LABELS = {"JPEG": "JPEG", "PNG": "PNG", "GIF": "GIF", "WEBP": "WebP", "HEIF": "HEIC"}


def _fit(image: Image.Image, longest: int) -> Image.Image:
    """`image` with its longest side at most `longest`, never enlarged."""
    width, height = image.size
    if max(width, height) <= longest:
        return image
    scale = longest / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


# --- Where each format ends ------------------------------------------------------


def _has_bytes_past_its_end(fmt: str, data: bytes) -> bool:
    end = _END_OF.get(fmt)
    if end is None:
        return False
    try:
        return end(data) != len(data)
    except (IndexError, struct.error):
        # Pillow read the header, but the blocks after it do not add up.
        return True


def _png_end(data: bytes) -> int:
    """After the IEND chunk (or -1 if there is none)."""
    at = 8
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        at += 12 + length
        if kind == b"IEND":
            return at
    return -1


def _gif_end(data: bytes) -> int:
    """After the trailer byte (or -1 if the blocks do not lead to one)."""

    def past_sub_blocks(at: int) -> int:
        while at < len(data) and data[at]:
            at += 1 + data[at]
        return at + 1

    at = 13
    if data[10] & 0x80:  # global colour table
        at += 3 << ((data[10] & 7) + 1)
    while at < len(data):
        kind = data[at]
        if kind == 0x3B:
            return at + 1
        if kind == 0x21:  # extension: label, then sub-blocks
            at = past_sub_blocks(at + 2)
        elif kind == 0x2C and at + 10 <= len(data):  # image descriptor
            packed = data[at + 9]
            at += 10
            if packed & 0x80:  # local colour table
                at += 3 << ((packed & 7) + 1)
            at = past_sub_blocks(at + 1)  # after the LZW code size
        else:
            return -1
    return -1


def _riff_end(data: bytes) -> int:
    """WebP is one RIFF chunk whose header gives its length (padded to even)."""
    (length,) = struct.unpack("<I", data[4:8])
    return 8 + length + (length & 1)


def _boxes_end(data: bytes) -> int:
    """HEIF is a sequence of boxes (ISO base media file format), each starting
    with its length; the last one may say 'to the end of the file' (0)."""
    at = 0
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        if length == 0:
            return len(data)
        if length == 1:
            if at + 16 > len(data):
                return -1
            (length,) = struct.unpack(">Q", data[at + 8 : at + 16])
            if length < 16:
                return -1
        elif length < 8:
            return -1
        at += length
    return at


_END_OF = {"PNG": _png_end, "GIF": _gif_end, "WEBP": _riff_end, "HEIF": _boxes_end}
