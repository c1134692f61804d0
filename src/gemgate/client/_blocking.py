"""Blocking twins: an async class's API, run on one portal thread's event loop.

:class:`~gemgate.Gemini` and the blocking faces of its cache manager and Live pool are
*twins* of async classes. A twin holds the async object and the :class:`Runner` of its
client; each of its methods runs the async method on the client's loop thread and waits
for it. The async class stays the single source of truth, and its state keeps one owner.

A twin names the class it mirrors and declares its members with the typed wrappers below,
which keep the async method's parameters (``ParamSpec``) for type checkers and IDEs, and
its signature for :func:`inspect.signature`::

    class BlockingCacheManager(Blocking[CacheManager], twin_of=CacheManager):
        create_cache = blocking(CacheManager.create_cache)  # async def: a blocking call
        forget = plain(CacheManager.forget)  # def: called on the loop thread

``iterating`` turns an async iterator into a blocking one, ``wrapping`` returns the twin
of what the async method returns, ``entering`` is ``__enter__`` made from ``__aenter__``,
``building`` is a classmethod that builds the blocking client, and :class:`Forwarded`
reads and writes an attribute.
A public member of the async class that the twin does not declare is made when the twin
class is created, from what the member is (``aclose``, ``__aenter__`` and ``__aexit__``
become ``close``, ``__enter__`` and ``__exit__``), so a twin is never short of a method;
the declarations are what type checkers see, and the tests require one for every member.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import re
import weakref
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
)
from types import GenericAlias
from typing import (
    Any,
    ClassVar,
    Concatenate,
    Generic,
    ParamSpec,
    Protocol,
    TypeVar,
    get_args,
    get_origin,
    overload,
)

from anyio.from_thread import BlockingPortal

from gemgate.errors import UsageError

__all__ = [
    "Blocking",
    "Forwarded",
    "Runner",
    "blocking",
    "building",
    "check_no_loop",
    "entering",
    "iterating",
    "plain",
    "wrapping",
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
A = TypeVar("A")
A_co = TypeVar("A_co", covariant=True)
A_contra = TypeVar("A_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)
B = TypeVar("B", bound="Blocking[Any]")

LIFECYCLE = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}
"""Async lifecycle members and the names of their blocking twins."""

DUNDERS = ("__len__", "__contains__", "__bool__", "__getitem__")
"""Special methods an async class may define that its twin forwards."""


def check_no_loop() -> None:
    """Raise :class:`UsageError` when called from a running event loop (it would deadlock)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise UsageError(
        "Gemini (the blocking client) was called from a running event loop; "
        "use AsyncGemini there instead"
    )


def _as_async(fn: Callable[[], R]) -> Callable[[], Awaitable[R]]:
    async def call() -> R:
        return fn()

    return call


class Runner:
    """Runs work on a client's loop thread, for the client and every twin made from it.

    Args:
        portal: The portal of the loop thread.
        is_open: Whether the client is still open.
    """

    def __init__(self, portal: BlockingPortal, is_open: Callable[[], bool]) -> None:
        self.portal = portal
        self._is_open = is_open

    def check_open(self) -> None:
        """Raise :class:`UsageError` if the client is closed."""
        if not self._is_open():
            raise UsageError("this Gemini client is closed")

    def check(self) -> None:
        """Raise :class:`UsageError` inside a running event loop or once closed."""
        check_no_loop()
        self.check_open()

    def call(self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Await ``fn(*args, **kwargs)`` on the loop and return its result."""
        self.check()
        return self.portal.call(functools.partial(fn, *args, **kwargs))

    def run(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call plain ``fn(*args, **kwargs)`` on the loop thread (the owner of all state)."""
        self.check()
        return self.portal.call(_as_async(functools.partial(fn, *args, **kwargs)))

    def iterate(self, items: AsyncIterator[R]) -> Generator[R, None, None]:
        """A blocking iterator over ``items``, each step awaited on the loop."""
        try:
            while True:
                try:
                    item = self.portal.call(items.__anext__)
                except StopAsyncIteration:
                    return
                yield item
        finally:
            # Left early (break, exception, garbage collection): end the stream now, so
            # its connection is released and its request leaves get_active_requests().
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(RuntimeError):
                    self.portal.call(aclose)


_TWINS: dict[type[Any], type[Blocking[Any]]] = {}
"""Every async class with a twin, and the twin."""

_MADE: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()
"""The functions the wrappers made (named after the twin class that holds them)."""


class Blocking(Generic[A_co]):
    """Base of the blocking twin of an async class (see the module's documentation).

    Args:
        target: The async object.
        runner: Its client's runner.
        owner: What must stay alive while this twin is used (its client).
    """

    _source: ClassVar[type[Any] | None] = None
    """The async class this one mirrors."""
    _generated: ClassVar[frozenset[str]] = frozenset()
    """Members made when the class was created, for want of a declaration."""

    _async: A_co
    _runner: Runner
    _owner: object

    def __init__(self, target: A_co, runner: Runner, owner: object = None) -> None:
        self._async = target
        self._runner = runner
        self._owner = owner

    def __init_subclass__(cls, /, twin_of: type[Any] | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if twin_of is not None:
            cls._source = twin_of
            _TWINS[twin_of] = cls
            cls._generated = frozenset(_complete(cls, twin_of))
        for name, member in vars(cls).items():
            function = getattr(member, "__func__", member)
            if function in _MADE:
                function.__qualname__ = f"{cls.__qualname__}.{name}"
                function.__module__ = cls.__module__
                _show_result(function, function.__signature__.return_annotation)

    @classmethod
    def _adopt(cls: type[B], make: Callable[[], Any]) -> B:
        """A twin of what ``make()`` builds on a loop of its own (only clients can)."""
        raise UsageError(f"a {cls.__name__} is made by its client, not on its own")

    def _twin(self, twin: type[B], target: Any) -> B:
        """``twin`` of ``target``, run by this twin's client."""
        return twin(target, self._runner, self._owner if self._owner is not None else self)


class _Method(Protocol[A_contra, P, R_co]):
    """A function defined in a class: ``self`` (named, as methods name it), then ``P``."""

    def __call__(_, self: A_contra, *args: P.args, **kwargs: P.kwargs) -> R_co: ...


def blocking(method: _Method[A, P, Awaitable[R]]) -> Callable[Concatenate[Blocking[A], P], R]:
    """The twin of an async method: run it on the loop and wait for its result."""
    _require(method, "awaits")

    def run(self: Blocking[A], /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._runner.call(method, self._async, *args, **kwargs)

    return _present(run, method)


def iterating(
    method: _Method[A, P, AsyncIterator[R]],
) -> Callable[Concatenate[Blocking[A], P], Generator[R, None, None]]:
    """The twin of a method returning an async iterator: a blocking iterator.

    It is a generator: ``close()`` (or leaving a ``for`` loop) ends the async iterator.
    """
    _require(method, "iterates")

    def run(self: Blocking[A], /, *args: P.args, **kwargs: P.kwargs) -> Generator[R, None, None]:
        items = self._runner.run(method, self._async, *args, **kwargs)
        return self._runner.iterate(items)

    return _present(run, method)


@overload
def plain(method: _Method[A, P, R]) -> Callable[Concatenate[Blocking[A], P], R]: ...
@overload
def plain(method: Callable[Concatenate[A, P], R]) -> Callable[Concatenate[Blocking[A], P], R]: ...
def plain(method: Callable[..., R]) -> Callable[..., R]:
    """The twin of a plain method: call it on the loop thread, where the state lives.

    (The second form is for special methods, whose ``self`` is positional-only.)
    """
    _require(method, "plain")

    def run(self: Blocking[Any], /, *args: Any, **kwargs: Any) -> R:
        return self._runner.run(method, self._async, *args, **kwargs)

    return _present(run, method)


def wrapping(
    twin: type[B], method: _Method[A, P, Awaitable[Any]]
) -> Callable[Concatenate[Blocking[A], P], B]:
    """The twin of an async method whose result has a twin: that twin of the result."""
    _require(method, "awaits")

    def run(self: Blocking[A], /, *args: P.args, **kwargs: P.kwargs) -> B:
        return self._twin(twin, self._runner.call(method, self._async, *args, **kwargs))

    return _present(run, method, returns=twin.__name__)


def entering(method: _Method[Any, [], Awaitable[Any]]) -> Callable[[B], B]:
    """The ``__enter__`` twin of ``__aenter__``: enter on the loop, return the twin."""
    _require(method, "awaits")

    def enter(self: B) -> B:
        self._runner.call(method, self._async)
        return self

    return _present(enter, method)


class building(classmethod, Generic[P]):  # type: ignore[type-arg]
    """The twin of a classmethod that builds a client: a classmethod building the twin.

    Example::

        emulated = building(AsyncGemini.emulated)  # Gemini.emulated(...) -> Gemini
    """

    def __init__(self, factory: Callable[P, Any]) -> None:
        def build(cls: type[Blocking[Any]], /, *args: Any, **kwargs: Any) -> Any:
            return cls._adopt(functools.partial(factory, *args, **kwargs))

        super().__init__(_present(build, getattr(factory, "__func__", factory)))

    def __get__(self, obj: object, owner: type[B] | None = None) -> Callable[P, B]:
        bound: Callable[P, B] = super().__get__(obj, owner)
        return bound


class Forwarded(Generic[T]):
    """An attribute of the async object, read and written on the loop thread.

    Example::

        ttl = Forwarded[float]()
    """

    def __init__(self) -> None:
        self._name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Forwarded[T]: ...
    @overload
    def __get__(self, obj: Blocking[Any], owner: type[Any] | None = None) -> T: ...
    def __get__(self, obj: Blocking[Any] | None, owner: type[Any] | None = None) -> Any:
        if obj is None:
            return self
        return obj._runner.run(getattr, obj._async, self._name)

    def __set__(self, obj: Blocking[Any], value: T) -> None:
        obj._runner.run(setattr, obj._async, self._name, value)


# -- what the wrappers show: the async signature, with blocking results -------------------

_ITERATOR = re.compile(
    r"^(?:typing\.|collections\.abc\.)?Async(?:Iterator|Iterable|Generator)\[(.*)\]$", re.DOTALL
)
_AWAITABLE = re.compile(r"^(?:typing\.|collections\.abc\.)?(?:Awaitable|Coroutine)\[")


_WRAPPERS = {"awaits": "blocking", "iterates": "iterating", "plain": "plain"}


def _kind(method: Any) -> str:
    """What calling ``method`` gives: ``"awaits"``, ``"iterates"`` or ``"plain"``."""
    if inspect.isasyncgenfunction(method):
        return "iterates"
    if inspect.iscoroutinefunction(method):
        return "awaits"
    returns = str(inspect.signature(method).return_annotation)
    if _ITERATOR.match(returns):
        return "iterates"
    return "awaits" if _AWAITABLE.match(returns) else "plain"


def _require(method: Any, kind: str) -> None:
    """Refuse a wrapper that does not fit ``method`` (declared with the wrong one)."""
    found = _kind(method)
    if found != kind:
        raise TypeError(
            f"{getattr(method, '__qualname__', method)} {found}: wrap it with "
            f"{_WRAPPERS[found]}(), not {_WRAPPERS[kind]}()"
        )


def _present(run: Callable[P, R], method: Any, returns: str | None = None) -> Callable[P, R]:
    """Give ``run`` the name, documentation and signature of ``method``, blocking results."""
    functools.update_wrapper(run, method)
    run.__annotations__ = dict(getattr(method, "__annotations__", {}))
    signature = inspect.signature(method)
    run.__signature__ = signature  # type: ignore[attr-defined]
    _show_result(run, returns or signature.return_annotation)
    _MADE.add(run)
    return run


def _show_result(function: Any, annotation: Any) -> None:
    """Set the return annotation ``function`` shows: the blocking form of ``annotation``.

    Done again when the twin class is made: a twin's own methods may return the twin.
    """
    result = _blocking_annotation(annotation)
    function.__signature__ = function.__signature__.replace(return_annotation=result)
    if result is not inspect.Signature.empty:
        function.__annotations__["return"] = result


def _blocking_annotation(annotation: Any) -> Any:
    """``AsyncIterator[X]`` → ``Generator[X, None, None]``; a class with a twin → the twin."""
    twin = _twin_class(annotation)
    if twin is not None:
        return twin.__name__ if isinstance(annotation, str) else twin
    if not isinstance(annotation, str):
        if get_origin(annotation) in (AsyncIterator, AsyncIterable, AsyncGenerator):
            return GenericAlias(Generator, (get_args(annotation)[0], None, None))
        return annotation
    match = _ITERATOR.match(annotation)
    return f"Generator[{_first_argument(match.group(1))}, None, None]" if match else annotation


def _twin_class(annotation: Any) -> type[Blocking[Any]] | None:
    """The twin of the async class ``annotation`` names, if it has one."""
    for source, twin in _TWINS.items():
        if annotation is source or annotation in (source.__name__, twin.__name__):
            return twin
    return None


def _first_argument(arguments: str) -> str:
    """``"dict[str, Any], None"`` → ``"dict[str, Any]"``."""
    depth = 0
    for index, char in enumerate(arguments):
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == "," and depth == 0:
            return arguments[:index].strip()
    return arguments.strip()


# -- twins made for what a twin class does not declare ------------------------------------


def _complete(cls: type[Blocking[Any]], source: type[Any]) -> list[str]:
    """Add a twin of every public member of ``source`` that ``cls`` does not declare."""
    base = set(Blocking.__mro__)
    made = []
    for name in _surface(source):
        twin_name = LIFECYCLE.get(name, name)
        if any(twin_name in vars(k) for k in cls.__mro__ if k not in base):
            continue
        twin = _twin_of_member(source, name)
        setattr(cls, twin_name, twin)
        if isinstance(twin, Forwarded):
            twin.__set_name__(cls, twin_name)
        made.append(twin_name)
    return made


def _surface(source: type[Any]) -> list[str]:
    """The public members of ``source``, with the special methods twins forward."""
    names = [n for n in dir(source) if not n.startswith("_")]
    defined = {n for k in source.__mro__ if k is not object for n in vars(k)}
    return names + [n for n in (*LIFECYCLE, *DUNDERS) if n.startswith("__") and n in defined]


def _twin_of_member(source: type[Any], name: str) -> Any:
    """The twin of one member, from what it is."""
    member = inspect.getattr_static(source, name)
    if isinstance(member, staticmethod):
        return staticmethod(member.__func__)
    if isinstance(member, classmethod):
        return building(getattr(source, name))
    if not inspect.isfunction(member):
        return Forwarded[Any]()  # a property or a class attribute
    if name == "__aenter__":
        return entering(member)
    kind = _kind(member)
    if kind == "awaits":
        twin = _twin_class(inspect.signature(member).return_annotation)
        return blocking(member) if twin is None else wrapping(twin, member)
    return iterating(member) if kind == "iterates" else plain(member)
