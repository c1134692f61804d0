"""The OpenAI Responses API adapter over Gemini (sans-I/O), for the gateway's ``/v1/responses``.

It translates through the chat-completions adapter (:mod:`gemgate.wire.openai`), so the
two OpenAI faces turn one conversation, one tool list and one set of generation settings
into the same Gemini request:

* :mod:`~gemgate.wire.responses._request` — a whole body (:func:`responses_request`),
  validated; unknown fields and wrong types raise ``InvalidRequest`` naming the field;
* :mod:`~gemgate.wire.responses._items` — ``input`` items → Gemini contents;
* :mod:`~gemgate.wire.responses._output` — a Gemini answer → the Response object;
* :mod:`~gemgate.wire.responses._stream` — Gemini chunks → the Responses SSE events.

Example:
    >>> parsed = responses_request({"model": "gemini-2.5-flash", "input": "Hi",
    ...     "instructions": "Be brief.", "max_output_tokens": 64})
    >>> parsed.request["contents"], parsed.request["systemInstruction"]
    ([{'role': 'user', 'parts': [{'text': 'Hi'}]}], {'parts': [{'text': 'Be brief.'}]})
"""

from __future__ import annotations

from gemgate.wire.responses._items import (
    SKIP_SIGNATURE,
    KnownCall,
    call_ids,
    input_contents,
    input_items,
    known_calls,
    needs_signatures,
    sign_unsigned_calls,
)
from gemgate.wire.responses._output import (
    new_id,
    output_annotations,
    output_items,
    response_object,
    response_usage,
)
from gemgate.wire.responses._request import (
    RESPONSE_FIELDS,
    ResponsesRequest,
    previous_response_id,
    responses_request,
)
from gemgate.wire.responses._stream import EventStream, event_frame

__all__ = [
    "RESPONSE_FIELDS",
    "SKIP_SIGNATURE",
    "EventStream",
    "KnownCall",
    "ResponsesRequest",
    "output_annotations",
    "call_ids",
    "event_frame",
    "input_contents",
    "input_items",
    "known_calls",
    "needs_signatures",
    "new_id",
    "output_items",
    "previous_response_id",
    "response_object",
    "response_usage",
    "responses_request",
    "sign_unsigned_calls",
]
