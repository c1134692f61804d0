"""A check shared by the grounding tests: tool tokens are counted in the total."""

from __future__ import annotations

from google.genai import types


def total_adds_up(usage: types.GenerateContentResponseUsageMetadata | None) -> None:
    """The total is prompt + candidates + thoughts + the retrieved text the tool read."""
    assert usage and usage.tool_use_prompt_token_count
    assert usage.total_token_count == (
        (usage.prompt_token_count or 0)
        + (usage.candidates_token_count or 0)
        + (usage.thoughts_token_count or 0)
        + usage.tool_use_prompt_token_count
    )
