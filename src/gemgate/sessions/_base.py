"""The ``ChatStorage`` contract, its errors, and ``ChatStorage.from_url``."""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

from gemgate.errors import StorageError, UsageError
from gemgate.sessions._message import ChatInfo, ChatMessage

__all__ = [
    "ChatExists",
    "ChatNotFound",
    "ChatStorage",
    "CorruptRecord",
    "StorageFactory",
    "StorageUnavailable",
    "token_totals",
]


class ChatNotFound(StorageError, KeyError):
    """No chat with this id."""

    def __init__(self, chat_id: str) -> None:
        super().__init__(f"chat {chat_id!r} not found")
        self.chat_id = chat_id

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.chat_id,))


class ChatExists(StorageError):
    """A chat with this id already exists."""


class CorruptRecord(StorageError):
    """A stored row or entry cannot be read back as a message."""


class StorageUnavailable(StorageError):
    """The storage server cannot be reached."""


def token_totals(messages: Sequence[ChatMessage]) -> tuple[int, int, int]:
    """(prompt, completion, total) tokens over the messages' ``usage``."""
    prompt = completion = total = 0
    for message in messages:
        usage = message.usage or {}
        prompt += usage.get("prompt_tokens", 0)
        completion += usage.get("completion_tokens", 0)
        total += usage.get("total_tokens", 0)
    return prompt, completion, total


@contextmanager
def decoding(chat_id: str, position: object) -> Iterator[None]:
    """Turn a failure to read a stored message into :class:`CorruptRecord`."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        raise CorruptRecord(
            f"chat {chat_id!r}: stored message {position} is unreadable: {type(exc).__name__}"
        ) from exc


class ChatStorage(abc.ABC):
    """Where chats live. Every backend passes one contract test suite.

    Appends are atomic and ordered: concurrent appenders to one chat lose nothing, and
    each writer's messages keep their order.

    Example::

        storage = ChatStorage.from_url("sqlite:///chats.db")
        info = await storage.create_chat(title="Support")
        await storage.append_history(info.id, [ChatMessage.user("Hello")])
    """

    @abc.abstractmethod
    async def create_chat(
        self,
        chat_id: str | None = None,
        *,
        title: str | None = None,
        user: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ChatInfo:
        """Create a chat (a new id unless given); :class:`ChatExists` if taken."""

    @abc.abstractmethod
    async def get_chat(self, chat_id: str) -> ChatInfo:
        """The chat's metadata; :class:`ChatNotFound` if unknown."""

    @abc.abstractmethod
    async def get_history(self, chat_id: str) -> list[ChatMessage]:
        """Every message, oldest first; :class:`ChatNotFound` if unknown."""

    @abc.abstractmethod
    async def append_history(self, chat_id: str, messages: Sequence[ChatMessage]) -> ChatInfo:
        """Append messages atomically, in order; :class:`ChatNotFound` if unknown."""

    @abc.abstractmethod
    async def update_history(self, chat_id: str, messages: Sequence[ChatMessage]) -> ChatInfo:
        """Replace the whole history atomically; :class:`ChatNotFound` if unknown."""

    @abc.abstractmethod
    async def list_chats(self, *, user: str | None = None, limit: int = 100) -> list[ChatInfo]:
        """Chats, most recently updated first."""

    @abc.abstractmethod
    async def delete_chat(self, chat_id: str) -> None:
        """Delete a chat and its messages; :class:`ChatNotFound` if unknown."""

    async def rename_chat(self, chat_id: str, title: str | None) -> ChatInfo:
        """Set a chat's title (``None`` clears it); :class:`ChatNotFound` if unknown.

        The built-in storages implement it; a storage of your own that does not says so
        with a :class:`StorageError`.
        """
        raise StorageError(f"{type(self).__name__} cannot rename chats")

    async def set_metadata(self, chat_id: str, metadata: Mapping[str, Any]) -> ChatInfo:
        """Replace a chat's metadata; :class:`ChatNotFound` if unknown.

        The built-in storages implement it; a storage of your own that does not says so
        with a :class:`StorageError`.
        """
        raise StorageError(f"{type(self).__name__} cannot change chat metadata")

    async def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections."""

    async def __aenter__(self) -> ChatStorage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @staticmethod
    def register(scheme: str, factory: StorageFactory | str) -> None:
        """Serve ``scheme://…`` URLs with ``factory(url)``.

        ``factory`` may be ``"module:attribute"``, imported on first use, so that a
        backend's driver is loaded only when a URL asks for it.

        Example::

            ChatStorage.register("mongodb", lambda url: MongoChatStorage(url))
        """
        _FACTORIES[scheme.lower()] = factory

    @staticmethod
    def from_url(url: str) -> ChatStorage:
        """``memory://``, ``sqlite:///path.db``, ``redis://host:port/db``, ``postgresql://…``.

        Or any scheme given to :meth:`register`; ``scheme+driver://`` uses ``scheme``'s.
        """
        scheme = url.split(":", 1)[0].lower()
        factory = _FACTORIES.get(scheme) or _FACTORIES.get(scheme.split("+", 1)[0])
        if factory is None:
            known = ", ".join(sorted(_FACTORIES))
            raise ValueError(f"unsupported chat storage URL scheme {scheme!r} (known: {known})")
        if isinstance(factory, str):
            module, _, attribute = factory.partition(":")
            try:
                target: Any = importlib.import_module(module)
            except ModuleNotFoundError as exc:
                extra = _EXTRAS.get(scheme.split("+", 1)[0], "all")
                raise UsageError(
                    f"{scheme}:// chat storage needs {exc.name!r}, which is not installed: "
                    f"pip install 'gemgate[{extra}]'"
                ) from exc
            for name in attribute.split("."):
                target = getattr(target, name)
            factory = cast("StorageFactory", target)
        return factory(url)


StorageFactory = Callable[[str], ChatStorage]
"""Makes a storage from its URL."""

_FACTORIES: dict[str, StorageFactory | str] = {}
_EXTRAS = {
    "sqlite": "sqlite",
    "postgres": "postgres",
    "postgresql": "postgres",
    "redis": "redis",
    "rediss": "redis",
    "unix": "redis",
}
"""The extra that brings each built-in scheme's driver."""
