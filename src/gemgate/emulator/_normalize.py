"""Strict proto3-JSON reading of request bodies.

``normalize(body, "GenerateContentRequest")`` returns the body with every message field
in lowerCamelCase, enum values upper-cased and ``null`` fields dropped, or raises a 400
with one ``BadRequest`` field violation per problem, worded like Google's parser.
Free-form values (``args``, ``response``, ``parametersJsonSchema``, map keys) are kept
exactly as sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from gemgate.emulator._errors import invalid_argument
from gemgate.emulator._fields import ENUMS, MESSAGES, FieldType
from gemgate.wire._names import camel, snake
from gemgate.wire.durations import parse_timestamp
from gemgate.wire.errors import FieldViolation

__all__ = ["camel", "normalize", "snake"]

_DURATION = re.compile(r"-?[0-9]+(\.[0-9]{1,9})?s")
_MAX_DURATION = 315_576_000_000
"""The largest ``google.protobuf.Duration`` in seconds (10,000 years)."""
_MAX_DEPTH = 100
"""How deeply messages may nest, like Google's proto3-JSON parser."""
_PROTO_PREFIX = "type.googleapis.com/google.ai.generativelanguage.v1beta."
_LABELS = {
    "int": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "object": "type.googleapis.com/google.protobuf.Struct",
    "duration": "type.googleapis.com/google.protobuf.Duration",
    "timestamp": "type.googleapis.com/google.protobuf.Timestamp",
}
"""How Google's parser names a scalar type in "Invalid value at ..." (else ``TYPE_X``)."""


def normalize(body: Any, message: str) -> dict[str, Any]:
    """Validate ``body`` as ``message`` and return its normalized form."""
    reader = _Reader()
    result = reader.message(body, message, "")
    if reader.violations:
        text = "\n".join(v.description for v in reader.violations)
        raise invalid_argument(text, reader.violations)
    assert isinstance(result, dict)
    return result


def _field_name(key: str, spec: dict[str, FieldType]) -> str | None:
    """The message field ``key`` names: its lowerCamelCase or its exact snake_case name."""
    if key in spec:
        return key
    field = camel(key)
    return field if field in spec and snake(field) == key else None


def _accepts_list(kind: FieldType) -> bool:
    return kind == "any" or (isinstance(kind, tuple) and kind[0] == "list")


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 80 else text[:77] + "..."


class _Reader:
    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []
        self.depth = 0

    def fail(self, path: str, description: str) -> None:
        self.violations.append(FieldViolation(field=path, description=description))

    def invalid(self, path: str, kind: str, value: Any) -> None:
        self.fail(path, f"Invalid value at '{path}' ({kind}), {_show(value)}")

    def message(self, value: Any, name: str, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.invalid(path, _PROTO_PREFIX + name, value)
            return None
        if self.depth >= _MAX_DEPTH:
            self.fail(
                path,
                "Invalid JSON payload received. Message too deep. Max recursion "
                f"depth reached at '{path}'.",
            )
            return None
        self.depth += 1
        try:
            return self._fields(value, MESSAGES[name], path)
        finally:
            self.depth -= 1

    def _fields(
        self, value: dict[str, Any], spec: dict[str, FieldType], path: str
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        where = f" at '{path}'" if path else ""
        for key, item in value.items():
            field = _field_name(key, spec)
            if field is None:
                self.fail(
                    path,
                    f'Invalid JSON payload received. Unknown name "{key}"{where}: '
                    "Cannot find field.",
                )
                continue
            if item is None:
                continue
            kind = spec[field]
            if isinstance(item, list) and not _accepts_list(kind):
                self.fail(
                    path,
                    f'Invalid JSON payload received. Unknown name "{key}"{where}: '
                    "Proto field is not repeating, cannot start list.",
                )
                continue
            child = f"{path}.{snake(field)}" if path else snake(field)
            read = self.value(item, kind, child)
            if read is not None:
                out[field] = read
        return out

    def value(self, value: Any, kind: FieldType, path: str) -> Any:
        if isinstance(kind, tuple):
            tag, inner = kind
            if tag == "msg":
                assert isinstance(inner, str)
                return self.message(value, inner, path)
            if tag == "enum":
                assert isinstance(inner, str)
                return self.enum(value, inner, path)
            if tag == "list":
                return self.repeated(value, inner, path)
            return self.mapping(value, inner, path)
        return self.scalar(value, kind, path)

    def repeated(self, value: Any, inner: FieldType, path: str) -> list[Any] | None:
        if not isinstance(value, list):
            self.invalid(path, "TYPE_LIST", value)
            return None
        items = (self.value(v, inner, f"{path}[{i}]") for i, v in enumerate(value))
        return [item for item in items if item is not None]

    def mapping(self, value: Any, inner: FieldType, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.invalid(path, "TYPE_MAP", value)
            return None
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            read = self.value(item, inner, f"{path}[{i}].value")
            if read is not None:
                out[key] = read
        return out

    def enum(self, value: Any, name: str, path: str) -> str | None:
        if isinstance(value, str) and value.upper() in ENUMS[name]:
            return value.upper()
        self.invalid(path, f"{_PROTO_PREFIX}{name}", value)
        return None

    def scalar(self, value: Any, kind: str, path: str) -> Any:
        checker = _SCALARS[kind]
        ok, result = checker(value)
        if ok:
            return result
        if kind == "bytes" and isinstance(value, str):
            self.fail(
                path,
                f"Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed "
                f"for {_show(value)}",
            )
        else:
            self.invalid(path, _LABELS.get(kind, f"TYPE_{kind.upper()}"), value)
        return None


def _string(value: Any) -> tuple[bool, Any]:
    return isinstance(value, str), value


def _bool(value: Any) -> tuple[bool, Any]:
    return isinstance(value, bool), value


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,20}", value.strip()):
        return int(value)
    return None


def _int(value: Any) -> tuple[bool, Any]:
    number = _integer(value)
    ok = number is not None and -(2**31) <= number < 2**31
    return ok, number if ok else None


def _int64(value: Any) -> tuple[bool, Any]:
    number = _integer(value)
    ok = number is not None and -(2**63) <= number < 2**63
    return ok, number if ok else None


def _float(value: Any) -> tuple[bool, Any]:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False, None
    try:
        return True, float(value)
    except (ValueError, OverflowError):
        return False, None


def decode_bytes(text: str, *, validate: bool = True) -> bytes | None:
    """Proto-JSON ``bytes``: base64 in either alphabet, padding optional; ``None`` if bad."""
    text = text.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=validate)
    except (binascii.Error, ValueError):
        return None


def _bytes(value: Any) -> tuple[bool, Any]:
    if not isinstance(value, str) or decode_bytes(value) is None:
        return False, None
    return True, value


def _duration(value: Any) -> tuple[bool, Any]:
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        return False, None
    return abs(float(value[:-1])) <= _MAX_DURATION, value


def _timestamp(value: Any) -> tuple[bool, Any]:
    if not isinstance(value, str):
        return False, None
    try:
        parse_timestamp(value)
    except ValueError:
        return False, None
    return True, value


def _object(value: Any) -> tuple[bool, Any]:
    return isinstance(value, dict), value


def _any(value: Any) -> tuple[bool, Any]:
    return True, value


_SCALARS = {
    "string": _string,
    "bool": _bool,
    "int": _int,
    "int64": _int64,
    "float": _float,
    "bytes": _bytes,
    "duration": _duration,
    "timestamp": _timestamp,
    "object": _object,
    "any": _any,
}
