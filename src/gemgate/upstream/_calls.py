"""Building calls: paths, model names, token estimates and resource affinity."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["bare_model", "estimate_tokens", "model_method", "referenced_resources"]

_MODEL_PATH = re.compile(r"^/v[^/]+/(?:models|tunedModels)/([^/:?]+):(\w+)")
_RESOURCE = re.compile(
    r"(cachedContents/[A-Za-z0-9_-]+|files/[a-z0-9-]+|fileSearchStores/[a-z0-9-]+)"
)
_BODY_MARKERS = (b"cachedContent", b"fileUri", b"file_uri", b"fileName", b"fileSearchStores/")


def bare_model(name: str) -> str:
    """``models/gemini-2.5-flash`` → ``gemini-2.5-flash``."""
    return name.removeprefix("models/")


def model_method(path: str) -> tuple[str | None, str | None]:
    """The model id and method of a ``/v1beta/models/{m}:{method}`` path."""
    match = _MODEL_PATH.match(path)
    if match is None:
        return None, None
    return match.group(1), match.group(2)


def estimate_tokens(body: bytes | Mapping[str, Any] | None) -> int:
    """A cheap upper-ish estimate of input tokens (about 4 bytes of text per token)."""
    if body is None:
        return 0
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return max(1, len(raw) // 4)


def referenced_resources(path: str, body: bytes | None) -> list[str]:
    """Project-owned resources a call refers to.

    ``cachedContents/x``, ``files/y`` and ``fileSearchStores/z`` (named in the path, or in
    the body as a cache, a ``fileData`` URI or a ``fileSearch`` tool's store).
    """
    found = _RESOURCE.findall(path.split("?", 1)[0])
    if body and any(marker in body for marker in _BODY_MARKERS):
        found += _RESOURCE.findall(body.decode("utf-8", "replace"))
    return found
