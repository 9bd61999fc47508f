"""Every provider of the contract suite: a whole call and a stream (the caller asking for
no usage) each leave a record with the tokens the provider's fake reported — so asking
for usage in the stream, where a provider needs it, works for all of them — and a cost
wherever genai-prices knows the model."""

from __future__ import annotations

import time

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam

from tests.api.test_contract import Case, _sdk, world  # noqa: F401 - the fixture
from tests.conftest import ADMIN_TOKEN

PRICED = {
    "openai",
    "azure",
    "entra",
    "anthropic",
    "gemini",
    "vertex",
    "bedrock",
    "bedrock-key",
    "databricks",
    "mistral",
}


def _records(url: str, endpoint: str, count: int) -> list[dict[str, object]]:
    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    deadline = time.monotonic() + 10
    while True:
        records = admin.get("/api/v1/usage/requests", params={"endpoint": endpoint}).json()[
            "records"
        ]
        if len(records) >= count or time.monotonic() > deadline:
            return list(records)
        time.sleep(0.1)


def test_every_provider_records_the_tokens_it_reported(world: tuple[str, str, list[Case]]) -> None:  # noqa: F811
    url, _, cases = world
    sdk: openai.OpenAI = _sdk(world)
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "Count the tokens of this, please."}
    ]
    for case in cases:
        endpoint = f"chat-{case.name}"
        whole = sdk.chat.completions.create(model=endpoint, messages=messages)  # type: ignore
        chunks = list(
            sdk.chat.completions.create(
                model=endpoint,
                messages=messages,  # type: ignore
                stream=True,
            )
        )
        assert all(c.usage is None for c in chunks), case.name  # not asked for, not shown
        assert whole.usage is not None, case.name
        records = _records(url, endpoint, 2)
        assert [r["stream"] for r in records] == [True, False], case.name
        streamed, plain = records
        assert (plain["input_tokens"], plain["output_tokens"]) == (
            whole.usage.prompt_tokens,
            whole.usage.completion_tokens,
        ), case.name
        assert streamed["input_tokens"] == whole.usage.prompt_tokens, case.name
        assert isinstance(streamed["output_tokens"], int) and streamed["output_tokens"] > 0
        for record in records:
            priced = record["cost_usd"] is not None
            assert priced == (case.name in PRICED), (case.name, record["cost_usd"])
        if case.embed_model:
            embedded = sdk.embeddings.create(model=f"embed-{case.name}", input="one two three")
            (record,) = _records(url, f"embed-{case.name}", 1)
            assert record["input_tokens"] == embedded.usage.prompt_tokens, case.name
