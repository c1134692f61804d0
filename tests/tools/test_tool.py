"""Tools: seed-style ``Tool`` subclasses, ``tool()`` on functions, schemas and validation."""

from __future__ import annotations

import asyncio
import datetime
import threading
import time
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from gemgate.errors import UsageError
from gemgate.tools import (
    FunctionCall,
    FunctionCallData,
    FunctionTool,
    Tool,
    ToolDefinitionError,
    run_tool,
    tool,
)

pytestmark = pytest.mark.anyio


class SimpleTool(Tool):
    """The seed's example, verbatim in shape."""

    name: str = "simple_tool"
    function_definition: dict[str, Any] = {
        "name": "simple_tool",
        "description": "A simple tool example",
        "parameters": {
            "type": "object",
            "properties": {"input": {"type": "string", "description": "Input parameter"}},
            "required": ["input"],
        },
    }

    async def execute(self, tool_args: dict[str, Any]) -> dict[str, Any]:
        return {"result": f"Processed: {tool_args['input']}"}


class Location(BaseModel):
    city: str
    country: str = "FR"


def call(t: Tool, **args: Any) -> FunctionCall:
    return FunctionCall(tool=t, function_call=FunctionCallData(name=t.name, args=args))


# --- Tool subclasses ---------------------------------------------------------------------


async def test_seed_style_tool_subclass() -> None:
    t = SimpleTool()
    assert t.name == "simple_tool"
    assert t.declaration() == {
        "name": "simple_tool",
        "description": "A simple tool example",
        "parametersJsonSchema": SimpleTool.model_fields["function_definition"].default[
            "parameters"
        ],
    }
    assert await t.execute({"input": "x"}) == {"result": "Processed: x"}
    assert t.validate_args({"input": "x"}) == []
    assert await run_tool(call(t, input="hello")) == {"result": "Processed: hello"}


async def test_tool_without_execute_reports_error_through_run_tool() -> None:
    class Lazy(Tool):
        name: str = "lazy"
        function_definition: dict[str, Any] = {"name": "lazy"}

    result = await run_tool(call(Lazy()))
    assert "NotImplementedError" in result["error"]


def test_tool_name_must_match_its_definition() -> None:
    with pytest.raises(ToolDefinitionError, match="differs"):
        Tool(name="a", function_definition={"name": "b"})


@pytest.mark.parametrize(
    "name", ["1starts_with_digit", "has space", "", "x" * 65, "semi;colon", "ünïcode"]
)
def test_bad_names_are_refused_at_construction(name: str) -> None:
    with pytest.raises(ToolDefinitionError, match="invalid tool name"):
        Tool(name=name, function_definition={"name": name})


@pytest.mark.parametrize("name", ["a", "_private", "ns.tool", "ns:tool-2", "x" * 64])
def test_good_names_are_accepted(name: str) -> None:
    assert Tool(name=name, function_definition={}).name == name


@pytest.mark.parametrize(
    "parameters",
    [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}},
        ["not", "a", "schema"],
    ],
)
def test_non_object_parameter_schemas_are_refused(parameters: Any) -> None:
    with pytest.raises(ToolDefinitionError, match="type object"):
        Tool(name="t", function_definition={"name": "t", "parameters": parameters})


@pytest.mark.parametrize(
    "parameters",
    [
        {"type": "object", "properties": {"a": {"type": "strnig"}}},
        {"type": "object", "required": "a"},
        {"type": "object", "properties": {"a": {"minimum": "zero"}}},
    ],
)
def test_invalid_json_schemas_are_refused(parameters: dict[str, Any]) -> None:
    with pytest.raises(ToolDefinitionError, match="invalid parameters schema"):
        Tool(name="t", function_definition={"name": "t", "parametersJsonSchema": parameters})


def test_tool_definition_error_is_a_usage_error() -> None:
    assert issubclass(ToolDefinitionError, UsageError)


def test_validate_args_against_the_json_schema() -> None:
    t = Tool(
        name="book",
        function_definition={
            "name": "book",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "nights": {"type": "integer", "minimum": 1},
                },
                "required": ["city"],
            },
        },
    )
    assert t.validate_args({"city": "Paris", "nights": 2}) == []
    missing = t.validate_args({"nights": 2})
    assert len(missing) == 1 and "'city' is a required property" in missing[0]
    wrong = t.validate_args({"city": 3, "nights": 0})
    assert any(p.startswith("city:") and "not of type 'string'" in p for p in wrong)
    assert any(p.startswith("nights:") and "minimum" in p for p in wrong)
    assert Tool(name="free", function_definition={}).validate_args({"any": object()}) == []


# --- tool() on functions -----------------------------------------------------------------


async def test_tool_on_a_sync_function_runs_it_in_a_worker_thread() -> None:
    threads: list[int] = []

    @tool
    def get_weather(city: str, unit: str = "C") -> dict[str, Any]:
        """Weather for a city.

        Longer notes that are not part of the description.
        """
        threads.append(threading.get_ident())
        return {"city": city, "temperature": 22, "unit": unit}

    assert isinstance(get_weather, FunctionTool)
    assert get_weather.name == "get_weather"
    declaration = get_weather.declaration()
    assert declaration["description"] == "Weather for a city."
    assert declaration["parametersJsonSchema"] == {
        "type": "object",
        "properties": {
            "city": {"title": "City", "type": "string"},
            "unit": {"default": "C", "title": "Unit", "type": "string"},
        },
        "required": ["city"],
    }
    result = await get_weather.execute({"city": "Paris"})
    assert result == {"city": "Paris", "temperature": 22, "unit": "C"}
    assert threads and threads[0] != threading.get_ident()


async def test_sync_tool_does_not_block_the_event_loop() -> None:
    @tool
    def slow() -> str:
        time.sleep(0.2)  # noqa: TID251 - a blocking tool, run in a worker thread
        return "done"

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(10):
            await asyncio.sleep(0.01)
            ticks += 1

    result, _ = await asyncio.gather(slow.execute({}), ticker())
    assert result == "done"
    assert ticks == 10


async def test_tool_on_an_async_function_runs_on_the_loop() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    @tool(name="lookup_city", timeout=5)
    async def find(country: str) -> dict[str, str]:
        """Find a city."""
        seen.append(threading.get_ident())
        await asyncio.sleep(0)
        return {"city": "Paris" if country == "France" else "?"}

    assert find.name == "lookup_city" and find.timeout == 5
    assert await find.execute({"country": "France"}) == {"city": "Paris"}
    assert seen == [loop_thread]


async def test_schema_from_hints_optional_literal_and_pydantic_models() -> None:
    received: dict[str, Any] = {}

    @tool
    def plan(
        loc: Location,
        days: int = 3,
        note: str | None = None,
        mode: Literal["car", "train"] = "train",
        stops: list[Location] | None = None,
    ) -> dict[str, Any]:
        """Plan a trip."""
        received.update(loc=loc, days=days, note=note, mode=mode, stops=stops)
        return {"ok": True}

    schema = plan.parameters
    assert schema is not None
    assert schema["type"] == "object"
    assert schema["required"] == ["loc"]
    props = schema["properties"]
    assert props["loc"] == {"$ref": "#/$defs/Location"}
    assert schema["$defs"]["Location"]["required"] == ["city"]
    assert props["days"] == {"default": 3, "title": "Days", "type": "integer"}
    assert props["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert props["note"]["default"] is None
    assert props["mode"]["enum"] == ["car", "train"]
    assert props["stops"]["anyOf"][0]["items"] == {"$ref": "#/$defs/Location"}

    args = {"loc": {"city": "Lyon"}, "days": "2", "stops": [{"city": "Dijon", "country": "FR"}]}
    assert plan.validate_args(args) == []
    assert await plan.execute(args) == {"ok": True}
    assert received["loc"] == Location(city="Lyon")  # converted to the model
    assert received["days"] == 2  # lax conversion, like the validation
    assert received["stops"] == [Location(city="Dijon")]
    assert received["note"] is None and received["mode"] == "train"


def test_string_annotations_are_resolved() -> None:
    # This module uses ``from __future__ import annotations``: every hint is a string.
    @tool
    def where(loc: Location, when: datetime.date | None = None) -> dict[str, Any]:
        """Where."""
        return {}

    schema = where.parameters
    assert schema is not None
    assert schema["properties"]["loc"] == {"$ref": "#/$defs/Location"}
    assert where.validate_args({"loc": {"city": "Paris"}, "when": "2025-01-31"}) == []
    assert where.validate_args({"loc": {"city": "Paris"}, "when": "not a date"})


def test_unresolvable_hints_are_a_definition_error() -> None:
    def broken(x: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
        """Broken."""

    with pytest.raises(ToolDefinitionError, match="broken"):
        tool(broken)


def test_unannotated_parameters_accept_anything() -> None:
    @tool
    def echo(value, times: int = 1):  # type: ignore[no-untyped-def]
        return value

    schema = echo.parameters
    assert schema is not None
    assert schema["required"] == ["value"]
    assert echo.validate_args({"value": [1, {"a": None}]}) == []


def test_var_args_and_bad_function_names_are_refused() -> None:
    def star(*items: int) -> None:
        pass

    def kw(**items: int) -> None:
        pass

    def plain() -> None:
        pass

    with pytest.raises(ToolDefinitionError, match=r"\*args"):
        tool(star)
    with pytest.raises(ToolDefinitionError, match=r"\*args"):
        tool(kw)
    with pytest.raises(ToolDefinitionError, match="invalid tool name"):
        tool(lambda x: x)
    with pytest.raises(ToolDefinitionError, match="invalid tool name"):
        tool(name="has space")(plain)


def test_function_tool_validate_args_reports_wrong_types_and_missing() -> None:
    @tool
    def book(city: str, nights: int, loc: Location | None = None) -> None:
        """Book."""

    assert book.validate_args({"city": "Paris", "nights": 2}) == []
    missing = book.validate_args({"nights": 2})
    assert missing == ["city: Field required"]
    wrong = book.validate_args({"city": "Paris", "nights": "many"})
    assert len(wrong) == 1 and wrong[0].startswith("nights:")
    nested = book.validate_args({"city": "Paris", "nights": 1, "loc": {"country": "IT"}})
    assert nested == ["loc/city: Field required"]
