"""Trimming a history to a token budget without splitting tool-call/response pairs."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from gemgate.sessions._message import ChatMessage

__all__ = ["estimate_message_tokens", "trim_history"]


def estimate_message_tokens(message: ChatMessage) -> int:
    """About one token per four bytes of the message's parts."""
    return max(1, len(json.dumps(message.parts)) // 4)


def _blocks(messages: Sequence[ChatMessage]) -> list[list[ChatMessage]]:
    """Group a model turn with function calls and the user turn answering it."""
    blocks: list[list[ChatMessage]] = []
    for message in messages:
        answers = bool(message.function_responses)
        if answers and blocks and blocks[-1][-1].function_calls:
            blocks[-1].append(message)
        else:
            blocks.append([message])
    return blocks


def trim_history(
    messages: Sequence[ChatMessage],
    budget: int,
    *,
    count: Callable[[ChatMessage], int] = estimate_message_tokens,
) -> list[ChatMessage]:
    """The newest messages that fit in ``budget`` tokens, oldest first.

    A function call and its response are kept or dropped together, system notes are
    never sent, and the result never starts with a model turn or a lone function
    response (Gemini expects a conversation to open with the user).
    """
    blocks = _blocks([m for m in messages if m.role != "system"])
    kept: list[list[ChatMessage]] = []
    used = 0
    for block in reversed(blocks):
        cost = sum(count(m) for m in block)
        if used + cost > budget:
            break
        kept.append(block)
        used += cost
    flat = [m for block in reversed(kept) for m in block]
    while flat and (flat[0].role != "user" or flat[0].function_responses):
        flat.pop(0)
    return flat
