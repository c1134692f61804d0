"""The library face: :class:`AsyncGemini` and its blocking twin :class:`Gemini`."""

from __future__ import annotations

from gemgate.client._async_client import AsyncGemini
from gemgate.client._media import Image, pcm_to_wav
from gemgate.client._sync_client import Gemini

__all__ = ["AsyncGemini", "Gemini", "Image", "pcm_to_wav"]
