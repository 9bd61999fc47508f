"""Plain HTTP to a fake, for tests of the fake itself (not of Keyhouse's send path)."""

from __future__ import annotations

from typing import Any

import httpx


async def http_post(url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(url, **kwargs)


async def http_send(method: str, url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.request(method, url, **kwargs)
