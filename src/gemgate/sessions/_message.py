"""Chat messages and chat metadata, as stored by every backend."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChatInfo", "ChatMessage"]


def _now() -> float:
    return time.time()


class ChatMessage(BaseModel):
    """One turn of a chat, keeping the full Gemini content.

    ``parts`` are Gemini parts exactly as exchanged (text, inline data, function calls
    and responses, thought signatures), so a stored history can be sent back as is.

    Example:
        >>> ChatMessage.user("Hello").text
        'Hello'
        >>> ChatMessage.model("Hi!").to_content()
        {'role': 'model', 'parts': [{'text': 'Hi!'}]}
    """

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "model", "system"]
    parts: list[dict[str, Any]]
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = Field(default_factory=_now)
    processing_time: float | None = None
    """Seconds the model (or tool) took to produce this message."""
    usage: dict[str, int] | None = None
    """``prompt_tokens``, ``completion_tokens``, ``total_tokens`` of the call that made it."""
    message_type: str = "text"
    """``text``, ``image``, ``audio``, ``function_call``, ``function_response`` …"""
    sender: str | None = None
    """Who sent it, when not implied by ``role`` (``user``, ``assistant``, ``system``)."""
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def user(cls, text: str, **fields: Any) -> ChatMessage:
        """A user message with one text part."""
        return cls(role="user", parts=[{"text": text}], **fields)

    @classmethod
    def model(cls, text: str, **fields: Any) -> ChatMessage:
        """A model message with one text part."""
        return cls(role="model", parts=[{"text": text}], **fields)

    @classmethod
    def from_content(cls, content: Mapping[str, Any], **fields: Any) -> ChatMessage:
        """A message from a Gemini ``Content``."""
        parts = [dict(p) for p in content.get("parts", [])]
        kind = "text"
        if any("functionCall" in p for p in parts):
            kind = "function_call"
        elif any("functionResponse" in p for p in parts):
            kind = "function_response"
        elif any("inlineData" in p or "fileData" in p for p in parts):
            kind = "image"
        fields.setdefault("message_type", kind)
        return cls(role=content.get("role") or "user", parts=parts, **fields)

    @property
    def text(self) -> str:
        """The message's text, thoughts excluded."""
        return "".join(p.get("text", "") for p in self.parts if not p.get("thought"))

    @property
    def function_calls(self) -> list[dict[str, Any]]:
        """The ``functionCall`` objects in this message."""
        return [p["functionCall"] for p in self.parts if "functionCall" in p]

    @property
    def function_responses(self) -> list[dict[str, Any]]:
        """The ``functionResponse`` objects in this message."""
        return [p["functionResponse"] for p in self.parts if "functionResponse" in p]

    def to_content(self) -> dict[str, Any]:
        """The Gemini ``Content`` to send (system notes are not sent)."""
        return {"role": self.role, "parts": [dict(p) for p in self.parts]}


class ChatInfo(BaseModel):
    """A chat's metadata."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str | None = None
    user: str | None = None
    created_at: float = Field(default_factory=_now)
    updated_at: float = Field(default_factory=_now)
    message_count: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def new(
        cls,
        chat_id: str | None = None,
        *,
        title: str | None = None,
        user: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ChatInfo:
        """A new chat's metadata, with a fresh id unless ``chat_id`` is given."""
        return cls(
            id=chat_id or uuid.uuid4().hex, title=title, user=user, metadata=dict(metadata or {})
        )
