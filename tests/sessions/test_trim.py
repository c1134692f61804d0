"""trim_history: newest messages within a budget, tool calls kept with their answers."""

from __future__ import annotations

import pytest

from gemgate.sessions import ChatMessage, trim_history
from gemgate.sessions._trim import estimate_message_tokens


def one(_: ChatMessage) -> int:
    return 1


def call(name: str = "get_weather", city: str = "Paris") -> ChatMessage:
    return ChatMessage(
        role="model",
        parts=[{"functionCall": {"name": name, "args": {"city": city}}}],
        message_type="function_call",
    )


def answer(name: str = "get_weather", city: str = "Paris") -> ChatMessage:
    return ChatMessage(
        role="user",
        parts=[{"functionResponse": {"name": name, "response": {"city": city, "t": "22C"}}}],
        message_type="function_response",
    )


def texts(messages: list[ChatMessage]) -> list[str]:
    out = []
    for m in messages:
        if m.function_calls:
            out.append(f"call:{m.function_calls[0]['args']['city']}")
        elif m.function_responses:
            out.append(f"answer:{m.function_responses[0]['response']['city']}")
        else:
            out.append(f"{m.role}:{m.text}")
    return out


def conversation() -> list[ChatMessage]:
    """Two tool turns and a plain turn, with a system note in the middle."""
    return [
        ChatMessage.user("q1"),
        call(city="Paris"),
        answer(city="Paris"),
        ChatMessage.model("a1"),
        ChatMessage(role="system", parts=[{"text": "note: user prefers Celsius"}]),
        ChatMessage.user("q2"),
        call(city="Rome"),
        answer(city="Rome"),
        ChatMessage.model("a2"),
        ChatMessage.user("q3"),
        ChatMessage.model("a3"),
    ]


def test_a_big_budget_keeps_everything_but_system_notes() -> None:
    kept = trim_history(conversation(), 1000, count=one)
    assert texts(kept) == [
        "user:q1",
        "call:Paris",
        "answer:Paris",
        "model:a1",
        "user:q2",
        "call:Rome",
        "answer:Rome",
        "model:a2",
        "user:q3",
        "model:a3",
    ]
    assert all(m.role != "system" for m in kept)


def test_keeps_the_newest_messages_within_budget() -> None:
    assert texts(trim_history(conversation(), 2, count=one)) == ["user:q3", "model:a3"]
    assert texts(trim_history(conversation(), 6, count=one)) == [
        "user:q2",
        "call:Rome",
        "answer:Rome",
        "model:a2",
        "user:q3",
        "model:a3",
    ]


@pytest.mark.parametrize("budget", range(12))
def test_never_splits_a_call_from_its_answer_and_starts_with_the_user(budget: int) -> None:
    kept = trim_history(conversation(), budget, count=one)
    assert len(kept) <= budget
    if kept:
        assert kept[0].role == "user" and not kept[0].function_responses
    for i, message in enumerate(kept):
        if message.function_calls:
            assert i + 1 < len(kept) and kept[i + 1].function_responses
        if message.function_responses:
            assert i > 0 and kept[i - 1].function_calls
    # always a suffix of the conversation without its system notes
    plain = [m for m in conversation() if m.role != "system"]
    assert texts(kept) == texts(plain)[len(plain) - len(kept) :]


def test_a_pair_is_kept_or_dropped_whole() -> None:
    # 4 tokens reach the Rome answer but not its call: neither is kept, nor is a2, which
    # would otherwise open the history with a model turn
    assert texts(trim_history(conversation(), 4, count=one)) == ["user:q3", "model:a3"]
    # 5 fit the pair, but it has no user question before it: it goes too
    assert texts(trim_history(conversation(), 5, count=one)) == ["user:q3", "model:a3"]
    assert texts(trim_history(conversation(), 7, count=one))[:3] == [
        "user:q2",
        "call:Rome",
        "answer:Rome",
    ]


def test_leading_model_and_function_response_turns_are_dropped() -> None:
    history = [
        ChatMessage.model("a stray model turn"),
        answer(city="Oslo"),
        ChatMessage.model("another"),
        ChatMessage.user("q"),
        ChatMessage.model("a"),
    ]
    assert texts(trim_history(history, 100, count=one)) == ["user:q", "model:a"]
    assert trim_history([ChatMessage.model("only the model")], 100, count=one) == []


def test_budget_zero_or_negative_keeps_nothing() -> None:
    assert trim_history(conversation(), 0) == []
    assert trim_history(conversation(), -5, count=one) == []
    assert trim_history([], 100) == []


def test_parallel_calls_in_one_turn_stay_together() -> None:
    both = ChatMessage(
        role="model",
        parts=[
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "get_time", "args": {"city": "Paris"}}},
        ],
    )
    answers = ChatMessage(
        role="user",
        parts=[
            {"functionResponse": {"name": "get_weather", "response": {"t": "22C"}}},
            {"functionResponse": {"name": "get_time", "response": {"time": "10:00"}}},
        ],
    )
    history = [ChatMessage.user("q"), both, answers, ChatMessage.model("a")]
    assert trim_history(history, 4, count=one) == history
    assert trim_history(history, 3, count=one) == []  # pair + answer fit, but no user opening
    assert trim_history(history, 2, count=one) == []


def test_default_estimate_counts_bytes_of_parts() -> None:
    short, long = ChatMessage.user("hi"), ChatMessage.user("word " * 400)
    assert estimate_message_tokens(short) >= 1
    assert estimate_message_tokens(long) == len('[{"text": "' + "word " * 400 + '"}]') // 4
    history = [ChatMessage.user("old " * 400), ChatMessage.model("old answer"), short]
    kept = trim_history(history, estimate_message_tokens(short) + 10)
    assert kept == [short]


def test_input_is_not_modified() -> None:
    history = conversation()
    before = [m.model_dump() for m in history]
    trim_history(history, 3, count=one)
    assert [m.model_dump() for m in history] == before
