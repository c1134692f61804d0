"""Settings: environment, ``.env`` and a TOML file, in that order of precedence.

Keys come from ``GEMINI_API_KEY``, ``GOOGLE_API_KEY``, ``GEMINI_API_KEY_1..N`` and
``[[projects]]`` entries in the TOML file (``GEMGATE_CONFIG`` or ``config=``). A loose key
whose project is unknown becomes its own project: if two such keys really share one,
the first 429 teaches the client that at the cost of one request. With no key at all the
library refuses to start, unless the built-in emulator was asked for (``upstream =
"emulator"``, ``GEMGATE_UPSTREAM=emulator``); ``gemgate serve`` asks for it by itself.

Example::

    settings = Settings.load(config="gemgate.toml")
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from gemgate.policy._selection import Strategy
from gemgate.projects import GatewayKey, ProjectConfig, fingerprint

__all__ = ["GOOGLE_BASE_URL", "BackendConfig", "RetrySettings", "Settings", "Timeouts"]

GOOGLE_BASE_URL = "https://generativelanguage.googleapis.com"
_NUMBERED_KEY = re.compile(r"^GEMINI_API_KEY_(\d+)$")


class Timeouts(BaseModel):
    """Timeouts in seconds, per kind of request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connect: float = 10.0
    generate: float = 120.0
    """A whole non-streaming generateContent response."""
    stream_first_byte: float = 60.0
    stream_idle: float = 60.0
    """The longest gap between two stream chunks."""
    embed: float = 60.0
    upload: float = 300.0
    other: float = 60.0
    total: float = 600.0
    """The overall deadline of one call, retries and waits for quota included."""


class RetrySettings(BaseModel):
    """How transient failures are retried."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_retries: int = Field(default=4, ge=0)
    """Retries after transient failures (429 rotations and cooldowns are not counted)."""
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    breaker_threshold: int = 8
    breaker_reset: float = 30.0


class BackendConfig(BaseModel):
    """An OpenAI-compatible server (Ollama, vLLM, llama.cpp …), named as ``NAME/model``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    """Its OpenAI API root, such as ``http://127.0.0.1:11434/v1``."""
    api_key: SecretStr | None = None


class Settings(BaseSettings):
    """Everything the client and gateway read."""

    model_config = SettingsConfigDict(
        env_prefix="GEMGATE_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    projects: list[ProjectConfig] = Field(default_factory=list)
    upstream: Literal["google", "emulator"] = "google"
    """``emulator``: the built-in, in-process Gemini emulator answers (no key needed),
    unless an ``upstream_url`` is named."""
    upstream_url: str | None = None
    """Base URL of the Gemini API (default: Google's)."""
    api_version: Literal["v1beta", "v1", "v1alpha"] = "v1beta"
    default_model: str = "gemini-2.5-flash"
    embedding_model: str = "gemini-embedding-001"
    strategy: Strategy = Strategy.ROUND_ROBIN
    timeouts: Timeouts = Field(default_factory=Timeouts)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    tls_ca_file: str | None = None
    """A CA certificate to trust for ``upstream_url`` (such as ``gemgate emulate --tls``'s)."""
    live_model: str = "gemini-live-2.5-flash-preview"
    """The model Live sessions use when none is named."""
    max_connections: int = Field(default=1024, ge=1)
    """Open upstream connections at most; more concurrent requests wait for one."""
    model_routes: dict[str, list[str]] = Field(default_factory=dict)
    """Aliases with fallback chains for ``/v1``: ``{"fast": ["gemini-2.5-flash-lite",
    "gemini-2.5-flash", "ollama/llama3.2"]}`` tries the next entry when one fails with a
    retryable error after its retries. ``NAME/model`` names a model of ``backends[NAME]``."""
    backends: dict[str, BackendConfig] = Field(default_factory=dict)
    """OpenAI-compatible servers by name, for ``model_routes`` and ``NAME/model`` ids."""
    gateway_keys: list[GatewayKey] = Field(default_factory=list)
    """Who may call the gateway (hashed secrets); none means loopback-only and open."""
    image_fetch_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    """The largest image the gateway fetches for an http(s) ``image_url``."""
    image_fetch_private: bool = False
    """Allow image URLs on private, loopback or link-local addresses (off: SSRF guard)."""
    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    """The largest request body the gateway accepts (larger: 413)."""
    allowed_origins: list[str] = Field(default_factory=list)
    """Web origins (``https://app.example``), besides the gateway's own, whose pages may
    open its WebSockets."""
    sessions_url: str = "sqlite:///gemgate.db"
    """Where the gateway keeps chat sessions (``sqlite:///…``, ``redis://…``, ``postgresql://…``)."""
    history_size: int = Field(default=1000, ge=1)
    """Finished requests kept for ``get_request_history``."""

    @property
    def uses_emulator(self) -> bool:
        """True when the built-in emulator was chosen (and no ``upstream_url`` named)."""
        return self.upstream == "emulator" and self.upstream_url is None

    @classmethod
    def load(
        cls,
        *,
        config: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Read the TOML file, the environment and ``.env``; ``overrides`` win."""
        env = _environment() if environ is None else environ
        path = config or env.get("GEMGATE_CONFIG")
        data = _read_toml(Path(path), set(cls.model_fields)) if path else {}
        for name in cls().model_fields_set - {"projects"}:
            data.pop(name, None)  # GEMGATE_* in the environment or .env beat the file
        projects = [ProjectConfig.model_validate(p) for p in data.pop("projects", [])]
        projects += _env_projects(env, {k for p in projects for k in p.keys})
        data["projects"] = projects
        data.update(overrides)
        return cls(**data)


def _read_toml(path: Path, fields: set[str]) -> dict[str, Any]:
    """The settings a TOML file sets; other tables (such as ``[emulator]``) are ignored."""
    with path.open("rb") as fh:
        return {k: v for k, v in tomllib.load(fh).items() if k in fields}


def _environment() -> dict[str, str]:
    """``.env`` (if present) overlaid by the process environment."""
    from dotenv import dotenv_values

    values = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    values.update(os.environ)
    return values


def _env_projects(env: Mapping[str, str], known: set[str]) -> list[ProjectConfig]:
    """One project per loose key from the environment, named by the key's fingerprint."""
    numbered = sorted(
        (int(m.group(1)), value)
        for name, value in env.items()
        if (m := _NUMBERED_KEY.match(name)) and value
    )
    keys = [env.get("GEMINI_API_KEY", ""), env.get("GOOGLE_API_KEY", "")]
    keys += [value for _, value in numbered]
    projects: list[ProjectConfig] = []
    for key in keys:
        key = key.strip()
        if key and key not in known:
            known.add(key)
            projects.append(ProjectConfig(name=f"env-{fingerprint(key)[4:]}", keys=[key]))
    return projects
