"""SECURITY test 12: upstream URLs that point inside the network are refused."""

from __future__ import annotations

import re
import socket
from typing import Any

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from keyhouse.errors import UpstreamError, UpstreamUnavailable, UpstreamURLRefused
from keyhouse.gateway.send import send
from keyhouse.gateway.upstream import GuardedResolver, Upstream
from keyhouse.providers.base import Call, Credential
from keyhouse.shared.urlpolicy import check_url, literal_ip
from keyhouse.testing.fakes.server import serve

REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[fd00:ec2::254]/",
    "http://localhost:8080/v1",
    "http://LOCALHOST./v1",
    "http://api.localhost/v1",
    "http://127.0.0.1/v1",
    "http://127.1/",
    "http://10.0.0.5/v1",
    "http://10.255.255.255/",
    "http://172.16.3.4/",
    "http://192.168.1.10/v1",
    "http://100.64.1.1/",  # CGNAT
    "http://0.0.0.0/",
    "http://224.0.0.1/",  # multicast
    "http://[::1]/v1",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[::ffff:127.0.0.1]/v1",  # IPv4-mapped IPv6
    "http://[::ffff:8.8.8.8]/",  # mapped, even when public: there is no reason for it
    "http://[::ffff:a9fe:a9fe]/",  # mapped metadata, hex form
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://2130706433/",  # decimal 127.0.0.1
    "http://0177.0.0.1/",  # octal
    "http://0x7f.0.0.1/",  # hex
    "http://0x7f000001/",
    "http://017700000001/",
    "http://2852039166/",  # decimal 169.254.169.254
    "http://user:pass@api.example.com/v1",
    "http://sk-secret@api.example.com/v1",
    "ftp://api.example.com/v1",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "javascript:alert(1)",
    "http:///v1",
    "http://api.example.com:99999/",
    "http://api.exa mple.com/",
    "http://api.example.com\r\nHost: evil/",
    "",
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused_when_private_upstreams_are_not_allowed(url: str) -> None:
    with pytest.raises(UpstreamURLRefused) as info:
        check_url(url, allow_private=False)
    assert info.value.status == 400
    assert info.value.code == "upstream_url_refused"


def test_refusal_never_echoes_userinfo() -> None:
    with pytest.raises(UpstreamURLRefused) as info:
        check_url("https://sk-live-very-secret:x@api.example.com/v1", allow_private=False)
    assert "sk-live-very-secret" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1",
        "https://8.8.8.8/v1",
        "https://[2606:4700:4700::1111]/v1",
        "http://api.example.com:8080/v1?api-version=1",
        "https://my-resource.openai.azure.com",
    ],
)
def test_public_urls_pass(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolver({"*": ["93.184.216.34"]}))
    check_url(url, allow_private=False)


def test_a_name_that_resolves_to_loopback_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolver({"evil.example": ["127.0.0.1"]}))
    with pytest.raises(UpstreamURLRefused, match=re.escape("127.0.0.1")):
        check_url("https://evil.example/v1", allow_private=False)


def test_a_name_is_refused_when_any_address_is_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        socket, "getaddrinfo", _resolver({"mixed.example": ["93.184.216.34", "10.0.0.7"]})
    )
    with pytest.raises(UpstreamURLRefused, match=re.escape("10.0.0.7")):
        check_url("https://mixed.example/v1", allow_private=False)


def test_an_unresolvable_name_is_left_to_the_connect_time_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    check_url("https://not-yet-in-dns.example/v1", allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434/v1",
        "http://localhost:8000",
        "http://10.1.2.3/v1",
        "http://[::1]:9000/",
    ],
)
def test_private_upstreams_pass_when_the_setting_allows_them(url: str) -> None:
    check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "http://metadata.google.internal/",
        "http://2852039166/",
        "http://[::ffff:169.254.169.254]/",
        "ftp://127.0.0.1/",
        "http://u:p@127.0.0.1/",
    ],
)
def test_metadata_scheme_and_userinfo_are_refused_even_when_private_is_allowed(url: str) -> None:
    with pytest.raises(UpstreamURLRefused):
        check_url(url, allow_private=True)


def test_numeric_hosts_are_read_like_the_c_resolver() -> None:
    assert str(literal_ip("2130706433")) == "127.0.0.1"
    assert str(literal_ip("0177.0.0.1")) == "127.0.0.1"
    assert str(literal_ip("0x7f.1")) == "127.0.0.1"
    assert str(literal_ip("[::1]")) == "::1"
    assert literal_ip("api.openai.com") is None


def _resolver(table: dict[str, list[str]]) -> Any:
    def getaddrinfo(host: str | bytes, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if isinstance(host, bytes):  # anyio passes the IDNA-encoded name
            host = host.decode()
        addresses = table.get(host) or table.get("*")
        if addresses is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port or 0),
            )
            for a in addresses
        ]

    return getaddrinfo


# --- the connect-time guard of the shared client --------------------------------------


def _upstream() -> Starlette:
    async def ok(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def redirect(request: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=302)

    return Starlette(routes=[Route("/ok", ok), Route("/redirect", redirect)])


async def _get(upstream: Upstream, url: str, **kwargs: Any) -> tuple[int, Any]:
    """A request on the shared session itself: the guard must hold there, whatever
    sends through it."""
    async with upstream.session.get(url, **kwargs) as response:
        body = await response.read()
        return response.status, body


@pytest.mark.anyio
async def test_the_shared_client_is_configured_as_the_policy_needs() -> None:
    async with Upstream(allow_private=False) as upstream:
        session = upstream.session
        assert isinstance(session.cookie_jar, aiohttp.DummyCookieJar)
        assert session.trust_env is False
        connector = session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        assert isinstance(connector._resolver, GuardedResolver)  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_the_client_refuses_a_loopback_upstream_at_connect_time() -> None:
    with serve(_upstream()) as server:
        async with Upstream(allow_private=False) as upstream:
            with pytest.raises(UpstreamURLRefused, match=re.escape("127.0.0.1")):
                await _get(upstream, f"{server.url}/ok")
            with pytest.raises(UpstreamURLRefused):
                await _get(upstream, f"http://localhost:{server.port}/ok")
            with pytest.raises(UpstreamURLRefused):  # a numeric trick, through the resolver
                await _get(upstream, f"http://2130706433:{server.port}/ok")
        async with Upstream(allow_private=True) as upstream:
            assert await _get(upstream, f"{server.url}/ok") == (200, b'{"ok":true}')


@pytest.mark.anyio
async def test_dns_rebinding_is_caught_at_connect_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # The name passed check_url with a public address, then DNS answers loopback.
    answers = {"rebind.example": ["93.184.216.34"]}
    monkeypatch.setattr(socket, "getaddrinfo", _resolver(answers))
    check_url("http://rebind.example/v1", allow_private=False)
    answers["rebind.example"] = ["127.0.0.1"]
    async with Upstream(allow_private=False) as upstream:
        with pytest.raises(UpstreamURLRefused, match=re.escape("rebind.example")):
            await _get(upstream, "http://rebind.example/v1")


@pytest.mark.anyio
async def test_one_bad_address_among_good_ones_refuses_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        socket, "getaddrinfo", _resolver({"mixed.example": ["93.184.216.34", "169.254.169.254"]})
    )
    async with Upstream(allow_private=True) as upstream:  # metadata: refused even so
        with pytest.raises(UpstreamURLRefused, match="metadata"):
            await _get(upstream, "http://mixed.example/v1")


@pytest.mark.anyio
async def test_the_guard_connects_to_the_address_it_checked_and_caches_the_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lookups: list[str] = []
    base = _resolver({"model.internal-lab": ["127.0.0.1"]})

    def counting(host: str | bytes, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host.decode() if isinstance(host, bytes) else host)
        return base(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    with serve(_upstream()) as server:
        async with Upstream(allow_private=True) as upstream:
            for _ in range(3):
                url = f"http://model.internal-lab:{server.port}/ok"
                assert await _get(upstream, url) == (200, b'{"ok":true}')
    assert lookups == ["model.internal-lab"]


@pytest.mark.anyio
async def test_a_redirect_is_not_followed() -> None:
    with serve(_upstream()) as server:
        async with Upstream(allow_private=True) as upstream:
            credential = Credential("k", "openai", "api_key", {}, {})
            call = Call(upstream, credential, "m")
            with pytest.raises(UpstreamError) as caught:
                await send(call, "GET", f"{server.url}/redirect")
            assert caught.value.upstream_status == 302
            # Even a request on the session that asks to follow it cannot reach the
            # metadata address: the guard judges every hop.
            with pytest.raises(UpstreamURLRefused, match="metadata"):
                await _get(upstream, f"{server.url}/redirect", allow_redirects=True)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "http://user:pw@127.0.0.1/x", "http://[::ffff:169.254.169.254]/x"]
)
async def test_schemes_userinfo_and_literal_addresses_are_judged_per_request(url: str) -> None:
    async with Upstream(allow_private=True) as upstream:
        call = Call(upstream, Credential("k", "openai", "api_key", {}, {}), "m")
        with pytest.raises(UpstreamURLRefused):
            await send(call, "GET", url)


@pytest.mark.anyio
async def test_a_name_that_does_not_resolve_is_a_connect_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolver({}))
    async with Upstream(allow_private=False) as upstream:
        with pytest.raises(aiohttp.ClientConnectorError):
            await _get(upstream, "https://nowhere.example/v1")
        call = Call(upstream, Credential("k", "openai", "api_key", {}, {}), "m")
        with pytest.raises(UpstreamUnavailable, match="could not be reached"):
            await send(call, "GET", "https://nowhere.example/v1")


@pytest.mark.anyio
async def test_the_shared_client_keeps_no_cookies() -> None:
    # One client serves every key: a cookie set for one account must not reach another.
    async def set_cookie(request: Request) -> Response:
        response = JSONResponse({"cookie": request.headers.get("cookie")})
        response.set_cookie("session", "account-a")
        return response

    with serve(Starlette(routes=[Route("/c", set_cookie)])) as server:
        async with Upstream(allow_private=True) as upstream:
            async with upstream.session.get(f"{server.url}/c") as first:
                assert "set-cookie" in first.headers
            assert await _get(upstream, f"{server.url}/c") == (200, b'{"cookie":null}')
            assert len(upstream.session.cookie_jar) == 0
