"""Planning one Live reply: the REST responder's answer, cut into the messages to stream.

The reply comes from :class:`~gemgate.emulator._responder.Responder` fed with the whole
conversation as a ``generateContent`` request, so scripted rules (``match``,
``after_function``), declared tools and the deterministic text apply exactly as over REST,
and a session that lost context answers differently from one that kept it. Text is cut
into chunks of a few words: ``modelTurn`` text parts for TEXT sessions, PCM audio parts
(plus ``outputTranscription`` when asked for) for AUDIO sessions. Function calls become
one ``toolCall`` with ids derived from the conversation.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gemgate.emulator._responder import Responder
from gemgate.emulator._tokens import count_part, count_tools
from gemgate.emulator.live._audio import OUTPUT_MIME, speech
from gemgate.emulator.live._setup import LiveConfig

__all__ = ["Chunk", "Plan", "Usage", "plan_reply"]

_PIECE = re.compile(r"\S+\s*|\s+")
_WORDS_PER_CHUNK = 6
_MODALITIES = (("image/", "IMAGE"), ("audio/", "AUDIO"), ("video/", "VIDEO"))


@dataclass(frozen=True)
class Chunk:
    """One ``modelTurn`` message: its parts, the text it stands for, its transcription."""

    parts: list[dict[str, Any]]
    text: str = ""
    transcript: str | None = None


@dataclass
class Plan:
    """What the model answers to the conversation so far."""

    chunks: list[Chunk]
    calls: list[dict[str, Any]]
    prompt_tokens: int
    prompt_details: list[dict[str, Any]]
    thoughts_tokens: int


@dataclass
class Usage:
    """Token counts of one turn (across its tool-call rounds)."""

    response: int = 0
    thoughts: int = 0
    modality: str = "TEXT"
    prompt: int = 0
    prompt_details: list[dict[str, Any]] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        """The turn's ``usageMetadata`` (Live names: ``responseTokenCount``)."""
        usage: dict[str, Any] = {"promptTokenCount": self.prompt}
        if self.response:
            usage["responseTokenCount"] = self.response
        usage["totalTokenCount"] = self.prompt + self.response + self.thoughts
        usage["promptTokensDetails"] = self.prompt_details
        if self.response:
            usage["responseTokensDetails"] = [
                {"modality": self.modality, "tokenCount": self.response}
            ]
        if self.thoughts:
            usage["thoughtsTokenCount"] = self.thoughts
        return usage


def _modality(part: Mapping[str, Any]) -> str:
    mime = part.get("inlineData", part.get("fileData", {})).get("mimeType", "")
    return next((name for prefix, name in _MODALITIES if mime.startswith(prefix)), "TEXT")


def _prompt(request: Mapping[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    counts: dict[str, int] = {}
    system = request.get("systemInstruction")
    for content in [system] if system else []:
        for part in content.get("parts", []):
            counts["TEXT"] = counts.get("TEXT", 0) + count_part(part)
    for content in request.get("contents", []):
        for part in content.get("parts", []):
            modality = _modality(part)
            counts[modality] = counts.get(modality, 0) + count_part(part)
    tools = count_tools(request.get("tools", []))
    if tools:
        counts["TEXT"] = counts.get("TEXT", 0) + tools
    details = [{"modality": m, "tokenCount": n} for m, n in counts.items() if n]
    return sum(counts.values()), details


def _pieces(text: str) -> list[str]:
    words = _PIECE.findall(text)
    return [
        "".join(words[i : i + _WORDS_PER_CHUNK]) for i in range(0, len(words), _WORDS_PER_CHUNK)
    ]


def _call_id(history: list[dict[str, Any]], index: int) -> str:
    digest = hashlib.sha256(json.dumps([history, index], sort_keys=True).encode()).hexdigest()
    return f"function-call-{int(digest[:15], 16)}"


def _chunks(parts: list[dict[str, Any]], config: LiveConfig) -> list[Chunk]:
    chunks: list[Chunk] = []
    for part in parts:
        if "text" not in part:
            continue
        if part.get("thought"):
            if config.modality == "TEXT":
                chunks.append(Chunk([{"text": part["text"], "thought": True}]))
            continue
        for piece in _pieces(part["text"]):
            if config.modality == "TEXT":
                chunks.append(Chunk([{"text": piece}], piece))
                continue
            audio = {"inlineData": {"mimeType": OUTPUT_MIME, "data": speech(piece)}}
            chunks.append(Chunk([audio], piece, piece if config.output_transcription else None))
    return chunks


def plan_reply(responder: Responder, config: LiveConfig, history: list[dict[str, Any]]) -> Plan:
    """The reply to ``history`` under ``config``."""
    request = config.request(history)
    reply = responder.reply(request, config.model)
    parts = reply.drafts[0].parts if reply.drafts else []
    calls = [
        {"id": _call_id(history, i), **p["functionCall"]}
        for i, p in enumerate(part for part in parts if "functionCall" in part)
    ]
    prompt, details = _prompt(request)
    return Plan(_chunks(parts, config), calls, prompt, details, reply.thoughts_tokens)
