"""Fetching images named by http(s) URLs in OpenAI messages — safely.

Only public addresses are contacted: every address the host resolves to must be a
global unicast address (no loopback, private, link-local, multicast or reserved ranges),
the connection goes to the address that was checked, redirects are not followed, the
body is capped, and only ``image/*`` content is accepted.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import ResolveResult

__all__ = ["FetchError", "fetch_image"]


class FetchError(Exception):
    """The URL may not be fetched, or did not give an acceptable image."""


async def _public_address(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise FetchError(f"cannot resolve {host!r}") from None
    addresses = {str(info[4][0]) for info in infos}
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not allow_private and not ip.is_global:
            raise FetchError(f"{host!r} resolves to a non-public address; refusing to fetch it")
    return sorted(addresses)[0]


async def fetch_image(
    url: str, *, max_bytes: int, seconds: float = 10.0, allow_private: bool = False
) -> str:
    """A ``data:`` URL with the image at ``url``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("image URLs must be http(s) or data: URLs")
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
                raise FetchError(f"fetching the image gave HTTP {response.status}")
            mime = response.headers.get("content-type", "").split(";")[0].strip()
            if not mime.startswith("image/"):
                raise FetchError(f"the URL is not an image (content-type {mime or 'missing'})")
            body = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"the image exceeds {max_bytes} bytes")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FetchError(f"fetching the image failed: {type(exc).__name__}") from None
    return f"data:{mime};base64,{base64.b64encode(bytes(body)).decode()}"


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
