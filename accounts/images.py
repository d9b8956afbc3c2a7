"""Re-encoding of uploaded images: nothing a member uploads is stored as sent.

Every image is checked before it is decoded (bytes, each side, pixel count),
decoded at most IMAGE_DECODES_AT_ONCE at a time per process, cut to a centred
square and shrunk without a full-size copy, turned upright, and re-encoded as
JPEG with no metadata (no EXIF, no GPS, no ICC, no comments). A file that is not
an image, is too large, is damaged or is a decompression bomb raises
ImageRejected with a message for the member.

Photos (photos/images.py) use the same guarded steps with their own bounds:
decode_in_turn, open_checked, shrink_upright (which keeps the whole picture
instead of a square) and encode_jpeg.

Memory is what a hostile upload attacks: Pillow keeps a decoded image at up to
4 bytes a pixel (plus a pointer per row), outside Python's own accounting. So the
only full-size thing in memory is the decoded image itself; everything after it
works on bands of rows or on the small result.
"""

import io
import logging
import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import translation
from django.utils.translation import gettext as _
from PIL import ExifTags, Image, PngImagePlugin
from pillow_heif import register_heif_opener

logger = logging.getLogger(__name__)

# iPhone photos are HEIC; Pillow reads them only once pillow-heif is registered.
register_heif_opener()


# Pillow only warns between MAX_IMAGE_PIXELS and twice that; make it an error.
warnings.simplefilter("error", Image.DecompressionBombWarning)
# Pillow inflates a PNG's text chunks (up to 1 MB each) and keeps them, 64 MB in
# all by default, beside the decoded image. We keep no text: a little XMP is all
# a real photo has.
PngImagePlugin.MAX_TEXT_MEMORY = 4 * PngImagePlugin.MAX_TEXT_CHUNK

# Shrink by whole factors (an average of each factor x factor block, cheap and
# fair) down to this many times the final size, then resample with Lanczos:
# the same idea as Image.resize(reducing_gap=3), done band by band.
REDUCING_GAP = 3
# Pixels in one band of rows converted and shrunk at a time (about 4 MB of RGBA).
BAND_PIXELS = 1_000_000

# Peak memory while decoding and shrinking, in bytes a pixel, measured as RSS
# for each format at its worst (alpha, CMYK, lossless); with IMAGE_DECODE_MAX_MB
# it sets how many pixels each format may have. libwebp and libheif hold their
# own decoded copy beside Pillow's. tests/accounts/test_upload_limits.py holds
# every format to it at its limit.
_DECODE_BYTES_PER_PIXEL = {
    "JPEG": 9,
    "PNG": 5,
    "GIF": 3,
    "WEBP": 17,
    "HEIF": 10,
    "AVIF": 13,
}

# JPEGs as Pillow names them: a JPEG with more images after the first (MPF:
# phones' depth and gain maps, cameras' previews) opens as "MPO", and decodes
# its first image as any JPEG.
JPEG_FORMATS = {"JPEG", "MPO"}
ALLOWED_FORMATS = JPEG_FORMATS | {"PNG", "GIF", "WEBP", "HEIF", "AVIF"}

# Modes whose pixels can be averaged as stored (no alpha, no palette).
_AVERAGED_AS_THEY_ARE = {"RGB", "L", "CMYK", "YCbCr"}

# EXIF orientation -> the transposition that turns the picture upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Parallel uploads would multiply the peak of one decode, so decodes run on a
# few threads of their own, the others wait their turn. Their own threads, not
# the requests': the C allocator keeps what a thread freed for that thread's
# next use, so decoding on every request's thread would leave one decode's
# worth of memory behind in each of them.
_decoders = ThreadPoolExecutor(
    max_workers=settings.IMAGE_DECODES_AT_ONCE, thread_name_prefix="image-decode"
)


class ImageRejected(ValueError):
    pass


def reencode_avatar(uploaded) -> ContentFile:
    """A square JPEG of AVATAR_SIZE pixels, stripped of all metadata."""
    return reencode_square(uploaded, settings.AVATAR_SIZE)


def reencode_square(uploaded, size: int) -> ContentFile:
    """A square JPEG of `size` pixels (avatars, community icons), no metadata."""
    check_bytes(uploaded, settings.AVATAR_MAX_BYTES)
    uploaded.seek(0)
    return ContentFile(decode_in_turn(_reencode, uploaded, size))


def check_bytes(uploaded, max_bytes: int) -> None:
    """Refuse an upload of more than `max_bytes`. One that project/uploads.py
    cut off (past AVATAR_MAX_BYTES) says in its size how much was sent."""
    if uploaded.size > max_bytes:
        raise ImageRejected(
            _("This file is too large (at most %(max)d MB).")
            % {"max": max_bytes // (1024 * 1024)}
        )


def decode_in_turn(work, *args):
    """`work(*args)` on one of the decode threads, in the member's language; an
    upload that waits past IMAGE_DECODE_WAIT_SECONDS for its turn is refused.
    Every decode of an uploaded image (avatars, icons, photos) goes through here,
    so IMAGE_DECODES_AT_ONCE bounds them all together."""
    decoding = _decoders.submit(_in_language, translation.get_language(), work, *args)
    try:
        return decoding.result(timeout=settings.IMAGE_DECODE_WAIT_SECONDS)
    except FuturesTimeout:
        decoding.cancel()
        raise ImageRejected(
            _("Many images are being processed right now. Try again in a minute.")
        ) from None


def _in_language(language: str, work, *args):
    # Messages are chosen in the decode thread: speak the member's language.
    with translation.override(language):
        return work(*args)


def _reencode(file, size: int) -> bytes:
    return encode_jpeg(_decode_square(file, size))


def encode_jpeg(image: Image.Image, *, progressive: bool = False) -> bytes:
    """`image`'s pixels as a JPEG (quality 85) and nothing else: no EXIF, GPS,
    XMP, ICC profile or comment. Every stored image is written here."""
    # Pillow carries an image's info dict through reduce, resize and transpose,
    # and writes its "comment" (a JPEG's or a GIF's) unless told otherwise.
    image.info = {}
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, optimize=True, progressive=progressive)
    return out.getvalue()


def open_checked(
    file,
    *,
    formats=ALLOWED_FORMATS,
    max_pixels: int | None = None,
    max_side: int | None = None,
) -> Image.Image:
    """`file` opened (its header read, nothing decoded yet) once it is known to
    be an image of one of `formats` within the bounds; the caller closes it.
    Without bounds, the avatars' (AVATAR_MAX_PIXELS, AVATAR_MAX_SIDE)."""
    try:
        image = Image.open(file)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Image.open itself refuses (or, with the filter above, raises the
        # warning for) images past Pillow's own limit, before our check runs.
        raise _too_many_pixels(max_pixels) from exc
    except Exception as exc:
        # Not only OSError: a PNG whose text or ICC chunks inflate past Pillow's
        # limits raises ValueError, other damage SyntaxError, struct.error and
        # more. Whatever a parser says about a member's file, it is their file.
        _log_refusal(exc)
        raise ImageRejected(_("This file is not an image we can read.")) from exc
    try:
        if image.format not in formats:
            raise ImageRejected(_("Upload a JPEG, PNG, GIF, WebP or HEIC image."))
        _check_dimensions(image, max_pixels=max_pixels, max_side=max_side)
    except BaseException:
        image.close()
        raise
    return image


def _decode_square(file, size: int) -> Image.Image:
    with open_checked(file) as image:
        try:
            return _square(image, size)
        except Exception as exc:
            _log_refusal(exc)
            raise ImageRejected(_("This image is damaged and cannot be read.")) from exc


def shrink_upright(image: Image.Image, longest: int) -> Image.Image:
    """The whole of `image` (from open_checked), decoded, as RGB on white,
    shrunk by a whole factor to no less than REDUCING_GAP x `longest` on its
    longest side (never enlarged) and turned upright by its EXIF orientation.
    The caller resizes it to the sizes it keeps. A damaged image is refused."""
    try:
        width, height = image.size
        if image.format in JPEG_FORMATS:
            # Decoded at 1/2, 1/4 or 1/8 scale when that still leaves enough.
            scale = longest * REDUCING_GAP / max(width, height)
            if scale < 1:
                image.draft("RGB", (int(width * scale), int(height * scale)))
        image.load()
        orientation = image.getexif().get(ExifTags.Base.Orientation)
        reduced = _reduce_on_white(image, (0, 0, *image.size), longest)
        if orientation in _UPRIGHT:
            reduced = reduced.transpose(_UPRIGHT[orientation])
        return reduced
    except Exception as exc:
        _log_refusal(exc)
        raise ImageRejected(_("This image is damaged and cannot be read.")) from exc


def _check_dimensions(
    image: Image.Image, *, max_pixels: int | None = None, max_side: int | None = None
) -> None:
    """Refuse before decoding: the pixel count bounds the decoded image, each side
    bounds the per-row overhead (a 1 x 40,000,000 PNG costs 40 million rows)."""
    width, height = image.size
    max_pixels = min(
        settings.AVATAR_MAX_PIXELS if max_pixels is None else max_pixels,
        settings.IMAGE_DECODE_MAX_MB * 1024 * 1024 // _decode_bytes_per_pixel(image),
    )
    max_side = settings.AVATAR_MAX_SIDE if max_side is None else max_side
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels)
    if max(width, height) > max_side:
        raise ImageRejected(
            _("This image is too large (at most %(max)d pixels on a side).")
            % {"max": max_side}
        )


def _square(image: Image.Image, size: int) -> Image.Image:
    if image.format in JPEG_FORMATS:
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale straight from the file: a
        # 48-megapixel photo is never held at full size.
        image.draft("RGB", (size * REDUCING_GAP, size * REDUCING_GAP))
    image.load()
    orientation = image.getexif().get(ExifTags.Base.Orientation)
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    reduced = _reduce_on_white(image, (left, top, left + side, top + side), size)
    square = reduced.resize((size, size), Image.Resampling.LANCZOS)
    # A centred square turns into the centred square of the upright picture,
    # so the small result is turned instead of the full-size image.
    if orientation in _UPRIGHT:
        square = square.transpose(_UPRIGHT[orientation])
    return square


def _reduce_on_white(
    image: Image.Image, box: tuple[int, int, int, int], size: int
) -> Image.Image:
    """The box of `image`, as RGB on white, shrunk by a whole factor to no less
    than REDUCING_GAP x `size` on its longest side, without a full-size copy.

    Opaque modes are averaged where they lie. Transparency, palettes and odd
    modes need converting first, and Pillow's own resize and reduce premultiply
    RGBA into a full-size copy: those go one band of rows at a time, so the
    extra memory is a few megabytes whatever the image's size.
    """
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    factor = max(1, max(width, height) // (size * REDUCING_GAP))
    if image.mode in _AVERAGED_AS_THEY_ARE:
        return _on_white(image.reduce(factor, box=box))
    reduced = Image.new(
        "RGB",
        (math.ceil(width / factor), math.ceil(height / factor)),
        (255, 255, 255),
    )
    rows = max(factor, BAND_PIXELS // width // factor * factor)
    for y in range(top, bottom, rows):
        band = _on_white(image.crop((left, y, right, min(y + rows, bottom))))
        reduced.paste(band.reduce(factor), (0, (y - top) // factor))
    return reduced


def _on_white(band: Image.Image) -> Image.Image:
    """RGB, with whatever is transparent shown on white."""
    if not band.has_transparency_data:
        return band.convert("RGB")
    rgba = band.convert("RGBA")
    white = Image.new("RGB", rgba.size, (255, 255, 255))
    white.paste(rgba, mask=rgba.getchannel("A"))
    return white


def _decode_bytes_per_pixel(image: Image.Image) -> int:
    if image.format in JPEG_FORMATS and not image.info.get("progressive"):
        # Baseline JPEG is decoded at reduced scale (draft), at worst at full size.
        return 4
    # Progressive JPEG keeps every coefficient (2 bytes a sample) whatever the
    # scale it is decoded at.
    if image.format in JPEG_FORMATS:
        return _DECODE_BYTES_PER_PIXEL["JPEG"]
    return _DECODE_BYTES_PER_PIXEL[image.format]


def _too_many_pixels(max_pixels: int | None = None) -> ImageRejected:
    if max_pixels is None:
        max_pixels = settings.AVATAR_MAX_PIXELS
    return ImageRejected(
        _("This image has too many pixels (at most %(max)d million).")
        % {"max": max(1, max_pixels // 1_000_000)}
    )


def _log_refusal(exc: Exception) -> None:
    logger.info("Refused an uploaded image: %s: %s", type(exc).__name__, exc)
