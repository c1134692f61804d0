"""``AsyncGemini.batches``: Gemini's Batch API with gemgate's keys, journal and results.

A batch is submitted once (inline when it is small, else as a JSONL file uploaded through
the Files API), journalled (see :mod:`gemgate.batch._journal`) with its keys and owning
project, then polled, cancelled, deleted and read with that project's keys: a batch lives
in the Google project that created it. Results come back as a dict ``key → response``,
with a :class:`~gemgate.batch.BatchItemError` in place of each request that failed.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import anyio

from gemgate.batch._input import (
    FILE_LIMIT,
    INLINE_LIMIT,
    Kind,
    Prepared,
    RequestsLike,
    file_body,
    fits_inline,
    inline_body,
    prepare,
)
from gemgate.batch._journal import BatchJournal, BatchRecord, journal_url_of, open_journal
from gemgate.batch._progress import Poller, progress_bar
from gemgate.batch._results import (
    BatchItemError,
    BatchJob,
    LineSplitter,
    ResultsReader,
    batch_name,
)
from gemgate.errors import (
    APIStatusError,
    BatchError,
    NotFoundError,
    UsageError,
    WireDecodeError,
    status_error,
)
from gemgate.projects import ProjectConfig, fingerprint
from gemgate.upstream._calls import bare_model
from gemgate.upstream._pipeline import Call
from gemgate.wire._models import model_id

if TYPE_CHECKING:
    from gemgate.upstream._engine import Engine

__all__ = ["Batches", "Results"]

Results = dict[str, dict[str, Any] | BatchItemError]
"""A batch's results in submission order: key → response, or the request's error."""
UPLOAD_CHUNK = 8 * 1024 * 1024
"""Bytes per upload request (the SDK's chunk size)."""
_JSON = {"content-type": "application/json"}
_KEEP_FINISHED = 4


class Batches:
    """Submit, follow and read Gemini batch jobs (``AsyncGemini.batches``).

    Every method takes ``keys``: the projects (by name) or API keys of the configured
    projects that may serve it (default: all). A gateway passes the subset a caller may
    use, and serves each caller through ``for_owner(name)``: its batches are journalled
    as that owner's, and another owner's batches look absent (``NotFoundError``).

    Example::

        async with AsyncGemini() as g:
            job = await g.batches.submit({"q1": "Why is the sky blue?", "q2": "Name a prime"})
            await g.batches.wait(job.id, progress=True)
            for key, answer in (await g.batches.results(job.id)).items():
                print(key, answer)
    """

    def __init__(
        self,
        engine: Engine,
        journal: BatchJournal | None = None,
        *,
        owner: str = "",
        inline_limit: int = INLINE_LIMIT,
        poll_interval: float = 1.0,
        max_poll_interval: float = 30.0,
    ) -> None:
        self.engine = engine
        self.owner = owner
        self.inline_limit = inline_limit
        """Requests whose JSON is larger than this go as an uploaded file."""
        self.poll_interval = poll_interval
        """The first wait between two polls (it grows by half each time)."""
        self.max_poll_interval = max_poll_interval
        self._journal = journal
        self._turn = 0
        self._finished: dict[str, BatchJob] = {}
        """The last few batches seen done (a done batch never changes): results reuse them."""

    @property
    def journal(self) -> BatchJournal:
        """Where batches are recorded (``batches_url``), opened on first use."""
        if self._journal is None:
            s = self.engine.settings
            url = journal_url_of(s.batches_url, s.state_url, s.sessions_url)
            self._journal = open_journal(url, prefix=s.state_prefix)
        return self._journal

    def for_owner(self, owner: str) -> Batches:
        """The same batches API, journalling and listing as ``owner``."""
        return Batches(
            self.engine,
            self.journal,
            owner=owner,
            inline_limit=self.inline_limit,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
        )

    async def aclose(self) -> None:
        """Close the journal."""
        if self._journal is not None:
            await self._journal.aclose()

    # -- submit -----------------------------------------------------------------------

    async def submit(
        self,
        requests: RequestsLike,
        *,
        model: str | None = None,
        display_name: str | None = None,
        keys: Sequence[str] | None = None,
        kind: Kind = "generate",
        metadata: Mapping[str, Any] | None = None,
        as_file: bool = False,
    ) -> BatchJob:
        """Start a batch of ``requests`` and journal it; returns the job as created.

        ``requests``: a mapping ``key → request``, ``(key, request)`` pairs or plain
        requests (keys ``"0"``, ``"1"``…). A request is a prompt, a list of contents or a
        ``GenerateContentRequest`` dict (for ``kind="embed"``: a text or an
        ``EmbedContentRequest``). Up to ``inline_limit`` bytes they go inline; larger
        batches go as a JSONL file (the Files API takes up to 2 GB). ``metadata`` is kept
        with the journal's record (``BatchRecord.extra``). ``as_file=True`` uploads the
        requests as a JSONL file however few they are (its name is the record's
        ``input_file``, see :meth:`record`).

        Raises:
            UsageError: No requests, a repeated key, or a request of no known shape.
            BadRequestError: The service refused the batch (such as an input over 2 GB).
        """
        default = self.engine.settings.embedding_model if kind == "embed" else None
        name = bare_model(model_id(model or default or self.engine.settings.default_model))
        prepared = await anyio.to_thread.run_sync(prepare, requests, kind)
        try:
            project = self._choose(keys)
            input_file = None
            if not as_file and fits_inline(prepared, self.inline_limit):
                body = await anyio.to_thread.run_sync(inline_body, prepared, display_name)
            else:
                input_file, project = await self._upload(prepared, project, display_name)
                body = file_body(input_file, display_name)
            method = "batchGenerateContent" if kind == "generate" else "asyncBatchEmbedContent"
            call = Call("POST", self.engine.path(name, method), body, dict(_JSON), project=project)
            operation, project = await self._send_json(call, keys)
        finally:
            prepared.close()
        job = BatchJob.from_operation(operation)
        record = BatchRecord(
            name=job.name,
            kind=kind,
            model=name,
            project=project,
            keys=prepared.keys,
            submitted_at=self.engine.clock(),
            display_name=display_name or "",
            owner=self.owner,
            input_file=input_file,
            state=job.state,
            extra=dict(metadata or {}),
        )
        await self.engine.owners.set(job.name, project)
        await self.journal.put(record)
        return job

    async def submit_embeddings(
        self,
        requests: RequestsLike,
        *,
        model: str | None = None,
        display_name: str | None = None,
        keys: Sequence[str] | None = None,
    ) -> BatchJob:
        """:meth:`submit` of an embedding batch (``:asyncBatchEmbedContent``)."""
        return await self.submit(
            requests, model=model, display_name=display_name, keys=keys, kind="embed"
        )

    async def _upload(
        self, prepared: Prepared, project: str | None, display_name: str | None
    ) -> tuple[str, str]:
        """Upload the JSONL input with the resumable protocol; its ``files/…`` and project."""
        if prepared.size > FILE_LIMIT:
            raise status_error(
                400,
                "INVALID_ARGUMENT",
                f"The batch input file is {prepared.size} bytes; the limit is {FILE_LIMIT} bytes.",
            )
        meta = {
            "file": {"displayName": display_name or "batch-input", "mimeType": "application/jsonl"}
        }
        headers = {
            **_JSON,
            "x-goog-upload-protocol": "resumable",
            "x-goog-upload-command": "start",
            "x-goog-upload-header-content-length": str(prepared.size),
            "x-goog-upload-header-content-type": "application/jsonl",
        }
        start = Call(
            "POST",
            f"/upload/{self.engine.version}/files",
            json.dumps(meta).encode(),
            headers,
            kind="upload",
            project=project,
        )
        reply_headers, _, owner = await self._send(start)
        url = reply_headers.get("x-goog-upload-url")
        if not url:
            raise WireDecodeError("the upload start gave no x-goog-upload-url")
        parts = urlsplit(url)  # sent to the upstream in use, as the SDK's uploads are
        url = parts.path + (f"?{parts.query}" if parts.query else "")
        offset = 0
        answer = b""
        prepared.lines.seek(0)
        while offset < prepared.size:
            piece = await anyio.to_thread.run_sync(prepared.lines.read, UPLOAD_CHUNK)
            if not piece:
                raise UsageError("the batch's spooled input ended early")
            last = offset + len(piece) >= prepared.size
            step = {
                "x-goog-upload-command": "upload, finalize" if last else "upload",
                "x-goog-upload-offset": str(offset),
            }
            call = Call("POST", url, piece, step, kind="upload", project=owner)
            _, answer, _ = await self._send(call)
            offset += len(piece)
        file_name = _json(answer).get("file", {}).get("name")
        if not isinstance(file_name, str):
            raise WireDecodeError("the finished upload named no file")
        await self.engine.owners.set(file_name, owner)
        return file_name, owner

    # -- one batch --------------------------------------------------------------------

    async def record(self, batch: str) -> BatchRecord | None:
        """The journal's record of this owner's batch (its project, keys, input file).

        None when the journal has no such batch, or it is another owner's.
        """
        record = await self.journal.get(batch_name(batch))
        return record if record is not None and record.owner == self.owner else None

    async def get(self, batch: str, *, keys: Sequence[str] | None = None) -> BatchJob:
        """The batch as the API describes it now (``NotFoundError`` if there is none).

        The journal's record follows its state.
        """
        operation = await self._on_batch("GET", batch_name(batch), keys)
        job = BatchJob.from_operation(operation)
        await self._note(job)
        if job.done:
            self._finished.pop(job.name, None)
            self._finished[job.name] = job
            while len(self._finished) > _KEEP_FINISHED:
                del self._finished[next(iter(self._finished))]
        return job

    async def cancel(self, batch: str, *, keys: Sequence[str] | None = None) -> BatchJob:
        """Cancel a batch that has not finished; the job after it."""
        name = batch_name(batch)
        await self._on_batch("POST", name, keys, action=":cancel")
        return await self.get(name, keys=keys)

    async def delete(self, batch: str, *, keys: Sequence[str] | None = None) -> None:
        """Delete a batch (the API forgets it) and its journal record."""
        name = batch_name(batch)
        await self._on_batch("DELETE", name, keys)
        self._finished.pop(name, None)
        await self.journal.remove(name)

    async def wait(
        self,
        batch: str,
        *,
        progress: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - polls go on; BatchTimeout ends them
        keys: Sequence[str] | None = None,
    ) -> BatchJob:
        """Poll until the batch is done (with a growing pause); the final job.

        ``progress=True`` draws a bar on stderr with the completed and failed counts.

        Raises:
            BatchTimeout: Still not done after ``timeout`` seconds.
            NotFoundError: No such batch.
        """
        poller = Poller(
            self.engine.clock,
            self.engine.sleep,
            first=self.poll_interval,
            cap=self.max_poll_interval,
            timeout=timeout,
        )
        with progress_bar(progress) as show:
            while True:
                job = await self.get(batch, keys=keys)
                show(job)
                if job.done:
                    return job
                await poller.pause(job.name)

    async def results(self, batch: str, *, keys: Sequence[str] | None = None) -> Results:
        """The results of a succeeded batch: ``key → response`` in submission order.

        A request that failed has a :class:`BatchItemError` in place of its response.
        Results in a file are downloaded and read line by line (see :meth:`iter_results`).

        Raises:
            BatchError: The batch has not succeeded (still running, or cancelled,
                expired or failed).
            NotFoundError: No such batch.
        """
        return {key: value async for key, value in self.iter_results(batch, keys=keys)}

    async def iter_results(
        self, batch: str, *, keys: Sequence[str] | None = None
    ) -> AsyncIterator[tuple[str, dict[str, Any] | BatchItemError]]:
        """``(key, response or BatchItemError)`` one by one, as they are read.

        A results file is downloaded as it is iterated, so a caller (a gateway relaying
        them, say) holds one line at a time. Raises as :meth:`results` does.
        """
        name = batch_name(batch)
        seen = self._finished.get(name)
        job = seen if seen is not None and keys is None else await self.get(name, keys=keys)
        if not job.succeeded:
            raise BatchError(f"{job.name} is {job.state}: it has no results")
        record = await self.journal.get(job.name)
        reader = ResultsReader(record.keys if record is not None else [])
        items = job.inline_items()
        if items is not None:
            for row in reader.rows(items):
                yield row
            return
        if job.responses_file is None:
            raise BatchError(f"{job.name} succeeded without results")
        # the responses file is in the batch's project, whether or not its owner is known
        project = await self._owner(job.responses_file, keys) or await self._owner(name, keys)
        async for row in self._download(job.responses_file, reader, project):
            yield row

    async def _download(
        self, file_name: str, reader: ResultsReader, project: str | None
    ) -> AsyncIterator[tuple[str, dict[str, Any] | BatchItemError]]:
        fid = file_name.removeprefix("files/")
        path = f"/{self.engine.version}/files/{fid}:download?alt=media"  # as the SDK asks
        exchange = self.engine.exchange(Call("GET", path, project=project))
        sent = await exchange.send()
        lines = LineSplitter()
        try:
            async for chunk in sent.reply.chunks:
                for raw in lines.feed(chunk):
                    if (row := reader.line(raw)) is not None:
                        yield row
            for raw in lines.close():
                if (row := reader.line(raw)) is not None:
                    yield row
        except BaseException as exc:
            exchange.fail(exc)
            raise
        finally:
            await sent.reply.aclose()
        await exchange.finish(None)

    # -- many batches -----------------------------------------------------------------

    async def list(self, *, keys: Sequence[str] | None = None) -> list[BatchJob]:
        """Every batch of the projects in use, newest first (as the API lists them)."""
        jobs: builtins.list[BatchJob] = []
        for project in self._projects(keys):
            token = ""
            while True:
                query = "?pageSize=100" + (f"&pageToken={quote(token)}" if token else "")
                call = Call("GET", f"/{self.engine.version}/batches{query}", project=project)
                page, _ = await self._send_json(call, keys)
                jobs += [BatchJob.from_operation(op) for op in page.get("operations", [])]
                token = page.get("nextPageToken", "")
                if not token:
                    break
        return sorted(jobs, key=lambda j: j.create_time or "", reverse=True)

    async def pending(self) -> builtins.list[BatchRecord]:
        """Journalled batches of this owner not yet seen finished, oldest first.

        A new process finds here what an earlier one submitted (see ``batches_url``).
        """
        return [r for r in await self.journal.list(pending=True) if r.owner == self.owner]

    async def records(self) -> builtins.list[BatchRecord]:
        """Every journalled batch of this owner, oldest first."""
        return [r for r in await self.journal.list() if r.owner == self.owner]

    async def resume(
        self,
        *,
        progress: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - each batch's wait (BatchTimeout)
    ) -> dict[str, Results | BatchError]:
        """Wait for every pending batch and fetch its results: ``batches/… → results``.

        A batch that ended without results maps to its :class:`BatchError`.
        """
        out: dict[str, Results | BatchError] = {}
        for record in await self.pending():
            await self.wait(record.name, progress=progress, timeout=timeout)
            try:
                out[record.name] = await self.results(record.name)
            except BatchError as exc:
                out[record.name] = exc
        return out

    # -- routing ----------------------------------------------------------------------

    def _projects(self, keys: Sequence[str] | None) -> builtins.list[str]:
        """Names of the projects ``keys`` allow (every configured one for None)."""
        configured: Sequence[ProjectConfig] = self.engine.settings.projects
        if keys is None:
            return [p.name for p in configured]
        chosen: builtins.list[str] = []
        for item in keys:
            found = next((p for p in configured if p.name == item or item in p.keys), None)
            if found is None:
                shown = item if any(p.name == item for p in configured) else fingerprint(item)
                raise UsageError(f"no configured project named or holding {shown}")
            if found.name not in chosen:
                chosen.append(found.name)
        if not chosen:
            raise UsageError("keys= names no project")
        return chosen

    def _choose(self, keys: Sequence[str] | None) -> str | None:
        """The project a new batch goes to: the pipeline's choice, or the next of ``keys``."""
        if keys is None:
            return None
        allowed = self._projects(keys)
        self._turn += 1
        return allowed[self._turn % len(allowed)]

    async def _owner(self, name: str, keys: Sequence[str] | None) -> str | None:
        """The project that owns ``name``, from the journal or the owner store.

        A batch journalled by another owner, or owned by a project ``keys`` leave out,
        looks absent (``NotFoundError``), as it would to that caller's own keys.
        """
        record = await self.journal.get(name) if name.startswith("batches/") else None
        owner = record.project if record is not None else await self.engine.owners.get(name)
        foreign = record is not None and record.owner != self.owner
        if foreign or (
            owner is not None and keys is not None and owner not in self._projects(keys)
        ):
            raise NotFoundError(404, "NOT_FOUND", f"{name} was not found.")
        return owner

    async def _on_batch(
        self, method: str, name: str, keys: Sequence[str] | None, action: str = ""
    ) -> dict[str, Any]:
        """A call on ``name`` with its owner's keys; an unknown owner: each project in turn."""
        path = f"/{self.engine.version}/{name}{action}"
        owner = await self._owner(name, keys)
        candidates = [owner] if owner is not None else self._projects(keys)
        missing: APIStatusError | None = None
        for project in candidates:
            body = b"" if method == "POST" else None
            call = Call(
                method, path, body, dict(_JSON) if body is not None else {}, project=project
            )
            try:
                found, _ = await self._send_json(call, keys)
            except NotFoundError as exc:
                missing = exc
                continue
            if owner is None:
                await self.engine.owners.set(name, project)
            return found
        assert missing is not None
        raise missing

    async def _send_json(
        self, call: Call, keys: Sequence[str] | None
    ) -> tuple[dict[str, Any], str]:
        """Send ``call``; its JSON answer and the project that served it."""
        if call.project is None and keys is not None:
            call.project = self._choose(keys)
        _, body, project = await self._send(call)
        return _json(body), project

    async def _send(self, call: Call) -> tuple[Mapping[str, str], bytes, str]:
        """Send ``call`` through the pipeline; answer headers, body and project."""
        exchange = self.engine.exchange(call)
        sent = await exchange.send()
        try:
            try:
                body = await sent.reply.read()
            finally:
                await sent.reply.aclose()
        except BaseException as exc:
            exchange.fail(exc)
            raise
        await exchange.finish(None)
        return sent.reply.headers, body, sent.project

    async def _note(self, job: BatchJob) -> None:
        """Bring the journal's record up to the job's state."""
        record = await self.journal.get(job.name)
        if record is not None and (record.state != job.state or record.done != job.done):
            record.state, record.done = job.state, job.done
            await self.journal.put(record)


def _json(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise WireDecodeError(f"the batch API answered something not JSON: {exc}") from None
    return value if isinstance(value, dict) else {}
