"""The one error the OpenAI adapter raises: a request it cannot translate.

It is a :class:`~gemgate.errors.UsageError`, so the library raises it as it is; the
gateway answers it with a 400 in OpenAI's shape, naming ``param``.

Example:
    >>> error = InvalidRequest("'temperature' must be a number", "temperature")
    >>> isinstance(error, UsageError), isinstance(error, ValueError), error.param
    (True, True, 'temperature')
"""

from __future__ import annotations

from typing import Any

from gemgate.errors import UsageError

__all__ = ["InvalidRequest"]


class InvalidRequest(UsageError, ValueError):
    """An OpenAI chat request that is malformed or asks for something unsupported.

    Attributes:
        message: What is wrong, for a person.
        param: The field at fault (``messages[2].content``), when there is one.
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.message, self.param)
