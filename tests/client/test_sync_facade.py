"""The blocking ``Gemini`` facade on the built-in emulator (no server, no key)."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from google.genai import errors as genai_errors

from gemgate import Gemini
from gemgate.errors import UsageError

MODEL = "gemini-2.5-flash"
LITE = "gemini-2.5-flash-lite"
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c49444154789c63f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def _emulated(emulator_opt_in: None) -> None:
    """No key, no other setting and no .env: the user opted in to the emulator."""


@pytest.fixture
def g() -> Iterator[Gemini]:
    with Gemini() as client:
        yield client


def _text(response: dict[str, Any]) -> str:
    parts = response["candidates"][0]["content"]["parts"]
    return "".join(p.get("text", "") for p in parts if not p.get("thought"))


def _portal_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "gemgate-portal"}


def _user(content: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


# -- the seed's convenience API -------------------------------------------------------


def test_chat_returns_an_openai_completion(g: Gemini) -> None:
    reply = g.chat(
        [
            {"role": "system", "content": "Be concise."},
            {"role": "user", "content": "What is the capital of France?"},
        ]
    )
    assert reply["object"] == "chat.completion" and reply["model"] == MODEL
    choice = reply["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert "capital of France" in choice["message"]["content"]
    assert choice["finish_reason"] == "stop"
    usage = reply["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_stream_chat_chunks_join_to_the_chat_text(g: Gemini) -> None:
    messages = _user("Write a short story about a robot.")
    chunks = list(g.stream_chat(messages))
    assert len(chunks) > 1
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert streamed == g.chat(messages)["choices"][0]["message"]["content"]
    assert g.get_active_requests() == {}


def test_leaving_a_stream_early_ends_its_request(g: Gemini) -> None:
    stream = g.stream_chat(_user("Write a long story."))
    first = next(stream)
    assert first["choices"][0]["delta"]["content"]
    assert len(g.get_active_requests()) == 1
    stream.close()  # what `break` out of a for loop does
    assert g.get_active_requests() == {}
    assert len(g.get_request_history()) == 1


def test_generate_content_returns_the_gemini_response(g: Gemini) -> None:
    response = g.generate_content("Explain quantum computing in simple terms", temperature=0.3)
    assert "quantum computing" in _text(response)
    assert response["candidates"][0]["finishReason"] == "STOP"
    assert response["usageMetadata"]["totalTokenCount"] > 0
    chunks = list(g.stream_generate_content("Explain quantum computing in simple terms"))
    assert "".join(_text(c) for c in chunks) == _text(
        g.generate_content("Explain quantum computing in simple terms")
    )


def test_process_image_plain_and_streamed(g: Gemini) -> None:
    prompt = "Describe this image."
    result = g.process_image(PNG_1X1, prompt, mime_type="image/png")
    assert prompt in result["analysis"]
    assert result["model"] == MODEL
    assert result["usage"]["total_tokens"] > 0
    assert result["response"]["candidates"]
    chunks = list(g.process_image(PNG_1X1, prompt, mime_type="image/png", stream=True))
    assert len(chunks) > 1
    assert all(isinstance(c["analysis_chunk"], str) for c in chunks)
    assert [c["done"] for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert "".join(c["analysis_chunk"] for c in chunks) == result["analysis"]


def test_generate_embeddings_in_openai_shape(g: Gemini) -> None:
    texts = ["What is machine learning?", "How does quantum computing work?", "Explain nets"]
    result = g.generate_embeddings(texts)
    assert result["object"] == "list" and result["model"] == "gemini-embedding-001"
    assert [item["index"] for item in result["data"]] == [0, 1, 2]
    vectors = [item["embedding"] for item in result["data"]]
    assert all(len(v) == 3072 and all(isinstance(x, float) for x in v) for v in vectors)
    assert vectors[0] != vectors[1]
    assert result["usage"]["prompt_tokens"] > 0
    assert len(g.generate_embeddings(texts[0], dimensions=256)["data"][0]["embedding"]) == 256


def test_batch_keeps_order_and_reports_progress(g: Gemini) -> None:
    prompts = [f"Tell me fact number {i}" for i in range(7)]
    seen: list[tuple[int, int]] = []
    results = g.batch_generate_content(
        prompts,
        batch_size=3,
        temperature=0.7,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert len(results) == len(prompts)
    for prompt, result in zip(prompts, results, strict=True):
        assert f'"{prompt}"' in _text(result)
    assert seen == [(n, len(prompts)) for n in range(1, len(prompts) + 1)]
    with pytest.raises(UsageError):
        g.batch_generate_content(prompts, batch_size=0)


def test_progress_runs_in_the_calling_thread_and_may_use_the_client(g: Gemini) -> None:
    seen: list[tuple[int, int, str]] = []

    def progress(done: int, total: int) -> None:
        usage = g.get_token_usage()  # a blocking call: only possible off the loop thread
        assert usage["requests"] >= done
        seen.append((done, total, threading.current_thread().name))

    g.batch_generate_content(["a", "b", "c"], progress=progress)
    main = threading.current_thread().name
    assert seen == [(1, 3, main), (2, 3, main), (3, 3, main)]


def test_progress_that_raises_cancels_the_rest_of_the_batch(
    g: Gemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = g._async.generate_content

    async def slow_after_the_first(prompt: Any, **params: Any) -> dict[str, Any]:
        if prompt != "prompt 0":
            await anyio.sleep(30)  # only a cancelled batch returns before this ends
        return await real(prompt, **params)

    monkeypatch.setattr(g._async, "generate_content", slow_after_the_first)

    def progress(done: int, total: int) -> None:
        raise KeyError("stop here")

    started = time.monotonic()
    with pytest.raises(KeyError, match="stop here"):
        g.batch_generate_content(
            [f"prompt {i}" for i in range(10)], batch_size=10, progress=progress
        )
    assert time.monotonic() - started < 10
    assert g.get_active_requests() == {}
    assert len(g.get_request_history()) == 1
    assert g.generate_content("still usable")["candidates"]


def test_batch_with_a_failing_model_gives_error_items(g: Gemini) -> None:
    calls: list[int] = []
    results = g.batch_generate_content(
        ["one", "two", "three"], model="no-such-model", progress=lambda d, t: calls.append(d)
    )
    assert len(calls) == 3
    for item in results:
        assert set(item) == {"error"}
        assert item["error"]["type"] == "NotFoundError"
        assert "no-such-model" in item["error"]["message"]
    history = g.get_request_history(filter_status="error")
    assert len(history) == 3
    assert {row["model"] for row in history.values()} == {"no-such-model"}


def test_count_tokens(g: Gemini) -> None:
    short = g.count_tokens("Hello")["total_tokens"]
    long = g.count_tokens("Hello there, how are you doing on this fine day?")["total_tokens"]
    assert 0 < short < long
    assert g.get_token_usage()["total_tokens"] == 0  # counting is not spending


def test_token_usage_sums_responses_and_resets(g: Gemini) -> None:
    first = g.generate_content("first question")["usageMetadata"]
    second = g.chat(_user("second question"))["usage"]
    usage = g.get_token_usage()
    assert usage["prompt_tokens"] == first["promptTokenCount"] + second["prompt_tokens"]
    assert usage["total_tokens"] == first["totalTokenCount"] + second["total_tokens"]
    assert usage["completion_tokens"] > 0 and usage["requests"] == 2
    streamed = list(g.stream_chat(_user("third question")))
    assert g.get_token_usage()["total_tokens"] == (
        usage["total_tokens"] + streamed[-1]["usage"]["total_tokens"]
    )
    g.reset_token_usage()
    assert set(g.get_token_usage().values()) == {0}


# -- cache ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cache": True, "cache_max_size": 200},
        {"metadata": {"gemini_api_key": None, "use_cache": True, "cache_max_size": 200}},
    ],
    ids=["arguments", "seed-metadata"],
)
def test_cache_answers_a_repeated_request_once(kwargs: dict[str, Any]) -> None:
    with Gemini(**kwargs) as client:
        one = client.generate_content("What is the speed of light?")
        two = client.generate_content("What is the speed of light?")
        assert one == two
        assert len(client.get_request_history()) == 1
        client.generate_content("What is the speed of light?", temperature=0.1)
        assert len(client.get_request_history()) == 2  # different request, no hit
        client.clear_cache()
        client.generate_content("What is the speed of light?")
        assert len(client.get_request_history()) == 3


def test_no_cache_by_default(g: Gemini) -> None:
    g.generate_content("What is the speed of light?")
    g.generate_content("What is the speed of light?")
    assert len(g.get_request_history()) == 2
    g.clear_cache()  # harmless without a cache


# -- endpoints ------------------------------------------------------------------------


def test_dedicated_endpoint_status_list_and_metrics(g: Gemini) -> None:
    endpoint = g.create_endpoint(model=MODEL, endpoint_name="my-custom-endpoint")
    reply = g.chat(messages=_user("Hello"), endpoint_id=endpoint)
    assert reply["choices"][0]["message"]["content"]
    status = g.get_endpoint_status(endpoint)
    assert status["id"] == endpoint and status["name"] == "my-custom-endpoint"
    assert status["model"] == MODEL and status["active"] is True
    assert status["request_count"] == 1 and status["error_rate"] == 0.0
    assert status["queue_size"] == 0 and status["backoff"]["current_delay"] == 0.0
    assert g.list_endpoints() == [status]
    assert g.get_endpoint_metrics(endpoint)["requests"] == 1
    g.generate_content("not through the endpoint")
    metrics = g.get_endpoint_metrics()
    assert metrics[MODEL]["requests"] == 2 and metrics[MODEL]["success_rate"] == 1.0
    assert g.get_endpoint_metrics(endpoint)["requests"] == 1
    history = g.get_request_history(endpoint=endpoint)
    assert [row["endpoint"] for row in history.values()] == [endpoint]
    with pytest.raises(UsageError):
        g.get_endpoint_status("ep-unknown")
    with pytest.raises(UsageError):
        g.chat(_user("Hello"), endpoint_id="ep-unknown")


def test_endpoint_model_is_used_when_no_model_is_given(g: Gemini) -> None:
    endpoint = g.create_endpoint(model=LITE, api_key="its-own-key")
    assert g.chat(_user("Hello"), endpoint_id=endpoint)["model"] == LITE
    assert g.generate_content("Hi", endpoint_id=endpoint)["modelVersion"] == LITE
    assert g.generate_content("Hi", endpoint_id=endpoint, model=MODEL)["modelVersion"] == MODEL
    assert g.get_endpoint_status(endpoint)["projects"] == [f"endpoint-{endpoint}"]
    assert set(g.get_endpoint_metrics()) == {LITE, MODEL}


# -- request tracking -----------------------------------------------------------------


def test_active_requests_and_filtered_history(g: Gemini) -> None:
    g.generate_content("Explain quantum computing", request_id="my-request-123")
    g.generate_content("lite question", model=LITE)
    with pytest.raises(Exception, match="no-such-model"):
        g.generate_content("missing", model="no-such-model")
    g.chat(_user("last one"))
    assert g.get_active_requests() == {}

    history = g.get_request_history()
    assert len(history) == 4
    assert list(history)[0] == "my-request-123"
    row = history["my-request-123"]
    assert row["status"] == "success" and row["model"] == MODEL and row["duration"] >= 0
    assert row["usage"]["total_tokens"] > 0

    assert list(g.get_request_history(limit=2)) == list(history)[2:]
    assert g.get_request_history(limit=0) == {}
    ok = g.get_request_history(filter_status="success")
    assert len(ok) == 3 and {r["status"] for r in ok.values()} == {"success"}
    failed = g.get_request_history(filter_status="error")
    assert [r["model"] for r in failed.values()] == ["no-such-model"]
    assert "NotFoundError" in next(iter(failed.values()))["error"]
    assert [r["model"] for r in g.get_request_history(model=LITE).values()] == [LITE]
    assert len(g.get_request_history(limit=5, filter_status="success", model=MODEL)) == 2


# -- the official SDK through gemgate -------------------------------------------------


def test_sync_sdk_calls_go_through_the_pipeline(g: Gemini) -> None:
    reply = g.sdk.models.generate_content(model=MODEL, contents="Hi there")
    assert "Hi there" in (reply.text or "")
    pieces = [
        c.text or "" for c in g.sdk.models.generate_content_stream(model=MODEL, contents="Hi")
    ]
    assert len(pieces) > 1
    assert "".join(pieces) == g.sdk.models.generate_content(model=MODEL, contents="Hi").text
    history = g.get_request_history()
    assert [(r["kind"], r["model"], r["status"]) for r in history.values()] == [
        ("generate", MODEL, "success"),
        ("stream", MODEL, "success"),
        ("generate", MODEL, "success"),
    ]
    assert all(r["project"] == "emulator" for r in history.values())
    assert g.get_token_usage()["requests"] == 3
    assert g.get_active_requests() == {}


def test_sdk_aio_runs_from_another_event_loop(plain_emulator_server: str) -> None:
    """``.aio`` of the blocking client, awaited in the caller's loop, over real HTTP."""

    async def use(sdk: Any) -> tuple[str, str]:
        reply = await sdk.aio.models.generate_content(model=MODEL, contents="Hi")
        stream = await sdk.aio.models.generate_content_stream(model=MODEL, contents="Hi")
        joined = "".join([chunk.text or "" async for chunk in stream])
        with pytest.raises(genai_errors.ClientError) as caught:
            await sdk.aio.models.generate_content(model="no-such-model", contents="Hi")
        assert caught.value.code == 404
        return reply.text or "", joined

    with Gemini(base_url=plain_emulator_server, api_key="any-key") as client:
        client.generate_content("the pipeline's connections now belong to its loop")
        text, joined = asyncio.run(use(client.sdk))
        assert text and text == joined
        history = client.get_request_history()
        assert [(r["kind"], r["status"]) for r in history.values()] == [
            ("generate", "success"),
            ("generate", "success"),
            ("stream", "success"),
            ("generate", "error"),
        ]
        assert client.get_active_requests() == {}


def test_sync_sdk_sees_upstream_errors_as_sdk_errors(g: Gemini) -> None:
    with pytest.raises(genai_errors.ClientError) as caught:
        g.sdk.models.generate_content(model="no-such-model", contents="Hi")
    assert caught.value.code == 404
    assert len(g.get_request_history(filter_status="error")) == 1


# -- misuse ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_called_from_a_running_loop_raises_instead_of_deadlocking(g: Gemini) -> None:
    with pytest.raises(UsageError, match="AsyncGemini"):
        g.chat(_user("Hello"))
    with pytest.raises(UsageError):
        g.stream_chat(_user("Hello"))
    with pytest.raises(UsageError):
        g.process_image(PNG_1X1, "What is this?", stream=True)
    with pytest.raises(UsageError):
        g.get_token_usage()
    with pytest.raises(UsageError):
        Gemini()


def test_unknown_parameters_are_usage_errors(g: Gemini) -> None:
    with pytest.raises(UsageError, match="temprature"):
        g.chat(_user("Hello"), temprature=0.5)
    with pytest.raises(UsageError, match="temprature"):
        g.generate_content("Hello", temprature=0.5)
    with pytest.raises(UsageError, match="temprature"):
        list(g.stream_chat(_user("Hello"), temprature=0.5))
    with pytest.raises(UsageError, match="cache_size"):
        Gemini(cache_size=10)
    assert g.get_request_history() == {}  # nothing was sent


def test_close_is_idempotent_and_stops_the_thread() -> None:
    before = _portal_threads()
    client = Gemini()
    mine = _portal_threads() - before
    assert len(mine) == 1
    client.chat(_user("Hello"))
    client.close()
    client.close()
    assert not (_portal_threads() & mine)
    with pytest.raises(UsageError, match="closed"):
        client.chat(_user("Hello"))
    with pytest.raises(UsageError, match="closed"):
        _ = client.sdk


def test_context_manager_closes_even_after_an_error() -> None:
    before = _portal_threads()
    with pytest.raises(UsageError), Gemini() as client:
        mine = _portal_threads() - before
        _ = client.sdk  # its HTTP clients are closed with it
        client.chat(_user("Hello"), temprature=1)
    assert len(mine) == 1 and not (_portal_threads() & mine)
    with pytest.raises(UsageError, match="closed"):
        client.generate_content("Hello")


def test_a_forgotten_client_is_collected_with_its_thread() -> None:
    before = _portal_threads()
    client = Gemini()
    client.generate_content("Hello")
    mine = _portal_threads() - before
    assert len(mine) == 1
    ref = weakref.ref(client)
    del client
    gc.collect()
    assert ref() is None
    next(iter(mine)).join(timeout=10)
    assert not (_portal_threads() & mine)  # other tests' forgotten clients may go too


def test_an_unclosed_client_does_not_hang_the_interpreter(tmp_path: Any) -> None:
    code = (
        "from gemgate import Gemini\n"
        "g = Gemini()\n"
        "print(g.chat([{'role': 'user', 'content': 'Hi'}])['choices'][0]['message']['content'])\n"
        "stream = g.stream_chat([{'role': 'user', 'content': 'Hi'}])\n"
        "print(next(stream)['object'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=tmp_path,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == "chat.completion.chunk"
    assert result.stderr == ""
