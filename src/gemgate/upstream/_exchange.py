"""One call's tracking lifecycle: start, send, usage, finish.

Every way a call reaches the upstream (a JSON answer, a stream of chunks, a relayed
native request) goes through an :class:`Exchange`, so the request record is started,
charged and finished in one place.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gemgate.upstream._pipeline import Call, Sent

if TYPE_CHECKING:
    from gemgate.upstream._engine import Engine

__all__ = ["Exchange"]


class Exchange:
    """Tracks one call from its start to its outcome.

    Example::

        exchange = Exchange(engine, call)
        sent = await exchange.send()            # a failure is recorded, then raised
        try:
            body = await sent.reply.read()
        except BaseException as exc:
            exchange.fail(exc)
            raise
        await exchange.finish(json.loads(body).get("usageMetadata"))
    """

    __slots__ = ("_endpoint_id", "call", "engine", "record", "sent")

    def __init__(
        self,
        engine: Engine,
        call: Call,
        request_id: str | None = None,
        endpoint_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.call = call
        self._endpoint_id = endpoint_id
        rid = request_id or os.urandom(16).hex()
        self.record = engine.tracker.start(rid, call.model, endpoint_id, call.kind)
        self.sent: Sent | None = None

    async def send(self) -> Sent:
        """Send through the pipeline; a failure ends the record and is raised."""
        endpoint = self.engine.endpoint(self._endpoint_id)
        try:
            self.sent = await self.engine.upstream.send(self.call, self.record, endpoint)
        except BaseException as exc:
            self.fail(exc)
            raise
        return self.sent

    def fail(self, error: BaseException) -> None:
        """End the record with ``error``."""
        self.engine.tracker.finish(self.record, error=error)

    async def finish(self, usage: Mapping[str, Any] | None = None) -> None:
        """End the record as a success, charging ``usageMetadata`` when there is one."""
        sent = self.sent
        assert sent is not None, "finish() follows a successful send()"
        if usage:
            self.engine.tracker.add_usage(self.record, usage)
            if sent.grant is not None and self.record.model and "promptTokenCount" in usage:
                tokens = int(usage["promptTokenCount"])
                await self.engine.state.reconcile(self.record.model, sent.grant, tokens)
        self.record.http_status = sent.reply.status
        self.engine.tracker.finish(self.record)
