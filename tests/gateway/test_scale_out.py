"""Several gateway processes on one Redis: exact quotas, shared logins, and a gateway killed.

Real ``gemgate serve`` processes (``--workers 3``, or three separate gateways as behind a
load balancer) in front of a real ``gemgate emulate``, on the machine's Redis, with the
sessions in one SQLite file.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
import redis

from gemgate.projects import hash_secret
from tests.conftest import free_port, stop_process
from tests.servers import REDIS_URL, need_server

SECRET = "scale-out-secret-0123"
FLASH = "gemini-2.5-flash"
_KEYED = {"authorization": f"Bearer {SECRET}"}  # /metrics needs a key when keys exist
CHAT = {"model": FLASH, "messages": [{"role": "user", "content": "Hello"}]}


@dataclass
class Cluster:
    """Gateway processes and their base URLs."""

    procs: list[subprocess.Popen[bytes]]
    urls: list[str]
    prefix: str

    def post(self, index: int, path: str, body: object, **kw: object) -> httpx2.Response:
        headers = {"authorization": f"Bearer {SECRET}"}
        url = self.urls[index % len(self.urls)] + path
        return httpx2.post(url, json=body, headers=headers, timeout=30, **kw)  # type: ignore[arg-type]


def _config(
    tmp: Path,
    upstream: str,
    prefix: str,
    *,
    rpm: int,
    key_rpm: int | None,
    redis_url: str = REDIS_URL,
) -> Path:
    key_rpm_line = f"rpm = {key_rpm}\n" if key_rpm else ""
    text = f"""
upstream_url = "{upstream}"
sessions_url = "sqlite:///{tmp}/sessions.db"

[state]
url = "{redis_url}"
prefix = "{prefix}"

[retry]
max_retries = 0

[timeouts]
total = 1.0

[[projects]]
name = "p"
keys = ["any-key-works"]
limits = {{"{FLASH}" = {{rpm = {rpm}}}}}

[[gateway_keys]]
name = "team"
secret_sha256 = "{hash_secret(SECRET)}"
{key_rpm_line}"""
    path = tmp / "gemgate.toml"
    path.write_text(text)
    return path


def _serve(config: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "GOOGLE_"))}
    env.pop("GEMGATE_UPSTREAM", None)  # the config names the upstream
    cmd = [sys.executable, "-m", "gemgate", "serve", "--port", str(port), "--config", str(config)]
    proc = subprocess.Popen(
        [*cmd, *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx2.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.stdout.read().decode() if proc.stdout else ""
            proc.kill()
            raise RuntimeError(f"gateway did not start:\n{out}")
        time.sleep(0.1)  # noqa: TID251 - waiting for a subprocess, outside any event loop


@pytest.fixture
def prefix() -> Iterator[str]:
    need_server("Redis", 6379)
    name = f"gemgate-test-{uuid.uuid4().hex[:8]}:"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{name}*"):
        client.delete(key)
    client.close()


def _burst(cluster: Cluster, count: int) -> list[int]:
    """``count`` chat requests at once, spread over the gateways; their statuses."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        futures = [pool.submit(cluster.post, i, "/v1/chat/completions", CHAT) for i in range(count)]
        return [f.result().status_code for f in futures]


def test_workers_share_one_project_rpm_and_logins(
    tmp_path: Path, plain_emulator_server: str, prefix: str
) -> None:
    config = _config(tmp_path, plain_emulator_server, prefix, rpm=12, key_rpm=None)
    proc, url = _serve(config, "--workers", "3")
    try:
        cluster = Cluster([proc], [url], prefix)
        statuses = _burst(cluster, 40)
        assert statuses.count(200) == 12  # exactly the project's rpm, over three workers
        assert set(statuses) == {200, 429}
        deadline = time.monotonic() + 10
        while (
            "gemgate_shared_state_members 3.0"
            not in httpx2.get(f"{url}/metrics", headers=_KEYED).text
        ):
            assert time.monotonic() < deadline, "the workers never counted three members"
            time.sleep(0.2)  # noqa: TID251 - polling a subprocess, outside any event loop
        login = cluster.post(0, "/api/v1/login", {})
        cookie = login.headers["set-cookie"].split(";")[0]
        for _ in range(12):  # whichever worker answers accepts the cookie
            listed = httpx2.get(f"{url}/api/v1/sessions", headers={"cookie": cookie}, timeout=5)
            assert listed.status_code == 200
    finally:
        stop_process(proc)


def test_three_gateways_share_a_gateway_key_rpm(
    tmp_path: Path, plain_emulator_server: str, prefix: str
) -> None:
    config = _config(tmp_path, plain_emulator_server, prefix, rpm=1000, key_rpm=9)
    started = [_serve(config) for _ in range(3)]
    try:
        cluster = Cluster([p for p, _ in started], [u for _, u in started], prefix)
        statuses = _burst(cluster, 30)
        assert statuses.count(200) == 9 and statuses.count(429) == 21
    finally:
        for proc, _ in started:
            stop_process(proc)


def test_a_gateway_killed_under_load_loses_nothing(
    tmp_path: Path, plain_emulator_server: str, prefix: str
) -> None:
    config = _config(tmp_path, plain_emulator_server, prefix, rpm=1000, key_rpm=None)
    started = [_serve(config) for _ in range(3)]
    procs, urls = [p for p, _ in started], [u for _, u in started]
    cluster = Cluster(procs, urls, prefix)
    try:
        sessions = [cluster.post(i, "/api/v1/sessions", {}).json()["id"] for i in range(6)]

        def turn(i: int) -> int:
            body = {"content": f"message {i}", "model": FLASH}
            try:
                return cluster.post(
                    i, f"/api/v1/sessions/{sessions[i % 6]}/messages", body
                ).status_code
            except httpx2.TransportError:
                return -1  # the killed gateway's connection

        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            futures = [pool.submit(turn, i) for i in range(60)]
            time.sleep(0.3)  # noqa: TID251 - under load, outside any event loop
            os.kill(procs[0].pid, signal.SIGKILL)
            outcomes = [f.result() for f in futures]
        assert procs[0].wait(timeout=10) == -signal.SIGKILL
        survivors = [o for i, o in enumerate(outcomes) if i % 3 != 0]
        assert survivors and all(o == 200 for o in survivors)  # the others kept serving
        after = [cluster.post(i, "/v1/chat/completions", CHAT).status_code for i in (1, 2, 4, 5)]
        assert after == [200] * 4
        answered = sum(1 for o in outcomes if o == 200)
        stored = 0
        for sid in sessions:  # every stored turn is whole: no question without its answer
            detail = httpx2.get(
                f"{urls[1]}/api/v1/sessions/{sid}",
                headers={"authorization": f"Bearer {SECRET}"},
                timeout=10,
            ).json()
            roles = [m["role"] for m in detail["messages"]]
            assert roles == ["user", "model"] * (len(roles) // 2), roles
            assert detail["message_count"] == len(roles)
            stored += len(roles) // 2
        assert answered <= stored <= answered + sum(1 for o in outcomes if o == -1)
        counted = redis.Redis.from_url(REDIS_URL)
        window = f"{prefix}q:p:{FLASH}:req"
        admitted = counted.zcard(window)  # the killed gateway's reservations included
        assert answered + 4 <= admitted <= len(outcomes) + 4
        assert 0 < counted.ttl(window) <= 120  # and they leave with the window: no leak
        counted.close()
    finally:
        for proc in procs[1:]:
            stop_process(proc)
        if procs[0].poll() is None:
            procs[0].kill()
            procs[0].wait()
        if procs[0].stdout:
            procs[0].stdout.close()


def test_more_workers_without_shared_state_are_refused(tmp_path: Path) -> None:
    env = {**os.environ, "GEMGATE_UPSTREAM": "emulator"}
    env.pop("GEMGATE_STATE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "gemgate", "serve", "--port", str(free_port()), "--workers", "2"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--workers 2 needs shared state" in lines[0]
    assert '[state] url = "redis://' in lines[0]


def test_gateways_survive_a_paused_redis_at_their_share_and_recover_exactly(
    tmp_path: Path, plain_emulator_server: str
) -> None:
    from tests.state.test_shared_quota import private_redis

    with private_redis() as server:
        config = _config(
            tmp_path, plain_emulator_server, "gw:", rpm=20, key_rpm=None, redis_url=server.url
        )
        started = [_serve(config) for _ in range(2)]
        cluster = Cluster([p for p, _ in started], [u for _, u in started], "gw:")
        try:
            for url in cluster.urls:  # both have joined: each one's share will be 20 / 2
                _wait_for_state(url, "ok", members=2)
            server.pause()
            statuses = _burst(cluster, 40)
            assert statuses.count(200) == 20 and set(statuses) == {200, 429}  # 10 + 10
            for url in cluster.urls:
                ready = httpx2.get(f"{url}/readyz", timeout=10).json()
                assert ready["ready"] and ready["checks"]["state"].startswith("degraded")
            server.resume()
            for url in cluster.urls:
                _wait_for_state(url, "ok", members=2)
            assert _burst(cluster, 10).count(200) == 0  # the replayed 20 fill the minute
        finally:
            for proc, _ in started:
                stop_process(proc)


def _wait_for_state(url: str, state: str, *, members: int) -> None:
    deadline = time.monotonic() + 15
    while True:
        checks = httpx2.get(f"{url}/readyz", timeout=10).json()["checks"]
        metrics = httpx2.get(f"{url}/metrics", headers=_KEYED, timeout=10).text
        if checks["state"] == state and f"gemgate_shared_state_members {members}.0" in metrics:
            return
        assert time.monotonic() < deadline, (checks, metrics[-300:])
        time.sleep(0.2)  # noqa: TID251 - polling a subprocess, outside any event loop


def test_uploads_and_websockets_work_across_workers(
    tmp_path: Path, plain_emulator_server: str, prefix: str
) -> None:
    import io
    import json

    import anyio
    import websockets
    from google import genai
    from google.genai import types

    config = _config(tmp_path, plain_emulator_server, prefix, rpm=1000, key_rpm=None)
    proc, url = _serve(config, "--workers", "3")
    try:
        options = types.HttpOptions(base_url=f"{url}/gemini")
        with genai.Client(api_key=SECRET, http_options=options) as sdk:
            for i in range(6):  # each upload is two requests, on whichever workers
                data = f"notes number {i}\n".encode() * 50
                uploaded = sdk.files.upload(
                    file=io.BytesIO(data), config=types.UploadFileConfig(mime_type="text/plain")
                )
                assert uploaded.size_bytes == len(data) and uploaded.name
                assert sdk.files.get(name=uploaded.name).state == "ACTIVE"
        forged = httpx2.post(  # a chunk for an upload nobody started needs a key
            f"{url}/gemini/upload/v1beta/files?upload_id=forged-0123&upload_protocol=resumable",
            content=b"x",
            headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"},
        )
        assert forged.status_code == 401

        async def chat() -> str:
            session = None
            for turn in range(6):  # a new connection per turn: each may reach another worker
                async with websockets.connect(
                    f"{url.replace('http', 'ws')}/ws/chat?key={SECRET}"
                ) as ws:
                    frame = {
                        "content": f"turn {turn}",
                        **({"session_id": session} if session else {}),
                    }
                    await ws.send(json.dumps(frame))
                    while True:
                        event = json.loads(await ws.recv())
                        session = event["id"] if event["type"] == "session" else session
                        if event["type"] in ("final_answer", "error"):
                            assert event["type"] == "final_answer", event
                            break
            assert session is not None
            return session

        session = anyio.run(chat)
        detail = httpx2.get(
            f"{url}/api/v1/sessions/{session}",
            headers={"authorization": f"Bearer {SECRET}"},
            timeout=10,
        ).json()
        assert detail["message_count"] == 12
    finally:
        stop_process(proc)


def test_a_live_conversation_goes_on_across_workers(tmp_path: Path, prefix: str) -> None:
    import json

    import anyio
    import websockets

    config = tmp_path / "live.toml"
    config.write_text(
        f'upstream = "emulator"\nsessions_url = "sqlite:///{tmp_path}/live.db"\n'
        f'[state]\nurl = "{REDIS_URL}"\nprefix = "{prefix}"\n'
    )
    proc, url = _serve(config, "--workers", "3")
    try:

        async def talk() -> tuple[str, list[str]]:
            session, answers = None, []
            for turn in range(4):  # a new socket per turn: each may reach another worker
                query = f"?session_id={session}" if session else ""
                async with websockets.connect(f"{url.replace('http', 'ws')}/ws/live{query}") as ws:
                    session = json.loads(await ws.recv())["id"]
                    await ws.send(json.dumps({"type": "text", "content": f"Live turn {turn}"}))
                    while (event := json.loads(await ws.recv()))["type"] != "turn_complete":
                        assert event["type"] != "error", event
                    answers.append(event["text"])
            assert session is not None
            return session, answers

        session, answers = anyio.run(talk)
        assert all(answers)
        detail = httpx2.get(f"{url}/api/v1/sessions/{session}", timeout=10).json()
        texts = [m["parts"][0]["text"] for m in detail["messages"] if m["role"] == "user"]
        assert texts == [f"Live turn {n}" for n in range(4)]  # one conversation, whole
    finally:
        stop_process(proc)
