"""The process's one upstream HTTP client, and where the URL policy meets the network.

``Upstream`` is an aiohttp session over one TCPConnector, made in the app's lifespan and
handed to every call: keep-alive, no redirects (the send path never follows one), no
cookies, no proxy or netrc from the environment, and the URL policy enforced where
connections are made:

- ``GuardedResolver`` vets every address a name resolves to before the connector may
  connect to it, so a name that passed ``check_url`` when the key was saved and now
  resolves to 169.254.169.254 (DNS rebinding) is refused at connect time. The connector
  caches what the resolver returned for a short TTL, so the hot path pays for DNS only
  when a name has not been judged lately.
- aiohttp connects to a literal address without asking any resolver, so every URL is
  judged before it is sent (``Upstream.vet``: scheme, userinfo, literal address), and a
  session middleware judges the host of every request the session sends (redirect hops
  included).
"""

from __future__ import annotations

import functools
import socket
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from keyhouse.errors import UpstreamURLRefused
from keyhouse.shared import urlpolicy

USER_AGENT = "keyhouse"


class GuardedResolver(AbstractResolver):
    """Resolves a name and refuses it unless every address it stands for is allowed."""

    def __init__(self, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self.allow_private = allow_private
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        refusal = urlpolicy.host_refusal(host, self.allow_private)
        if refusal:
            raise UpstreamURLRefused(f"Upstream URL refused: {refusal}.")
        if self._inner is None:
            self._inner = ThreadedResolver()
        try:
            results = await self._inner.resolve(host, port, family)
        except UnicodeError:
            raise OSError(f"{host} could not be resolved.") from None
        if not results:
            raise OSError(f"{host} could not be resolved.")
        refusal = urlpolicy.addresses_refusal(
            host, (r["host"] for r in results), self.allow_private
        )
        if refusal:
            raise UpstreamURLRefused(f"Upstream URL refused: {refusal}.")
        return results

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


class Upstream:
    """The shared upstream client. Make it on the serving loop; ``await close()`` it."""

    def __init__(
        self,
        allow_private: bool,
        *,
        limit: int = 512,
        limit_per_host: int = 0,
        keepalive_seconds: float = 30.0,
        dns_ttl_seconds: int = 30,
    ) -> None:
        self.allow_private = allow_private
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._keepalive = keepalive_seconds
        self._dns_ttl = dns_ttl_seconds
        self._session: aiohttp.ClientSession | None = None
        # host -> refusal message or None; a host's verdict never changes for a process.
        self._verdicts: dict[str, str | None] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limit,
                limit_per_host=self._limit_per_host,
                keepalive_timeout=self._keepalive,
                ttl_dns_cache=self._dns_ttl,
                resolver=GuardedResolver(self.allow_private),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # One session serves every key: a cookie one provider account set must
                # never ride along on another key's request.
                cookie_jar=aiohttp.DummyCookieJar(),
                # No proxy or netrc from the environment: a proxy would hide the real
                # destination from the guard, and netrc could attach credentials.
                trust_env=False,
                headers={"user-agent": USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=60.0),
                middlewares=(self._vet_request,),
                auto_decompress=True,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Upstream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def vet(self, url: URL) -> None:
        """Refuse a URL the policy forbids; names are judged again by the resolver."""
        if url.scheme not in ("http", "https"):
            raise UpstreamURLRefused("Upstream URL refused: only http and https are allowed.")
        if url.raw_user is not None or url.raw_password is not None:
            raise UpstreamURLRefused(
                "Upstream URL refused: it must not contain a user name or password."
            )
        host = url.raw_host or ""
        try:
            refusal = self._verdicts[host]
        except KeyError:
            refusal = urlpolicy.host_refusal(host, self.allow_private) if host else "no host"
            if len(self._verdicts) < 4096:
                self._verdicts[host] = refusal
        if refusal:
            raise UpstreamURLRefused(f"Upstream URL refused: {refusal}.")

    async def _vet_request(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        self.vet(request.url)
        return await handler(request)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per endpoint: seconds to get a connection, and between two reads of the answer."""

    read: float = 60.0
    connect: float = 5.0

    @property
    def client_timeout(self) -> aiohttp.ClientTimeout:
        return _client_timeout(self.read, self.connect)


@functools.lru_cache(maxsize=256)
def _client_timeout(read: float, connect: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=None, connect=connect, sock_read=read)
