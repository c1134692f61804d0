"""The emulator's state: configuration, model catalog, stores, quota and faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from gemgate.emulator._batches import BatchStore
from gemgate.emulator._caches import CacheStore
from gemgate.emulator._catalog import Catalog
from gemgate.emulator._config import EmulatorConfig, Limits, ModelSpec
from gemgate.emulator._errors import ApiError, api_key_invalid, not_found
from gemgate.emulator._faults import FaultInjector
from gemgate.emulator._file_search import FileSearchStores
from gemgate.emulator._files import FileStore
from gemgate.emulator._quota import QuotaTracker
from gemgate.emulator._responder import Responder
from gemgate.emulator._signatures import Signer
from gemgate.emulator.live._resumption import ResumptionStore
from gemgate.emulator.live._tokens import AuthTokenStore

__all__ = ["DEFAULT_PROJECT", "EmulatorState"]

DEFAULT_PROJECT = "default"
"""The project every key belongs to when no projects are configured."""
VERSIONS = frozenset({"v1", "v1beta", "v1alpha"})
_NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


@dataclass
class EmulatorState:
    """Everything one emulator instance holds; handlers read and change it."""

    config: EmulatorConfig
    clock: Callable[[], float] = time.time
    catalog: Catalog = field(init=False)
    quota: QuotaTracker = field(init=False)
    faults: FaultInjector = field(init=False)
    caches: CacheStore = field(init=False)
    files: FileStore = field(init=False)
    file_search: FileSearchStores = field(init=False)
    batches: BatchStore = field(init=False)
    signer: Signer = field(init=False)
    responder: Responder = field(init=False)
    auth_tokens: AuthTokenStore = field(init=False)
    live_sessions: ResumptionStore = field(init=False)
    _projects: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        settings = self.config.emulator
        self.catalog = Catalog(settings.models)
        self.quota = QuotaTracker(self.clock)
        self.faults = FaultInjector(settings.seed)
        self.caches = CacheStore(self.clock)
        self.files = FileStore(
            self.clock, settings.file_processing_seconds, max_bytes=settings.max_file_bytes
        )
        self.file_search = FileSearchStores(self.clock, settings.file_search_processing_seconds)
        self.batches = BatchStore(
            self.clock,
            settings.batch_start_seconds,
            settings.batch_seconds_per_request,
            settings.batch_expiry_seconds,
        )
        self.signer = Signer(settings.signature_secret)
        self.responder = Responder(settings, self.signer)
        self.auth_tokens = AuthTokenStore(self.clock)
        self.live_sessions = ResumptionStore(self.clock, settings.live_resumption_seconds)
        self._projects = {key: p.name for p in self.config.projects for key in p.keys}

    def reset(self) -> None:
        """Forget caches, files, stores, batches, quota windows, counters, faults and Live state."""
        self.quota.reset()
        self.caches.reset()
        self.files.reset()
        self.file_search.reset()
        self.batches.reset()
        self.auth_tokens.reset()
        self.live_sessions.reset()
        self.faults.set_rules([])

    def project_for(self, key: str) -> str | None:
        """The project a key belongs to; any key is valid when none are configured."""
        if not self._projects:
            return DEFAULT_PROJECT if key else None
        return self._projects.get(key)

    def authenticate(self, request: HTTPConnection) -> str:
        """The caller's project, from ``x-goog-api-key`` or ``?key=``."""
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            raise ApiError(403, _NO_KEY, status="PERMISSION_DENIED")
        # An ephemeral token is no API key (it only opens constrained Live sessions).
        project = None if key.startswith("auth_tokens/") else self.project_for(key)
        if project is None:
            raise api_key_invalid()
        return project

    def model(self, name: str, method: str, version: str) -> ModelSpec:
        """The model ``name`` if it supports ``method``; else Google's 404."""
        spec = self.catalog.find(name)
        if spec is None or not self.catalog.supports(spec, method):
            raise self.model_not_found(name, method, version)
        return spec

    @staticmethod
    def model_not_found(name: str, method: str, version: str) -> ApiError:
        """Google's 404 for a model that does not exist or lacks ``method``."""
        bare = name.removeprefix("models/")
        return not_found(
            f"models/{bare} is not found for API version {version}, or is not supported "
            f"for {method}. Call ListModels to see the list of available models and their "
            "supported methods."
        )

    def limits(self, project: str, model: ModelSpec) -> Limits | None:
        """The project's limits for ``model`` (model-specific, else ``"*"``)."""
        for entry in self.config.projects:
            if entry.name == project:
                for name in (model.name, *model.aliases, "*"):
                    if name in entry.limits:
                        return entry.limits[name]
        return None
