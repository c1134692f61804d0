"""Selectable backends for ``/v1``: Gemini, the emulator, or an OpenAI-compatible server.

OpenAI-compatible servers are Ollama, vLLM, InstructLab, llama.cpp and the like.

``POST /api/v1/models/load`` switches the active backend at runtime; a backend that
cannot be configured is refused with the reason and the previous one stays active.
``GET /api/v1/models/status`` reports it. The seed's settings are read from the
environment: ``LLM_BACKEND_TYPE``, ``DEFAULT_MODEL_NAME_OR_PATH``, ``OLLAMA_BASE_URL``,
``VLLM_BASE_URL``, ``INSTRUCTLAB_BASE_URL``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gemgate.client._async_client import AsyncGemini
from gemgate.errors import ConnectError, UpstreamTimeout

__all__ = ["Backend", "BackendError", "Registry"]

TYPES = ("gemini", "emulator", "openai_compatible", "ollama", "vllm", "instructlab", "local")
_SEED_URLS = {
    "ollama": "OLLAMA_BASE_URL",
    "vllm": "VLLM_BASE_URL",
    "instructlab": "INSTRUCTLAB_BASE_URL",
}
_DEFAULTS = {
    "DEFAULT_LLM_MAX_NEW_TOKENS": ("max_tokens", int),
    "DEFAULT_LLM_TEMPERATURE": ("temperature", float),
    "DEFAULT_LLM_TOP_P": ("top_p", float),
    "DEFAULT_LLM_TOP_K": ("top_k", int),
}
_URL_ENV = ("OPENAI_COMPATIBLE_BASE_URL", *_SEED_URLS.values())


class BackendError(Exception):
    """A backend could not be configured (status 400 or 503, and why)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class Backend:
    """One configured backend."""

    type: str
    model: str
    client: AsyncGemini | None = None
    base_url: str | None = None
    api_key: str | None = None
    session: aiohttp.ClientSession | None = field(default=None, repr=False)

    async def relay(
        self, path: str, body: bytes
    ) -> tuple[int, dict[str, str], AsyncGenerator[bytes]]:
        """Send an OpenAI request to an OpenAI-compatible server; stream its answer back.

        Raises:
            UpstreamTimeout: The server did not answer in time.
            ConnectError: The server could not be reached.
        """
        assert self.base_url is not None
        if self.session is None:
            self.session = aiohttp.ClientSession(trust_env=False)
        headers = {"content-type": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        try:
            response = await self.session.post(self.base_url + path, data=body, headers=headers)
        except TimeoutError as exc:
            raise UpstreamTimeout("the backend did not answer in time") from exc
        except (OSError, aiohttp.ClientError) as exc:
            raise ConnectError(f"cannot reach the backend ({type(exc).__name__})") from exc

        async def chunks() -> AsyncGenerator[bytes]:
            try:
                async for chunk in response.content.iter_any():
                    yield chunk
            finally:
                response.release()

        keep = {"content-type", "cache-control"}
        return (
            response.status,
            {k: v for k, v in response.headers.items() if k.lower() in keep},
            chunks(),
        )

    async def aclose(self) -> None:
        """Close connections this backend opened."""
        if self.session is not None:
            await self.session.close()


class Registry:
    """The backends and which one ``/v1`` uses."""

    def __init__(self, primary: AsyncGemini, environ: Mapping[str, str] | None = None) -> None:
        self._primary = primary
        self._env = dict(os.environ if environ is None else environ)
        self._emulator: AsyncGemini | None = primary if primary.engine.emulated else None
        kind = "emulator" if self._emulator is primary else "gemini"
        self.active = Backend(
            kind,
            self._env.get("DEFAULT_MODEL_NAME_OR_PATH") or primary.settings.default_model,
            client=primary,
        )
        self.last_error: str | None = None
        self._extra: list[Backend] = []
        self._named: dict[str, Backend] = {}
        self.defaults = _generation_defaults(self._env)
        """Generation parameters applied when a request leaves them out (seed settings)."""

    def named(self, name: str) -> Backend | None:
        """The OpenAI-compatible server configured as ``backends.NAME``, if any."""
        backend = self._named.get(name)
        if backend is None:
            config = self._primary.settings.backends.get(name)
            if config is None:
                return None
            key = config.api_key.get_secret_value() if config.api_key else None
            backend = Backend(
                "openai_compatible", "", base_url=config.base_url.rstrip("/"), api_key=key
            )
            self._named[name] = backend
        return backend

    async def startup(self) -> None:
        """Apply ``LLM_BACKEND_TYPE`` from the environment, if set."""
        wanted = self._env.get("LLM_BACKEND_TYPE")
        if wanted and wanted != self.active.type:
            try:
                await self.load(wanted, self.active.model)
            except BackendError as exc:
                self.last_error = exc.reason

    def status(self) -> dict[str, Any]:
        """The seed's status shape."""
        return {
            "backend_type": self.active.type,
            "active_model": self.active.model,
            "status": "ready",
            "last_error": self.last_error,
            "base_url": self.active.base_url,
        }

    async def load(
        self, kind: str, model: str | None, options: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Switch the active backend; on failure keep the current one and raise."""
        opts = dict(options or {})
        try:
            backend = await self._make(kind, model or self.active.model, opts)
        except BackendError as exc:
            self.last_error = exc.reason
            raise
        self.active = backend
        self.last_error = None
        return self.status()

    async def _make(self, kind: str, model: str, opts: dict[str, Any]) -> Backend:
        if kind not in TYPES:
            raise BackendError(400, f"unknown backend_type {kind!r}; use one of {', '.join(TYPES)}")
        if kind == "gemini":
            if self._primary.engine.emulated:
                raise BackendError(
                    400, "no Gemini API key is configured (set GEMINI_API_KEY or [[projects]])"
                )
            return Backend("gemini", model, client=self._primary)
        if kind == "local":
            raise BackendError(
                400,
                "the 'local' backend (in-process transformers) is not part of gemgate; "
                "serve the model with Ollama, vLLM or llama.cpp and use openai_compatible",
            )
        if kind in _SEED_URLS:
            url = opts.get("base_url") or self._env.get(_SEED_URLS[kind])
            if not url:
                raise BackendError(400, f"{kind} needs {_SEED_URLS[kind]} (or base_url)")
            url = str(url).rstrip("/")
            opts["base_url"] = url if url.endswith("/v1") else url + "/v1"
            kind = "openai_compatible"
        if kind == "emulator":
            if self._emulator is None:
                self._emulator = AsyncGemini.emulated()
            return Backend("emulator", model, client=self._emulator)
        base = opts.get("base_url") or next(
            (self._env[n] for n in _URL_ENV if self._env.get(n)), None
        )
        if not base:
            raise BackendError(
                400,
                "openai_compatible needs base_url "
                "(or OLLAMA_BASE_URL, VLLM_BASE_URL, INSTRUCTLAB_BASE_URL)",
            )
        backend = Backend(
            "openai_compatible", model, base_url=str(base).rstrip("/"), api_key=opts.get("api_key")
        )
        await _probe(backend)
        self._extra.append(backend)
        return backend

    async def aclose(self) -> None:
        """Close secondary clients and sessions."""
        for backend in [*self._extra, *self._named.values()]:
            await backend.aclose()
        if self._emulator is not None and self._emulator is not self._primary:
            await self._emulator.aclose()


async def _probe(backend: Backend) -> None:
    timeout = aiohttp.ClientTimeout(total=3)
    headers = {"authorization": f"Bearer {backend.api_key}"} if backend.api_key else {}
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, trust_env=False) as session,
            session.get(f"{backend.base_url}/models", headers=headers) as response,
        ):
            if response.status >= 400:
                raise BackendError(503, f"{backend.base_url}/models answered {response.status}")
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise BackendError(503, f"cannot reach {backend.base_url}: {type(exc).__name__}") from None


def _generation_defaults(env: Mapping[str, str]) -> dict[str, Any]:
    """The seed's ``DEFAULT_LLM_*`` settings; Gemini's ``top_k >= 1`` is enforced here."""
    from gemgate.errors import UsageError

    out: dict[str, Any] = {}
    for name, (param, kind) in _DEFAULTS.items():
        raw = env.get(name)
        if raw is None or raw == "":
            continue
        try:
            out[param] = kind(raw)
        except ValueError:
            raise UsageError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    if "top_k" in out and out["top_k"] < 1:
        raise UsageError(f"DEFAULT_LLM_TOP_K={out['top_k']}: Gemini needs top_k >= 1")
    return out
