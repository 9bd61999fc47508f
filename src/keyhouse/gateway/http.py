"""The one shared upstream HTTP client.

Every provider call goes through the client made here (held on ``app.state.http``): one
connection pool for the process, keep-alive, HTTP/1.1, no redirects, no proxy or netrc
from the environment, and a guard on every new connection.

The guard is a network backend under httpcore's pool: when the pool opens a connection it
resolves the host itself, judges every address with ``urlpolicy`` and connects to an
address it judged — so a name that passed the check when the key was saved and now
resolves to 169.254.169.254 (DNS rebinding) is refused at connect time, and there is no
window between the check and the connect. Pooled connections are reused without a new
lookup, and each verdict is cached per host for a short TTL, so the hot path pays for DNS
only when the pool opens a connection to a host it has not judged lately.

Two more things keep connections reused: the pool is ``pool.LeanConnectionPool`` (whose
bookkeeping does not grow with the square of open connections), and a streamed body
closed just short of its end is read to its end first (``DrainOnClose``).
"""

from __future__ import annotations

import logging
import socket
import time
import typing
from http.cookiejar import Cookie, CookieJar

import anyio
import httpcore
import httpx

from keyhouse.errors import UpstreamURLRefused
from keyhouse.gateway import urlpolicy
from keyhouse.gateway.pool import LeanConnectionPool

DEFAULT_LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=128,
                              keepalive_expiry=30.0)
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
USER_AGENT = "keyhouse"

_SocketOption = typing.Any  # httpcore's SOCKET_OPTION union, not exported publicly


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and connects; refuses with ``UpstreamURLRefused``."""

    def __init__(self, allow_private: bool, inner: httpcore.AsyncNetworkBackend | None = None,
                 ttl_seconds: float = 30.0) -> None:
        self.allow_private = allow_private
        self._inner = inner or httpcore.AnyIOBackend()
        self._ttl = ttl_seconds
        # (host, port) -> (expires_at, addresses to connect to | the refusal message)
        self._verdicts: dict[tuple[str, int], tuple[float, tuple[str, ...] | str]] = {}

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: typing.Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.vetted_addresses(host, port, timeout)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # vetted_addresses never returns an empty tuple
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: typing.Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UpstreamURLRefused("Upstream URL refused: unix sockets are not upstreams.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)

    async def vetted_addresses(self, host: str, port: int,
                               resolve_timeout: float | None = None) -> tuple[str, ...]:
        now = time.monotonic()
        hit = self._verdicts.get((host, port))
        if hit is None or hit[0] <= now:
            hit = (now + self._ttl, await self._judge(host, port, resolve_timeout))
            self._verdicts[(host, port)] = hit
        if isinstance(hit[1], str):
            raise UpstreamURLRefused(f"Upstream URL refused: {hit[1]}.")
        return hit[1]

    async def _judge(self, host: str, port: int,
                     resolve_timeout: float | None) -> tuple[str, ...] | str:
        refusal = urlpolicy.host_refusal(host, self.allow_private)
        if refusal:
            return refusal
        ip = urlpolicy.literal_ip(host)
        if ip is not None:
            return (str(ip),)
        try:
            with anyio.fail_after(resolve_timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"Resolving {host} timed out.") from None
        except (OSError, UnicodeError):
            raise httpcore.ConnectError(f"{host} could not be resolved.") from None
        addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise httpcore.ConnectError(f"{host} could not be resolved.")
        refusal = urlpolicy.addresses_refusal(host, addresses, self.allow_private)
        return refusal or addresses


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, over a leaner pool (``pool``) with the guarded backend."""

    def __init__(self, allow_private: bool, limits: httpx.Limits = DEFAULT_LIMITS,
                 ttl_seconds: float = 30.0) -> None:
        super().__init__(limits=limits, http1=True, http2=False, trust_env=False)
        self.backend = GuardedBackend(allow_private, ttl_seconds=ttl_seconds)
        # httpx has no public seam for a pool or a network backend; rebuild its pool.
        # tests/unit/test_urlpolicy.py pins this, so an httpx upgrade cannot silently
        # drop the guard.
        self._pool = LeanConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True, http2=False,
            network_backend=self.backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise UpstreamURLRefused("Upstream URL refused: only http and https are allowed.")
        if url.userinfo:
            raise UpstreamURLRefused("Upstream URL refused: it must not contain a user name "
                                     "or password.")
        response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = DrainOnClose(response.stream)
        return response


class DrainOnClose(httpx.AsyncByteStream):
    """A response body that, closed before its end, first reads what is left of it when
    that is little and already arriving.

    Stream adapters stop reading at the provider's last event (``[DONE]``,
    ``message_stop``), a few bytes before the body's own end (the chunked terminator).
    httpcore closes a connection whose body was not read to the end, so every streamed
    answer would cost a new TCP connection — and a TLS handshake — to the provider.
    Reading the rest, bounded in bytes and time, returns the connection to the pool. A
    body that is not about to end (a caller that went away mid-answer) is cut as before.
    """

    max_bytes = 64 * 1024
    max_seconds = 0.1

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream
        self._iterator: typing.AsyncIterator[bytes] | None = None
        self._ended = False

    def __aiter__(self) -> typing.AsyncIterator[bytes]:
        if self._iterator is None:
            self._iterator = self._stream.__aiter__()
        return self

    async def __anext__(self) -> bytes:
        assert self._iterator is not None
        try:
            return await self._iterator.__anext__()
        except StopAsyncIteration:
            self._ended = True
            raise

    async def aclose(self) -> None:
        try:
            if self._iterator is not None and not self._ended:
                await self._drain(self._iterator)
        finally:
            await self._stream.aclose()

    async def _drain(self, iterator: typing.AsyncIterator[bytes]) -> None:
        left = self.max_bytes
        with anyio.move_on_after(self.max_seconds):
            try:
                async for chunk in iterator:
                    left -= len(chunk)
                    if left < 0:
                        return
            except httpx.HTTPError:
                return


class NoCookies(CookieJar):
    """A jar that keeps nothing. The client is shared by every key: a cookie one
    provider account set must never ride along on another key's request."""

    def set_cookie(self, cookie: Cookie) -> None:
        return None

    def extract_cookies(self, response: typing.Any, request: typing.Any) -> None:
        return None


def create_client(allow_private: bool, *, limits: httpx.Limits = DEFAULT_LIMITS,
                  timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """The process's one upstream client; close it at shutdown (``await c.aclose()``)."""
    # httpx logs every upstream request at INFO: a duplicate of the server's access log,
    # and one more write per request on the hot path.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private, limits=limits),
        follow_redirects=False,
        timeout=timeout,
        # No proxy, netrc or SSL_CERT_* from the environment: a proxy would hide the real
        # destination from the guard, and netrc could attach credentials to a request.
        trust_env=False,
        headers={"user-agent": USER_AGENT},
        cookies=NoCookies(),
    )
