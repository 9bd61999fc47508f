"""Which upstream URLs a key may point at (the SSRF guard).

A key's base or endpoint URL is operator input that the gateway later sends a credential
to, so it is the classic exfiltration path (LiteLLM and MLflow advisories): a URL aimed at
a cloud metadata service, a loopback admin port or an internal host must be refused.

The rule, unless the operator allows private upstreams (local models, tests):
http(s) only, no userinfo, and every address the host stands for must be globally
routable — no private, loopback, link-local, CGNAT, multicast, reserved or unspecified
address, no IPv4 hidden inside IPv6 (mapped, compatible, 6to4, NAT64, Teredo), and no
numeric tricks (``2130706433``, ``0177.0.0.1``, ``0x7f.1``), which are normalised the way
the C resolver reads them before they are judged. Cloud metadata services are refused
even when private upstreams are allowed: no local model lives there.

``check_url`` runs when a key is saved; ``keyhouse.gateway.upstream`` checks the address
again at connect time, against DNS rebinding.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from keyhouse.errors import UpstreamURLRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, ...
        "169.254.170.2",  # ECS task metadata
        "169.254.169.123",  # AWS time sync
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS over IPv6
    )
)

# Ranges ``ipaddress`` calls global but that must never be an upstream.
_EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "100.64.0.0/10",  # CGNAT (shared address space)
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "fec0::/10",  # deprecated site-local
        "::/96",  # deprecated IPv4-compatible IPv6
        "2001::/32",  # Teredo (embeds a client IPv4)
    )
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))

# Characters a dotted-number IPv4 form can use (decimal, octal, hex; 1 to 4 parts).
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$")

_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")

# Added to a refusal that the setting would lift, so the operator learns both the switch
# and why it is off: a key's URL is where its credential is sent.
PRIVATE_HINT = (
    "Set KEYHOUSE_ALLOW_PRIVATE_UPSTREAMS=true on the server to allow loopback "
    "and private addresses (local models such as Ollama, tests); it is off by "
    "default because whoever can edit a key could otherwise aim the gateway, "
    "with its credentials, at internal services."
)


def _refused(refusal: str, host: str, allow_private: bool) -> UpstreamURLRefused:
    hint = ""
    if not allow_private and host_refusal(host, True) is None and "metadata" not in refusal:
        hint = " " + PRIVATE_HINT
    return UpstreamURLRefused(f"Upstream URL refused: {refusal}.{hint}")


def check_url(url: str, allow_private: bool) -> None:
    """Raise ``UpstreamURLRefused`` unless ``url`` may be an upstream.

    A host name is resolved (getaddrinfo) and refused when ANY of its addresses is not
    allowed (when private upstreams are allowed, only literal addresses and names are
    judged). A name that does not resolve now is accepted: the connect-time check in the
    shared client refuses it later if it ever resolves somewhere it must not.
    """
    host, port = split_url(url)
    refusal = host_refusal(host, allow_private)
    if refusal:
        raise _refused(refusal, host, allow_private)
    if literal_ip(host) is not None or allow_private:
        # With private upstreams allowed, a name could only be refused for resolving to a
        # metadata address, which the connect-time guard refuses anyway: skip the lookup
        # (and its latency) on save.
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return
    refusal = addresses_refusal(host, (str(info[4][0]) for info in infos), allow_private)
    if refusal:
        raise _refused(refusal, host, allow_private)


def split_url(url: str) -> tuple[str, int]:
    """The normalised host and port of an http(s) URL without userinfo, or a refusal."""
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise UpstreamURLRefused(
            "Upstream URL refused: it must be a URL of at most 2048 characters."
        )
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url) or "\\" in url:
        raise UpstreamURLRefused(
            "Upstream URL refused: it contains spaces, control characters or backslashes."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UpstreamURLRefused("Upstream URL refused: it is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UpstreamURLRefused("Upstream URL refused: only http and https are allowed.")
    if "@" in parts.netloc:
        raise UpstreamURLRefused(
            "Upstream URL refused: it must not contain a user name or password."
        )
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UpstreamURLRefused("Upstream URL refused: it has no host.")
    return host, port or (443 if scheme == "https" else 80)


def literal_ip(host: str) -> IPAddress | None:
    """The address a numeric host stands for, read the way the C resolver reads it
    (``2130706433``, ``0177.0.0.1`` and ``0x7f.1`` are all 127.0.0.1), else None."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host.lower()):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


def host_refusal(host: str, allow_private: bool) -> str | None:
    """Why ``host`` (a name or a literal address) is refused before resolving, or None."""
    host = host.strip("[]").rstrip(".").lower()
    ip = literal_ip(host)
    if ip is not None:
        return address_refusal(ip, allow_private)
    if host in METADATA_HOSTS:
        return f"{host} is a cloud metadata service"
    if allow_private:
        return None
    if _NUMERIC_HOST.match(host):
        return f"{host} is not a valid address"
    if host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        return f"{host} is a local name"
    return None


def addresses_refusal(host: str, addresses: Iterable[str], allow_private: bool) -> str | None:
    """Why a name is refused given every address it resolved to, or None."""
    for text in addresses:
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            return f"{host} resolved to an address that cannot be read"
        why = address_refusal(ip, allow_private)
        if why:
            return f"{host} resolves to {why}"
    return None


def address_refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """Why an upstream may not be at ``ip``, or None."""
    embedded = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    if ip in METADATA_ADDRESSES or embedded in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    if allow_private:
        return None
    if embedded is not None:
        why = address_refusal(embedded, allow_private)
        if why or (isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None):
            return f"{ip} embeds an IPv4 address" + (f" ({why})" if why else "")
    if (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
        or any(ip in net for net in _EXTRA_BLOCKED)
    ):
        return f"{ip} is not a public address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None
