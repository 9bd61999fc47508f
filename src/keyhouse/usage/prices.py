"""What a call cost, from the maintained ``genai-prices`` table (pydantic/genai-prices).

Token counts follow OpenAI's convention, as every adapter reports them (the definition is
in ``usage.record``): ``input_tokens`` is the whole prompt *including* the
``cached_input_tokens`` read from the provider's prompt cache, priced at the cache-read
rate, and the ``cache_write_tokens`` written to it, priced at the cache-write rate (the
5-minute one: records do not tell the TTL apart). A rate the table lacks is the input
rate.

The library's own ``calc_price`` costs about 1.5 ms a call (it decomposes every priced
unit of the model); the gateway prices a call up to three times (the budget's
reservation, its settlement, the usage record), so this module looks a model's four
token rates up once per day (``Rates``) and prices each unit as the library's
``calc_unit_price`` does: a flat rate is ``rate * count / 1e6`` in the same Decimal
arithmetic, a tiered one goes to ``calc_unit_price`` itself — a few microseconds.

``cost_usd`` answers None when the price is unknown: a provider the table does not carry
(a local Ollama, a custom OpenAI-compatible server) or a model it does not list. A target
may carry a ``PriceOverride`` which wins over the table (a negotiated rate, a fine-tune,
a self-hosted model).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genai_prices.types import ModelPrice, TieredPrices

    Rate = Decimal | TieredPrices | None

__all__ = ["PriceBook", "PriceOverride", "cost_usd", "max_cost_usd", "price_provider"]

# Keyhouse catalog id → genai-prices provider id. A provider that is absent has no price.
_PROVIDERS: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "vertex_ai": "google",
    "bedrock": "aws",
    "databricks": "databricks",
    "mistral": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x-ai",
    "together": "together",
    "fireworks": "fireworks",
    "openrouter": "openrouter",
    "perplexity": "perplexity",
    "cerebras": "cerebras",
    "cohere": "cohere",
    "novita": "novita",
}
# Azure OpenAI bills its own rates for the same model names.
_AUTH_METHOD_PROVIDERS: dict[tuple[str, str], str] = {
    ("openai", "azure"): "azure",
    ("openai", "azure_entra_id"): "azure",
}
_PER = 1_000_000


def price_provider(provider: str, auth_method: str | None = None) -> str | None:
    """The genai-prices provider id for a Keyhouse provider (and auth method)."""
    if auth_method is not None:
        mapped = _AUTH_METHOD_PROVIDERS.get((provider, auth_method))
        if mapped is not None:
            return mapped
    return _PROVIDERS.get(provider)


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """A target's own rates in USD per million tokens; cached input defaults to input."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> PriceOverride | None:
        """From a stored ``{input_per_mtok, output_per_mtok, cached_input_per_mtok?}``."""
        if not data:
            return None
        cached = data.get("cached_input_per_mtok")
        return cls(
            Decimal(str(data["input_per_mtok"])),
            Decimal(str(data["output_per_mtok"])),
            None if cached is None else Decimal(str(cached)),
        )

    def cost(
        self, input_tokens: int, output_tokens: int, cached_input_tokens: int, written: int = 0
    ) -> Decimal:
        """``written`` (cache writes, clamped by the caller) is priced as input here."""
        cached = min(max(cached_input_tokens, 0), input_tokens)
        cached_rate = (
            self.input_per_mtok
            if self.cached_input_per_mtok is None
            else self.cached_input_per_mtok
        )
        return (
            (input_tokens - cached) * self.input_per_mtok
            + cached * cached_rate
            + output_tokens * self.output_per_mtok
        ) / _PER


@dataclass(frozen=True, slots=True)
class Rates:
    """A model's price per million tokens for the four units Keyhouse counts, read off
    its ``ModelPrice`` once: that object answers a rate it lacks through ``__getattr__``
    and a unit-registry lookup, which was most of a cost's time. A missing cache rate
    is the input rate."""

    input: Rate
    cache_read: Rate
    cache_write: Rate
    output: Rate

    @classmethod
    def of(cls, price: ModelPrice) -> Rates:
        cache_read = price.cache_read_mtok
        cache_write = price.cache_write_mtok
        return cls(
            price.input_mtok,
            price.input_mtok if cache_read is None else cache_read,
            price.input_mtok if cache_write is None else cache_write,
            price.output_mtok,
        )

    def cost(self, fresh: int, cached: int, written: int, output: int, prompt: int) -> Decimal:
        """``prompt``: the whole prompt, which picks a tiered rate's tier."""
        return (
            _unit(self.input, fresh, prompt)
            + _unit(self.cache_read, cached, prompt)
            + _unit(self.cache_write, written, prompt)
            + _unit(self.output, output, prompt)
        )


_ZERO = Decimal(0)


def _unit(rate: Rate, count: int, prompt: int) -> Decimal:
    """``calc_unit_price(rate, count, prompt, 1e6)``, with a flat rate's case inline
    (the same Decimal product and quotient) and nothing for no tokens."""
    if rate is None or not count:
        return _ZERO
    if type(rate) is Decimal:
        return rate * count / _PER
    from genai_prices.types import calc_unit_price

    return calc_unit_price(rate, count, prompt, _PER)


class PriceBook:
    """Looks model prices up in genai-prices and remembers them per day.

    genai-prices is imported on first use (it takes a while), so a process that never
    prices a call never pays for it; ``warm()`` does it ahead of the first call.
    """

    def __init__(self) -> None:
        self._rates: dict[tuple[str, str, date], Rates | None] = {}

    def warm(self) -> None:
        self._model_price("openai", "gpt-4o-mini", datetime.now(UTC).date())

    def rates(
        self, provider: str, model: str, auth_method: str | None = None, at: datetime | None = None
    ) -> Rates | None:
        """The model's token rates that day, or None when its price is unknown."""
        price_id = price_provider(provider, auth_method)
        if price_id is None:
            return None
        day = (at or datetime.now(UTC)).date()
        key = (price_id, model, day)
        try:
            return self._rates[key]
        except KeyError:
            pass
        price = self._model_price(price_id, model, day)
        if len(self._rates) > 4096:  # a bound on models x days; lookups are cheap again
            self._rates.clear()
        found = self._rates[key] = None if price is None else Rates.of(price)
        return found

    def _model_price(self, price_id: str, model: str, day: date) -> ModelPrice | None:
        from genai_prices import data_snapshot

        try:
            _, info = data_snapshot.get_snapshot().find_provider_model(model, None, price_id, None)
        except LookupError:
            return None
        return info.get_prices(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))

    def cost_usd(
        self,
        provider: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
        override: PriceOverride | None = None,
        *,
        cache_write_tokens: int = 0,
        auth_method: str | None = None,
        at: datetime | None = None,
    ) -> float | None:
        """The cost of one call in USD, or None when its price is unknown."""
        input_tokens, output_tokens = max(input_tokens, 0), max(output_tokens, 0)
        cached = min(max(cached_input_tokens, 0), input_tokens)
        written = min(max(cache_write_tokens, 0), input_tokens - cached)
        if override is not None:
            return float(override.cost(input_tokens, output_tokens, cached, written))
        rates = self.rates(provider, model, auth_method, at)
        if rates is None:
            return None
        fresh = input_tokens - cached - written
        return float(rates.cost(fresh, cached, written, output_tokens, input_tokens))

    def max_cost_usd(
        self,
        provider: str,
        model: str,
        input_tokens: int,
        max_output_tokens: int,
        override: PriceOverride | None = None,
        *,
        auth_method: str | None = None,
        at: datetime | None = None,
    ) -> float | None:
        """A ceiling on a call's cost before it is sent, for budget reservations: the
        prompt as if nothing were cached and ``max_output_tokens`` all generated (tiers
        are picked by the prompt size, as the provider will)."""
        return self.cost_usd(
            provider,
            model,
            input_tokens,
            max_output_tokens,
            0,
            override,
            auth_method=auth_method,
            at=at,
        )


@functools.cache
def _default_book() -> PriceBook:
    # The price table is immutable data; one memo per process is all it needs.
    return PriceBook()


def cost_usd(
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    override: PriceOverride | None = None,
    *,
    cache_write_tokens: int = 0,
    auth_method: str | None = None,
    at: datetime | None = None,
) -> float | None:
    """The cost of one call in USD (``input_tokens`` includes the cached ones, read and
    written), or None when the price of that provider and model is unknown."""
    return _default_book().cost_usd(
        provider,
        model,
        input_tokens,
        output_tokens,
        cached_input_tokens,
        override,
        cache_write_tokens=cache_write_tokens,
        auth_method=auth_method,
        at=at,
    )


def max_cost_usd(
    provider: str,
    model: str,
    input_tokens: int,
    max_output_tokens: int,
    override: PriceOverride | None = None,
    *,
    auth_method: str | None = None,
    at: datetime | None = None,
) -> float | None:
    """The worst-case cost of a call before it is sent (see ``PriceBook.max_cost_usd``)."""
    return _default_book().max_cost_usd(
        provider, model, input_tokens, max_output_tokens, override, auth_method=auth_method, at=at
    )
