"""Image files built for the upload tests, some of them hostile.

PNGs are written chunk by chunk without Pillow, so a test can send what Pillow
itself would never write: dimensions past every limit, interlacing, chunks whose
text inflates past Pillow's limits. All-zero rows compress to almost nothing, so
a hundred-megapixel image costs a few kilobytes to send: what a decompression
bomb looks like.
"""

import io
import struct
import zlib

from PIL import Image

# Bits a pixel for each PNG colour type at 8 bits a sample.
_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7 passes: (x start, y start, x step, y step).
_ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4)]
_ADAM7 += [(1, 0, 2, 2), (0, 1, 1, 2)]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _zeros(rows: list[tuple[int, int]]) -> bytes:
    """Compressed image data of `count` all-zero rows of `length` bytes each."""
    compressor = zlib.compressobj(9)
    out = []
    for length, count in rows:
        row = b"\x00" * length
        at_once = max(1, 4_000_000 // length)
        while count > 0:
            n = min(at_once, count)
            out.append(compressor.compress(row * n))
            count -= n
    out.append(compressor.flush())
    return b"".join(out)


def png_of_zeros(
    width: int,
    height: int,
    *,
    bit_depth: int = 8,
    color_type: int = 6,
    interlace: bool = False,
    before_data: bytes = b"",
) -> bytes:
    """A real, decodable PNG of width x height, every pixel zero (black, or
    transparent for colour types with alpha); `before_data` adds chunks."""
    bits = _SAMPLES[color_type] * bit_depth

    def row_bytes(w: int) -> int:
        return 1 + (w * bits + 7) // 8  # filter byte + packed pixels

    if interlace:
        rows = []
        for x0, y0, dx, dy in _ADAM7:
            w = (width - x0 + dx - 1) // dx
            h = (height - y0 + dy - 1) // dy
            if w > 0 and h > 0:
                rows.append((row_bytes(w), h))
    else:
        rows = [(row_bytes(width), height)]
    palette = png_chunk(b"PLTE", b"\x00\x00\x00") if color_type == 3 else b""
    header = struct.pack(
        ">IIBBBBB", width, height, bit_depth, color_type, 0, 0, int(interlace)
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + before_data
        + palette
        + png_chunk(b"IDAT", _zeros(rows))
        + png_chunk(b"IEND", b"")
    )


def png_of_huge_dimensions(width: int, height: int) -> bytes:
    """A 1-bit greyscale PNG of width x height (the classic bomb)."""
    return png_of_zeros(width, height, bit_depth=1, color_type=0)


def gradient(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A picture with something in it (encoders and decoders do real work)."""
    grey = Image.linear_gradient("L").resize(size)
    if mode == "L":
        return grey
    flipped = grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    upside_down = grey.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    rgb = Image.merge("RGB", [grey, flipped, upside_down])
    if mode == "RGBA":
        rgb.putalpha(flipped)
        return rgb
    return rgb.convert(mode)


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    if fmt == "HEIF":
        import pillow_heif

        # Encoded without registering pillow-heif's opener in this process: the
        # app must be able to read iPhone photos on its own.
        pillow_heif.from_pillow(image).save(out, **options)
    else:
        image.save(out, format=fmt, **options)
    return out.getvalue()
