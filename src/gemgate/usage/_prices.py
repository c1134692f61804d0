"""What a request costs: a price per million tokens per model, overridable in the config.

Gemini bills a response's ``usageMetadata``: prompt tokens at the input price, except
those served from a context cache (``cachedContentTokenCount``, part of the prompt count)
at the cache price; candidate *and* thinking tokens (``thoughtsTokenCount``) at the output
price. Some models charge more per token once the prompt exceeds 200,000 tokens.
Requests run through the Batch API cost ``batch_factor`` (half) of these prices.

The defaults are Google's list prices for the paid tier, in US dollars; set your own with
``[prices."model"]`` in the config when they change or when you have a contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gemgate.config import Settings

__all__ = ["DEFAULT_PRICES", "Price", "PriceTable"]

LONG_PROMPT = 200_000
"""Above this many prompt tokens, a model with long-context prices charges those."""


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens.

    Example:
        >>> Price(input=0.30, output=2.50, cached=0.075).cost(1_000_000, 0, 0, 0)
        0.3
    """

    input: float
    output: float
    cached: float = 0.0
    long_input: float | None = None
    long_output: float | None = None
    long_cached: float | None = None
    batch_factor: float = 0.5
    """What a Batch API request pays, as a share of these (interactive) prices."""

    def cost(
        self, prompt: int, completion: int, cached: int, thoughts: int, *, batch: bool = False
    ) -> float:
        """The cost of one response, from its token counts (``batch``: run as a batch)."""
        long = prompt > LONG_PROMPT
        rate_in = self.long_input if long and self.long_input is not None else self.input
        rate_out = self.long_output if long and self.long_output is not None else self.output
        rate_cached = self.long_cached if long and self.long_cached is not None else self.cached
        fresh = max(prompt - cached, 0)
        total = fresh * rate_in + cached * rate_cached + (completion + thoughts) * rate_out
        if batch:
            total *= self.batch_factor
        return round(total / 1_000_000, 10)


DEFAULT_PRICES: Mapping[str, Price] = {
    "gemini-2.5-pro": Price(1.25, 10.0, 0.31, long_input=2.50, long_output=15.0, long_cached=0.625),
    "gemini-2.5-flash": Price(0.30, 2.50, 0.075),
    "gemini-2.5-flash-lite": Price(0.10, 0.40, 0.025),
    "gemini-2.0-flash": Price(0.10, 0.40, 0.025),
    "gemini-2.0-flash-lite": Price(0.075, 0.30),
    "gemini-embedding-001": Price(0.15, 0.0),
    "text-embedding-004": Price(0.0, 0.0),
}
"""List prices by model family; a versioned name (``gemini-2.5-flash-preview-09-2025``)
takes the price of the longest family name it starts with."""


class PriceTable:
    """Prices by model: the defaults, with ``overrides`` on top.

    Example:
        >>> table = PriceTable({"my-tuned-model": Price(1.0, 2.0)})
        >>> table.cost("models/gemini-2.5-flash-lite-preview", 1000, 1000, 0, 0)
        0.0005
        >>> table.cost("models/gemini-2.5-flash-lite-preview", 1000, 1000, 0, 0, batch=True)
        0.00025
        >>> table.cost("unknown-model", 10, 10, 0, 0) is None
        True
    """

    def __init__(self, overrides: Mapping[str, Price] | None = None) -> None:
        self._prices = {**DEFAULT_PRICES, **(overrides or {})}
        self._families = sorted(self._prices, key=len, reverse=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> PriceTable:
        """The defaults with the ``prices`` setting on top."""
        return cls({m: Price(**p.model_dump()) for m, p in settings.prices.items()})

    def price(self, model: str) -> Price | None:
        """The price of ``model`` (or of the longest family name it starts with)."""
        name = model.removeprefix("models/")
        if name in self._prices:
            return self._prices[name]
        family = next((f for f in self._families if name.startswith(f)), None)
        return None if family is None else self._prices[family]

    def cost(
        self,
        model: str,
        prompt: int,
        completion: int,
        cached: int,
        thoughts: int,
        *,
        batch: bool = False,
    ) -> float | None:
        """The cost in US dollars, or ``None`` for a model without a price.

        ``batch``: the request ran through the Batch API (at the price's ``batch_factor``).
        """
        price = self.price(model)
        if price is None:
            return None
        return price.cost(prompt, completion, cached, thoughts, batch=batch)
