"""The second seed's ``CustomToolExecutor``: typed progress events while tools run.

Run it with ``python examples/seeds/fast_gemini/custom_executor.py``.
"""

import asyncio
from typing import Dict, List

from pydantic import BaseModel

from gemgate import AsyncGemini
from gemgate.tools import FunctionCall, Tool, ToolExecutor, ToolsExecutionResult


class ToolEvent(BaseModel):
    type: str
    message: str
    data: dict


class SimpleTool(Tool):
    name: str = "simple_tool"
    function_definition: Dict = {
        "name": "simple_tool",
        "description": "A simple tool example",
        "parameters": {
            "type": "object",
            "properties": {"input": {"type": "string", "description": "Input parameter"}},
            "required": ["input"],
        },
    }

    async def execute(self, tool_args: Dict) -> Dict:
        return {"result": f"Processed: {tool_args['input']}"}


class CustomToolExecutor(ToolExecutor[ToolEvent]):
    async def execute_tools(self, function_calls: List[FunctionCall]) -> ToolsExecutionResult:
        await self._emit_event(
            ToolEvent(
                type="progress",
                message="Starting tool execution",
                data={"total_tools": len(function_calls)},
            )
        )
        results = []
        for i, call in enumerate(function_calls):
            await self._emit_event(
                ToolEvent(
                    type="progress",
                    message=f"Executing tool {i + 1}/{len(function_calls)}",
                    data={"tool_name": call.tool.name},
                )
            )
            result = await call.tool.execute(call.function_call.args)
            results.append(result)
            await self._emit_event(
                ToolEvent(
                    type="result",
                    message=f"Tool {call.tool.name} completed",
                    data={"result": result},
                )
            )
        return ToolsExecutionResult(should_proceed=True, function_call_results=results)


async def main() -> None:
    executor = CustomToolExecutor()
    async with AsyncGemini() as client:
        async for event in client.chat_with_tools(
            query="Please run the simple tool on this text",
            tools=[SimpleTool()],
            tool_executor=executor,
            tool_mode="any",
        ):
            if event.type == "tool_event":
                print(f"{event.event.type.capitalize()}: {event.event.message}")
            elif event.type == "final_answer":
                print("Answer:", event.text)
    await executor.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
