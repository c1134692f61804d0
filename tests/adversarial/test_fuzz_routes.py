"""Schemathesis over every route of the gateway's own /openapi.json.

Each generated request must answer below 500, and a 4xx in its face's error shape
(`_fuzz_support.check_answer`). The fast run takes a few examples per operation; the
``full`` sweep many more, and sends some to a served ``--workers 2`` gateway (state in
Redis, sessions in SQLite), whose workers must all outlive it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.adversarial._fuzz_support import APP, check_answer
from tests.adversarial._hostile_support import Gateway, start_gateway
from tests.conftest import stop_process

SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
_QUIET = list(HealthCheck)


def _probe(case: schemathesis.Case) -> None:
    response = case.call()
    check_answer(case.method, case.formatted_path, response.status_code, response.content)


@SCHEMA.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=_QUIET, database=None)
def test_routes_answer_in_shape(case: schemathesis.Case) -> None:
    _probe(case)


@pytest.mark.full
@SCHEMA.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=_QUIET, database=None)
def test_routes_answer_in_shape_full(case: schemathesis.Case) -> None:
    _probe(case)


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A served two-worker gateway, checked alive (no worker replaced) after the sweep."""
    gateway = start_gateway(tmp_path_factory.mktemp("fuzz-workers"), workers=2)
    try:
        yield gateway
        gateway.alive()
    finally:
        stop_process(gateway.proc)


@pytest.mark.full
@SCHEMA.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=_QUIET, database=None)
def test_routes_answer_in_shape_on_two_workers(case: schemathesis.Case, workers: Gateway) -> None:
    response = case.call(base_url=workers.base, timeout=60)
    check_answer(case.method, case.formatted_path, response.status_code, response.content)


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["%23", "%3F", "a%20b", "%25"])
async def test_native_path_keeps_reserved_characters(name: str) -> None:
    """Found by the sweep: a decoded ``#`` cut the relayed path, and the upstream's redirect
    led out of ``/gemini`` to a 404 in the gateway's own shape."""
    transport = httpx2.ASGITransport(app=APP)
    async with httpx2.AsyncClient(transport=transport, base_url="http://gateway") as http:
        path = f"/gemini/v1beta/models/{name}:countTokens"
        response = await http.post(path, json={"contents": [{"parts": [{"text": "Hi"}]}]})
    assert response.status_code == 404, response.text
    check_answer("POST", path, response.status_code, response.content)
