"""Thought signatures: opaque to clients, checkable by the emulator.

A signature is ``base64(magic + model tag + HMAC(secret, payload)[:16])``: the tag binds
it to the model that issued it, and signatures on function calls cover the call's name
and arguments, so an altered call, a signature from another model or one from elsewhere
is refused like Gemini refuses it. Clients may send the documented sentinel
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
_TAG = 4


class Signer:
    """Signs and verifies thought signatures with one secret."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def _mac(self, payload: Any) -> bytes:
        data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self._key, data, hashlib.sha256).digest()[:16]

    def _tag(self, model: str) -> bytes:
        return self._mac({"model": model})[:_TAG]

    def sign(self, payload: Any, model: str) -> str:
        """A signature by ``model`` over a JSON-serialisable payload."""
        return base64.b64encode(_MAGIC + self._tag(model) + self._mac(payload)).decode()

    def sign_call(self, call: Mapping[str, Any], model: str) -> str:
        """The signature ``model`` puts on a ``functionCall``."""
        return self.sign(_call_payload(call), model)

    def verify_part(self, part: Mapping[str, Any], model: str) -> bool:
        """Whether the part's ``thoughtSignature`` is one ``model`` issued for it here."""
        signature = part.get("thoughtSignature")
        if signature is None or signature == SKIP_SENTINEL:
            return True
        raw = decode_bytes(signature)
        head = _MAGIC + self._tag(model)
        if raw is None or not raw.startswith(head):
            return False
        call = part.get("functionCall")
        if call is None:
            return True
        return hmac.compare_digest(raw[len(head) :], self._mac(_call_payload(call)))


def _call_payload(call: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": call.get("name", ""), "args": call.get("args", {})}
