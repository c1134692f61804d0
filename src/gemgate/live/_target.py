"""Where Live sessions connect: the upstream's ``wss://`` address and whom to trust there.

The official SDK always opens Live sessions with ``wss://`` on the host of its base URL.
For a real upstream that is Google (or the configured ``upstream_url``, trusted through
``tls_ca_file`` when it has its own certificate authority, as ``gemgate emulate --tls``
does). When the client runs on its in-process emulator, there is no socket to connect
to, so the first Live session serves that same emulator over TLS on a loopback port.
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gemgate.upstream._driver import ASGIDriver
from gemgate.upstream._engine import Engine

if TYPE_CHECKING:
    from gemgate.serving import Served

__all__ = ["LiveTarget", "Targets"]


@dataclass(frozen=True)
class LiveTarget:
    """A base URL for the SDK and the SSL context it needs (``None``: system trust)."""

    base_url: str
    ssl: ssl.SSLContext | None


class Targets:
    """Resolves (once) and owns the Live target of one client core."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._target: LiveTarget | None = None
        self._lock = asyncio.Lock()
        self._served: Served | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    async def get(self) -> LiveTarget:
        """The target, starting the loopback TLS emulator on first use if needed."""
        if self._target is None:
            async with self._lock:
                if self._target is None:
                    self._target = await self._resolve()
        return self._target

    async def _resolve(self) -> LiveTarget:
        driver = self._engine.driver
        if isinstance(driver, ASGIDriver):
            return await self._serve(driver.app)
        ca = self._engine.settings.tls_ca_file
        context = ssl.create_default_context(cafile=ca) if ca else None
        return LiveTarget(driver.base_url, context)

    async def _serve(self, app: Any) -> LiveTarget:
        from gemgate.emulator._tls import client_context, self_signed
        from gemgate.serving import serve_in_loop  # uvicorn: only for the local emulator

        self._dir = tempfile.TemporaryDirectory(prefix="gemgate-live-")
        files = self_signed(Path(self._dir.name))
        self._served = await serve_in_loop(app, certfile=str(files.cert), keyfile=str(files.key))
        return LiveTarget(self._served.base_url, client_context(files.ca))

    async def aclose(self) -> None:
        """Stop the loopback emulator, if one was started."""
        if self._served is not None:
            await self._served.stop()
            self._served = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
        self._target = None
