"""SECURITY test 12: upstream URLs that point inside the network are refused."""

from __future__ import annotations

import re
import socket
from typing import Any

import httpcore
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from keyhouse.errors import UpstreamURLRefused
from keyhouse.gateway.http import GuardedBackend, create_client
from keyhouse.gateway.pool import LeanConnectionPool
from keyhouse.gateway.urlpolicy import check_url, literal_ip
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
    "http://100.64.1.1/",            # CGNAT
    "http://0.0.0.0/",
    "http://224.0.0.1/",             # multicast
    "http://[::1]/v1",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[::ffff:127.0.0.1]/v1",  # IPv4-mapped IPv6
    "http://[::ffff:8.8.8.8]/",      # mapped, even when public: there is no reason for it
    "http://[::ffff:a9fe:a9fe]/",    # mapped metadata, hex form
    "http://[64:ff9b::a00:1]/",      # NAT64 of 10.0.0.1
    "http://[2002:7f00:1::]/",       # 6to4 of 127.0.0.1
    "http://2130706433/",            # decimal 127.0.0.1
    "http://0177.0.0.1/",            # octal
    "http://0x7f.0.0.1/",            # hex
    "http://0x7f000001/",
    "http://017700000001/",
    "http://2852039166/",            # decimal 169.254.169.254
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


@pytest.mark.parametrize("url", [
    "https://api.openai.com/v1",
    "https://8.8.8.8/v1",
    "https://[2606:4700:4700::1111]/v1",
    "http://api.example.com:8080/v1?api-version=1",
    "https://my-resource.openai.azure.com",
])
def test_public_urls_pass(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolver({"*": ["93.184.216.34"]}))
    check_url(url, allow_private=False)


def test_a_name_that_resolves_to_loopback_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolver({"evil.example": ["127.0.0.1"]}))
    with pytest.raises(UpstreamURLRefused, match=re.escape("127.0.0.1")):
        check_url("https://evil.example/v1", allow_private=False)


def test_a_name_is_refused_when_any_address_is_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo",
                        _resolver({"mixed.example": ["93.184.216.34", "10.0.0.7"]}))
    with pytest.raises(UpstreamURLRefused, match=re.escape("10.0.0.7")):
        check_url("https://mixed.example/v1", allow_private=False)


def test_an_unresolvable_name_is_left_to_the_connect_time_check(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", fail)
    check_url("https://not-yet-in-dns.example/v1", allow_private=False)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:11434/v1", "http://localhost:8000", "http://10.1.2.3/v1",
    "http://[::1]:9000/",
])
def test_private_upstreams_pass_when_the_setting_allows_them(url: str) -> None:
    check_url(url, allow_private=True)


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/", "http://metadata.google.internal/", "http://2852039166/",
    "http://[::ffff:169.254.169.254]/", "ftp://127.0.0.1/", "http://u:p@127.0.0.1/",
])
def test_metadata_scheme_and_userinfo_are_refused_even_when_private_is_allowed(
        url: str) -> None:
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
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port or 0)) for a in addresses]
    return getaddrinfo


# --- the connect-time guard of the shared client --------------------------------------


def _upstream() -> Starlette:
    async def ok(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def redirect(request: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=302)

    return Starlette(routes=[Route("/ok", ok), Route("/redirect", redirect)])


def test_the_shared_client_keeps_the_guard_under_its_pool() -> None:
    # The guard sits on a private seam of httpx; this fails loudly if an upgrade drops it.
    client = create_client(allow_private=False)
    pool = client._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool, LeanConnectionPool)
    assert isinstance(pool._network_backend, GuardedBackend)
    assert client.follow_redirects is False
    assert client._trust_env is False


@pytest.mark.anyio
async def test_the_client_refuses_a_loopback_upstream_at_connect_time() -> None:
    with serve(_upstream()) as server:
        async with create_client(allow_private=False) as client:
            with pytest.raises(UpstreamURLRefused, match=re.escape("127.0.0.1")):
                await client.get(f"{server.url}/ok")
            with pytest.raises(UpstreamURLRefused):
                await client.get(f"http://localhost:{server.port}/ok")
        async with create_client(allow_private=True) as client:
            assert (await client.get(f"{server.url}/ok")).json() == {"ok": True}


@pytest.mark.anyio
async def test_dns_rebinding_is_caught_at_connect_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # The name passed check_url with a public address, then DNS answers loopback.
    answers = {"rebind.example": ["93.184.216.34"]}
    monkeypatch.setattr(socket, "getaddrinfo", _resolver(answers))
    check_url("http://rebind.example/v1", allow_private=False)
    answers["rebind.example"] = ["127.0.0.1"]
    async with create_client(allow_private=False) as client:
        with pytest.raises(UpstreamURLRefused, match=re.escape("rebind.example")):
            await client.get("http://rebind.example/v1")


@pytest.mark.anyio
async def test_the_guard_connects_to_the_address_it_checked_and_caches_the_verdict(
        monkeypatch: pytest.MonkeyPatch) -> None:
    lookups: list[str] = []
    base = _resolver({"model.internal-lab": ["127.0.0.1"]})

    def counting(host: str | bytes, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host.decode() if isinstance(host, bytes) else host)
        return base(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    with serve(_upstream()) as server:
        async with create_client(allow_private=True) as client:
            for _ in range(3):
                response = await client.get(f"http://model.internal-lab:{server.port}/ok")
                assert response.json() == {"ok": True}
    assert lookups == ["model.internal-lab"]


@pytest.mark.anyio
async def test_a_redirect_is_not_followed() -> None:
    with serve(_upstream()) as server:
        async with create_client(allow_private=True) as client:
            response = await client.get(f"{server.url}/redirect")
            assert response.status_code == 302
            assert response.next_request is not None
            # Even a caller that asks to follow it cannot reach the metadata address.
            with pytest.raises(UpstreamURLRefused, match="metadata"):
                await client.get(f"{server.url}/redirect", follow_redirects=True)


@pytest.mark.anyio
async def test_unix_sockets_are_refused() -> None:
    with pytest.raises(UpstreamURLRefused):
        await GuardedBackend(allow_private=True).connect_unix_socket("/run/docker.sock")


@pytest.mark.anyio
async def test_a_name_that_does_not_resolve_is_a_connect_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolver({}))
    with pytest.raises(httpcore.ConnectError):
        await GuardedBackend(allow_private=False).connect_tcp("nowhere.example", 443)
    async with create_client(allow_private=False) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("https://nowhere.example/v1")


@pytest.mark.anyio
async def test_the_shared_client_keeps_no_cookies() -> None:
    # One client serves every key: a cookie set for one account must not reach another.
    async def set_cookie(request: Request) -> Response:
        response = JSONResponse({"cookie": request.headers.get("cookie")})
        response.set_cookie("session", "account-a")
        return response

    with serve(Starlette(routes=[Route("/c", set_cookie)])) as server:
        async with create_client(allow_private=True) as client:
            first = await client.get(f"{server.url}/c")
            assert "set-cookie" in first.headers
            second = await client.get(f"{server.url}/c")
            assert second.json() == {"cookie": None}
            assert not client.cookies
