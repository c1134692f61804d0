"""Settings: environment, ``.env`` and a TOML file, in that order of precedence.

Keys come from ``GEMINI_API_KEY``, ``GOOGLE_API_KEY``, ``GEMINI_API_KEY_1..N`` and
``[[projects]]`` entries in the TOML file (``GEMGATE_CONFIG`` or ``config=``). A loose key
whose project is unknown becomes its own project: if two such keys really share one,
the first 429 teaches the client that at the cost of one request. With no key at all the
library refuses to start, unless the built-in emulator was asked for (``upstream =
"emulator"``, ``GEMGATE_UPSTREAM=emulator``); ``gemgate serve`` asks for it by itself.

Settings are checked whole: a key that names no setting (at any depth) is a
:class:`~gemgate.errors.ConfigError` with a "did you mean" suggestion, and so is a value
of the wrong type; the message is one line naming the file and line (syntax errors), the
key path or the ``GEMGATE_*`` variable. A ``GEMGATE_*`` variable that names no setting
is only a :class:`~gemgate.errors.ConfigWarning`: the environment is shared.

Example::

    settings = Settings.load(config="gemgate.toml")
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import types
import warnings
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from gemgate.errors import ConfigError, ConfigWarning
from gemgate.policy._selection import Strategy
from gemgate.projects import GatewayKey, ProjectConfig, fingerprint

__all__ = [
    "GOOGLE_BASE_URL",
    "SHARED_TABLES",
    "BackendConfig",
    "PriceConfig",
    "RetrySettings",
    "Settings",
    "Timeouts",
    "config_error",
    "read_toml",
]

GOOGLE_BASE_URL = "https://generativelanguage.googleapis.com"
SHARED_TABLES = frozenset({"emulator"})
"""Top-level tables of a configuration file that other readers own (``gemgate emulate``)."""
_NUMBERED_KEY = re.compile(r"^GEMINI_API_KEY_(\d+)$")
_ENV_PREFIX = "GEMGATE_"
_ENV_OF_ITS_OWN = frozenset({"GEMGATE_CONFIG", "GEMGATE_URL", "GEMGATE_KEY"})
"""Variables gemgate reads that are not settings: the file, and the operator commands'
gateway address and key."""
"""``GEMGATE_*`` variables that are not settings fields but are read all the same."""


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


class PriceConfig(BaseModel):
    """A model's price in US dollars per million tokens (``[prices."model"]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached: float = Field(default=0.0, ge=0)
    long_input: float | None = Field(default=None, ge=0)
    """Above 200,000 prompt tokens, for models priced so."""
    long_output: float | None = Field(default=None, ge=0)
    long_cached: float | None = Field(default=None, ge=0)


STATE_TABLE = {"url": "state_url", "fail_closed": "state_fail_closed", "prefix": "state_prefix"}
"""The ``[state]`` table's keys and the settings they set."""


class Settings(BaseSettings):
    """Everything the client and gateway read."""

    model_config = SettingsConfigDict(
        env_prefix=_ENV_PREFIX,
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
    image_model: str = "gemini-2.5-flash-image"
    """The model of ``generate_image``, ``/v1/images/*`` when none (or an OpenAI one) is given."""
    speech_model: str = "gemini-2.5-flash-preview-tts"
    """The model ``speak`` and ``/v1/audio/speech`` use when none (or an OpenAI one) is named."""
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
    public_metrics: bool = False
    """Serve ``/metrics`` and ``/openapi.json`` without a key even when keys are configured."""
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
    stores_url: str | None = None
    """Where retrieval stores live (``sqlite:///…`` or ``postgresql://…`` with pgvector), or
    ``gemini://file-search`` for Gemini's own File Search stores (documents are uploaded to
    the API and searched there); default: the sessions database when it is SQL, else
    ``sqlite:///gemgate.db``."""
    stores_dimensions: int = Field(default=768, ge=1, le=3072)
    """The size of the embeddings stores keep (Gemini's Matryoshka sizes: 768, 1536, 3072)."""
    batches_url: str | None = None
    """Where submitted batch jobs are journalled (their keys, model and owning project),
    so that a new process can wait for them and fetch their results
    (``AsyncGemini.batches.pending()`` / ``resume()``): ``sqlite:///…``, ``redis://…`` or
    ``memory://`` (this process only). Default: ``state_url`` when it is set (Redis), else
    the sessions database when it is SQLite, else ``sqlite:///gemgate.db``."""
    history_size: int = Field(default=1000, ge=1)
    """Finished requests kept for ``get_request_history``."""
    state_url: str | None = None
    """``redis://…``: share quota windows, cooldowns, disabled keys, resource owners, the
    response cache and gateway-key budgets with every process on the same Redis (TOML:
    ``[state] url``; environment: ``GEMGATE_STATE_URL``). Default: this process's memory."""
    state_prefix: str = Field(default="gemgate:", min_length=1)
    """The prefix of every Redis key, so that separate deployments can share one Redis
    (TOML: ``[state] prefix``)."""
    state_fail_closed: bool = False
    """While the shared state is unreachable, refuse (503) instead of admitting each
    process's ``limit / N`` on its own (TOML: ``[state] fail_closed``)."""
    login_secret: SecretStr | None = None
    """Signs the web page's login cookies; gateway processes that share it accept each
    other's cookies (default: a random one per process; ``gemgate serve --workers N`` gives
    its workers one). Set the same value on every host behind one load balancer."""
    request_log_url: str | None = None
    """Where the gateway logs every request (``sqlite:///…``, ``postgresql://…``, or
    ``off``); default: the sessions database when it is SQL."""
    prices: dict[str, PriceConfig] = Field(default_factory=dict)
    """US dollars per million tokens by model, over the built-in list prices."""

    def __init__(self, **values: Any) -> None:
        """Validate ``values`` over the environment; :class:`ConfigError` if anything is off.

        Unknown keys are errors (with a suggestion), at any depth. ``_origins`` (internal)
        maps top-level keys to where they were read, for the message.
        """
        origins: Mapping[str, str] = values.pop("_origins", None) or {}
        fields = type(self).model_fields
        problems: list[tuple[str | None, str]] = []
        table = values.pop("state", None)
        if isinstance(table, Mapping):  # [state] url = … is state_url = …
            for key, value in table.items():
                if key in STATE_TABLE:
                    values[STATE_TABLE[key]] = value
                else:
                    problems.append(
                        (origins.get("state"), _unknown_key(("state", key), STATE_TABLE))
                    )
        elif table is not None:
            problems.append((origins.get("state"), "'state' must be a table ([state] url = …)"))
        problems += [
            (origins.get(name), _unknown_key((name,), fields))
            for name in values
            if name not in fields and not name.startswith("_")
        ]
        known = {k: v for k, v in values.items() if k in fields or k.startswith("_")}
        try:
            super().__init__(**known)
        except ValidationError as exc:
            from_env = {name: _ENV_PREFIX + name.upper() for name in fields if name not in values}
            problems += _problems(exc, type(self), {**from_env, **origins})
        if problems:
            raise ConfigError(_joined(problems))

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
        _warn_unknown_env(env, cls.model_fields)
        path = config or env.get("GEMGATE_CONFIG")
        data: dict[str, Any] = {}
        if path:
            named_by = None if config else "GEMGATE_CONFIG"
            data = read_toml(Path(path), named_by=named_by)  # unknown keys: the constructor
            for table in SHARED_TABLES:
                data.pop(table, None)
            state = data.get("state")
            if isinstance(state, Mapping):  # flat, so that GEMGATE_STATE_* below can win
                for key in set(state) & set(STATE_TABLE):
                    data[STATE_TABLE[key]] = state[key]
                data["state"] = {k: v for k, v in state.items() if k not in STATE_TABLE}
                if not data["state"]:
                    del data["state"]
        origins = dict.fromkeys(data, str(path))
        for name in cls().model_fields_set - {"projects"}:
            data.pop(name, None)  # GEMGATE_* in the environment or .env beat the file
        listed = data.pop("projects", [])
        try:
            projects = _PROJECTS.validate_python(listed)
        except ValidationError:
            data["projects"] = listed  # the constructor says what is wrong, with the rest
        else:
            data["projects"] = projects + _env_projects(env, {k for p in projects for k in p.keys})
        data.update(overrides)
        for name in overrides:
            origins.pop(name, None)
        return cls(_origins=origins, **data)


_PROJECTS = TypeAdapter(list[ProjectConfig])


def read_toml(
    path: Path, known: Collection[str] | None = None, *, named_by: str | None = None
) -> dict[str, Any]:
    """A TOML file's tables and keys (every top-level one in ``known``, if given).

    Raises :class:`ConfigError` for a missing or unreadable file (``named_by`` says which
    variable named it), a syntax error (with its line and column) or an unknown key.
    """
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        where = f" (named by {named_by})" if named_by else ""
        raise ConfigError(f"{path}: no such file{where}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_syntax_error(path, exc)) from None
    allowed = data if known is None else known
    unknown = [_unknown_key((name,), allowed) for name in data if name not in allowed]
    if unknown:
        raise ConfigError(f"{path}: " + "; ".join(unknown))
    return data


_AT = re.compile(r"^(?P<what>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$", re.DOTALL)


def _syntax_error(path: Path, exc: tomllib.TOMLDecodeError) -> str:
    """``FILE:LINE:COLUMN: what is wrong`` from tomllib's message."""
    text = str(exc).strip()
    if found := _AT.match(text):
        return f"{path}:{found['line']}:{found['column']}: invalid TOML: {found['what']}"
    return f"{path}: invalid TOML: {text.replace(' (at end of document)', ' at the end')}"


def config_error(
    exc: ValidationError,
    model: Any,
    *,
    source: str | None = None,
    prefix: tuple[str | int, ...] = (),
) -> ConfigError:
    """One :class:`ConfigError` for every problem pydantic found validating ``model``.

    ``source`` (a file) prefixes the message; ``prefix`` is the key path of what was
    validated within ``model``. Values are never shown, so secrets stay out of it.
    """
    return ConfigError(_joined([(source, text) for _, text in _problems(exc, model, {}, prefix)]))


def _problems(
    exc: ValidationError,
    model: Any,
    origins: Mapping[str, str],
    prefix: tuple[str | int, ...] = (),
) -> list[tuple[str | None, str]]:
    """Where each error was read, and its key path and what was expected (not the value)."""
    problems: list[tuple[str | None, str]] = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = (*prefix, *error["loc"])
        origin = origins.get(str(loc[0])) if loc else None
        if error["type"] == "extra_forbidden":
            text = _unknown_key(loc, _names_at(model, loc[:-1]))
        else:
            what = error["msg"].removeprefix("Value error, ")
            what = what[:1].lower() + what[1:]
            env_named = len(loc) == 1 and origin == _ENV_PREFIX + str(loc[0]).upper()
            text = f"{_key_path(loc)}: {what}" if loc and not env_named else what
        problems.append((origin, text))
    return problems


def _joined(problems: Iterable[tuple[str | None, str]]) -> str:
    """``origin: problem; problem; other origin: problem`` on one line."""
    parts: list[str] = []
    last: str | None = None
    for origin, text in problems:
        parts.append(f"{origin}: {text}" if origin and origin != last else text)
        last = origin
    return "; ".join(parts)


def _unknown_key(loc: tuple[str | int, ...], known: Iterable[str]) -> str:
    """``unknown key 'a.b' (did you mean 'c'?)``."""
    name = str(loc[-1])
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close and not _secret_like(name) else ""
    return f"unknown key {_key_path(loc)!r}{hint}"


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_API_KEY_LIKE = re.compile(r"^AIza[0-9A-Za-z_-]{20,}$")


def _secret_like(name: str) -> bool:
    return bool(_API_KEY_LIKE.match(name))


def _key_path(loc: Iterable[str | int]) -> str:
    """``projects[0].limits."gemini-2.5-flash".rpm``, API keys shown as fingerprints."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        name = fingerprint(part) if _secret_like(part) else part
        name = name if _BARE_KEY.match(name) else json.dumps(name)
        path += f".{name}" if path else name
    return path


def _names_at(annotation: Any, loc: Iterable[str | int]) -> list[str]:
    """The field names of the model found at ``loc`` inside ``annotation`` (or none)."""
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
        elif get_origin(annotation) in (list, dict):
            annotation = get_args(annotation)[-1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """``X`` from ``X | None`` and ``Annotated[X, ...]``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return annotation


def _warn_unknown_env(env: Mapping[str, str], fields: Iterable[str]) -> None:
    """A :class:`ConfigWarning` per ``GEMGATE_*`` variable that names no setting."""
    known = {_ENV_PREFIX + name.upper() for name in fields} | _ENV_OF_ITS_OWN
    for name in sorted(env):
        upper = name.upper()
        if upper.startswith(_ENV_PREFIX) and upper not in known:
            bare = upper.removeprefix(_ENV_PREFIX)
            close = difflib.get_close_matches(bare, [k.removeprefix(_ENV_PREFIX) for k in known])
            hint = f" (did you mean {_ENV_PREFIX}{close[0]}?)" if close else ""
            warnings.warn(
                f"{name} names no gemgate setting and is ignored{hint}",
                ConfigWarning,
                stacklevel=3,
            )


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
