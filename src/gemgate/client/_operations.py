"""Accounting, response cache, dedicated endpoints and request tracking of a client."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gemgate.config import Settings
from gemgate.errors import UsageError
from gemgate.projects import Limits, ProjectConfig
from gemgate.upstream._calls import bare_model
from gemgate.upstream._endpoints import Endpoint
from gemgate.upstream._engine import Engine

if TYPE_CHECKING:
    from gemgate.policy import QuotaReport

__all__ = ["Operations"]


class Operations:
    """The seed's bookkeeping API; :class:`~gemgate.client.AsyncGemini` inherits it."""

    engine: Engine

    @property
    def settings(self) -> Settings:
        """The settings in force."""
        return self.engine.settings

    async def quota_report(self) -> QuotaReport:
        """Per project: quota windows in use against their limits, cooldowns and keys.

        Keys are named ``project/1``, ``project/2`` … and shown by fingerprint, never by
        their secret; a key is ``ok``, ``cooling`` (its project rests after a 429) or
        ``disabled`` (the upstream refused it), with the reason.

        Example::

            report = await g.quota_report()
            for project in report.projects:
                for quota in project.models:
                    print(project.name, quota.model, quota.rpm.used, "/", quota.rpm.limit)
        """
        return await self.engine.quota_report()

    def get_token_usage(self) -> dict[str, int]:
        """Token totals from every response's ``usageMetadata``."""
        return self.engine.tracker.usage.as_dict()

    def reset_token_usage(self) -> None:
        """Zero the token totals."""
        from gemgate.upstream._tracking import TokenUsage

        self.engine.tracker.usage = TokenUsage()

    async def clear_cache(self) -> None:
        """Drop every cached response."""
        if self.engine.cache is not None:
            await self.engine.cache.clear()

    def create_endpoint(
        self,
        model: str,
        *,
        api_key: str | None = None,
        keys: Sequence[str] | None = None,
        project: str | None = None,
        endpoint_name: str | None = None,
        limits: Limits | Mapping[str, int] | None = None,
        max_concurrency: int | None = None,
    ) -> str:
        """A dedicated endpoint for ``model``: its own keys (or a project's), limits, queue."""
        endpoint_id = f"ep-{uuid.uuid4().hex[:12]}"
        name = endpoint_name or endpoint_id
        bound = Limits.model_validate(limits) if isinstance(limits, Mapping) else limits
        own = [k for k in ([api_key] if api_key else []) + list(keys or [])]
        if own:
            projects = [
                ProjectConfig(
                    name=f"endpoint-{name}",
                    keys=own,
                    limits={bare_model(model): bound} if bound else {},
                )
            ]
        else:
            chosen = [p for p in self.settings.projects if project is None or p.name == project]
            if not chosen:
                raise UsageError(f"no project named {project!r}")
            projects = [
                p.model_copy(update={"limits": {**p.limits, bare_model(model): bound}})
                if bound
                else p
                for p in chosen
            ]
        endpoint = Endpoint(endpoint_id, name, bare_model(model), projects, max_concurrency)
        self.engine.endpoints[endpoint_id] = endpoint
        return endpoint_id

    def get_endpoint_status(self, endpoint_id: str) -> dict[str, Any]:
        """The seed's endpoint status: ``request_count``, ``error_rate``, ``queue_size``, etc."""
        endpoint = self.engine.endpoint(endpoint_id)
        assert endpoint is not None
        metrics = self.engine.tracker.endpoint_metrics(endpoint_id)
        return {
            "id": endpoint.id,
            "name": endpoint.name,
            "model": endpoint.model,
            "active": endpoint.active,
            "request_count": metrics["requests"],
            "error_rate": metrics["error_rate"],
            "queue_size": endpoint.waiting,
            "breaker": endpoint.breaker.state,
            "backoff": {"current_delay": endpoint.backoff},
            "projects": [p.name for p in endpoint.projects],
        }

    def list_endpoints(self) -> list[dict[str, Any]]:
        """Every dedicated endpoint's status."""
        return [self.get_endpoint_status(e) for e in self.engine.endpoints]

    def get_endpoint_metrics(self, endpoint_id: str | None = None) -> dict[str, Any]:
        """Per-model metrics (``success_rate``, latency p50/p95 …), or one endpoint's."""
        if endpoint_id is not None:
            self.engine.endpoint(endpoint_id)
            return self.engine.tracker.endpoint_metrics(endpoint_id)
        return self.engine.tracker.model_metrics()

    def get_active_requests(self) -> dict[str, dict[str, Any]]:
        """Calls in flight, by request id."""
        return self.engine.tracker.active_view()

    def get_request_history(
        self,
        limit: int | None = None,
        filter_status: str | None = None,
        model: str | None = None,
        endpoint: str | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Finished calls (bounded), by request id."""
        return self.engine.tracker.history_view(limit, filter_status, model, endpoint)
