"""Prices: the fast path agrees with genai-prices' own calc_price, cached tokens are
priced as such, unknown models are None, a target's override wins."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from genai_prices import Usage, calc_price, data_snapshot

from keyhouse.providers import catalog
from keyhouse.usage.prices import PriceBook, PriceOverride, cost_usd, max_cost_usd, price_provider

# (genai-prices provider, model): flat, tiered, with and without a cache-read price.
MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("openai", "text-embedding-3-small"),
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-3-5-haiku-latest"),
    ("google", "gemini-2.5-pro"),
    ("google", "gemini-2.5-flash"),
    ("mistral", "mistral-large-latest"),
]
# (input incl. cache reads and writes, output, cache reads, cache writes)
USAGES = [
    (1_000, 200, 0, 0),
    (1_000, 200, 600, 0),
    (1_000, 200, 300, 500),
    (250_000, 4_000, 100_000, 20_000),
    (0, 0, 0, 0),
]
KEYHOUSE = {"openai": "openai", "anthropic": "anthropic", "google": "gemini", "mistral": "mistral"}


@pytest.mark.parametrize(("provider", "model"), MODELS)
@pytest.mark.parametrize(("inp", "out", "cached", "written"), USAGES)
def test_agrees_with_calc_price(
    provider: str, model: str, inp: int, out: int, cached: int, written: int
) -> None:
    expected = calc_price(
        Usage(
            input_tokens=inp,
            output_tokens=out,
            cache_read_tokens=cached,
            cache_write_tokens=written,
        ),
        model_ref=model,
        provider_id=provider,
    ).total_price
    got = PriceBook().cost_usd(
        KEYHOUSE[provider], model, inp, out, cached, cache_write_tokens=written
    )
    assert got == pytest.approx(float(expected), rel=1e-9, abs=1e-12)


def test_cached_tokens_are_cheaper() -> None:
    uncached = cost_usd("openai", "gpt-4o", 1_000_000, 0, 0)
    cached = cost_usd("openai", "gpt-4o", 1_000_000, 0, 1_000_000)
    assert uncached == pytest.approx(2.5)
    assert cached == pytest.approx(1.25)


def test_cache_writes_cost_the_write_rate() -> None:
    # claude-sonnet-4-5 below its 200k tier: $3 input, $0.30 cache read, $3.75 cache
    # write per million.
    plain = cost_usd("anthropic", "claude-sonnet-4-5", 100_000, 0, 0)
    written = cost_usd("anthropic", "claude-sonnet-4-5", 100_000, 0, 0, cache_write_tokens=100_000)
    assert plain == pytest.approx(0.3)
    assert written == pytest.approx(0.375)
    # Writes never exceed the prompt that holds them (reads first).
    capped = cost_usd(
        "anthropic", "claude-sonnet-4-5", 100_000, 0, 60_000, cache_write_tokens=90_000
    )
    assert capped == pytest.approx(0.06 * 0.3 + 0.04 * 3.75)
    # A target's override prices writes as input (it names no write rate).
    override = PriceOverride(Decimal("1"), Decimal("2"), Decimal("0.5"))
    assert cost_usd(
        "openai", "gpt-4o", 1_000_000, 0, 0, override, cache_write_tokens=500_000
    ) == pytest.approx(1.0)


def test_unknown_model_and_provider_are_none() -> None:
    assert cost_usd("openai", "no-such-model-xyz", 10, 10) is None
    assert cost_usd("ollama", "llama3", 10, 10) is None
    assert cost_usd("openai_compatible", "gpt-4o", 10, 10) is None


def test_override_wins_and_prices_cached_input() -> None:
    override = PriceOverride(Decimal("1"), Decimal("2"), Decimal("0.5"))
    # 1M input of which 400k cached, 1M output: 0.6 + 0.2 + 2.0
    assert cost_usd("openai", "gpt-4o", 1_000_000, 1_000_000, 400_000, override) == pytest.approx(
        2.8
    )
    # an unknown model has a price once its target says so
    assert cost_usd(
        "ollama",
        "llama3",
        1_000_000,
        0,
        0,
        PriceOverride.from_json({"input_per_mtok": 0.1, "output_per_mtok": 0.2}),
    ) == pytest.approx(0.1)


def test_azure_is_priced_as_azure() -> None:
    assert price_provider("openai", "azure") == "azure"
    assert price_provider("openai", "azure_entra_id") == "azure"
    assert price_provider("openai", "api_key") == "openai"
    assert cost_usd("openai", "gpt-4o", 1000, 1000, auth_method="azure") is not None


def test_every_mapped_catalog_provider_exists_in_the_table() -> None:
    known = {p.id for p in data_snapshot.get_snapshot().providers}
    for spec in catalog.PROVIDERS:
        for method in spec.auth_methods:
            mapped = price_provider(spec.id, method.id)
            assert mapped is None or mapped in known, (spec.id, method.id, mapped)


def test_max_cost_is_a_ceiling() -> None:
    ceiling = max_cost_usd("anthropic", "claude-sonnet-4-5", 1_000, 500)
    assert ceiling is not None
    for cached in (0, 500, 1_000):
        for out in (0, 250, 500):
            real = cost_usd("anthropic", "claude-sonnet-4-5", 1_000, out, cached)
            assert real is not None and real <= ceiling
    assert max_cost_usd("ollama", "llama3", 10, 10) is None


def test_negative_and_excess_counts_are_clamped() -> None:
    # cached can never exceed the prompt it is part of
    assert cost_usd("openai", "gpt-4o", 100, 0, 500) == cost_usd("openai", "gpt-4o", 100, 0, 100)
    assert cost_usd("openai", "gpt-4o", -5, -5) == 0.0


def _library_cost(price: Any, inp: int, out: int, cached: int, written: int) -> Decimal:
    """The four units as genai-prices' calc_unit_price prices them (the slow path)."""
    from genai_prices.types import calc_unit_price

    read = price.cache_read_mtok if price.cache_read_mtok is not None else price.input_mtok
    write = price.cache_write_mtok if price.cache_write_mtok is not None else price.input_mtok
    return (
        calc_unit_price(price.input_mtok, inp - cached - written, inp, 1_000_000)
        + calc_unit_price(read, cached, inp, 1_000_000)
        + calc_unit_price(write, written, inp, 1_000_000)
        + calc_unit_price(price.output_mtok, out, inp, 1_000_000)
    )


def test_the_read_once_rates_price_every_model_exactly_as_the_library() -> None:
    """Every model of every genai-prices provider Keyhouse maps, flat and tiered, at
    prompt sizes on both sides of the tiers: the same Decimal, not merely close."""
    from datetime import UTC, datetime

    from keyhouse.usage.prices import Rates

    mapped = set(price_provider(p.id) for p in catalog.PROVIDERS) | {"azure"}
    now = datetime.now(UTC)
    checked = tiered = 0
    for provider in data_snapshot.get_snapshot().providers:
        if provider.id not in mapped:
            continue
        for model in provider.models:
            price = model.get_prices(now)
            rates = Rates.of(price)
            tiered += any(
                type(r).__name__ == "TieredPrices"
                for r in (rates.input, rates.cache_read, rates.cache_write, rates.output)
            )
            for inp, out, cached, written in [*USAGES, (300_000, 10, 0, 0), (7, 3, 2, 1)]:
                fresh = inp - cached - written
                assert rates.cost(fresh, cached, written, out, inp) == _library_cost(
                    price, inp, out, cached, written
                ), (provider.id, model.id, inp)
                checked += 1
    assert checked > 1000 and tiered > 5, (checked, tiered)
