"""Fetching URLs for callers — images in OpenAI messages, documents for stores — safely.

Only public addresses are contacted: every address the host resolves to must be a
global unicast address (no loopback, private, link-local, multicast or reserved ranges,
nor an IPv6 address embedding such an IPv4 one: mapped, compatible, NAT64, 6to4, Teredo),
the connection goes to the address that was checked, redirects are not followed and the
body is capped. Images must be ``image/*`` content; documents may be of any type (the
store's parser judges them).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import ResolveResult

__all__ = ["FetchError", "fetch_document", "fetch_image"]


class FetchError(Exception):
    """The URL may not be fetched, or did not give an acceptable image or document.

    ``status`` is the HTTP status a caller answers with: 413 for a body over the cap,
    else 400.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE = ipaddress.ip_network("::/96")


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A global unicast address; an IPv6 one that embeds an IPv4 address is judged by it."""
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if ip in _NAT64 or ip in _COMPATIBLE:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _is_public(embedded)
    return True


async def _public_address(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise FetchError(f"cannot resolve {host!r}") from None
    addresses = {str(info[4][0]) for info in infos}
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not allow_private and not _is_public(ip):
            raise FetchError(f"{host!r} resolves to a non-public address; refusing to fetch it")
    return sorted(addresses)[0]


async def fetch_image(
    url: str, *, max_bytes: int, seconds: float = 10.0, allow_private: bool = False
) -> str:
    """A ``data:`` URL with the image at ``url``."""
    mime, body = await _fetch(url, "image", max_bytes, seconds, allow_private)
    return f"data:{mime};base64,{base64.b64encode(body).decode()}"


async def fetch_document(
    url: str, *, max_bytes: int, seconds: float = 30.0, allow_private: bool = False
) -> tuple[str, bytes]:
    """The content type (``""`` when none was given) and bytes of the document at ``url``."""
    return await _fetch(url, "document", max_bytes, seconds, allow_private)


async def _fetch(
    url: str, kind: str, max_bytes: int, seconds: float, allow_private: bool
) -> tuple[str, bytes]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        allowed = "http(s) or data: URLs" if kind == "image" else "http(s) URLs"
        raise FetchError(f"{kind} URLs must be {allowed}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = await _public_address(parts.hostname, port, allow_private)
    resolver = _PinnedResolver(parts.hostname, address)
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
    client_timeout = aiohttp.ClientTimeout(total=seconds)
    try:
        async with (
            aiohttp.ClientSession(
                connector=connector, timeout=client_timeout, trust_env=False
            ) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            if response.status != 200:
                raise FetchError(f"fetching the {kind} gave HTTP {response.status}")
            mime = response.headers.get("content-type", "").split(";")[0].strip()
            if kind == "image" and not mime.startswith("image/"):
                raise FetchError(f"the URL is not an image (content-type {mime or 'missing'})")
            body = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"the {kind} exceeds {max_bytes} bytes", 413)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FetchError(f"fetching the {kind} failed: {type(exc).__name__}") from None
    return mime, bytes(body)


class _PinnedResolver(aiohttp.abc.AbstractResolver):
    """Resolves the checked host to the checked address only (no DNS rebinding)."""

    def __init__(self, host: str, address: str) -> None:
        self._host, self._address = host, address

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        if host != self._host:
            raise OSError(f"unexpected host {host!r}")
        kind = socket.AF_INET6 if ":" in self._address else socket.AF_INET
        return [
            {
                "hostname": host,
                "host": self._address,
                "port": port,
                "family": kind,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None
