"""The function-calling loop behind ``AsyncGemini.chat_with_tools``.

Each step streams the model's answer (yielding text as it arrives), runs the tools it
asked for through the executor (yielding the executor's events as they happen), answers
every call in one turn in call order. A chat stores the whole turn (question, tool steps,
answer) in one atomic write once it has ended: a turn that fails, is stopped, or dies with
the process leaves the chat as it was, never a question without its answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gemgate.caching._manager import CacheConfig, resolve_cache
from gemgate.errors import AuthError, GeminiToolExecutionError, NotFoundError, UsageError
from gemgate.sessions._manager import ChatManager
from gemgate.sessions._message import ChatMessage
from gemgate.tools._events import (
    ChatEvent,
    FinalAnswer,
    FunctionCallEvent,
    MaxIterationsReached,
    TextDelta,
    ToolEvent,
    ToolResult,
    UsageEvent,
)
from gemgate.tools._executor import (
    AsyncToolExecutor,
    FunctionCall,
    FunctionCallData,
    ToolExecutor,
    ToolsExecutionResult,
    json_response,
)
from gemgate.tools._tool import TOOL_MODES, Tool, tool, tool_fields

if TYPE_CHECKING:
    from gemgate.caching._manager import CacheManager
    from gemgate.rag._protocol import RetrievalStore
    from gemgate.rag._types import Hit
    from gemgate.upstream._engine import Engine

__all__ = ["ToolLoop", "last_turn", "merge_parts", "with_tools"]


def last_turn(history: list[ChatMessage], chat_id: str) -> tuple[list[ChatMessage], ChatMessage]:
    """The history before its last question, and that question.

    A question is a user message that is not a function response; what follows it (tool
    steps and the answer) belongs to its turn.
    """
    for index in range(len(history) - 1, -1, -1):
        message = history[index]
        if message.role == "user" and not message.function_responses:
            return history[:index], message
    raise UsageError(f"chat {chat_id!r} has no question to answer again")


async def with_tools(
    request: dict[str, Any],
    fields: dict[str, Any],
    model: str,
    cache_config: CacheConfig | None,
    cache_manager: CacheManager | None,
) -> dict[str, Any]:
    """``request`` with its tool ``fields`` inline, or with the cache that holds them.

    A request that uses a cache carries no ``tools`` or ``toolConfig`` (Gemini refuses
    both together); without a usable cache they are sent inline.
    """
    cache = await resolve_cache(cache_config, cache_manager, model, fields)
    if cache is not None:
        request["cachedContent"] = cache
    else:
        request.update(fields)
    return request


def merge_parts(parts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Coalesce streamed parts: adjacent texts of the same kind join; signatures stay."""
    out: list[dict[str, Any]] = []
    for part in parts:
        last = out[-1] if out else None
        joinable = (
            last is not None
            and "text" in part
            and "text" in last
            and bool(last.get("thought")) == bool(part.get("thought"))
            and "thoughtSignature" not in last
        )
        if joinable and last is not None:
            last["text"] += part["text"]
            if "thoughtSignature" in part:
                last["thoughtSignature"] = part["thoughtSignature"]
        else:
            out.append(dict(part))
    return [p for p in out if p.get("text", None) != "" or "thoughtSignature" in p]


def _usage(meta: dict[str, Any]) -> dict[str, int]:
    prompt = int(meta.get("promptTokenCount", 0))
    total = int(meta.get("totalTokenCount", prompt))
    usage = {"prompt_tokens": prompt, "completion_tokens": total - prompt, "total_tokens": total}
    usage["cached_tokens"] = int(meta.get("cachedContentTokenCount", 0))
    return usage


@dataclass
class ToolLoop:
    """One run of the loop; see ``AsyncGemini.chat_with_tools``.

    ``build`` turns contents into a GenerateContentRequest with the caller's generation
    parameters; the loop adds the tools (or their cache) and sends it through ``engine``.
    """

    engine: Engine
    query: str
    model: str
    build: Callable[[list[dict[str, Any]]], dict[str, Any]]
    cache_manager: CacheManager | None = None
    tools: Sequence[Tool | Callable[..., Any]] = ()
    executor: ToolExecutor[Any] | None = None
    tool_mode: str = "auto"
    allowed_tools: Sequence[str] | None = None
    max_iterations: int = 10
    chat_id: str | None = None
    chat_manager: ChatManager | None = None
    cache_config: CacheConfig | None = None
    system_instruction: str | None = None
    parts: Sequence[dict[str, Any]] = ()
    """More parts of the question after its text (inline images, files)."""
    replace_last: bool = False
    """Answer in place of the chat's last turn (its question again if ``query`` is empty)."""
    stores: Sequence[RetrievalStore] = ()
    """Retrieval stores: the question's best chunks ground the answer, which gets
    ``groundingMetadata`` (sources and the sentences they support). Gemini File Search
    stores go to the model as its ``fileSearch`` tool, and it grounds the answer itself."""
    top_k: int = 8
    """How many chunks of the stores go with the question (File Search: its ``topK``)."""
    params: dict[str, Any] = field(default_factory=dict)
    _hits: list[Hit] = field(default_factory=list)
    _registry: dict[str, Tool] = field(default_factory=dict)
    _fields: dict[str, Any] = field(default_factory=dict)
    _totals: dict[str, int] = field(
        default_factory=lambda: {
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "cached_tokens": 0,
        }
    )

    def __post_init__(self) -> None:
        if self.tool_mode not in TOOL_MODES:
            raise UsageError(
                f"tool_mode must be one of {sorted(TOOL_MODES)}, not {self.tool_mode!r}"
            )
        if self.max_iterations < 1:
            raise UsageError("max_iterations must be at least 1")
        if self.chat_id is not None and self.chat_manager is None:
            raise UsageError("chat_id needs a chat_manager")
        if self.replace_last and self.chat_id is None:
            raise UsageError("replace_last needs a chat_id and a chat_manager")
        if not self.replace_last and not self.query and not self.parts:
            raise UsageError("the question is empty: give a query or parts")
        made = [t if isinstance(t, Tool) else tool(t) for t in self.tools]
        self._registry = {t.name: t for t in made}
        if len(self._registry) != len(made):
            names = [t.name for t in made]
            twice = sorted({n for n in names if names.count(n) > 1})
            raise UsageError(f"two tools share a name: {twice}")
        unknown = set(self.allowed_tools or ()) - set(self._registry)
        if unknown:
            raise UsageError(f"allowed_tools names unknown tools: {sorted(unknown)}")
        if self.allowed_tools and self.tool_mode not in ("any", "validated"):
            raise UsageError(
                "allowed_tools needs tool_mode 'any' or 'validated' (Gemini refuses "
                f"allowedFunctionNames in mode {self.tool_mode!r})"
            )
        # what every step's request adds: tools, tool config, system instruction
        self._fields = tool_fields([*self._registry.values()], self.tool_mode, self.allowed_tools)
        from gemgate.rag._filesearch import file_search_tool

        searched = file_search_tool(self.stores, self.top_k)
        if searched is not None:
            self._fields["tools"] = [*self._fields.get("tools", []), searched]
        if self.system_instruction:
            self._fields["systemInstruction"] = {"parts": [{"text": self.system_instruction}]}

    async def _start(self) -> tuple[list[ChatMessage], ChatMessage]:
        """The stored history this turn follows, and its question."""
        stored: list[ChatMessage] = []
        if self.chat_manager is not None and self.chat_id is not None:
            await self.chat_manager.ensure_chat(self.chat_id)
            stored = await self.chat_manager.get_history(self.chat_id)
        asked = bool(self.query or self.parts)
        question = ChatMessage(
            role="user",
            parts=[*([{"text": self.query}] if self.query else []), *map(dict, self.parts)],
            message_type="image" if self.parts else "text",
        )
        if self.replace_last:
            stored, last = last_turn(stored, self.chat_id or "")
            question = question if asked else last
        return stored, question

    async def _commit(self, stored: list[ChatMessage], turn: list[ChatMessage]) -> None:
        if self.chat_manager is None or self.chat_id is None:
            return
        if self.replace_last:
            await self.chat_manager.replace_history(self.chat_id, [*stored, *turn])
        else:
            await self.chat_manager.append(self.chat_id, turn)

    async def run(self) -> AsyncIterator[ChatEvent]:
        """Yield events until the final answer or ``max_iterations``."""
        executor = self.executor or AsyncToolExecutor()
        stored, question = await self._start()
        if self.stores and question.text.strip():
            from gemgate.rag._filesearch import local_stores
            from gemgate.rag._store import search_stores

            local = local_stores(self.stores)
            if local:
                self._hits = await search_stores(local, question.text, self.top_k)
        history = [m.to_content() for m in stored if m.role != "system"]
        turn = [question]
        try:
            for iteration in range(1, self.max_iterations + 1):
                reply: list[ChatMessage] = []
                contents = history + [m.to_content() for m in turn]
                async for event in self._model_step(contents, iteration, reply):
                    yield event
                message = reply[0]
                calls = message.function_calls
                if not calls:
                    await self._commit(stored, [*turn, message])
                    yield self._final(message, iteration)
                    return
                answers: list[ChatMessage] = []
                proceed = [True]
                async for event in self._tool_step(executor, calls, iteration, answers, proceed):
                    yield event
                turn += [message, answers[0]]
                if not proceed[0]:
                    await self._commit(stored, turn)
                    yield self._final(message, iteration)
                    return
            await self._commit(stored, turn)
            yield MaxIterationsReached(
                iterations=self.max_iterations,
                chat_id=self.chat_id,
                last_calls=[c["name"] for c in message.function_calls],
            )
        finally:
            if self.executor is None:
                await executor.shutdown()

    def _final(self, message: ChatMessage, iteration: int) -> FinalAnswer:
        return FinalAnswer(
            text=message.text,
            chat_id=self.chat_id,
            iterations=iteration,
            usage=dict(self._totals),
            grounding_metadata=message.metadata.get("grounding_metadata"),
        )

    async def _request(self, contents: list[dict[str, Any]]) -> dict[str, Any]:
        manager = self.cache_manager
        request = self.build(contents)
        if self._hits:
            from gemgate.rag._ground import grounded_request

            request = grounded_request(request, self._hits)
        return await with_tools(request, self._fields, self.model, self.cache_config, manager)

    def _grounding(self, text: str, given: dict[str, Any] | None) -> dict[str, Any] | None:
        """The model's own grounding (File Search), else the stores' citations of ``text``."""
        if given:
            return given
        if not self._hits or not text:
            return None
        from gemgate.rag._ground import grounding_metadata

        return grounding_metadata(text, self._hits)

    async def _model_step(
        self, contents: list[dict[str, Any]], iteration: int, out: list[ChatMessage]
    ) -> AsyncIterator[ChatEvent]:
        request = await self._request(contents)
        started = time.perf_counter()
        parts: list[dict[str, Any]] = []
        meta: dict[str, Any] = {}
        grounding: dict[str, Any] | None = None
        try:
            stream = self.engine.stream_generate(request, self.model, **self._routing())
            async for chunk in stream:
                for candidate in chunk.get("candidates", [])[:1]:
                    grounding = candidate.get("groundingMetadata") or grounding
                    for part in candidate.get("content", {}).get("parts", []):
                        parts.append(part)
                        if part.get("text") and not part.get("thought"):
                            yield TextDelta(text=part["text"], iteration=iteration)
                meta = chunk.get("usageMetadata") or meta
        except (AuthError, NotFoundError):
            if not self._cache_lost(request):
                raise
            request = await self._request(contents)  # recreated, or sent uncached
            response = await self.engine.generate(request, self.model, **self._routing())
            first = response.get("candidates", [{}])[0]
            parts = first.get("content", {}).get("parts", [])
            grounding = first.get("groundingMetadata")
            meta = response.get("usageMetadata", {})
            text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
            if text:
                yield TextDelta(text=text, iteration=iteration)
        usage = _usage(meta)
        for key, value in usage.items():
            self._totals[key] += value
        yield UsageEvent(usage=usage, iteration=iteration)
        message = ChatMessage(
            role="model",
            parts=merge_parts(parts),
            usage=usage,
            processing_time=time.perf_counter() - started,
            message_type="function_call" if any("functionCall" in p for p in parts) else "text",
            metadata={"model": self.model},
        )
        if not message.function_calls:
            found = self._grounding(message.text, grounding)
            if found is not None:
                message.metadata["grounding_metadata"] = found
        out.append(message)
        await self._refresh(request)

    def _routing(self) -> dict[str, Any]:
        return {k: self.params[k] for k in ("request_id", "endpoint_id") if k in self.params}

    def _cache_lost(self, request: dict[str, Any]) -> bool:
        name = request.get("cachedContent")
        if not name or self.cache_config is None or name == self.cache_config.cache_name:
            return False
        if self.cache_manager is not None:
            self.cache_manager.forget(name)
        return True

    async def _refresh(self, request: dict[str, Any]) -> None:
        config = self.cache_config
        name = request.get("cachedContent")
        manager = self.cache_manager
        if config is not None and manager is not None and config.auto_refresh_ttl and name:
            # a cache gone since this call used it is forgotten, not fatal to the answer
            await manager.touch(name, config.auto_refresh_ttl)

    async def _tool_step(
        self,
        executor: ToolExecutor[Any],
        calls: list[dict[str, Any]],
        iteration: int,
        out: list[ChatMessage],
        proceed: list[bool],
    ) -> AsyncIterator[ChatEvent]:
        for call in calls:
            yield FunctionCallEvent(
                name=call["name"], args=call.get("args", {}), id=call.get("id"), iteration=iteration
            )
        runnable = [
            FunctionCall(
                tool=self._registry[c["name"]],
                function_call=FunctionCallData(
                    name=c["name"], args=c.get("args", {}), id=c.get("id")
                ),
            )
            for c in calls
            if c["name"] in self._registry
        ]
        started = time.perf_counter()
        task = asyncio.ensure_future(executor.execute_tools(runnable))
        async for event in _events_while(executor, task):
            yield ToolEvent(event=event, iteration=iteration)
        try:
            result: ToolsExecutionResult = task.result()
        except Exception as exc:
            raise GeminiToolExecutionError(
                f"the tool executor failed: {type(exc).__name__}: {exc}"
            ) from exc
        if len(result.function_call_results) != len(runnable):
            raise GeminiToolExecutionError(
                f"the tool executor returned {len(result.function_call_results)} results "
                f"for {len(runnable)} calls"
            )
        proceed[0] = result.should_proceed
        answers = iter(result.function_call_results)
        parts = []
        for call in calls:
            if call["name"] in self._registry:
                response = json_response(call["name"], next(answers))
            else:
                response = {"error": f"unknown function {call['name']!r}"}
            entry: dict[str, Any] = {"name": call["name"], "response": response}
            if call.get("id"):
                entry["id"] = call["id"]
            parts.append({"functionResponse": entry})
            yield ToolResult(
                name=call["name"],
                response=response,
                is_error="error" in response,
                iteration=iteration,
            )
        out.append(
            ChatMessage(
                role="user",
                parts=parts,
                processing_time=time.perf_counter() - started,
                message_type="function_response",
            )
        )


async def _events_while(
    executor: ToolExecutor[Any], task: asyncio.Future[Any]
) -> AsyncIterator[Any]:
    """The executor's events while ``task`` runs, then whatever is left."""
    while not task.done():
        getter = asyncio.ensure_future(executor.next_event())
        done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            try:
                yield getter.result()
            except StopAsyncIteration:
                break
        else:
            getter.cancel()
    await asyncio.wait({task})  # the stream may have ended first (shutdown): let it finish
    for event in executor.pending_events():
        yield event
