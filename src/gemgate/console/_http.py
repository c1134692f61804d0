"""A small blocking client of a running gateway, whose failures are one line each.

Every failure is a :class:`GatewayError` whose message can be printed as it is: the
gateway cannot be reached, did not answer in time, refused the key (401), or answered
another error status (with the gateway's ``detail``).

Example::

    with GatewayClient("http://127.0.0.1:8080", key=None) as gateway:
        report = gateway.get_json("/api/v1/quota")
        for event in gateway.events("/api/v1/sessions/abc/messages", {"content": "Hi"}):
            print(event["type"])
"""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping
from typing import Annotated, Any, NoReturn

import httpx2
import typer
from rich.console import Console
from rich.text import Text

from gemgate.wire.sse import SSEDecoder

__all__ = [
    "DEFAULT_URL",
    "GatewayClient",
    "GatewayError",
    "JsonOption",
    "KeyOption",
    "UrlOption",
    "fail",
]

DEFAULT_URL = "http://127.0.0.1:8080"

JsonOption = Annotated[bool, typer.Option("--json", help="Print the gateway's JSON as it is.")]
UrlOption = Annotated[
    str, typer.Option("--url", envvar="GEMGATE_URL", help="The running gateway's address.")
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="GEMGATE_KEY",
        help="A gateway key, for a gateway that has gateway keys configured.",
        show_default=False,
    ),
]


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with status 1."""
    Console(stderr=True, soft_wrap=True).print(Text.assemble(("error: ", "red"), message))
    raise typer.Exit(1)


class GatewayError(Exception):
    """A failure talking to the gateway; ``str()`` is one line for the user."""

    def __init__(self, message: str, status: int | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        """The gateway's own words, for an error status."""

    @property
    def short(self) -> str:
        """``404 the gateway's words`` for an error status; else the whole message."""
        return f"{self.status} {self.detail}" if self.status and self.detail else str(self)


class GatewayClient:
    """Blocking JSON and server-sent-event requests to one gateway.

    Args:
        url: The gateway's base URL (``http://127.0.0.1:8080``).
        key: A gateway key, sent as ``Authorization: Bearer`` (None: no key).
        timeout: Seconds to wait for an answer (a stream may pause this long between events).
    """

    def __init__(self, url: str, key: str | None, *, timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        headers = {"authorization": f"Bearer {key}"} if key else {}
        self._http = httpx2.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx2.Timeout(timeout, connect=5.0),
            trust_env=False,  # a gateway on loopback is not reached through a proxy
        )

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def get_json(self, path: str) -> dict[str, Any]:
        """``GET path``: the JSON object answered."""
        return self._json("GET", path, None)

    def post_json(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST path`` with a JSON body: the JSON object answered."""
        return self._json("POST", path, body)

    def _json(self, method: str, path: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        with self._failures():
            response = self._http.request(method, path, json=body)
        self._check(response, path)
        try:
            value = response.json()
        except ValueError:
            raise GatewayError(f"{self.url}{path}: the answer is not JSON") from None
        return value if isinstance(value, dict) else {"value": value}

    def events(self, path: str, body: Mapping[str, Any]) -> Generator[dict[str, Any], None, None]:
        """``POST path`` with a JSON body, answered with server-sent events: each event's JSON.

        Closing the iterator early (``Ctrl-C``, ``break``) closes the response, which stops
        the gateway's turn.
        """
        with self._failures(), self._http.stream("POST", path, json=body) as response:
            if response.status_code >= 400:
                response.read()
            self._check(response, path)
            decoder = SSEDecoder()
            for chunk in response.iter_bytes():
                for event in decoder.feed(chunk):
                    yield _event(event.data)
            for event in decoder.flush():
                yield _event(event.data)

    def _failures(self) -> _Failures:
        return _Failures(self.url)

    def _check(self, response: httpx2.Response, path: str) -> None:
        status = response.status_code
        if status < 400:
            return
        detail = _detail(response)
        if status == 401:
            raise GatewayError(
                f"{self.url}: 401 {detail} — pass a valid gateway key with --key or GEMGATE_KEY",
                status,
            )
        raise GatewayError(f"{self.url}{path}: {status} {detail}", status, detail)


class _Failures:
    """Turns transport failures into one-line :class:`GatewayError` s."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is None or not isinstance(exc, httpx2.TransportError):
            return
        if isinstance(exc, httpx2.ConnectError):
            why = str(exc) or type(exc).__name__
            if "refused" in why.lower():
                why = "connection refused"
            raise GatewayError(
                f"cannot reach {self.url}: {why} — is `gemgate serve` running?"
            ) from None
        if isinstance(exc, httpx2.TimeoutException):
            raise GatewayError(f"{self.url} did not answer in time") from None
        why = str(exc) or type(exc).__name__
        raise GatewayError(f"lost the connection to {self.url}: {why}") from None


def _detail(response: httpx2.Response) -> str:
    """The gateway's error message: ``detail``, or an error object's ``message``."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(body, dict):
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return response.reason_phrase


def _event(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {"type": "error", "message": f"malformed event from the gateway: {data[:80]}"}
    return value if isinstance(value, dict) else {"type": "error", "message": "malformed event"}
