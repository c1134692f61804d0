"""Gemini's built-in tools, emulated offline: Google Search, URL context and code execution.

Nothing leaves the machine. Search results are synthesised from the question on reserved
example domains; URLs in the prompt are "retrieved" by deriving a page from the URL
itself; code execution runs only arithmetic, evaluated from its syntax tree, or a fixed
program whose output the emulator computes directly.
"""

from __future__ import annotations

import ast
import hashlib
import html
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gemgate.emulator._errors import invalid_argument
from gemgate.emulator._tokens import count_text
from gemgate.emulator._words import STOPWORDS

__all__ = [
    "MAX_URLS",
    "CodeRun",
    "UrlRetrieval",
    "WebGrounding",
    "check_builtin_tools",
    "code_run",
    "evaluate",
    "url_retrieval",
    "web_grounding",
]

MAX_URLS = 20
_DOMAINS = ("example.com", "example.org", "example.net")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>\"')\]]+")
_TOPIC_WORD = re.compile(r"[^\W\d_][\w'-]*", re.UNICODE)
_NAME = re.compile(r"[A-Z][\w'-]*(?:\s+(?:(?:de|of|the|la|le|du|von|van|and)\s+)?[A-Z][\w'-]*)*")
_QUESTION_WORDS = frozenset({"who", "what", "when", "where", "why", "how", "which", "is", "are"})
_ARITHMETIC = re.compile(r"[0-9.+\-*/() ]+")
_CODE_WORDS = frozenset(
    {"calculate", "compute", "code", "python", "program", "execute", "run", "script"}
)
_UNSAFE_HOSTS = frozenset({"localhost", "metadata.google.internal"})
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_MAX_EXPONENT = 1000
_MAX_DIGITS = 4000


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _topic(question: str) -> list[str]:
    names = [
        m.group(0).split() for m in _NAME.finditer(question) if m.start() > 0 or " " in m.group(0)
    ]
    names = [n for n in names if n[0].lower() not in _QUESTION_WORDS]
    if names:
        return max(names, key=len)[:6]
    words = [w for w in _TOPIC_WORD.findall(question) if w.lower() not in STOPWORDS]
    content = [w for w in words if len(w) > 2] or words
    return content[:6] or ["this", "question"]


def check_builtin_tools(request: Mapping[str, Any], model: str) -> None:
    """Refuse what the real service refuses: legacy search on 2.x models, too many URLs."""
    tools = request.get("tools", [])
    for i, tool in enumerate(tools):
        if "googleSearchRetrieval" in tool and not model.startswith("gemini-1."):
            raise invalid_argument(
                "google_search_retrieval is not supported. Please use google_search tool "
                f"instead. (tools[{i}])"
            )
    if any("urlContext" in tool for tool in tools):
        found = len(_urls(_prompt_text(request)))
        if found > MAX_URLS:
            raise invalid_argument(
                f"Number of urls to lookup exceeds the limit ({found} > {MAX_URLS}). "
                "Please reduce the number of urls in the request."
            )


def _prompt_text(request: Mapping[str, Any]) -> str:
    contents = request.get("contents", [])
    last = contents[-1] if contents else {}
    return " ".join(
        p["text"] for p in last.get("parts", []) if "text" in p and not p.get("thought")
    )


def _urls(text: str) -> list[str]:
    seen: list[str] = []
    for match in _URL.findall(text):
        url = match.rstrip(".,;:!?")
        if url not in seen:
            seen.append(url)
    return seen


def _has(request: Mapping[str, Any], key: str) -> bool:
    return any(key in tool for tool in request.get("tools", []))


@dataclass(frozen=True)
class _Source:
    uri: str
    domain: str
    sentence: str


class WebGrounding:
    """What the emulated Google Search found for one question, and the answer built on it."""

    def __init__(self, question: str) -> None:
        self.question = question
        words = _topic(question)
        topic = " ".join(words)
        slug = "-".join(w.lower() for w in words)
        digest = _digest("search", question)
        templates = (
            "Sources describe {topic} as a well documented subject with a clear history.",
            "Recent coverage of {topic} highlights the main facts and how they changed.",
            "Reference pages on {topic} agree on the basics and list further reading.",
        )
        count = 2 + int(digest[0], 16) % 2
        self.query = " ".join(question.split()[:32]).rstrip("?!. ") or topic
        self.sources = [
            _Source(
                f"https://www.{_DOMAINS[i]}/{slug}/{digest[8 * i : 8 * i + 8]}",
                _DOMAINS[i],
                templates[i].format(topic=topic),
            )
            for i in range(count)
        ]

    @property
    def answer(self) -> str:
        """The grounded answer: one sentence per web source."""
        return " ".join(s.sentence for s in self.sources)

    @property
    def tool_tokens(self) -> int:
        """Tokens of the search results the model read (``toolUsePromptTokenCount``)."""
        return sum(count_text(f"{s.domain} {s.uri} {s.sentence}") for s in self.sources)

    def _entry_point(self) -> str:
        href = f"https://www.example.com/search?q={html.escape(self.query.replace(' ', '+'))}"
        return (
            "<style>.container{display:flex;gap:8px}.chip{border-radius:16px;"
            "padding:4px 12px;border:1px solid #dadce0}</style>"
            '<div class="container"><div class="headline">Search suggestions</div>'
            f'<div class="carousel"><a class="chip" href="{href}">'
            f"{html.escape(self.query)}</a></div></div>"
        )

    def metadata(self, text: str) -> dict[str, Any]:
        """``groundingMetadata`` for the final ``text`` (supports cut short are dropped)."""
        supports = []
        for index, source in enumerate(self.sources):
            at = text.find(source.sentence)
            if at < 0:
                continue
            start = len(text[:at].encode())
            segment: dict[str, Any] = {} if start == 0 else {"startIndex": start}
            segment["endIndex"] = start + len(source.sentence.encode())
            segment["text"] = source.sentence
            supports.append({"segment": segment, "groundingChunkIndices": [index]})
        return {
            "searchEntryPoint": {"renderedContent": self._entry_point()},
            "groundingChunks": [
                {"web": {"uri": s.uri, "title": s.domain, "domain": s.domain}} for s in self.sources
            ],
            "groundingSupports": supports,
            "webSearchQueries": [self.query],
        }


def web_grounding(request: Mapping[str, Any]) -> WebGrounding | None:
    """Search grounding for the request's last turn if it declares ``googleSearch``."""
    if not (_has(request, "googleSearch") or _has(request, "googleSearchRetrieval")):
        return None
    question = _prompt_text(request)
    return WebGrounding(question) if question.strip() else None


def _status(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "URL_RETRIEVAL_STATUS_ERROR"
    host = parts.hostname.lower()
    if host in _UNSAFE_HOSTS or host.startswith(("127.", "10.", "192.168.", "169.254.")):
        return "URL_RETRIEVAL_STATUS_UNSAFE"
    return "URL_RETRIEVAL_STATUS_SUCCESS"


@dataclass(frozen=True)
class UrlRetrieval:
    """The URLs of one prompt and how each "retrieval" went."""

    urls: tuple[tuple[str, str], ...]

    @property
    def answer(self) -> str:
        """A sentence per URL that mentions it and what was read there."""
        lines = []
        for url, status in self.urls:
            if status == "URL_RETRIEVAL_STATUS_SUCCESS":
                parts = urlsplit(url)
                words = [w for w in re.split(r"[/_.\-]+", parts.path) if w.isalpha()]
                about = " ".join(words[-4:]) or parts.hostname or "its home page"
                lines.append(f"The page at {url} was read; it is about {about}.")
            else:
                lines.append(f"The page at {url} could not be retrieved.")
        return " ".join(lines)

    @property
    def tool_tokens(self) -> int:
        """Tokens of the retrieved pages (``toolUsePromptTokenCount``)."""
        return sum(
            64 + count_text(url) for url, s in self.urls if s == "URL_RETRIEVAL_STATUS_SUCCESS"
        )

    def metadata(self) -> dict[str, Any]:
        """The candidate's ``urlContextMetadata``."""
        return {
            "urlMetadata": [
                {"retrievedUrl": url, "urlRetrievalStatus": status} for url, status in self.urls
            ]
        }


def url_retrieval(request: Mapping[str, Any]) -> UrlRetrieval | None:
    """What ``urlContext`` retrieves for the last turn: ``None`` without the tool or URLs."""
    if not _has(request, "urlContext"):
        return None
    urls = _urls(_prompt_text(request))
    return UrlRetrieval(tuple((u, _status(u)) for u in urls)) if urls else None


def _number(node: ast.expr) -> int | float:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return node.value
        raise ValueError("not arithmetic")
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_number(node.operand))  # type: ignore[no-any-return]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _number(node.left), _number(node.right)
        if isinstance(node.op, ast.Pow) and (
            abs(right) > _MAX_EXPONENT or (isinstance(left, int) and abs(left) > 10**6)
        ):
            raise OverflowError("exponent too large")
        value = _BINARY[type(node.op)](left, right)
        if isinstance(value, int) and value.bit_length() > _MAX_DIGITS * 4:
            raise OverflowError("result too large")
        if isinstance(value, complex) or (isinstance(value, float) and math.isnan(value)):
            raise ValueError("math domain error")
        return value  # type: ignore[no-any-return]
    raise ValueError("not arithmetic")


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic ``expression`` (numbers, + - * / **, parentheses).

    Raises:
        ValueError: The text is not such an expression.
        ZeroDivisionError: It divides by zero.
        OverflowError: Its result would be too large.
    """
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError("not arithmetic") from exc
    return _number(tree.body)


def _expression(prompt: str) -> str | None:
    best: str | None = None
    for run in _ARITHMETIC.findall(prompt):
        candidate = run.strip()
        if not re.search(r"\d\s*(?:\*\*|[-+*/])\s*[(\-+]*\s*\d", candidate):
            continue
        try:
            tree = ast.parse(candidate, mode="eval")
        except SyntaxError:
            continue
        if isinstance(tree.body, ast.BinOp) and (best is None or len(candidate) > len(best)):
            best = candidate
    return best


@dataclass(frozen=True)
class CodeRun:
    """One emulated code execution: the program, its outcome and what it printed."""

    code: str
    outcome: str
    output: str
    summary: str

    def steps(self) -> list[dict[str, Any]]:
        """The parts before the final answer: text, ``executableCode``, ``codeExecutionResult``."""
        return [
            {"text": "I will compute this with Python."},
            {"executableCode": {"language": "PYTHON", "code": self.code}},
            {"codeExecutionResult": {"outcome": self.outcome, "output": self.output}},
        ]


def code_run(request: Mapping[str, Any]) -> CodeRun | None:
    """The code the model runs for the last turn, if ``codeExecution`` is declared and fits."""
    if not _has(request, "codeExecution"):
        return None
    prompt = _prompt_text(request)
    expression = _expression(prompt)
    if expression is not None:
        code = f"result = {expression}\nprint(result)\n"
        try:
            value = evaluate(expression)
        except (ZeroDivisionError, OverflowError, ValueError) as exc:
            name = type(exc).__name__
            message = "division by zero" if isinstance(exc, ZeroDivisionError) else str(exc)
            output = (
                "Traceback (most recent call last):\n"
                '  File "<string>", line 1, in <module>\n'
                f"{name}: {message}\n"
            )
            return CodeRun(
                code, "OUTCOME_FAILED", output, f"The calculation failed with {name}: {message}."
            )
        return CodeRun(code, "OUTCOME_OK", f"{value}\n", f"The result of {expression} is {value}.")
    words = {w.lower() for w in _TOPIC_WORD.findall(prompt)}
    if not words & _CODE_WORDS:
        return None
    text = " ".join(prompt.split())[:200]
    code = (
        f"text = {text!r}\nwords = text.split()\n"
        'print(f"words: {len(words)}")\nprint(f"characters: {len(text)}")\n'
    )
    output = f"words: {len(text.split())}\ncharacters: {len(text)}\n"
    summary = f"The request has {len(text.split())} words and {len(text)} characters."
    return CodeRun(code, "OUTCOME_OK", output, summary)
