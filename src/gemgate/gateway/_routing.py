"""The gateway's route table: which handler serves a method and a path.

A `Route` is one operation: a method, a path (``{name}`` stands for one path segment,
handed to the handler in ``scope["path_params"]``), its handler and what
``/openapi.json`` says about it. A `Mount` hands every path under a prefix to one handler
(the native relay) and lists the operations under it that the document describes.

A lookup costs a dict hit for fixed paths (``/v1/chat/completions``), a prefix test per
mount (``/gemini/…``) and, for the few templated paths, a scan of those with as many
segments as the request's path.

Example::

    router = Router([Route("GET", "/healthz", health, Doc("Liveness"), public=True)])
    match = router.match("GET", "/healthz")     # match.handler is health
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from starlette.types import ASGIApp

__all__ = ["Doc", "Match", "Mount", "Route", "Router"]

_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Doc:
    """What ``/openapi.json`` says about one operation."""

    summary: str
    body: Mapping[str, Any] | None = None
    """The JSON schema of the request body (None: the operation takes none)."""
    ok: int = 200
    """The success status."""


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: ``method`` on ``path`` is served by ``handler``."""

    method: str
    path: str
    handler: ASGIApp
    doc: Doc
    public: bool = False
    """Served without a gateway key (health, metrics, the page, the document)."""

    @property
    def params(self) -> list[str]:
        """The names of the path's ``{name}`` parameters, in order."""
        return _PARAM.findall(self.path)


@dataclass(frozen=True, slots=True)
class Mount:
    """Every path under ``prefix`` (any method) goes to ``handler``."""

    prefix: str
    """Ends with ``/``: ``/gemini/``."""
    handler: ASGIApp
    documented: tuple[Route, ...] = field(default=())
    """The operations under the prefix that ``/openapi.json`` lists."""


class Match(NamedTuple):
    """The outcome of a lookup: a handler, or why there is none."""

    handler: ASGIApp | None
    """None: no route (404), or none for this method (405, see ``allowed``)."""
    params: Mapping[str, str]
    public: bool = False
    allowed: tuple[str, ...] = ()
    """The path's methods, when the path exists but not with this method."""


_NO_PARAMS: Mapping[str, str] = MappingProxyType({})
_NOT_FOUND = Match(None, _NO_PARAMS)
_Methods = dict[str, Route]
_Template = tuple[list[str | None], list[str], _Methods]


class Router:
    """The route table and its lookup.

    Matches for fixed paths and mounts are built once: a lookup on them allocates nothing.
    """

    def __init__(self, entries: Iterable[Route | Mount]) -> None:
        self.routes: list[Route] = []
        """Every operation, as listed in ``/openapi.json`` (mounts' documented ones too)."""
        self.mounts: list[Mount] = []
        self._mounted: list[tuple[str, Match]] = []
        self._fixed: dict[str, dict[str, Match]] = {}
        self._templates: dict[int, list[_Template]] = {}
        """By segment count: each template's segments (None: a parameter), names, routes."""
        for entry in entries:
            if isinstance(entry, Mount):
                self.mounts.append(entry)
                self._mounted.append((entry.prefix, Match(entry.handler, _NO_PARAMS)))
                self.routes.extend(entry.documented)
            else:
                self.routes.append(entry)
                self._add(entry)

    def _add(self, route: Route) -> None:
        if route.params:
            methods = self._methods(route)
            taken = route.method in methods
            methods[route.method] = route
        else:
            fixed = self._fixed.setdefault(route.path, {})
            taken = route.method in fixed
            fixed[route.method] = Match(route.handler, _NO_PARAMS, route.public)
        if taken:
            raise ValueError(f"two routes for {route.method} {route.path}")

    def _methods(self, route: Route) -> _Methods:
        """The routes (by method) sharing ``route``'s template; new and empty for a new one."""
        pattern = [None if _PARAM.fullmatch(s) else s for s in route.path.split("/")]
        if pattern.count(None) != len(route.params):
            raise ValueError(f"{route.path}: a parameter must be a whole segment")
        group = self._templates.setdefault(len(pattern), [])
        for known, _, methods in group:
            if known == pattern:
                return methods
        group.append((pattern, route.params, {}))
        return group[-1][2]

    def match(self, method: str, path: str) -> Match:
        """The handler for ``method`` on ``path``, with the path's parameters."""
        fixed = self._fixed.get(path)
        if fixed is not None:
            found = fixed.get(method)
            return found if found is not None else Match(None, _NO_PARAMS, allowed=tuple(fixed))
        for prefix, mounted in self._mounted:
            if path.startswith(prefix):
                return mounted
        methods, params = self._template(path)
        if methods is None:
            return _NOT_FOUND
        route = methods.get(method)
        if route is None:
            return Match(None, _NO_PARAMS, allowed=tuple(methods))
        return Match(route.handler, params, route.public)

    def _template(self, path: str) -> tuple[_Methods | None, Mapping[str, str]]:
        segments = path.split("/")
        for pattern, names, methods in self._templates.get(len(segments), ()):
            values: list[str] = []
            for segment, literal in zip(segments, pattern, strict=True):
                if literal is None and segment:
                    values.append(segment)
                elif literal != segment:
                    break
            else:
                return methods, dict(zip(names, values, strict=True))
        return None, _NO_PARAMS
