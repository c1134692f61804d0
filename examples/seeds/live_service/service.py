"""The seed's OptimizedGeminiClient calls, on gemgate's LivePool (``AsyncGemini.live``)."""

import asyncio
import struct
import zlib

from gemgate import AsyncGemini


def tiny_png() -> bytes:
    """A 1x1 PNG, standing in for an uploaded picture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    body = chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


async def main() -> None:
    """Two turns of one conversation, an image, a health check, and closing the session."""
    async with AsyncGemini() as client:  # GEMGATE_UPSTREAM=emulator: the built-in emulator
        service = client.live
        for text in ("Hello, I am Mina.", "What did I just tell you?"):
            print("user123 >", text)
            print("model   < ", end="")
            async for piece in service.process_text_stream(text, session_id="user123"):
                print(piece, end="", flush=True)
            print()
        answer = await service.process_image(
            tiny_png(), "What is in this picture?", session_id="user123", mime_type="image/png"
        )
        print("image   <", answer[:80], "...")
        print("health  :", await service.health_check())
        print("closed  :", await service.close_session("user123"))


asyncio.run(main())
