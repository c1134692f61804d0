"""Deterministic token counting, close enough to Gemini's for quotas and usage."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "count_contents",
    "count_media",
    "count_part",
    "count_request",
    "count_text",
    "count_tools",
    "truncate_tokens",
]

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_PIECE = re.compile(r"\w{1,8}|[^\w\s]", re.UNICODE)
"""A word of n characters is ceil(n / 8) tokens: as many pieces of at most 8 as it has."""
MEDIA_TOKENS = 258
"""Tokens per image or other media part, as Gemini bills a small image."""


def count_text(text: str) -> int:
    """Tokens in a text."""
    return len(_PIECE.findall(text))


def count_part(part: Mapping[str, Any]) -> int:
    """Tokens in one Part."""
    if "text" in part:
        return count_text(part["text"])
    if "inlineData" in part or "fileData" in part:
        return MEDIA_TOKENS
    for key in ("functionCall", "functionResponse", "executableCode", "codeExecutionResult"):
        if key in part:
            return count_text(json.dumps(part[key], sort_keys=True))
    return 0


def count_contents(contents: Iterable[Mapping[str, Any]]) -> int:
    """Tokens in a list of Contents."""
    return sum(count_part(p) for c in contents for p in c.get("parts", ()))


def _modality(mime: str) -> str:
    kind = mime.split("/", 1)[0].upper()
    return kind if kind in ("IMAGE", "AUDIO", "VIDEO") else "DOCUMENT"


def count_media(request: Mapping[str, Any]) -> dict[str, int]:
    """Prompt tokens of the request's media parts, by modality (``IMAGE``, ``AUDIO`` …)."""
    counts: dict[str, int] = {}
    for content in request.get("contents", []):
        for part in content.get("parts", ()):
            blob = part.get("inlineData") or part.get("fileData")
            if isinstance(blob, Mapping):
                kind = _modality(str(blob.get("mimeType", "")))
                counts[kind] = counts.get(kind, 0) + MEDIA_TOKENS
    return counts


def count_tools(tools: Iterable[Mapping[str, Any]]) -> int:
    """Tokens the tool declarations add to a prompt."""
    return sum(count_text(json.dumps(tool, sort_keys=True)) for tool in tools)


def count_request(request: Mapping[str, Any]) -> int:
    """Input tokens of a request or cache body: contents, system instruction and tools."""
    system = request.get("systemInstruction")
    total = count_contents(request.get("contents", []))
    total += count_contents([system] if system else [])
    return total + count_tools(request.get("tools", []))


def truncate_tokens(text: str, limit: int) -> tuple[str, bool]:
    """Cut ``text`` after ``limit`` tokens; return the text and whether it was cut."""
    used = 0
    for match in _TOKEN.finditer(text):
        pieces = math.ceil(len(match.group()) / 8)
        if used + pieces > limit:
            keep = (limit - used) * 8
            return text[: match.start() + keep].rstrip(), True
        used += pieces
    return text, False
