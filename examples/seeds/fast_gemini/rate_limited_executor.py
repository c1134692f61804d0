"""The second seed's ``RateLimitingAsyncExecutor``: at most N tool calls at a time.

Run it with ``python examples/seeds/fast_gemini/rate_limited_executor.py``.
"""

import asyncio

from pydantic import BaseModel

from gemgate import AsyncGemini
from gemgate.tools import RateLimitingAsyncExecutor, tool

running = 0
peak = 0


class ToolEvent(BaseModel):
    type: str
    message: str
    data: dict


def make_tool(n: int):
    async def process_item(item: str) -> dict:
        global running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        return {"processed": item, "worker": n}

    process_item.__doc__ = f"Process one item (worker {n})."
    return tool(process_item, name=f"process_items_{n}")


async def main() -> None:
    executor = RateLimitingAsyncExecutor[ToolEvent](max_batch_size=5)
    tools = [make_tool(n) for n in range(8)]
    async with AsyncGemini() as client:
        async for response in client.chat_with_tools(
            query="Process multiple items",
            tools=tools,
            tool_executor=executor,
        ):
            if response.type == "tool_result":
                print(response.name, response.response)
            elif response.type == "final_answer":
                print("Answer:", response.text[:60])
    await executor.shutdown()
    print(f"Peak concurrent tool calls: {peak}")


if __name__ == "__main__":
    asyncio.run(main())
