"""Budget alerts: a JSON POST to ``KEYHOUSE_ALERT_WEBHOOK_URL``, off the request path.

``send`` only puts the alert on a bounded queue; one task posts them, each with a few
retries and backoff. A full queue drops the alert and counts it — a stuck webhook never
slows a call. The store decides "once per period" (across replicas with Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # httpx loads only when a webhook is configured (serve starts lean)
    import httpx

log = logging.getLogger("keyhouse.limits.alerts")

JSON = dict[str, Any]


class AlertSender:
    def __init__(
        self,
        url: str,
        *,
        attempts: int = 4,
        backoff: float = 0.5,
        timeout: float = 5.0,
        queue_size: int = 256,
    ) -> None:
        self.url = url
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._queue: asyncio.Queue[JSON] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None

    def send(self, alert: JSON) -> None:
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("alert queue full; dropped a %s alert", alert.get("type"))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        # Its own client: the webhook is the operator's, not a provider, and must not
        # share the upstream pool's limits or its URL policy.
        import httpx

        async with httpx.AsyncClient(
            timeout=self.timeout, follow_redirects=False, trust_env=False
        ) as client:
            while True:
                alert = await self._queue.get()
                await self._post(client, alert)

    async def _post(self, client: httpx.AsyncClient, alert: JSON) -> None:
        import httpx

        for attempt in range(self.attempts):
            try:
                response = await client.post(self.url, json=alert)
                if response.status_code < 300:
                    self.sent += 1
                    return
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            if attempt + 1 < self.attempts:
                await asyncio.sleep(self.backoff * 2**attempt)
        self.failed += 1
        log.warning(
            "budget alert for %s %r not delivered after %d attempts (%s)",
            alert.get("scope"),
            alert.get("name"),
            self.attempts,
            reason,
        )
