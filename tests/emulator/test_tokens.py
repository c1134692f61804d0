"""The emulator's token count: a word of n characters is ceil(n / 8) tokens."""

from __future__ import annotations

import math
import re

from hypothesis import given
from hypothesis import strategies as st

from gemgate.emulator._tokens import count_text


def by_word(text: str) -> int:
    """The rule spelled out: each word or punctuation mark, its length over 8, rounded up."""
    return sum(math.ceil(len(m.group()) / 8) for m in re.finditer(r"\w+|[^\w\s]", text))


def test_examples() -> None:
    assert count_text("") == 0
    assert count_text("Hello there") == 2
    assert count_text("Hello, there!") == 4
    assert count_text("internationalization") == 3  # 20 characters
    assert count_text("  \n\t ") == 0


@given(st.text(alphabet=st.sampled_from("ab_9é漢 \n,.!-"), max_size=80))
def test_matches_the_rule_for_any_text(text: str) -> None:
    assert count_text(text) == by_word(text)
