"""Checks that generated media are well-formed: PNG decoded chunk by chunk, WAV read back."""

from __future__ import annotations

import io
import struct
import wave
import zlib


def png_size(data: bytes) -> tuple[int, int]:
    """Decode a PNG fully (signature, chunk CRCs, IHDR, zlib IDAT); return (width, height).

    Raises AssertionError when anything is malformed.
    """
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, kinds, idat = 8, [], b""
    width = height = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        kinds.append(kind)
        if kind == b"IHDR":
            width, height, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", body)
            assert (depth, colour) == (8, 2), "expected 8-bit RGB"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    raw = zlib.decompress(idat)
    stride = 1 + width * 3
    assert len(raw) == height * stride, "pixel data has the wrong size"
    assert all(raw[row * stride] == 0 for row in range(height)), "unknown filter type"
    return width, height


def wav_info(data: bytes) -> tuple[int, int, int, int]:
    """``(channels, sample width, rate, frames)`` of a WAV, read with :mod:`wave`."""
    with wave.open(io.BytesIO(data)) as reader:
        info = (
            reader.getnchannels(),
            reader.getsampwidth(),
            reader.getframerate(),
            reader.getnframes(),
        )
        assert len(reader.readframes(info[3])) == info[3] * info[0] * info[1]
    return info
