"""Gemini's built-in tools through the official SDK: Google Search, URL context, code execution."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import errors, types

from gemgate.emulator._builtin_tools import evaluate

from ._usage import total_adds_up
from .conftest import KEY, Target

pytestmark = pytest.mark.anyio

MODEL = "gemini-2.5-flash"
SEARCH = types.Tool(google_search=types.GoogleSearch())
URLS = types.Tool(url_context=types.UrlContext())
Status = types.UrlRetrievalStatus
CODE = types.Tool(code_execution=types.ToolCodeExecution())


def _config(*tools: types.Tool, **options: Any) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(tools=list(tools), **options)


async def _ask(target: Target, prompt: str, *tools: types.Tool) -> types.GenerateContentResponse:
    client = target.sdk()
    return await client.aio.models.generate_content(
        model=MODEL, contents=prompt, config=_config(*tools)
    )


async def test_google_search_grounds_the_answer_on_example_sites(target: Target) -> None:
    reply = await _ask(target, "Who won the Tour de France in 2023?", SEARCH)
    candidate = reply.candidates[0] if reply.candidates else None
    assert candidate and candidate.grounding_metadata and reply.text
    meta = candidate.grounding_metadata
    assert meta.web_search_queries == ["Who won the Tour de France in 2023"]
    assert meta.search_entry_point and meta.search_entry_point.rendered_content
    assert '<a class="chip"' in meta.search_entry_point.rendered_content
    chunks = meta.grounding_chunks or []
    assert 2 <= len(chunks) <= 3
    for chunk in chunks:
        assert chunk.web and chunk.web.uri and chunk.web.title
        assert chunk.web.uri.startswith("https://www.example.")
        assert chunk.web.title in ("example.com", "example.org", "example.net")
    supports = meta.grounding_supports or []
    assert len(supports) == len(chunks)
    encoded = reply.text.encode()
    for support in supports:
        segment = support.segment
        assert segment and segment.end_index and segment.text
        start = segment.start_index or 0
        assert encoded[start : segment.end_index].decode() == segment.text
        assert all(0 <= i < len(chunks) for i in support.grounding_chunk_indices or [])
    total_adds_up(reply.usage_metadata)


async def test_google_search_offsets_are_bytes_for_non_ascii_questions(target: Target) -> None:
    reply = await _ask(target, "Où se trouve le musée d'Orsay à Paris ?", SEARCH)
    meta = reply.candidates[0].grounding_metadata if reply.candidates else None
    assert meta and reply.text and meta.grounding_supports
    last = meta.grounding_supports[-1].segment
    assert last and last.start_index and last.end_index
    assert len(reply.text[: reply.text.find(last.text or "")].encode()) == last.start_index
    assert reply.text.encode()[last.start_index : last.end_index].decode() == last.text


async def test_google_search_is_deterministic_and_depends_on_the_question(target: Target) -> None:
    first = await _ask(target, "History of the Eiffel Tower", SEARCH)
    again = await _ask(target, "History of the Eiffel Tower", SEARCH)
    other = await _ask(target, "Best bread recipes for beginners", SEARCH)
    assert first.text == again.text
    assert first.candidates and again.candidates and other.candidates
    assert first.candidates[0].grounding_metadata == again.candidates[0].grounding_metadata
    assert first.candidates[0].grounding_metadata != other.candidates[0].grounding_metadata
    assert first.text != other.text


async def test_legacy_search_retrieval_is_refused_on_2x_models(target: Target) -> None:
    legacy = types.Tool(google_search_retrieval=types.GoogleSearchRetrieval())
    with pytest.raises(errors.ClientError) as refused:
        await _ask(target, "Who won the match?", legacy)
    assert refused.value.code == 400
    assert "google_search_retrieval is not supported" in str(refused.value.message)


async def test_unknown_search_fields_are_rejected(target: Target) -> None:
    response = await target.http.post(
        f"/v1beta/models/{MODEL}:generateContent",
        headers={"x-goog-api-key": KEY},
        json={
            "contents": [{"parts": [{"text": "news"}]}],
            "tools": [{"googleSearch": {"freshness": "day"}}],
        },
    )
    assert response.status_code == 400
    assert 'Unknown name "freshness"' in response.json()["error"]["message"]
    response = await target.http.post(
        f"/v1beta/models/{MODEL}:generateContent",
        headers={"x-goog-api-key": KEY},
        json={
            "contents": [{"parts": [{"text": "1 + 1"}]}],
            "tools": [{"codeExecution": {"timeout": 3}}],
        },
    )
    assert response.status_code == 400


async def test_url_context_reports_each_url(target: Target) -> None:
    prompt = (
        "Compare https://www.example.com/recipes/roast-chicken and "
        "https://example.org/guides/bread-baking.html, also ftp://example.net/file "
        "and http://localhost:8080/admin."
    )
    reply = await _ask(target, prompt, URLS)
    candidate = reply.candidates[0] if reply.candidates else None
    assert candidate and candidate.url_context_metadata and reply.text
    found = {
        m.retrieved_url: m.url_retrieval_status
        for m in candidate.url_context_metadata.url_metadata or []
    }
    assert found == {
        "https://www.example.com/recipes/roast-chicken": Status.URL_RETRIEVAL_STATUS_SUCCESS,
        "https://example.org/guides/bread-baking.html": Status.URL_RETRIEVAL_STATUS_SUCCESS,
        "ftp://example.net/file": Status.URL_RETRIEVAL_STATUS_ERROR,
        "http://localhost:8080/admin": Status.URL_RETRIEVAL_STATUS_UNSAFE,
    }
    assert "roast chicken" in reply.text and "bread baking" in reply.text
    assert "ftp://example.net/file could not be retrieved" in reply.text
    total_adds_up(reply.usage_metadata)


async def test_url_context_without_urls_answers_plainly(target: Target) -> None:
    reply = await _ask(target, "Summarise the page for me", URLS)
    assert reply.candidates and reply.candidates[0].url_context_metadata is None
    assert reply.usage_metadata and not reply.usage_metadata.tool_use_prompt_token_count


async def test_more_than_twenty_urls_is_the_real_error(target: Target) -> None:
    urls = " ".join(f"https://example.com/page/{i}" for i in range(21))
    with pytest.raises(errors.ClientError) as refused:
        await _ask(target, f"Summarise {urls}", URLS)
    assert refused.value.code == 400
    assert "Number of urls to lookup exceeds the limit (21 > 20)" in str(refused.value.message)
    twenty = " ".join(f"https://example.com/page/{i}" for i in range(20))
    reply = await _ask(target, f"Summarise {twenty}", URLS)
    assert reply.candidates and reply.candidates[0].url_context_metadata
    assert len(reply.candidates[0].url_context_metadata.url_metadata or []) == 20


async def test_search_and_url_context_together(target: Target) -> None:
    reply = await _ask(target, "What does https://example.com/docs/setup say?", SEARCH, URLS)
    candidate = reply.candidates[0] if reply.candidates else None
    assert candidate and candidate.url_context_metadata and candidate.grounding_metadata
    assert reply.text and "https://example.com/docs/setup" in reply.text
    assert candidate.grounding_metadata.grounding_supports


@pytest.mark.parametrize(
    ("prompt", "output"),
    [
        ("What is 12 * (3 + 4)?", "84\n"),
        ("Compute 2 ** 10 - 1 please", "1023\n"),
        ("How much is 7 / 2?", "3.5\n"),
        ("what is -3 + 0.5", "-2.5\n"),
    ],
)
async def test_code_execution_computes_arithmetic(target: Target, prompt: str, output: str) -> None:
    reply = await _ask(target, prompt, CODE)
    content = reply.candidates[0].content if reply.candidates else None
    assert content and content.parts
    kinds = [
        next(k for k in ("text", "executable_code", "code_execution_result") if getattr(p, k))
        for p in content.parts
    ]
    assert kinds == ["text", "executable_code", "code_execution_result", "text"]
    assert reply.executable_code and "print(result)" in reply.executable_code
    assert reply.code_execution_result == output
    code = content.parts[1].executable_code
    result = content.parts[2].code_execution_result
    assert code and code.language == types.Language.PYTHON
    assert result and result.outcome == types.Outcome.OUTCOME_OK
    assert content.parts[3].text and output.strip() in content.parts[3].text


async def test_code_execution_reports_a_failure(target: Target) -> None:
    reply = await _ask(target, "What is 1 / 0?", CODE)
    content = reply.candidates[0].content if reply.candidates else None
    assert content and content.parts
    result = content.parts[2].code_execution_result
    assert result and result.outcome == types.Outcome.OUTCOME_FAILED
    assert result.output and "ZeroDivisionError: division by zero" in result.output


async def test_code_execution_runs_a_fixed_program_and_not_the_prompt(target: Target) -> None:
    prompt = "Run some python code: __import__('os').system('echo hi')"
    reply = await _ask(target, prompt, CODE)
    assert reply.executable_code and reply.executable_code.startswith("text = ")
    text = " ".join(prompt.split())
    assert reply.code_execution_result == f"words: {len(text.split())}\ncharacters: {len(text)}\n"
    plain = await _ask(target, "Tell me about owls", CODE)
    assert plain.executable_code is None and plain.text


def test_evaluate_accepts_only_arithmetic() -> None:
    assert evaluate("(1 + 2) * 3 - 4 / 2") == 7.0
    assert evaluate("2 ** -1") == 0.5
    for bad in ("__import__('os')", "x + 1", "[1] * 3", "1 if 1 else 2", "True + 1", "2 % 3"):
        with pytest.raises(ValueError):
            evaluate(bad)
    with pytest.raises(OverflowError):
        evaluate("9 ** 9 ** 9")
    with pytest.raises(ZeroDivisionError):
        evaluate("1 / (2 - 2)")


async def test_streaming_keeps_part_order_and_puts_metadata_last(target: Target) -> None:
    client = target.sdk()
    chunks = [
        c
        async for c in await client.aio.models.generate_content_stream(
            model=MODEL,
            contents="What is 6 * 7? See https://example.com/answers/life",
            config=_config(CODE, URLS, SEARCH),
        )
    ]
    assert len(chunks) > 1
    order = []
    for chunk in chunks:
        parts = (
            chunk.candidates[0].content.parts
            if chunk.candidates and chunk.candidates[0].content
            else []
        )
        for part in parts or []:
            if part.executable_code:
                order.append("code")
            elif part.code_execution_result:
                order.append("result")
            elif part.text and (not order or order[-1] != "text"):
                order.append("text")
    assert order == ["text", "code", "result", "text"]
    assert all(
        not c.candidates or c.candidates[0].url_context_metadata is None for c in chunks[:-1]
    )
    last = chunks[-1].candidates[0] if chunks[-1].candidates else None
    assert last and last.url_context_metadata and last.grounding_metadata
    assert "".join(c.code_execution_result or "" for c in chunks) == "42\n"


async def test_structured_output_skips_code_execution(target: Target) -> None:
    client = target.sdk()
    reply = await client.aio.models.generate_content(
        model=MODEL,
        contents="What is 2 + 2?",
        config=_config(CODE, response_mime_type="application/json"),
    )
    assert reply.executable_code is None and reply.code_execution_result is None
    assert reply.text and reply.text.startswith("{")


async def test_function_calls_take_precedence_over_code(target: Target) -> None:
    declaration = types.FunctionDeclaration(
        name="add_numbers",
        description="Add two numbers.",
        parameters=types.Schema(
            type=types.Type.OBJECT,
            properties={"a": types.Schema(type=types.Type.NUMBER)},
        ),
    )
    client = target.sdk()
    reply = await client.aio.models.generate_content(
        model=MODEL,
        contents="Add numbers: what is 2 + 3?",
        config=_config(CODE, types.Tool(function_declarations=[declaration])),
    )
    assert reply.function_calls and reply.function_calls[0].name == "add_numbers"
    assert reply.executable_code is None
