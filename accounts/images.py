"""Re-encoding of uploaded images: nothing a member uploads is stored as sent.

Every image is decoded with a pixel-count cap checked before decoding, turned
upright, re-encoded as JPEG with no metadata (no EXIF, no GPS, no ICC comments),
and cut to size. A file that is not an image, is too large or is a decompression
bomb raises ImageRejected with a message for the member.
"""

import io
import warnings

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

# iPhone photos are HEIC; Pillow reads them only once pillow-heif is registered.
register_heif_opener()

ALLOWED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP", "HEIF", "AVIF"}

# Pillow only warns between MAX_IMAGE_PIXELS and twice that; make it an error.
warnings.simplefilter("error", Image.DecompressionBombWarning)


class ImageRejected(ValueError):
    pass


def _too_many_pixels() -> ImageRejected:
    return ImageRejected(
        _("This image has too many pixels (at most %(max)d million).")
        % {"max": settings.AVATAR_MAX_PIXELS // 1_000_000}
    )


def _open_checked(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Image.open itself refuses (or, with the filter above, raises the
        # warning for) images past Pillow's own limit, before our check runs.
        raise _too_many_pixels() from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageRejected(_("This file is not an image we can read.")) from exc
    if image.format not in ALLOWED_FORMATS:
        raise ImageRejected(_("Upload a JPEG, PNG, GIF, WebP or HEIC image."))
    width, height = image.size
    if width * height > settings.AVATAR_MAX_PIXELS:
        raise _too_many_pixels()
    try:
        image.load()
    except (OSError, SyntaxError, Image.DecompressionBombWarning, ValueError) as exc:
        raise ImageRejected(_("This image is damaged and cannot be read.")) from exc
    return image


def reencode_avatar(uploaded) -> ContentFile:
    """A square JPEG of AVATAR_SIZE pixels, stripped of all metadata."""
    return reencode_square(uploaded, settings.AVATAR_SIZE)


def reencode_square(uploaded, size: int) -> ContentFile:
    """A square JPEG of `size` pixels (avatars, community icons), no metadata."""
    if uploaded.size > settings.AVATAR_MAX_BYTES:
        raise ImageRejected(
            _("This file is too large (at most %(max)d MB).")
            % {"max": settings.AVATAR_MAX_BYTES // (1024 * 1024)}
        )
    image = _open_checked(uploaded.read())
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    image = ImageOps.fit(image.convert("RGB"), (size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # A fresh image carries no info dict: no EXIF, GPS, XMP or comments survive.
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return ContentFile(out.getvalue())
