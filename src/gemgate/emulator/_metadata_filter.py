"""File Search ``metadataFilter``: the AIP-160 subset the docs show.

Comparisons ``key = "text"``, ``key = 12``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, joined
by ``AND`` / ``OR`` (``AND`` binds tighter), ``NOT`` and parentheses. A string compared
with a string-list value matches when the list holds it. A malformed filter is a 400.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from gemgate.emulator._errors import invalid_argument

__all__ = ["Filter", "parse_filter"]

Value: TypeAlias = "str | float | list[str]"
Filter: TypeAlias = Callable[[Mapping[str, Value]], bool]

_TOKENS = re.compile(
    r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>-?\d+(?:\.\d+)?)(?![\w.])"""
    r"""|(?P<op><=|>=|!=|=|<|>)|(?P<paren>[()])|(?P<word>[A-Za-z_][\w.-]*))"""
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKENS.match(text, position)
        if match is None or match.end() == position:
            raise _malformed(text, f"unexpected character at position {position}")
        kind = match.lastgroup
        assert kind is not None
        value = match.group(kind)
        if kind == "word" and value in ("AND", "OR", "NOT"):
            kind = value
        tokens.append(_Token(kind, value))
        position = match.end()
    return tokens


def _malformed(text: str, why: str) -> Exception:
    return invalid_argument(f"Invalid metadata_filter {text!r}: {why}.")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.at = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, kind: str) -> _Token:
        token = self.peek()
        if token is None or token.kind != kind:
            found = token.text if token else "the end"
            raise _malformed(self.text, f"expected {kind} but found {found}")
        self.at += 1
        return token

    def parse(self) -> Filter:
        if not self.tokens:
            raise _malformed(self.text, "the filter is empty")
        result = self.disjunction()
        if self.peek() is not None:
            raise _malformed(self.text, f"unexpected {self.tokens[self.at].text}")
        return result

    def disjunction(self) -> Filter:
        terms = [self.conjunction()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.at += 1
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else (lambda m: any(t(m) for t in terms))

    def conjunction(self) -> Filter:
        terms = [self.unary()]
        while (token := self.peek()) is not None and token.kind == "AND":
            self.at += 1
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else (lambda m: all(t(m) for t in terms))

    def unary(self) -> Filter:
        token = self.peek()
        if token is not None and token.kind == "NOT":
            self.at += 1
            inner = self.unary()
            return lambda m: not inner(m)
        if token is not None and token.text == "(":
            self.at += 1
            inner = self.disjunction()
            if self.take("paren").text != ")":
                raise _malformed(self.text, "unbalanced parentheses")
            return inner
        return self.comparison()

    def comparison(self) -> Filter:
        key = self.take("word").text
        op = self.take("op").text
        token = self.peek()
        if token is None or token.kind not in ("string", "number"):
            raise _malformed(self.text, f"{key} {op} needs a quoted string or a number")
        self.at += 1
        wanted: str | float
        if token.kind == "string":
            wanted = re.sub(r"\\(.)", r"\1", token.text[1:-1])
        else:
            wanted = float(token.text)
        compare = _COMPARE[op]
        return lambda metadata: _matches(metadata.get(key), compare, op, wanted)


def _matches(
    value: Value | None, compare: Callable[[Any, Any], bool], op: str, wanted: Any
) -> bool:
    if value is None:
        return False
    if isinstance(value, list):
        if not isinstance(wanted, str) or op not in ("=", "!="):
            return False
        return (wanted in value) == (op == "=")
    if isinstance(value, str) != isinstance(wanted, str):
        return False
    return compare(value, wanted)


def parse_filter(text: str) -> Filter:
    """Compile a filter expression into a predicate over a document's metadata."""
    return _Parser(text).parse()
