"""Writes the sandbox's two committed still images (PNG, stdlib only): `cover.png`, the cover
every finished video reports, and `placeholder.png`, the image a URL upload of a remote host
stands for. Run from this directory: `python3 images.py`."""

import struct
import zlib


def png(path, width, height, pixel):
    """An 8-bit RGB PNG whose pixel (x, y) is pixel(x, y) -> (r, g, b)."""
    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in pixel(x, y)) for y in range(height)
    )

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", header))
        f.write(chunk(b"IDAT", zlib.compress(rows, 9)))
        f.write(chunk(b"IEND", b""))


BARS = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0),
        (192, 0, 192), (192, 0, 0), (0, 0, 192)]


def cover(x, y):
    # Colour bars over a dark strip, like the test card the sample video shows.
    return BARS[x * len(BARS) // 320] if y < 135 else (16, 16, 32)


def placeholder(x, y):
    # A grey checkerboard: obviously a stand-in, never mistaken for a real photo.
    return (200, 200, 200) if (x // 16 + y // 16) % 2 == 0 else (150, 150, 150)


png("cover.png", 320, 180, cover)
png("placeholder.png", 128, 128, placeholder)
