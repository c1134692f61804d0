"""Model names: the one rule for what a Gemini model id is, and ``NAME/model`` names.

A model id ends up inside an upstream URL (``/v1beta/models/{id}:generateContent``), so
only a plain id passes: letters, digits, ``.``, ``_`` and ``-``, starting with a letter
or digit, at most 128 characters. The ``models/`` prefix that Google's own listings
carry is stripped. ``NAME/model`` names a model of a configured OpenAI-compatible
backend ``NAME`` (the gateway decides whether ``NAME`` is one); ``models/…`` never does.

Example:
    >>> model_id("models/gemini-2.5-flash")
    'gemini-2.5-flash'
    >>> backend_model("ollama/llama3.2:3b")
    ('ollama', 'llama3.2:3b')
    >>> backend_model("models/gemini-2.5-flash") is None
    True
"""

from __future__ import annotations

import re
from typing import Any

from gemgate.errors import UsageError

__all__ = ["InvalidModel", "backend_model", "model_id"]

_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_PREFIX = "models/"


class InvalidModel(UsageError, ValueError):
    """A name that cannot be a Gemini model id (``a/b``, ``x?y``, ``""``).

    Attributes:
        name: The name as it was given.
        param: Always ``"model"``: the request field at fault.

    Example:
        >>> model_id("../files/abc")
        Traceback (most recent call last):
        ...
        gemgate.wire._models.InvalidModel: The model '../files/abc' does not exist
    """

    param = "model"

    def __init__(self, name: str) -> None:
        super().__init__(f"The model {name!r} does not exist")
        self.name = name

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.name,)


def model_id(name: str) -> str:
    """The bare model id of ``name``; :class:`InvalidModel` if it cannot be one.

    Args:
        name: ``gemini-2.5-flash`` or ``models/gemini-2.5-flash``.
    """
    bare = name.removeprefix(_PREFIX) if isinstance(name, str) else ""
    if not _MODEL_ID.fullmatch(bare):
        raise InvalidModel(str(name))
    return bare


def backend_model(name: str) -> tuple[str, str] | None:
    """``(NAME, model)`` for a ``NAME/model`` name; None for anything else.

    The model part is the backend's own and may hold further slashes
    (``vllm/meta-llama/Llama-3.1-8B``).
    """
    prefix, slash, model = name.partition("/")
    if not slash or not prefix or not model or name.startswith(_PREFIX):
        return None
    return prefix, model
