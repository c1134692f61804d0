"""Thought signatures: opaque to clients, checkable by the emulator.

A signature is ``base64(magic + HMAC(secret, payload)[:16])``. Signatures on function
calls cover the call's name and arguments, so an altered call or a signature from
elsewhere is refused like Gemini refuses it. Clients may send the documented sentinel
``skip_thought_signature_validator`` instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from gemgate.emulator._normalize import decode_bytes

__all__ = ["SKIP_SENTINEL", "Signer"]

SKIP_SENTINEL = "skip_thought_signature_validator"
_MAGIC = b"\x9agg1"


class Signer:
    """Signs and verifies thought signatures with one secret."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def _mac(self, payload: Any) -> bytes:
        data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self._key, data, hashlib.sha256).digest()[:16]

    def sign(self, payload: Any) -> str:
        """A signature over a JSON-serialisable payload."""
        return base64.b64encode(_MAGIC + self._mac(payload)).decode()

    def sign_call(self, call: Mapping[str, Any]) -> str:
        """The signature for a ``functionCall``."""
        return self.sign(_call_payload(call))

    def verify_part(self, part: Mapping[str, Any]) -> bool:
        """Whether the part's ``thoughtSignature`` is one this emulator issued for it."""
        signature = part.get("thoughtSignature")
        if signature is None or signature == SKIP_SENTINEL:
            return True
        raw = decode_bytes(signature)
        if raw is None or not raw.startswith(_MAGIC):
            return False
        call = part.get("functionCall")
        if call is None:
            return True
        return hmac.compare_digest(raw[len(_MAGIC) :], self._mac(_call_payload(call)))


def _call_payload(call: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": call.get("name", ""), "args": call.get("args", {})}
