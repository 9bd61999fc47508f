"""One meaning of the token counters for every provider (``keyhouse.usage.record``):
``input_tokens`` = every prompt token, cache reads and writes included;
``cached_input_tokens`` = the reads; ``cache_write_tokens`` = the writes (0 where the
provider reports none). Each adapter family's own usage, as its provider reports 100
uncached prompt tokens, 30 read from the cache and 20 written to it, must come out so —
and so must the usage the translations hand on between the three gateway APIs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from keyhouse.gateway import messages as gateway_messages
from keyhouse.gateway import responses as gateway_responses
from keyhouse.providers import (
    anthropic_answer,
    anthropic_inbound_answer,
    bedrock_response,
    gemini_answer,
    responses_answer,
)
from keyhouse.providers.catalog import PROVIDERS
from keyhouse.usage.record import Tokens, tokens_from_usage

UNCACHED, READ, WRITTEN, OUT = 100, 30, 20, 7
ALL = UNCACHED + READ + WRITTEN

# Anthropic's usage (and Claude's on Bedrock and Vertex): input_tokens leaves the cache's
# reads and writes out.
ANTHROPIC_USAGE: Any = {
    "input_tokens": UNCACHED,
    "cache_read_input_tokens": READ,
    "cache_creation_input_tokens": WRITTEN,
    "output_tokens": OUT,
}

# Per adapter family: the provider's own usage (what its API reports) and the function
# that turns it into the usage a call's record reads. ``writes`` says whether the
# provider reports cache writes at all.
Case = tuple[Any, Callable[[Any], Any], bool]
FAMILIES: dict[str, list[Case]] = {
    "anthropic": [
        # Anthropic's input_tokens leaves reads and writes out; chat and native Messages.
        (
            ANTHROPIC_USAGE,
            anthropic_answer.openai_usage,
            True,
        ),
        (
            ANTHROPIC_USAGE,
            gateway_messages._usage,
            True,
        ),
    ],
    "bedrock": [
        # Converse's inputTokens leaves reads and writes out too.
        (
            {
                "inputTokens": UNCACHED,
                "cacheReadInputTokens": READ,
                "cacheWriteInputTokens": WRITTEN,
                "outputTokens": OUT,
                "totalTokens": ALL + OUT,
            },
            bedrock_response.usage,
            True,
        ),
        # Claude on Bedrock, natively: Anthropic's usage.
        (
            ANTHROPIC_USAGE,
            gateway_messages._usage,
            True,
        ),
    ],
    # Gemini's promptTokenCount holds the cached content; it reports no writes.
    "gemini": [
        (
            {
                "promptTokenCount": UNCACHED + READ,
                "cachedContentTokenCount": READ,
                "candidatesTokenCount": OUT,
            },
            gemini_answer.usage,
            False,
        )
    ],
    # OpenAI (and every OpenAI-shaped vendor): prompt_tokens holds the cached ones; no
    # writes. Chat usage is read as it comes; Responses usage is converted.
    "openai": [
        (
            {
                "prompt_tokens": UNCACHED + READ,
                "completion_tokens": OUT,
                "prompt_tokens_details": {"cached_tokens": READ},
            },
            lambda usage: usage,
            False,
        ),
        (
            {
                "input_tokens": UNCACHED + READ,
                "output_tokens": OUT,
                "input_tokens_details": {"cached_tokens": READ},
            },
            gateway_responses.openai_usage,
            False,
        ),
    ],
}
FAMILIES["vertex"] = [*FAMILIES["gemini"], FAMILIES["anthropic"][1]]  # Gemini; Claude
FAMILIES["databricks"] = FAMILIES["openai"]
CASES = [(family, i) for family, cases in FAMILIES.items() for i in range(len(cases))]


def test_every_adapter_of_the_catalog_is_covered() -> None:
    assert {spec.adapter for spec in PROVIDERS} <= set(FAMILIES)


@pytest.mark.parametrize(("family", "index"), CASES)
def test_each_provider_s_usage_counts_the_same_way(family: str, index: int) -> None:
    raw, convert, writes = FAMILIES[family][index]
    tokens = tokens_from_usage(convert(raw))
    written = WRITTEN if writes else 0
    assert tokens == Tokens(
        input=UNCACHED + READ + written, output=OUT, cached_input=READ, cache_write=written
    )


def _chat_usage() -> dict[str, Any]:
    return anthropic_answer.openai_usage(ANTHROPIC_USAGE)


def test_a_translated_responses_call_keeps_the_writes() -> None:
    """/v1/responses on a chat provider: chat usage → Responses usage → the record."""
    usage = responses_answer.response_usage(_chat_usage())
    assert usage is not None and usage["input_tokens"] == ALL
    assert tokens_from_usage(gateway_responses.openai_usage(usage)) == Tokens(
        ALL, OUT, READ, WRITTEN
    )


def test_a_translated_messages_call_reports_anthropic_s_meaning() -> None:
    """/v1/messages on a chat provider: the caller sees Anthropic's split, and it adds up
    to the same record."""
    usage = anthropic_inbound_answer.anthropic_usage(_chat_usage())
    assert usage == {
        "input_tokens": UNCACHED,
        "output_tokens": OUT,
        "cache_creation_input_tokens": WRITTEN,
        "cache_read_input_tokens": READ,
    }
    assert tokens_from_usage(gateway_messages._usage(usage)) == Tokens(ALL, OUT, READ, WRITTEN)


def test_no_usage_is_no_tokens_and_absent_writes_are_zero() -> None:
    assert tokens_from_usage(None) is None
    assert tokens_from_usage({"prompt_tokens": 5, "completion_tokens": 1}) == Tokens(5, 1, None, 0)
