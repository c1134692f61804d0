"""Audio stand-ins: how long a PCM chunk lasts, and deterministic "speech" for AUDIO replies.

The emulator does not recognise or synthesise speech. An input audio chunk is transcribed
as ``<audio N ms>``; an AUDIO reply is 16-bit little-endian PCM at 24 kHz whose length
follows the text it stands for and whose samples are derived from that text, so the same
reply always sounds the same.
"""

from __future__ import annotations

import base64
import hashlib
import re

from gemgate.emulator._normalize import decode_bytes

__all__ = ["OUTPUT_MIME", "duration_ms", "join_audio", "speech", "transcript"]

OUTPUT_MIME = "audio/pcm;rate=24000"
_RATE = re.compile(r"rate=(\d+)")
_INPUT_RATE = 16_000
_SAMPLES_PER_CHAR = 48
"""Two milliseconds of 24 kHz audio per character of text."""


def _decode(data: str) -> bytes:
    return decode_bytes(data, validate=False) or b""


def duration_ms(data: str, mime_type: str) -> int:
    """Milliseconds of 16-bit mono PCM in base64 ``data`` (``rate=`` from the MIME type)."""
    match = _RATE.search(mime_type)
    rate = int(match.group(1)) if match else _INPUT_RATE
    return len(_decode(data)) * 1000 // (2 * max(rate, 1))


def transcript(data: str, mime_type: str) -> str:
    """The stand-in transcription of one input audio chunk."""
    return f"<audio {duration_ms(data, mime_type)} ms>"


def join_audio(chunks: list[str]) -> str:
    """Base64 chunks joined into one base64 payload."""
    return base64.b64encode(b"".join(_decode(c) for c in chunks)).decode()


def speech(text: str) -> str:
    """Base64 PCM (24 kHz, 16-bit) standing for ``text`` being spoken."""
    size = 2 * _SAMPLES_PER_CHAR * max(len(text), 1)
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    return base64.b64encode(bytes(out[:size])).decode()
