"""Gemini's Batch API through the engine: upload an input file, create, read, cancel, download.

Every call goes through the engine's pipeline (keys, quotas, retries, tracking). The
input file's upload picks a project; the batch is created with that project's key
(Gemini files belong to the project that uploaded them), and every later call about the
batch names that project again, so it reaches the project that owns the batch. The
engine's owner store records the file and the batch too, as for other owned resources.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gemgate.errors import APIStatusError, ProtocolError
from gemgate.upstream._engine import Engine
from gemgate.upstream._pipeline import Call

__all__ = ["GeminiBatch", "GeminiBatches"]

_JSON = {"content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class GeminiBatch:
    """What the gateway reads of a Gemini batch resource."""

    name: str
    state: str
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    responses_file: str | None = None

    @classmethod
    def of(cls, resource: Mapping[str, Any]) -> GeminiBatch:
        """Read the resource (an ``Operation`` with the batch as ``metadata``, or the batch)."""
        meta = resource.get("metadata")
        batch: Mapping[str, Any] = meta if isinstance(meta, Mapping) else resource
        stats = batch.get("batchStats") or {}
        output = batch.get("output") or resource.get("response") or {}
        return cls(
            name=str(batch.get("name") or resource.get("name") or ""),
            state=str(batch.get("state") or "BATCH_STATE_PENDING"),
            total=int(stats.get("requestCount", 0)),
            succeeded=int(stats.get("successfulRequestCount", 0)),
            failed=int(stats.get("failedRequestCount", 0)),
            responses_file=output.get("responsesFile") if isinstance(output, Mapping) else None,
        )


class GeminiBatches:
    """The Gemini batch calls the gateway's ``/v1/batches`` makes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def _version(self) -> str:
        return self.engine.version

    async def has_model(self, model: str) -> bool:
        """Whether the upstream knows ``model``."""
        try:
            await self._json(Call("GET", f"/{self._version}/models/{model}"))
        except APIStatusError as exc:
            if exc.status_code in (400, 404):
                return False
            raise
        return True

    async def upload(self, data: bytes, display_name: str) -> tuple[str, str]:
        """Upload a JSONL input file (resumable protocol); its name and the project it is in."""
        start = Call(
            "POST",
            f"/upload/{self._version}/files",
            json.dumps({"file": {"displayName": display_name}}).encode(),
            {
                **_JSON,
                "x-goog-upload-protocol": "resumable",
                "x-goog-upload-command": "start",
                "x-goog-upload-header-content-length": str(len(data)),
                "x-goog-upload-header-content-type": "application/jsonl",
            },
            kind="upload",
        )
        exchange = self.engine.exchange(start)
        sent = await exchange.send()
        url = sent.reply.headers.get("x-goog-upload-url")
        await sent.reply.aclose()
        await exchange.finish()
        if not url:
            raise ProtocolError("the upstream gave no upload URL for the batch input file")
        finish = Call(
            "POST",
            url,
            data,
            {"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"},
            kind="upload",
            project=sent.project,
        )
        created = await self._json(finish)
        file = created.get("file", created)
        name = str(file.get("name", "")) if isinstance(file, Mapping) else ""
        if not name.startswith("files/"):
            raise ProtocolError("the upstream's upload answer names no file")
        await self.engine.owners.set(name, sent.project)
        return name, sent.project

    async def create(
        self, model: str, embeddings: bool, file_name: str, project: str, display_name: str
    ) -> GeminiBatch:
        """Start a batch over an uploaded input file, in ``project``."""
        method = "asyncBatchEmbedContent" if embeddings else "batchGenerateContent"
        body = {"batch": {"displayName": display_name, "inputConfig": {"fileName": file_name}}}
        call = Call(
            "POST",
            f"/{self._version}/models/{model}:{method}",
            json.dumps(body).encode(),
            dict(_JSON),
            project=project,
        )
        batch = GeminiBatch.of(await self._json(call))
        await self.engine.owners.set(batch.name, project)
        return batch

    async def get(self, name: str, project: str) -> GeminiBatch:
        """The batch as it is now."""
        return GeminiBatch.of(
            await self._json(Call("GET", f"/{self._version}/{name}", project=project))
        )

    async def cancel(self, name: str, project: str) -> None:
        """Ask for the batch to be cancelled (one already finished stays as it is)."""
        call = Call("POST", f"/{self._version}/{name}:cancel", b"{}", dict(_JSON), project=project)
        try:
            await self._json(call)
        except APIStatusError as exc:
            if exc.status_code not in (400, 409):  # FAILED_PRECONDITION: already finished
                raise

    async def download(self, file_name: str, project: str) -> bytes:
        """The bytes of a results file."""
        call = Call(
            "GET",
            f"/{self._version}/{file_name}:download?alt=media",
            project=project,
        )
        exchange = self.engine.exchange(call)
        sent = await exchange.send()
        try:
            try:
                data = await sent.reply.read()
            finally:
                await sent.reply.aclose()
        except BaseException as exc:
            exchange.fail(exc)
            raise
        await exchange.finish()
        return data

    async def _json(self, call: Call) -> dict[str, Any]:
        return await self.engine.call_json(call)
