"""Isolation on a ``--workers 2`` gateway: what key B makes in one process, key A cannot
reach through the other.

Ownership must live in the shared stores (SQL, Redis), never in one worker's memory: each
probe below opens a new connection, so the kernel spreads them over both workers.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx2
import pytest
from google import genai
from google.genai import errors, types

from gemgate.projects import hash_secret
from tests.gateway._rag_app import KEY_A, KEY_B
from tests.servers import REDIS_URL, need_server

from ._crash_support import served, slow_upstream

pytestmark = pytest.mark.anyio
ROUNDS = 6
MARKER = "b-private-marker-4419"


def _keys() -> str:
    return json.dumps(
        [
            {"name": "a", "secret_sha256": hash_secret(KEY_A)},
            {"name": "b", "secret_sha256": hash_secret(KEY_B)},
        ]
    )


async def test_key_a_reaches_nothing_of_key_b_through_any_worker(tmp_path: Path) -> None:
    need_server("Redis", 6379)
    storage = {
        "sessions_url": f"sqlite:///{tmp_path}/gemgate.db",
        "state_url": REDIS_URL,
        "gateway_keys": _keys(),
    }
    async with slow_upstream() as upstream, served(tmp_path, upstream, storage, workers=2) as gw:
        assert len(gw.worker_pids()) == 2
        b_auth = {"authorization": f"Bearer {KEY_B}"}
        async with httpx2.AsyncClient(base_url=gw.url, headers=b_auth, timeout=30) as b:
            session = (await b.post("/api/v1/sessions", json={"title": MARKER})).json()["id"]
            store = (await b.post("/api/v1/stores", json={"name": MARKER})).json()["id"]
            upload = await b.post(
                "/v1/files",
                files={"file": ("b.jsonl", b"{}\n")},
                data={"purpose": "batch"},
            )
            assert upload.status_code == 200, upload.text
            file_id = upload.json()["id"]
        native = genai.Client(
            api_key=KEY_B, http_options=types.HttpOptions(base_url=f"{gw.url}/gemini")
        )
        theirs = await native.aio.files.upload(
            file=io.BytesIO(b"b's"), config={"mime_type": "text/plain"}
        )
        assert theirs.name
        owned = {
            f"/api/v1/sessions/{session}": session,
            f"/api/v1/stores/{store}": store,
            f"/v1/files/{file_id}": file_id,
        }
        lists = ["/api/v1/sessions", "/api/v1/stores", "/v1/files"]
        leaks: list[str] = []
        for _ in range(ROUNDS):  # fresh connections: both workers answer some
            a_auth = {"authorization": f"Bearer {KEY_A}"}
            async with httpx2.AsyncClient(base_url=gw.url, headers=a_auth, timeout=30) as a:
                for path in owned:
                    got = await a.get(path)
                    if got.status_code != 404 or MARKER in got.text:
                        leaks.append(f"GET {path}: {got.status_code}")
                for path in lists:
                    got = await a.get(path)
                    seen = MARKER in got.text or any(i in got.text for i in owned.values())
                    if got.status_code != 200 or seen:
                        leaks.append(f"GET {path} lists B's")
            intruder = genai.Client(
                api_key=KEY_A, http_options=types.HttpOptions(base_url=f"{gw.url}/gemini")
            )
            with pytest.raises(errors.ClientError) as refused:
                await intruder.aio.files.get(name=theirs.name)
            if refused.value.code != 404:
                leaks.append(f"native file: {refused.value.code}")
        assert not leaks, leaks
        assert (await native.aio.files.get(name=theirs.name)).name == theirs.name  # B's still
