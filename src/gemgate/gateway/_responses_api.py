"""``/v1/responses``: OpenAI's Responses API over Gemini generateContent.

``POST /v1/responses`` answers a Response object (``"stream": true``: the Responses
server-sent events); ``GET``/``DELETE /v1/responses/{id}`` read and delete a stored one;
``GET /v1/responses/{id}/input_items`` lists its input. A response is stored (unless
``"store": false``) with the whole Gemini conversation behind it, so
``previous_response_id`` continues it, tool calls' thought signatures included, without
the client sending them; calls sent back without a known signature get Google's stand-in
on models that require one. Each gateway key sees only its own responses: another key's id
is a 404. A model route (``model_routes``) falls back as on ``/v1/chat/completions``, over
its Gemini entries. ``file_search`` tools name the caller's stores, whose best chunks ground the
answer (it then carries ``file_citation`` annotations).

Failures are raised and answered in OpenAI's shape (`gemgate.gateway._faces.OPENAI`); a
stream that fails after it started ends with a ``response.failed`` event.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from gemgate.client._async_client import AsyncGemini
from gemgate.errors import GemgateError
from gemgate.gateway._asgi import send_json, send_stream
from gemgate.gateway._backends import Registry
from gemgate.gateway._faces import Problem, model_not_found, problem_of
from gemgate.gateway._generate import (
    SSE_HEADERS,
    GenerationRoute,
    PeekedStream,
    gemini_model,
    serve_chain,
)
from gemgate.gateway._responses import StoredResponse, StoredResponses
from gemgate.gateway._retrieval import Retrieval, grounded_stream
from gemgate.gateway._sessions_api import owner_of
from gemgate.rag import Hit, ground_response, grounded_request
from gemgate.tools._loop import merge_parts
from gemgate.wire import responses
from gemgate.wire._models import backend_model
from gemgate.wire.responses import ResponsesRequest

__all__ = ["ResponsesRoute"]


class ResponsesRoute(GenerationRoute):
    """Serves ``/v1/responses`` and its stored responses.

    Args:
        client: The Gemini client (the active backend's, when that is Gemini).
        max_body: The body cap.
        registry: The gateway's backends.
        stored: Where responses are kept.
    """

    def __init__(
        self, client: AsyncGemini, max_body: int, registry: Registry, stored: StoredResponses
    ) -> None:
        super().__init__(client, max_body, registry)
        self.stored = stored

    async def create(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/responses``."""
        body = await self.read(scope, receive)
        await self._inline_images(body)
        owner = owner_of(scope) or ""
        tools = body.get("tools")
        retrieval = await Retrieval.of(body, self.client.stores.for_owner(owner))
        parsed = await self._parse(owner, {**self._defaults(), **body})
        if tools is not None:
            parsed.echo["tools"] = tools
        hits = await retrieval.hits(parsed.request)
        request = grounded_request(parsed.request, hits) if hits else parsed.request
        turn = _Turn(self, owner, parsed, responses.new_id("resp"), int(time.time()))

        async def serve(model: str, last: bool) -> None:
            sent = request
            if responses.needs_signatures(model):  # calls sent back from unstored responses
                sent = {**request, "contents": responses.sign_unsigned_calls(request["contents"])}
            if parsed.stream:
                await self._stream(turn, sent, model, hits, receive, send)
            else:
                await send_json(send, 200, await self._answer(turn, sent, model, hits))

        await serve_chain(self._models(parsed.model), serve, model_not_found)

    def _models(self, name: str) -> list[str]:
        """The Gemini models a name stands for, in order (a route's, or the model itself).

        A route's OpenAI-compatible entries (``NAME/model``) are left out: this API is
        served by Gemini only.
        """
        chain = self.chain(name)
        models = [gemini_model(m) for m in chain if backend_model(m) is None or m == name]
        if not models:
            raise model_not_found(name)
        return models

    def _defaults(self) -> dict[str, Any]:
        """The gateway's default generation settings, by their Responses names."""
        names = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_output_tokens"}
        defaults = self.registry.defaults
        return {names[k]: v for k, v in defaults.items() if k in names}

    async def _inline_images(self, body: dict[str, Any]) -> None:
        """Replace http(s) ``input_image`` URLs with fetched ``data:`` URLs."""
        items = body.get("input")
        for i, item in enumerate(items if isinstance(items, list) else []):
            content = item.get("content") if isinstance(item, dict) else None
            for part in content if isinstance(content, list) else []:
                url = part.get("image_url") if isinstance(part, dict) else None
                if isinstance(url, str) and url.startswith(("http://", "https://")):
                    part["image_url"] = await self.fetch_image(url, f"input[{i}].content")

    async def _parse(self, owner: str, body: dict[str, Any]) -> ResponsesRequest:
        """The translated body, after the stored conversation and calls it refers to."""
        history: list[dict[str, Any]] = []
        previous = responses.previous_response_id(body)
        if previous is not None:
            found = await self.stored.get(owner, previous)
            if found is None:
                raise Problem(
                    404,
                    f"Previous response with id '{previous}' not found.",
                    "previous_response_id",
                    code="previous_response_not_found",
                )
            history = found.contents
        items = responses.input_items(body.get("input"))
        calls = await self.stored.calls(owner, responses.call_ids(items))
        return responses.responses_request(body, history=history, calls=calls)

    async def _answer(
        self, turn: _Turn, request: dict[str, Any], model: str, hits: Sequence[Hit]
    ) -> dict[str, Any]:
        gemini = await self.client.send_request(request, model)
        if hits:
            ground_response(gemini, hits)
        answer = responses.response_object(
            gemini, turn.id, turn.parsed.model, created_at=turn.created, echo=turn.parsed.echo
        )
        candidates = gemini.get("candidates") or [{}]
        parts = candidates[0].get("content", {}).get("parts", [])
        await turn.keep(answer, request, parts)
        return answer

    async def _stream(
        self,
        turn: _Turn,
        request: dict[str, Any],
        model: str,
        hits: Sequence[Hit],
        receive: Receive,
        send: Send,
    ) -> None:
        stream = self.client.stream_request(request, model)
        if hits:
            stream = grounded_stream(stream, hits)
        peeked = await PeekedStream.peek(stream)  # errors before the first chunk: plain HTTP errors
        events = responses.EventStream(
            turn.id, turn.parsed.model, created_at=turn.created, echo=turn.parsed.echo
        )
        await send_stream(send, receive, 200, _sse(peeked, events, turn, request), SSE_HEADERS)

    async def retrieve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/responses/{response_id}``."""
        found = await self._found(scope)
        await send_json(send, 200, found.response)

    async def delete(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``DELETE /v1/responses/{response_id}``."""
        response_id = scope["path_params"]["response_id"]
        if not await self.stored.delete(owner_of(scope) or "", response_id):
            raise _not_found(response_id)
        await send_json(
            send, 200, {"id": response_id, "object": "response.deleted", "deleted": True}
        )

    async def input_items(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/responses/{response_id}/input_items`` (``order``, ``limit``, ``after``)."""
        found = await self._found(scope)
        query = {k: v[-1] for k, v in parse_qs(scope["query_string"].decode()).items()}
        items = list(found.items)
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise Problem(400, "'order' must be 'asc' or 'desc'", "order")
        if order == "desc":
            items.reverse()
        after = query.get("after")
        if after:
            ids = [item["id"] for item in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        limit = query.get("limit", "20")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            raise Problem(400, "'limit' must be an integer from 1 to 100", "limit")
        page = items[: int(limit)]
        await send_json(
            send,
            200,
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": len(items) > len(page),
            },
        )

    async def _found(self, scope: Scope) -> StoredResponse:
        response_id = scope["path_params"]["response_id"]
        found = await self.stored.get(owner_of(scope) or "", response_id)
        if found is None:
            raise _not_found(response_id)
        return found


@dataclass(frozen=True, slots=True)
class _Turn:
    """One response being made: its id, time, request, and how it is kept."""

    route: ResponsesRoute
    owner: str
    parsed: ResponsesRequest
    id: str
    created: int

    async def keep(
        self, answer: dict[str, Any], request: dict[str, Any], parts: list[dict[str, Any]]
    ) -> None:
        """Store the answer with its conversation, unless the request said ``store: false``."""
        if not self.parsed.store:
            return
        contents = list(request["contents"])
        merged = merge_parts(parts)
        if merged:
            contents.append({"role": "model", "parts": merged})
        stored = StoredResponse(self.id, answer, _with_ids(self.parsed.items), contents)
        calls = responses.known_calls(answer["output"], merged)
        await self.route.stored.save(self.owner, stored, calls)


def _failure_code(status: int) -> str:
    """A failed response's ``error.code``: one of the codes OpenAI's types allow."""
    if status == 429:
        return "rate_limit_exceeded"
    return "invalid_prompt" if 400 <= status < 500 else "server_error"


def _not_found(response_id: str) -> Problem:
    return Problem(404, f"Response with id '{response_id}' not found.", code="not_found")


def _with_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Input items as listed back: each with an id, a message's content as parts."""
    out = []
    for item in items:
        kind = item.get("type", "message")
        entry = {**item, "type": kind}
        if kind == "message":
            role = item.get("role", "user")
            content = item.get("content")
            if isinstance(content, str):
                part = "output_text" if role == "assistant" else "input_text"
                content = [{"type": part, "text": content}]
            entry.update(role=role, content=content, status="completed")
        elif kind == "function_call_output":
            entry.setdefault("status", "completed")
        prefix = {"message": "msg", "function_call": "fc", "function_call_output": "fco"}
        entry.setdefault("id", responses.new_id(prefix.get(kind, "item")))
        out.append(entry)
    return out


async def _sse(
    stream: PeekedStream,
    events: responses.EventStream,
    turn: _Turn,
    request: dict[str, Any],
) -> AsyncIterator[bytes]:
    for event in events.start():
        yield responses.event_frame(event)
    try:
        async for chunk in stream:
            for event in events.feed(chunk):
                yield responses.event_frame(event)
    except GemgateError as exc:
        problem = problem_of(exc)
        for event in events.fail(_failure_code(problem.status), problem.message):
            yield responses.event_frame(event)
        return
    finally:
        await stream.aclose()
    finished = events.finish()
    if events.response is not None:  # kept before the client hears it is done
        await turn.keep(events.response, request, events.parts)
    for event in finished:
        yield responses.event_frame(event)
