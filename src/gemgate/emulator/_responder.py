"""The emulated model: deterministic, useful replies derived from the whole request.

The same request always gets the same reply; a different conversation gets a different
one. Replies honour scripted rules, declared tools and ``toolConfig``, structured-output
schemas, ``stopSequences``, ``maxOutputTokens`` and thinking settings. Numbered sources in
the system instruction are answered from, with ``[n]`` citations (see ``_sources``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gemgate.emulator._builtin_tools import (
    UrlRetrieval,
    WebGrounding,
    code_run,
    url_retrieval,
    web_grounding,
)
from gemgate.emulator._config import EmulatorSettings, ModelSpec, Rule
from gemgate.emulator._instances import Instances
from gemgate.emulator._media import media_parts
from gemgate.emulator._signatures import Signer
from gemgate.emulator._sources import cited_answer, numbered_sources
from gemgate.emulator._tokens import count_text, truncate_tokens
from gemgate.emulator._words import STOPWORDS

if TYPE_CHECKING:
    from gemgate.emulator._retrieval import Grounding

__all__ = ["Draft", "Reply", "Responder"]

_FILLERS = (
    "This reply comes from the gemgate emulator, a local stand-in for the Gemini API.",
    "The same request always receives the same answer, which keeps tests repeatable.",
    "A different conversation leads to a different answer.",
    "Nothing here was sent to Google; every token was produced on this machine.",
    "Scripted rules in the emulator configuration can replace this text.",
    "Token counts are estimated from words and punctuation.",
    "Quotas, faults and errors follow the shapes the real service uses.",
    "Streaming splits this text into several chunks with running usage.",
    "Ask again with other words to see another reply.",
    "Function calls appear when a declared tool fits the request.",
    "Structured output follows the response schema when one is given.",
    "Thinking models also report the tokens they spent thinking.",
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_FUNCTION_VERBS = frozenset({"get", "set", "fetch", "find", "lookup", "search", "list", "do"})


@dataclass
class Draft:
    """One candidate before it is framed as a response."""

    parts: list[dict[str, Any]]
    finish_reason: str = "STOP"
    thought_text: str = ""
    safety_blocked: bool = False
    grounding_metadata: dict[str, Any] | None = None
    url_context_metadata: dict[str, Any] | None = None


@dataclass
class Reply:
    """What the model answers to one request."""

    drafts: list[Draft] = field(default_factory=list)
    block_reason: str | None = None
    tool_tokens: int = 0
    """Prompt tokens a tool added, such as the chunks ``fileSearch`` retrieved."""

    @property
    def thoughts_tokens(self) -> int:
        """Thinking tokens spent, over all candidates."""
        return sum(count_text(d.thought_text) for d in self.drafts)


def _texts(content: Mapping[str, Any]) -> str:
    return " ".join(
        p["text"] for p in content.get("parts", []) if "text" in p and not p.get("thought")
    )


def _salient(words: Sequence[str]) -> str:
    for i in range(len(words) - 1, 0, -1):
        if words[i][:1].isupper():
            return words[i]
    content = [w for w in words if w.lower() not in STOPWORDS and len(w) > 3]
    return content[-1] if content else "example"


class Responder:
    """Turns a normalized GenerateContentRequest into a :class:`Reply`."""

    def __init__(self, settings: EmulatorSettings, signer: Signer) -> None:
        self._settings = settings
        self._signer = signer

    def reply(
        self, request: Mapping[str, Any], model: ModelSpec, grounding: Grounding | None = None
    ) -> Reply:
        """The reply to ``request`` (contents already include any cached content).

        With ``grounding`` (what a retrieval tool found), the answer is built from the
        retrieved text and carries ``groundingMetadata``.
        """
        contents: list[Mapping[str, Any]] = request.get("contents", [])
        last = contents[-1] if contents else {}
        prompt = _texts(last)
        if self._settings.block_phrase in prompt:
            return Reply(block_reason="SAFETY")
        config = request.get("generationConfig", {})
        digest = hashlib.sha256(
            json.dumps(
                [request.get("systemInstruction"), contents, model.name], sort_keys=True
            ).encode()
        ).hexdigest()
        count = config.get("candidateCount", 1)
        seeds = [digest] + [
            hashlib.sha256(f"{digest}/{i}".encode()).hexdigest() for i in range(1, count)
        ]
        found: Grounding | WebGrounding | None = grounding or web_grounding(request)
        urls = url_retrieval(request)
        drafts = [self._draft(request, model, prompt, seed, found, urls) for seed in seeds]
        tool_tokens = (found.tool_tokens if found else 0) + (urls.tool_tokens if urls else 0)
        return Reply(drafts=drafts, tool_tokens=tool_tokens)

    def _draft(
        self,
        request: Mapping[str, Any],
        model: ModelSpec,
        prompt: str,
        digest: str,
        grounding: Grounding | WebGrounding | None,
        urls: UrlRetrieval | None = None,
    ) -> Draft:
        config = request.get("generationConfig", {})
        thought = self._thought(config, model, prompt, digest)
        if self._settings.safety_phrase in prompt:
            return Draft(
                parts=[], finish_reason="SAFETY", thought_text=thought, safety_blocked=True
            )
        media = media_parts(request, model, prompt, digest)
        if media is not None:
            return Draft(parts=media, thought_text=thought)
        answer = self._function_answer(request)
        calls = self._follow_up(request, model) if answer else self._calls(request, model, prompt)
        if calls:
            if model.thinking:
                signature = self._signer.sign_call(calls[0]["functionCall"], model.name)
                calls[0]["thoughtSignature"] = signature
            return Draft(parts=calls, thought_text=thought)
        plain = config.get("responseMimeType", "text/plain") == "text/plain"
        run = code_run(request) if plain and not answer else None
        if run is not None:
            text = run.summary
        else:
            text = answer or self._text(request, model, prompt, digest, grounding, urls)
        text, finish = self._limit(text, config)
        metadata = grounding.metadata(text) if grounding else None
        parts = []
        if thought and config.get("thinkingConfig", {}).get("includeThoughts"):
            parts.append({"text": thought, "thought": True})
        if run is not None:
            parts += run.steps()
        text_part: dict[str, Any] = {"text": text}
        if model.requires_thought_signatures:
            text_part["thoughtSignature"] = self._signer.sign({"text": digest}, model.name)
        parts.append(text_part)
        return Draft(
            parts=parts,
            finish_reason=finish,
            thought_text=thought,
            grounding_metadata=metadata,
            url_context_metadata=urls.metadata() if urls else None,
        )

    def _thought(
        self, config: Mapping[str, Any], model: ModelSpec, prompt: str, digest: str
    ) -> str:
        budget = config.get("thinkingConfig", {}).get("thinkingBudget")
        thinks = budget != 0 if model.thinking else bool(budget and budget > 0)
        if not thinks:
            return ""
        words = _WORD.findall(prompt)[:12] or ["the", "request"]
        text = (
            f"**Considering the request**\n\nThe user wrote about {' '.join(words)}. "
            f"I will answer briefly and check the facts first ({digest[:8]})."
        )
        if budget and budget > 0:
            text, _ = truncate_tokens(text, budget)
        return text

    def _function_answer(self, request: Mapping[str, Any]) -> str:
        contents = request.get("contents", [])
        last = contents[-1] if contents else {}
        responses = [
            p["functionResponse"] for p in last.get("parts", []) if "functionResponse" in p
        ]
        if not responses:
            return ""
        summary = "; ".join(
            f"{r['name']} returned {json.dumps(r.get('response', {}), sort_keys=True)}"
            for r in responses
        )
        return f"Here is what I found: {summary}."

    def _calls(
        self, request: Mapping[str, Any], model: ModelSpec, prompt: str
    ) -> list[dict[str, Any]]:
        declared = {
            d["name"]: d
            for tool in request.get("tools", [])
            for d in tool.get("functionDeclarations", [])
        }
        calling = request.get("toolConfig", {}).get("functionCallingConfig", {})
        mode = calling.get("mode", "AUTO")
        if not declared or mode == "NONE":
            return []
        allowed = [n for n in calling.get("allowedFunctionNames", []) or declared if n in declared]
        scripted: list[dict[str, Any]] = []
        rule = self._rule(prompt, model, lambda r: r.function_call is not None)
        if rule and rule.function_call and rule.function_call.name in allowed:
            call = rule.function_call
            scripted.append({"functionCall": {"name": call.name, "args": dict(call.args)}})
        done = {c["functionCall"]["name"] for c in scripted}
        words = _WORD.findall(prompt)
        lowered = {w.lower() for w in words}
        chosen = [n for n in allowed if n not in done and _mentioned(n, prompt.lower(), lowered)]
        if not chosen and not scripted and mode == "ANY":
            chosen = allowed[:1]
        numbers = [float(n) for n in _NUMBER.findall(prompt)]
        hints = [_salient(words)]
        return scripted + [
            {"functionCall": {"name": n, "args": _args(declared[n], prompt, hints, numbers)}}
            for n in chosen
        ]

    def _rule(self, prompt: str, model: ModelSpec, want: Any) -> Rule | None:
        lowered = prompt.lower()
        for rule in self._settings.rules:
            if rule.model not in (None, model.name) or not want(rule):
                continue
            if rule.match is not None and rule.match.lower() in lowered:
                return rule
        return None

    def _follow_up(self, request: Mapping[str, Any], model: ModelSpec) -> list[dict[str, Any]]:
        """A scripted next call after a function's answer (``after_function`` rules)."""
        contents = request.get("contents", [])
        answered = {
            p["functionResponse"]["name"]
            for p in (contents[-1] if contents else {}).get("parts", [])
            if "functionResponse" in p
        }
        declared = {
            d["name"] for t in request.get("tools", []) for d in t.get("functionDeclarations", [])
        }
        mode = request.get("toolConfig", {}).get("functionCallingConfig", {}).get("mode", "AUTO")
        for rule in self._settings.rules:
            call = rule.function_call
            if (
                rule.after_function in answered
                and call is not None
                and call.name in declared
                and mode != "NONE"
                and rule.model in (None, model.name)
            ):
                return [{"functionCall": {"name": call.name, "args": dict(call.args)}}]
        return []

    def _text(
        self,
        request: Mapping[str, Any],
        model: ModelSpec,
        prompt: str,
        digest: str,
        grounding: Grounding | WebGrounding | None = None,
        urls: UrlRetrieval | None = None,
    ) -> str:
        config = request.get("generationConfig", {})
        mime = config.get("responseMimeType", "text/plain")
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        words = _WORD.findall(prompt)
        if mime == "text/x.enum" and schema and schema.get("enum"):
            return str(Instances(digest, words).build(schema))
        if mime == "application/json":
            if schema:
                value = Instances(digest, [w for w in words if w.lower() not in STOPWORDS]).build(
                    schema
                )
            else:
                value = {"response": self._plain(model, prompt, digest)}
            return json.dumps(value, ensure_ascii=False)
        rule = self._rule(prompt, model, lambda r: r.reply is not None)
        if rule and rule.reply is not None:
            return rule.reply
        found = [t.answer for t in (urls, grounding) if t is not None and t.answer]
        if found:
            return " ".join(found)
        sources = numbered_sources(request)
        if sources and prompt:
            return cited_answer(sources, prompt)
        return self._plain(model, prompt, digest)

    @staticmethod
    def _plain(model: ModelSpec, prompt: str, digest: str) -> str:
        words = prompt.split()
        quoted = " ".join(words[:16]) + (" ..." if len(words) > 16 else "")
        seed = int(digest[:16], 16)
        pool = list(_FILLERS)
        fillers = []
        for _ in range(3 + seed % 2):
            seed //= 2
            fillers.append(pool.pop(seed % len(pool)))
            seed //= len(pool) + 1
        lead = f'You asked: "{quoted}".' if quoted else "You sent no text."
        return " ".join([lead, *fillers, f"(Reply {digest[:6]}.)"])

    @staticmethod
    def _limit(text: str, config: Mapping[str, Any]) -> tuple[str, str]:
        finish = "STOP"
        stops = [s for s in config.get("stopSequences", []) if s]
        cuts = [text.find(s) for s in stops if s in text]
        if cuts:
            text = text[: min(cuts)]
        limit = config.get("maxOutputTokens")
        if limit is not None:
            text, cut = truncate_tokens(text, limit)
            if cut:
                finish = "MAX_TOKENS"
        return text, finish


def _mentioned(name: str, prompt: str, words: set[str]) -> bool:
    if name.lower() in prompt:
        return True
    pieces = [p.lower() for p in re.split(r"[_.:\-]|(?<=[a-z])(?=[A-Z])", name) if p]
    keys = [p for p in pieces if p not in _FUNCTION_VERBS and len(p) > 2]
    return bool(keys) and all(k in words or k.rstrip("s") in words for k in keys)


def _args(
    decl: Mapping[str, Any], prompt: str, hints: list[str], numbers: list[float]
) -> dict[str, Any]:
    schema = decl.get("parametersJsonSchema") or decl.get("parameters")
    if not isinstance(schema, Mapping):
        return {}
    value = Instances(prompt, hints, numbers).build(schema)
    return value if isinstance(value, dict) else {}
