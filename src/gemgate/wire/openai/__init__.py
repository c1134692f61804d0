"""The OpenAI chat-completions adapter over Gemini (sans-I/O), shared by both faces.

``AsyncGemini.chat``/``stream_chat`` and the gateway's ``/v1/chat/completions`` both
translate through here, so one OpenAI payload gives one Gemini request on both:

* :mod:`~gemgate.wire.openai._request` — a whole body (:func:`chat_request`) or the
  fields beside the messages (:func:`gemini_request`), validated; unknown fields and
  wrong types raise :class:`InvalidRequest` naming the field;
* :mod:`~gemgate.wire.openai._messages`, :mod:`~gemgate.wire.openai._tools`,
  :mod:`~gemgate.wire.openai._generation` — the parts of that translation;
* :mod:`~gemgate.wire.openai._response` and :mod:`~gemgate.wire.openai._stream` — Gemini
  answers back to ``chat.completion``/``chat.completion.chunk`` and OpenAI's SSE frames;
  nothing Gemini says is lost (what OpenAI has no field for rides under
  ``extra_content.google``);
* :mod:`~gemgate.wire.openai._reverse` — :func:`chat_request_of`, the inverse of
  :func:`chat_request`;
* :mod:`~gemgate.wire.openai._batch` — OpenAI batch input files to Gemini batch files,
  and Gemini's batch results back to OpenAI's output and error lines.

Model ids follow :mod:`gemgate.wire._models`. The mapping follows the one Gemini's own
OpenAI-compatibility layer uses.

Example:
    >>> chat = chat_request({"model": "gemini-2.5-flash",
    ...     "messages": [{"role": "user", "content": "Hi"}], "tool_choice": "none",
    ...     "tools": [{"type": "function", "function": {"name": "now"}}]})
    >>> chat.request["toolConfig"]
    {'functionCallingConfig': {'mode': 'NONE'}}
"""

from __future__ import annotations

from gemgate.wire.openai._batch import (
    BATCH_ENDPOINTS,
    MAX_BATCH_LINES,
    BatchRequest,
    BatchResult,
    LineError,
    ReadBatch,
    batch_request_id,
    openai_results,
    openai_results_of,
    openai_status,
    read_batch_file,
)
from gemgate.wire.openai._citations import citation_annotations, url_annotations
from gemgate.wire.openai._errors import InvalidRequest
from gemgate.wire.openai._generation import GENERATION_PARAMS, generation_config
from gemgate.wire.openai._messages import messages_to_contents
from gemgate.wire.openai._request import (
    CHAT_FIELDS,
    REQUEST_FIELDS,
    ChatRequest,
    chat_request,
    gemini_request,
    thought_tag_of,
)
from gemgate.wire.openai._response import completion, completion_chunk, finish_reason, usage
from gemgate.wire.openai._reverse import chat_request_of
from gemgate.wire.openai._stream import SSE_DONE, ChunkStream, sse_frame
from gemgate.wire.openai._tools import tools_to_gemini

__all__ = [
    "BATCH_ENDPOINTS",
    "BatchRequest",
    "BatchResult",
    "CHAT_FIELDS",
    "ChatRequest",
    "ChunkStream",
    "GENERATION_PARAMS",
    "InvalidRequest",
    "LineError",
    "MAX_BATCH_LINES",
    "REQUEST_FIELDS",
    "ReadBatch",
    "SSE_DONE",
    "batch_request_id",
    "chat_request",
    "chat_request_of",
    "citation_annotations",
    "completion",
    "completion_chunk",
    "finish_reason",
    "gemini_request",
    "generation_config",
    "messages_to_contents",
    "openai_results",
    "openai_results_of",
    "openai_status",
    "read_batch_file",
    "sse_frame",
    "thought_tag_of",
    "tools_to_gemini",
    "url_annotations",
    "usage",
]
