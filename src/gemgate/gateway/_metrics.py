"""Prometheus metrics for ``/metrics``: requests, errors by class, latency, tokens, quota.

Each gateway has its own registry, so several apps in one process never collide. Labels
name routes and status classes, never keys or request content.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from gemgate.client._async_client import AsyncGemini

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def route_of(path: str) -> str:
    """A low-cardinality route label."""
    for prefix in ("/gemini/", "/v1/", "/api/v1/sessions", "/api/v1/models", "/api/v1/live"):
        if path.startswith(prefix):
            return prefix.strip("/") or "/"
    return path if path in ("/", "/healthz", "/readyz", "/metrics") else "other"


class _ClientCollector(Collector):
    def __init__(self, client: AsyncGemini) -> None:
        self._client = client

    def collect(self) -> Iterator[Metric]:
        usage = self._client.get_token_usage()
        tokens = CounterMetricFamily(
            "gemgate_tokens", "Tokens reported by usageMetadata", labels=["kind"]
        )
        for kind in ("prompt", "completion", "cached", "thoughts", "total"):
            tokens.add_metric([kind], usage[f"{kind}_tokens"])
        yield tokens
        inflight = GaugeMetricFamily("gemgate_upstream_in_flight", "Upstream requests in flight")
        inflight.add_metric([], self._client.in_flight)
        yield inflight
        cooling = GaugeMetricFamily(
            "gemgate_project_cooling",
            "1 while a project/model is cooling or parked",
            labels=["project", "model"],
        )
        state = self._client.engine.state
        now = self._client.engine.clock()
        known = getattr(state, "known_cooldowns", None)
        for (project, model), (until, _) in (known() if known else {}).items():
            cooling.add_metric([project, model], 1.0 if until > now else 0.0)
        yield cooling
        describe = getattr(state, "describe", None)
        if describe is not None:  # a shared (Redis) state
            found = describe()
            up = GaugeMetricFamily(
                "gemgate_shared_state_up",
                "1 while quotas are shared through Redis; 0 while this process admits alone",
            )
            up.add_metric([], 1.0 if found["shared"] else 0.0)
            yield up
            members = GaugeMetricFamily(
                "gemgate_shared_state_members", "Gateway processes sharing the limits"
            )
            members.add_metric([], float(found["members"]))
            yield members


class Metrics:
    """The gateway's metrics."""

    def __init__(self, client: AsyncGemini) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gemgate_requests",
            "Gateway requests",
            ["route", "status_class"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gemgate_request_seconds",
            "Time to the response headers",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.registry.register(_ClientCollector(client))
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        """(route, status class) → its counter and histogram children (a handful)."""

    def observe(self, path: str, status: int, seconds: float) -> None:
        """Count one response."""
        route = route_of(path)
        children = self._children.get((route, status // 100))
        if children is None:
            children = (
                self.requests.labels(route, f"{status // 100}xx"),
                self.latency.labels(route),
            )
            self._children[(route, status // 100)] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)
