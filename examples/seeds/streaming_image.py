"""Streaming image analysis: ``process_image(..., stream=True)`` yields ``analysis_chunk``s.

Run it with ``python examples/seeds/streaming_image.py`` and ``GEMINI_API_KEY`` set, or with
``GEMGATE_UPSTREAM=emulator`` on gemgate's built-in Gemini emulator (no key), or with
``GEMGATE_UPSTREAM_URL`` (plus any ``GEMINI_API_KEY``) on another server such as
``gemgate emulate``.

The seed reads ``image.jpg``; to stay self-contained this script builds a 1x1 PNG in
memory instead (and so says ``image/png``).
"""

import struct
import zlib

from gemgate import Gemini


def tiny_png() -> bytes:
    """A valid 1x1 red PNG, built from bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte, then one red pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


gemini_api = Gemini()

# Process an image with streaming response
image_data = tiny_png()

for chunk in gemini_api.process_image(
    image_data,
    "Describe this image in detail, focusing on all visible elements.",
    mime_type="image/png",
    stream=True,
):
    print(chunk["analysis_chunk"], end="", flush=True)
print()

gemini_api.close()
