"""``/v1``: the OpenAI chat-completions, embeddings and models API over Gemini.

Failures are raised, and answered in OpenAI's shape by the gateway
(`gemgate.gateway._faces.OPENAI`); an unknown model, whichever backend would serve it, is
OpenAI's 404 ``model_not_found``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.types import Receive, Scope, Send

from gemgate.errors import NotFoundError, StreamInterrupted
from gemgate.gateway._asgi import send_json, send_stream
from gemgate.gateway._backends import Backend
from gemgate.gateway._faces import Problem as RequestError
from gemgate.gateway._faces import model_not_found, openai_body, problem_of
from gemgate.gateway._generate import (
    SSE_HEADERS,
    BackendUnavailable,
    GenerationRoute,
    PeekedStream,
    check_model,
    gemini_model,
    serve_chain,
)
from gemgate.gateway._retrieval import Retrieval, grounded_stream
from gemgate.gateway._sessions_api import owner_of
from gemgate.rag import Hit, ground_response, grounded_request
from gemgate.wire import openai

__all__ = ["OpenAIRoute"]


class OpenAIRoute(GenerationRoute):
    """Serves ``/v1/chat/completions``, ``/v1/embeddings`` and ``/v1/models``."""

    async def list_models(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/models``."""
        await send_json(send, 200, await self._models())

    async def get_model(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/models/{model}``."""
        await send_json(send, 200, await self._model(scope["path_params"]["model"]))

    async def chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/chat/completions``.

        ``vector_store_ids`` (top level) and ``file_search`` tools name stores whose best
        chunks ground the answer; it then carries OpenAI ``annotations``.
        """
        body = await self._body(scope, receive, send)
        if body is not None:
            retrieval = await Retrieval.of(
                body, self.client.stores.for_owner(owner_of(scope) or "")
            )
            await self._chat(body, receive, send, retrieval)

    async def embeddings(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/embeddings``."""
        body = await self._body(scope, receive, send)
        if body is not None:
            await send_json(send, 200, await self._embeddings(body))

    async def _body(self, scope: Scope, receive: Receive, send: Send) -> dict[str, Any] | None:
        """The JSON body, its model allowed; None once relayed to an OpenAI-compatible server."""
        body = await self.read_or_relay(scope, receive, send)
        if body is not None:
            check_model(scope, body.get("model"))
        return body

    async def _models(self) -> dict[str, Any]:
        listed = await self.client.sdk.aio.models.list()
        data = [
            {
                "id": (m.name or "").removeprefix("models/"),
                "object": "model",
                "created": 0,
                "owned_by": "google",
            }
            async for m in listed
        ]
        return {"object": "list", "data": data}

    async def _model(self, name: str) -> dict[str, Any]:
        from google.genai import errors

        gemini_model(name)
        try:
            model = await self.client.sdk.aio.models.get(model=name)
        except ValueError:  # a name the SDK itself refuses
            raise model_not_found(name) from None
        except errors.APIError as exc:
            if exc.code == 404:
                raise model_not_found(name) from None
            raise RequestError(exc.code or 502, exc.message or str(exc)) from None
        return {
            "id": (model.name or name).removeprefix("models/"),
            "object": "model",
            "created": 0,
            "owned_by": "google",
        }

    def _request(self, body: dict[str, Any]) -> openai.ChatRequest:
        chat = openai.chat_request({**self.registry.defaults, **body})  # 400s name their param
        if self.target(chat.model)[0] is None:
            chat = dataclasses.replace(chat, model=gemini_model(chat.model))
        return chat

    async def _inline_images(self, body: dict[str, Any]) -> None:
        """Replace http(s) ``image_url`` parts with fetched ``data:`` URLs."""
        messages = body.get("messages")
        for message in messages if isinstance(messages, list) else []:
            content = message.get("content") if isinstance(message, dict) else None
            for part in content if isinstance(content, list) else []:
                image = part.get("image_url") if isinstance(part, dict) else None
                url = image.get("url") if isinstance(image, dict) else image
                if isinstance(url, str) and url.startswith(("http://", "https://")):
                    part["image_url"] = {"url": await self.fetch_image(url, "messages")}

    async def _chat(
        self, body: dict[str, Any], receive: Receive, send: Send, retrieval: Retrieval
    ) -> None:
        await self._inline_images(body)
        chat = self._request(body)
        hits = await retrieval.hits(chat.request)

        async def serve(entry: str, last: bool) -> None:
            backend, model = self.target(entry)
            if backend is None:
                await self._answer(chat, gemini_model(model), receive, send, hits)
            else:
                await self._relay_chat(backend, {**body, "model": model}, last, receive, send)

        # every entry of the route serves, OpenAI-compatible backends' (NAME/model) too;
        # a 404 names the entry
        await serve_chain(self.chain(chat.model), serve, model_not_found)

    async def _relay_chat(
        self, backend: Backend, body: dict[str, Any], last: bool, receive: Receive, send: Send
    ) -> None:
        """A chat answered by an OpenAI-compatible backend, relayed as it streams.

        A backend that cannot be reached raises a `TransportError`; its 404 is the model's.
        """
        status, headers, chunks = await backend.relay(
            "/chat/completions", json.dumps(body).encode()
        )
        if status == 404 or (not last and (status >= 500 or status == 429)):
            async for _ in chunks:  # read the error body so the connection is released
                pass
            if status == 404:
                raise NotFoundError(404, "NOT_FOUND", f"the backend has no model {body['model']}")
            raise BackendUnavailable(f"backend answered {status}")
        await send_stream(send, receive, status, chunks, list(headers.items()))

    async def _answer(
        self,
        chat: openai.ChatRequest,
        model: str,
        receive: Receive,
        send: Send,
        hits: Sequence[Hit] = (),
    ) -> None:
        """One model's answer; failures before any byte is sent may fall back.

        With ``hits``, they ground the request, and the answer carries its citations.
        """
        created = int(time.time())
        request = grounded_request(chat.request, hits) if hits else chat.request
        if not chat.stream:
            response = await self.client.send_request(request, model)
            if hits:
                ground_response(response, hits)
            answer = openai.completion(
                response, chat.model, created=created, thought_tag=chat.thought_tag
            )
            await send_json(send, 200, answer)
            return
        stream = self.client.stream_request(request, model)
        if hits:
            stream = grounded_stream(stream, hits)
        peeked = await PeekedStream.peek(stream)  # errors before the first chunk: plain HTTP errors
        chunks = openai.ChunkStream(
            chat.model, created=created, usage_on_chunks=False, thought_tag=chat.thought_tag
        )
        sse = _sse(peeked, chunks, chat.include_usage)
        await send_stream(send, receive, 200, sse, SSE_HEADERS)

    async def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        model, texts = body.get("model"), body.get("input")
        if not isinstance(model, str) or not model:
            raise RequestError(400, "'model' is required and must be a string", "model")
        model = gemini_model(model)
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise RequestError(400, "'input' must be a string or an array of strings", "input")
        dims = body.get("dimensions")
        try:
            return await self.client.generate_embeddings(texts, model=model, dimensions=dims)
        except NotFoundError:
            raise model_not_found(model) from None


async def _sse(
    stream: PeekedStream,
    chunks: openai.ChunkStream,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            yield openai.sse_frame(chunks.convert(chunk))
    except StreamInterrupted as exc:
        yield openai.sse_frame(openai_body(problem_of(exc)))
        return
    finally:
        await stream.aclose()
    tail = chunks.usage_chunk() if include_usage else None
    if tail is not None:
        yield openai.sse_frame(tail)
    yield openai.SSE_DONE
