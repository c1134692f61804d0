"""Deterministic instances of JSON Schema and Gemini ``Schema`` values.

Used for structured output (``responseJsonSchema`` / ``responseSchema``) and for the
arguments of function calls the emulated model makes. Values are derived from a seed and
from hint words taken from the prompt, so the same request always gets the same value
and the value relates to what was asked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Instances"]

_MAX_DEPTH = 6
_MAX_ITEMS = 256
_MAX_LENGTH = 8192


class Instances:
    """Builds values that validate against a schema."""

    def __init__(self, seed: str, hints: Sequence[str] = (), numbers: Sequence[float] = ()):
        self._seed = seed
        self._hints = list(hints) or ["example"]
        self._numbers = list(numbers)
        self._defs: Mapping[str, Any] = {}

    def _pick(self, key: str, n: int) -> int:
        digest = hashlib.sha256(f"{self._seed}/{key}".encode()).digest()
        return int.from_bytes(digest[:4], "big") % max(n, 1)

    def build(self, schema: Mapping[str, Any]) -> Any:
        """A value valid for ``schema``."""
        self._defs = schema.get("$defs", schema.get("definitions", {}))
        return self._value(schema, "$", 0)

    def _value(self, schema: Any, key: str, depth: int) -> Any:  # noqa: C901
        if not isinstance(schema, Mapping):  # boolean subschemas: true allows anything
            return self._hints[self._pick(key, len(self._hints))] if schema else None
        if "$ref" in schema:
            target = self._defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
            return self._value(target, key, depth + 1) if depth < _MAX_DEPTH else None
        for name in ("const", "default"):
            if name in schema:
                return schema[name]
        if schema.get("enum"):
            return self._choose_enum(schema["enum"], key)
        for name in ("anyOf", "oneOf", "allOf"):
            if schema.get(name):
                return self._value(schema[name][0], key, depth + 1)
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if str(k).lower() != "null"), "null")
        kind = str(kind).lower()
        if kind == "object":
            return self._object(schema, key, depth)
        if kind == "array":
            return self._array(schema, key, depth)
        if kind in ("integer", "number"):
            return self._number(schema, key, kind == "integer")
        if kind == "boolean":
            return self._pick(key, 2) == 0
        if kind == "null":
            return None
        return self._string(schema, key)

    def _choose_enum(self, values: Sequence[Any], key: str) -> Any:
        """The value mentioned last in the hints, else a seeded choice."""
        lowered = [h.lower() for h in self._hints]
        best, best_at = None, -1
        for value in values:
            word = str(value).lower()
            at = max((i for i, h in enumerate(lowered) if h == word), default=-1)
            if at > best_at:
                best, best_at = value, at
        return best if best_at >= 0 else values[self._pick(key, len(values))]

    def _object(self, schema: Mapping[str, Any], key: str, depth: int) -> dict[str, Any]:
        if depth >= _MAX_DEPTH:
            return {}
        properties: Mapping[str, Any] = schema.get("properties", {})
        order = list(schema.get("propertyOrdering", [])) or list(properties)
        order += [name for name in properties if name not in order]
        return {
            name: self._value(properties[name], f"{key}.{name}", depth + 1)
            for name in order
            if name in properties
        }

    def _array(self, schema: Mapping[str, Any], key: str, depth: int) -> list[Any]:
        if depth >= _MAX_DEPTH:
            return []
        low = min(int(schema.get("minItems", 0)), _MAX_ITEMS)
        high = min(int(schema.get("maxItems", max(low, 3))), _MAX_ITEMS)
        count = max(low, min(high, max(low, 1) + self._pick(key, 3)))
        prefix = list(schema.get("prefixItems", []))
        items = schema.get("items", {"type": "string"})
        return [
            self._value(prefix[i] if i < len(prefix) else items, f"{key}[{i}]", depth + 1)
            for i in range(count)
        ]

    def _number(self, schema: Mapping[str, Any], key: str, integer: bool) -> float | int:
        low = float(schema.get("minimum", 0))
        high = float(schema.get("maximum", low + 100))
        candidates = [n for n in self._numbers if low <= n <= high]
        value = candidates[0] if candidates else low + self._pick(key, int(high - low) + 1)
        if integer:
            return int(value)
        return float(value)

    def _string(self, schema: Mapping[str, Any], key: str) -> str:
        fmt = schema.get("format", "")
        if fmt == "date-time":
            return "2025-01-01T00:00:00Z"
        if fmt == "date":
            return "2025-01-01"
        if fmt == "email":
            return "user@example.com"
        text = self._hints[self._pick(key, len(self._hints))]
        low = min(int(schema.get("minLength", 0)), _MAX_LENGTH)
        high = int(schema.get("maxLength", _MAX_LENGTH))
        return text.ljust(low, "x")[:high]
