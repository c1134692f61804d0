"""The Anthropic Messages adapter over Gemini (sans-I/O), for the gateway's ``/v1/messages``.

* :mod:`~gemgate.wire.anthropic._request` — a whole Messages body
  (:func:`messages_request`) or a ``count_tokens`` body (:func:`count_request`),
  validated; unknown fields and wrong types raise
  :class:`~gemgate.wire.openai.InvalidRequest` naming the field;
* :mod:`~gemgate.wire.anthropic._content` — ``system`` and ``messages`` → contents,
  thought signatures put back where Gemini gave them;
* :mod:`~gemgate.wire.anthropic._stream` and :mod:`~gemgate.wire.anthropic._response`
  — Gemini answers back to Anthropic's stream events and ``message``.

Example:
    >>> request = messages_request({"model": "gemini-2.5-flash", "max_tokens": 16,
    ...     "messages": [{"role": "user", "content": "Hi"}],
    ...     "thinking": {"type": "enabled", "budget_tokens": 1024}})
    Traceback (most recent call last):
    ...
    gemgate.wire.openai._errors.InvalidRequest: thinking.budget_tokens: `max_tokens` must be \
greater than `budget_tokens`
"""

from __future__ import annotations

from gemgate.wire.anthropic._citations import citations
from gemgate.wire.anthropic._content import messages_to_contents, system_instruction
from gemgate.wire.anthropic._request import (
    COUNT_FIELDS,
    MESSAGE_FIELDS,
    MessagesRequest,
    count_request,
    messages_request,
)
from gemgate.wire.anthropic._response import accumulate, message
from gemgate.wire.anthropic._stream import MessageStream, sse_event, stop_reason, usage

__all__ = [
    "COUNT_FIELDS",
    "MESSAGE_FIELDS",
    "MessageStream",
    "MessagesRequest",
    "accumulate",
    "citations",
    "count_request",
    "message",
    "messages_request",
    "messages_to_contents",
    "sse_event",
    "stop_reason",
    "system_instruction",
    "usage",
]
