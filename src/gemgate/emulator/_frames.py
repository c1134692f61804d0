"""Framing a :class:`~gemgate.emulator._responder.Reply` as GenerateContentResponse(s).

Non-streaming replies become one response; streaming replies become several chunks that
share a ``responseId``, carry running ``usageMetadata`` and put ``finishReason`` only on
the last chunk. Usage always adds up: ``total = prompt + candidates + thoughts``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gemgate.emulator._media import audio_pieces, output_tokens
from gemgate.emulator._responder import Draft, Reply
from gemgate.emulator._tokens import count_part

__all__ = ["Framing", "usage_metadata"]

_PIECE = re.compile(r"\S+\s*|\s+")
_WORDS_PER_CHUNK = 8
_BLOCKED_RATING = {
    "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
    "probability": "HIGH",
    "blocked": True,
}


def usage_metadata(
    prompt: int,
    candidates: int,
    thoughts: int,
    cached: int,
    tool_use: int = 0,
    modalities: Mapping[str, int] | None = None,
    prompt_media: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """A ``usageMetadata`` object; zero counts are omitted, as the service does.

    ``modalities`` (output tokens by modality) adds ``candidatesTokensDetails`` when the
    candidates hold more than text (generated images or speech); ``prompt_media`` (prompt
    tokens of media parts, by modality) splits ``promptTokensDetails`` the same way.
    """
    usage: dict[str, Any] = {"promptTokenCount": prompt}
    if candidates:
        usage["candidatesTokenCount"] = candidates
    usage["totalTokenCount"] = prompt + candidates + thoughts + tool_use
    if cached:
        usage["cachedContentTokenCount"] = cached
    media = {k: v for k, v in (prompt_media or {}).items() if v}
    text = max(prompt - sum(media.values()), 0)
    usage["promptTokensDetails"] = [
        {"modality": m, "tokenCount": n} for m, n in [("TEXT", text), *sorted(media.items())] if n
    ] or [{"modality": "TEXT", "tokenCount": 0}]
    if modalities and set(modalities) - {"TEXT"}:
        usage["candidatesTokensDetails"] = [
            {"modality": m, "tokenCount": n} for m, n in sorted(modalities.items()) if n
        ]
    if cached:
        usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    if tool_use:
        usage["toolUsePromptTokenCount"] = tool_use
        usage["toolUsePromptTokensDetails"] = [{"modality": "TEXT", "tokenCount": tool_use}]
    return usage


def _visible_tokens(parts: Iterable[dict[str, Any]]) -> Counter[str]:
    """Output tokens of the visible parts, by modality."""
    counts: Counter[str] = Counter()
    for part in parts:
        if part.get("thought"):
            continue
        media = output_tokens(part)
        if media is None:
            counts["TEXT"] += count_part(part)
        else:
            counts[media[0]] += media[1]
    return counts


@dataclass(frozen=True)
class Framing:
    """What every response of one call shares."""

    model_version: str
    response_id: str
    prompt_tokens: int
    cached_tokens: int
    prompt_media: Mapping[str, int] = field(default_factory=dict)
    """Prompt tokens of media parts, by modality (see `count_media`)."""

    def _envelope(self, candidates: list[dict[str, Any]], usage: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"candidates": candidates} if candidates else {}
        out["usageMetadata"] = usage
        out["modelVersion"] = self.model_version
        out["responseId"] = self.response_id
        return out

    def blocked(self, reason: str) -> dict[str, Any]:
        """A response whose prompt was blocked."""
        out: dict[str, Any] = {
            "promptFeedback": {"blockReason": reason, "safetyRatings": [_BLOCKED_RATING]}
        }
        usage = usage_metadata(
            self.prompt_tokens, 0, 0, self.cached_tokens, prompt_media=self.prompt_media
        )
        out.update(self._envelope([], usage))
        return out

    @staticmethod
    def _candidate(
        draft: Draft, index: int, parts: list[dict[str, Any]], last: bool
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {}
        if parts:
            candidate["content"] = {"parts": parts, "role": "model"}
        if last:
            candidate["finishReason"] = draft.finish_reason
            if draft.safety_blocked:
                candidate["safetyRatings"] = [_BLOCKED_RATING]
            if draft.grounding_metadata is not None:
                candidate["groundingMetadata"] = draft.grounding_metadata
            if draft.url_context_metadata is not None:
                candidate["urlContextMetadata"] = draft.url_context_metadata
        candidate["index"] = index
        return candidate

    def response(self, reply: Reply) -> dict[str, Any]:
        """The whole reply as one response."""
        if reply.block_reason:
            return self.blocked(reply.block_reason)
        candidates = [self._candidate(d, i, d.parts, last=True) for i, d in enumerate(reply.drafts)]
        visible = _visible_tokens(p for d in reply.drafts for p in d.parts)
        usage = usage_metadata(
            self.prompt_tokens,
            visible.total(),
            reply.thoughts_tokens,
            self.cached_tokens,
            reply.tool_tokens,
            visible,
            self.prompt_media,
        )
        return self._envelope(candidates, usage)

    def chunks(self, reply: Reply) -> list[dict[str, Any]]:
        """The reply split into stream chunks with running usage."""
        if reply.block_reason:
            return [self.blocked(reply.block_reason)]
        pieces = [_split(d.parts) for d in reply.drafts]
        steps = max((len(p) for p in pieces), default=1)
        chunks: list[dict[str, Any]] = []
        visible: Counter[str] = Counter()
        thoughts = reply.thoughts_tokens
        for step in range(steps):
            last = step == steps - 1
            candidates = []
            for index, (draft, parts) in enumerate(zip(reply.drafts, pieces, strict=True)):
                step_parts = parts[step] if step < len(parts) else []
                visible.update(_visible_tokens(step_parts))
                if step_parts or last:
                    candidates.append(self._candidate(draft, index, step_parts, last))
            usage = usage_metadata(
                self.prompt_tokens,
                visible.total(),
                thoughts,
                self.cached_tokens,
                reply.tool_tokens,
                visible,
                self.prompt_media,
            )
            chunks.append(self._envelope(candidates, usage))
        return chunks


def _split(parts: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Group a candidate's parts into stream steps, in order; adjacent non-text parts share one.

    Generated speech streams in pieces of a second, as the TTS models send it.
    """
    steps: list[list[dict[str, Any]]] = []
    calls: list[dict[str, Any]] = []
    for part in parts:
        audio = audio_pieces(part)
        if audio:
            if calls:
                steps.append(calls)
                calls = []
            steps += [[piece] for piece in audio]
            continue
        if "text" not in part:
            calls.append(part)
            continue
        if calls:
            steps.append(calls)
            calls = []
        words = _PIECE.findall(part["text"]) or [""]
        groups = [
            "".join(words[i : i + _WORDS_PER_CHUNK]) for i in range(0, len(words), _WORDS_PER_CHUNK)
        ]
        extra = {k: v for k, v in part.items() if k not in ("text", "thoughtSignature")}
        for i, group in enumerate(groups):
            piece: dict[str, Any] = {"text": group, **extra}
            if i == len(groups) - 1 and "thoughtSignature" in part:
                piece["thoughtSignature"] = part["thoughtSignature"]
            steps.append([piece])
    if calls:
        steps.append(calls)
    return steps or [[]]
