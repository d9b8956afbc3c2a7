"""Photo files made in the tests: what a phone or camera sends, and what an
attacker would. Built with Pillow and pillow-heif, or byte by byte."""

import io
import mimetypes
import os

import pillow_heif
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageCms

from tests.accounts.image_files import png_chunk

GPS_IFD = 0x8825
ORIENTATION = 0x0112
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:'
    b'ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude='
    b'"35,39.675N"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
COMMENT = b"EnishiSecretComment"


def camera_exif(orientation: int | None = None) -> Image.Exif:
    """Maker, model and where the photo was taken (Shimokitazawa)."""
    exif = Image.Exif()
    exif[0x010F] = "EnishiCam"  # Make
    exif[0x0110] = "Model-X100"  # Model
    if orientation:
        exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (35.0, 39.0, 40.5)
    gps[3] = "E"
    gps[4] = (139.0, 40.0, 5.25)
    return exif


def halves(size=(400, 200), left=(255, 0, 0), right=(0, 0, 255)) -> Image.Image:
    """Red on the left half, blue on the right: which way is up shows."""
    image = Image.new("RGB", size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def camera_jpeg(size=(400, 200), orientation: int | None = 6) -> bytes:
    """A JPEG as a phone writes one held sideways: EXIF with GPS and the
    orientation, XMP with the place again, an ICC profile and a comment."""
    out = io.BytesIO()
    halves(size).save(
        out,
        format="JPEG",
        quality=95,
        exif=camera_exif(orientation),
        xmp=XMP,
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
        comment=COMMENT,
    )
    data = out.getvalue()
    # The file itself must carry what the upload is supposed to lose.
    sent = Image.open(io.BytesIO(data))
    assert sent.getexif().get_ifd(GPS_IFD)[1] == "N"
    assert sent.info.get("xmp") and sent.info.get("icc_profile")
    assert COMMENT in data
    return data


def iphone_heic(size=(400, 300)) -> bytes:
    """A HEIC with EXIF and GPS, encoded without registering pillow-heif's
    opener in this process: the app must read it on its own."""
    out = io.BytesIO()
    pillow_heif.from_pillow(halves(size)).save(
        out, quality=90, exif=camera_exif().tobytes()
    )
    data = out.getvalue()
    exif = Image.Exif()
    exif.load(pillow_heif.open_heif(io.BytesIO(data)).info["exif"])
    assert exif.get_ifd(GPS_IFD)[1] == "N" and exif[0x010F] == "EnishiCam"
    return data


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def png(size=(60, 40), color=(0, 128, 0)) -> bytes:
    return encoded(Image.new("RGB", size, color), "PNG")


def jpeg(size=(60, 40), color=(0, 128, 0)) -> bytes:
    return encoded(Image.new("RGB", size, color), "JPEG")


def png_html_polyglot_after_end() -> bytes:
    """A PNG any viewer shows, followed by a page a browser would run."""
    return png() + b"<html><body><script>alert(document.cookie)</script></body></html>"


def png_html_polyglot_in_head() -> bytes:
    """A PNG whose first text chunk is a page: within the bytes a browser
    sniffs, and nothing after IEND."""
    data = png()
    page = b"<html><script>alert(document.cookie)</script></html>"
    text = png_chunk(b"tEXt", b"Comment\x00" + page)
    return data[:33] + text + data[33:]  # after the signature and IHDR


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
    b'height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>'
)


def upload(name: str, data: bytes, content_type: str | None = None):
    """An uploaded file with the type a browser would send for its name."""
    if content_type is None:
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return SimpleUploadedFile(name, data, content_type)


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def noise(size=(120, 120)) -> Image.Image:
    """Random pixels: they do not compress, so the file is past its head."""
    return Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
