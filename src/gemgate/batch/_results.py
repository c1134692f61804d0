"""A batch job's view and its results joined back to the caller's keys (sans-I/O).

The API answers a batch as a long-running ``Operation`` whose ``metadata`` is the batch;
:class:`BatchJob` is that, read once. Results come inline (``inlinedResponses``, or
``inlinedEmbedContentResponses`` for embeddings) or as a responses file of JSONL lines
``{"key", "response" | "error"}``; :class:`ResultsReader` takes either and yields
``(key, response or BatchItemError)`` in order. A row without a key (a line the service
could not read) takes the key at its position in the submitted order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DONE_STATES",
    "BatchItemError",
    "BatchJob",
    "BatchStats",
    "LineSplitter",
    "ResultsReader",
    "batch_id",
    "batch_name",
]

DONE_STATES = frozenset(
    {"BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED", "BATCH_STATE_CANCELLED", "BATCH_STATE_EXPIRED"}
)
"""States a batch never leaves."""


def batch_name(batch: str) -> str:
    """``batches/abc`` from ``abc`` or ``batches/abc``."""
    return batch if batch.startswith("batches/") else f"batches/{batch}"


def batch_id(name: str) -> str:
    """``abc`` from ``batches/abc``."""
    return name.removeprefix("batches/")


@dataclass(frozen=True)
class BatchItemError:
    """One request of a batch that failed: a ``google.rpc.Status``.

    Example::

        results = await g.batches.results(job.id)
        failed = {k: v for k, v in results.items() if isinstance(v, BatchItemError)}
    """

    code: int
    """The ``google.rpc.Code`` (3 is INVALID_ARGUMENT)."""
    message: str
    details: tuple[Any, ...] = ()

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> BatchItemError:
        """From a ``google.rpc.Status`` dict."""
        details = status.get("details") or ()
        return cls(int(status.get("code", 2)), str(status.get("message", "")), tuple(details))

    def as_dict(self) -> dict[str, Any]:
        """The status as the API writes it."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = list(self.details)
        return out


@dataclass(frozen=True)
class BatchStats:
    """Request counts of a batch (``batchStats``)."""

    requests: int = 0
    succeeded: int = 0
    failed: int = 0
    pending: int = 0

    @property
    def completed(self) -> int:
        """Requests answered so far, well or not."""
        return self.succeeded + self.failed


@dataclass(frozen=True)
class BatchJob:
    """A batch job as the API last described it.

    Example::

        job = await g.batches.submit({"a": "Hi", "b": "Hello"})
        job = await g.batches.wait(job.id, progress=True)
        print(job.state, job.stats.succeeded, job.stats.failed)
    """

    name: str
    """``batches/…``."""
    state: str
    """``BATCH_STATE_PENDING``, ``…_RUNNING``, ``…_SUCCEEDED``, ``…_FAILED``,
    ``…_CANCELLED`` or ``…_EXPIRED``."""
    model: str
    kind: str
    """``generate`` or ``embed``."""
    display_name: str = ""
    stats: BatchStats = field(default_factory=BatchStats)
    create_time: str | None = None
    end_time: str | None = None
    responses_file: str | None = None
    """``files/…`` with the results, when they did not come inline."""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """The ``Operation`` as the API sent it."""

    @property
    def id(self) -> str:
        """The name without ``batches/``."""
        return batch_id(self.name)

    @property
    def done(self) -> bool:
        """Whether the batch has reached a final state."""
        return self.state in DONE_STATES

    @property
    def succeeded(self) -> bool:
        """Whether the batch ran to the end (each request may still have failed)."""
        return self.state == "BATCH_STATE_SUCCEEDED"

    @classmethod
    def from_operation(cls, operation: Mapping[str, Any]) -> BatchJob:
        """Read an ``Operation`` whose ``metadata`` is a batch."""
        meta = operation.get("metadata") or {}
        stats = meta.get("batchStats") or {}
        kind = "embed" if str(meta.get("@type", "")).endswith("EmbedContentBatch") else "generate"
        output = _output(operation)
        return cls(
            name=str(operation.get("name") or meta.get("name", "")),
            state=str(meta.get("state", "BATCH_STATE_UNSPECIFIED")),
            model=str(meta.get("model", "")),
            kind=kind,
            display_name=str(meta.get("displayName", "")),
            stats=BatchStats(
                requests=int(stats.get("requestCount", 0)),
                succeeded=int(stats.get("successfulRequestCount", 0)),
                failed=int(stats.get("failedRequestCount", 0)),
                pending=int(stats.get("pendingRequestCount", 0)),
            ),
            create_time=meta.get("createTime"),
            end_time=meta.get("endTime"),
            responses_file=output.get("responsesFile"),
            raw=operation,
        )

    def inline_items(self) -> Sequence[Mapping[str, Any]] | None:
        """The inline results, if the batch has them."""
        output = _output(self.raw)
        for field_name in ("inlinedResponses", "inlinedEmbedContentResponses"):
            found = output.get(field_name)
            if isinstance(found, Mapping):
                items = found.get("inlinedResponses")
                return items if isinstance(items, list) else []
        return None


def _output(operation: Mapping[str, Any]) -> Mapping[str, Any]:
    response = operation.get("response")
    if isinstance(response, Mapping):
        return response
    meta = operation.get("metadata") or {}
    output = meta.get("output")
    return output if isinstance(output, Mapping) else {}


class ResultsReader:
    """Joins result rows to the submitted keys, in the order they come.

    Example::

        reader = ResultsReader(record.keys)
        for key, value in reader.rows(items):
            ...
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = keys
        self._position = 0

    def row(self, row: Mapping[str, Any]) -> tuple[str, dict[str, Any] | BatchItemError]:
        """One result row (inline item or file line) as ``(key, response or error)``."""
        index = self._position
        self._position += 1
        key = row.get("key")
        if key is None:
            metadata = row.get("metadata")
            key = metadata.get("key") if isinstance(metadata, Mapping) else None
        if key is None:
            key = self._keys[index] if index < len(self._keys) else f"line-{index + 1}"
        error = row.get("error")
        if isinstance(error, Mapping):
            return str(key), BatchItemError.from_status(error)
        response = row.get("response")
        if isinstance(response, dict):
            return str(key), response
        return str(key), BatchItemError(2, "the batch gave no response for this request")

    def rows(
        self, items: Sequence[Mapping[str, Any]]
    ) -> Iterator[tuple[str, dict[str, Any] | BatchItemError]]:
        """Every row of ``items``."""
        for item in items:
            yield self.row(item)

    def line(self, raw: bytes) -> tuple[str, dict[str, Any] | BatchItemError] | None:
        """One line of a responses file (None for a blank line)."""
        if not raw.strip():
            return None
        try:
            row = json.loads(raw)
        except ValueError:
            row = {"error": {"code": 13, "message": "the responses file has a line not JSON"}}
        return self.row(row if isinstance(row, Mapping) else {})


class LineSplitter:
    """Bytes in, whole lines out, holding only the unfinished line."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines completed by ``chunk``."""
        data = self._rest + chunk
        lines = data.split(b"\n")
        self._rest = lines.pop()
        return lines

    def close(self) -> list[bytes]:
        """The last line, if the data did not end with a newline."""
        rest, self._rest = self._rest, b""
        return [rest] if rest.strip() else []
