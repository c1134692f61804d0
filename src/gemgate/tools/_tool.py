"""Tools the model can call: a ``Tool`` class, and ``tool()`` for plain functions.

Arguments are validated against the tool's JSON schema before it runs; a schema that
Gemini would reject is refused when the tool is made (:class:`ToolDefinitionError`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar, overload

import anyio.to_thread
import jsonschema
from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    PydanticUserError,
    TypeAdapter,
    create_model,
)

from gemgate.errors import UsageError

__all__ = ["TOOL_MODES", "FunctionTool", "Tool", "ToolDefinitionError", "tool", "tool_fields"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:\-]{0,63}$")
F = TypeVar("F", bound=Callable[..., Any])


class ToolDefinitionError(UsageError):
    """A tool's name or schema is one the Gemini API would reject."""


def check_definition(definition: Mapping[str, Any]) -> None:
    """Refuse names and parameter schemas that Gemini rejects."""
    name = definition.get("name", "")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ToolDefinitionError(
            f"invalid tool name {name!r}: start with a letter or underscore; use letters, "
            "digits, '_', '.', ':' or '-'; at most 64 characters"
        )
    parameters = definition.get("parameters", definition.get("parametersJsonSchema"))
    if parameters is None:
        return
    if not isinstance(parameters, Mapping) or parameters.get("type", "object") != "object":
        raise ToolDefinitionError(f"tool {name!r}: parameters must be a JSON schema of type object")
    try:
        jsonschema.Draft202012Validator.check_schema(dict(parameters))
    except jsonschema.SchemaError as exc:
        raise ToolDefinitionError(
            f"tool {name!r}: invalid parameters schema: {exc.message}"
        ) from None


class Tool(BaseModel):
    """A tool: a ``name``, a ``function_definition`` and an async ``execute``.

    Example::

        class WeatherTool(Tool):
            name: str = "get_weather"
            function_definition: dict = {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]},
            }

            async def execute(self, tool_args: dict) -> dict:
                return {"temperature": "22C"}
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(arbitrary_types_allowed=True)

    name: str
    function_definition: dict[str, Any]
    timeout: float | None = None
    """Seconds the tool may run; past that the model is told it timed out."""
    _validator: Any = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        """Check the definition once, when the tool is made."""
        definition = {"name": self.name, **self.function_definition}
        definition["name"] = self.function_definition.get("name", self.name)
        if definition["name"] != self.name:
            raise ToolDefinitionError(
                f"tool name {self.name!r} differs from its definition's {definition['name']!r}"
            )
        check_definition(definition)
        schema = self.parameters
        self._validator = jsonschema.Draft202012Validator(schema) if schema else None

    @property
    def parameters(self) -> dict[str, Any] | None:
        """The JSON schema of the arguments."""
        value = self.function_definition.get(
            "parameters", self.function_definition.get("parametersJsonSchema")
        )
        return dict(value) if value is not None else None

    def declaration(self) -> dict[str, Any]:
        """The Gemini ``FunctionDeclaration``."""
        out: dict[str, Any] = {"name": self.name}
        if self.function_definition.get("description"):
            out["description"] = self.function_definition["description"]
        if self.parameters is not None:
            out["parametersJsonSchema"] = self.parameters
        return out

    def validate_args(self, args: Mapping[str, Any]) -> list[str]:
        """Problems with ``args`` (empty when they fit the schema)."""
        if self._validator is None:
            return []
        return [
            f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}"
            for e in self._validator.iter_errors(dict(args))
        ]

    async def execute(self, tool_args: dict[str, Any]) -> Any:
        """Run the tool; return a JSON-serialisable result."""
        raise NotImplementedError(f"tool {self.name!r} does not implement execute()")


class FunctionTool(Tool):
    """A tool made from a typed Python function (sync functions run in a worker thread)."""

    _function: Callable[..., Any] = PrivateAttr()
    _adapter: Any = PrivateAttr()

    @classmethod
    def from_function(
        cls, function: Callable[..., Any], *, name: str | None = None, timeout: float | None = None
    ) -> FunctionTool:
        """Derive the schema from the signature and the docstring."""
        try:  # resolve string annotations (``from __future__ import annotations``)
            signature = inspect.signature(function, eval_str=True)
        except (NameError, TypeError, SyntaxError):
            signature = inspect.signature(function)
        fields: dict[str, Any] = {}
        for param in signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ToolDefinitionError(f"{function.__name__}: *args/**kwargs are not supported")
            annotation = Any if param.annotation is inspect.Parameter.empty else param.annotation
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[param.name] = (annotation, default)
        try:
            model = create_model(f"{function.__name__}_args", **fields)
            schema = model.model_json_schema()
        except PydanticUserError as exc:
            raise ToolDefinitionError(
                f"{function.__name__}: cannot derive a schema from its signature: {exc}"
            ) from None
        schema.pop("title", None)
        description = inspect.getdoc(function) or ""
        definition = {
            "name": name or function.__name__,
            "description": description.split("\n\n")[0],
            "parameters": schema,
        }
        made = cls(name=definition["name"], function_definition=definition, timeout=timeout)
        made._function = function
        made._adapter = TypeAdapter(model)
        return made

    def validate_args(self, args: Mapping[str, Any]) -> list[str]:
        """Problems with ``args`` (pydantic's reading of the signature)."""
        from pydantic import ValidationError

        try:
            self._adapter.validate_python(dict(args))
        except ValidationError as exc:
            return [
                f"{'/'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}"
                for e in exc.errors(include_input=False)
            ]
        return []

    async def execute(self, tool_args: dict[str, Any]) -> Any:
        """Call the function with validated, converted arguments."""
        values = self._adapter.validate_python(tool_args)
        kwargs = {k: getattr(values, k) for k in type(values).model_fields}
        if inspect.iscoroutinefunction(self._function):
            return await self._function(**kwargs)
        return await anyio.to_thread.run_sync(lambda: self._function(**kwargs))


@overload
def tool(function: F, /) -> FunctionTool: ...
@overload
def tool(
    *, name: str | None = None, timeout: float | None = None
) -> Callable[[Callable[..., Any]], FunctionTool]: ...
def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    timeout: float | None = None,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a :class:`FunctionTool` from a plain (sync or async) function.

    Example::

        @tool
        def get_weather(city: str, unit: str = "C") -> dict:
            '''Weather for a city.'''
            return {"temperature": 22, "unit": unit}
    """
    if function is not None:
        return FunctionTool.from_function(function, name=name, timeout=timeout)

    def wrap(fn: Callable[..., Any]) -> FunctionTool:
        return FunctionTool.from_function(fn, name=name, timeout=timeout)

    return wrap


TOOL_MODES = {"auto": "AUTO", "any": "ANY", "none": "NONE", "validated": "VALIDATED"}
"""``tool_mode`` names and the ``functionCallingConfig.mode`` each stands for."""


def tool_fields(
    tools: Sequence[Tool], mode: str, allowed: Sequence[str] | None = None
) -> dict[str, Any]:
    """The ``tools`` and ``toolConfig`` a request needs for ``tools`` (none: ``{}``)."""
    if not tools:
        return {}
    calling: dict[str, Any] = {"mode": TOOL_MODES[mode]}
    if allowed:
        calling["allowedFunctionNames"] = list(allowed)
    return {
        "tools": [{"functionDeclarations": [t.declaration() for t in tools]}],
        "toolConfig": {"functionCallingConfig": calling},
    }
