"""The second seed's complete example: a weather tool, an executor, a chat manager, caching.

The seed's ``GeminiClient(api_key=..., chat_manager=...)`` and ``client.chat(...)`` are
gemgate's ``AsyncGemini`` and ``chat_with_tools(...)``; the rest is the seed's code.
Run it with ``python examples/seeds/fast_gemini/weather_tool.py`` (with
``GEMGATE_UPSTREAM=emulator`` and no key, the built-in emulator answers).
"""

import asyncio
from typing import Dict

from pydantic import BaseModel

from gemgate import AsyncGemini
from gemgate.caching import CacheConfig
from gemgate.sessions import ChatManager, LocalChatStorage
from gemgate.tools import AsyncToolExecutor, Tool


class ToolEvent(BaseModel):
    type: str
    message: str
    data: dict


class WeatherTool(Tool):
    name: str = "get_weather"
    function_definition: Dict = {
        "name": "get_weather",
        "description": "Get weather information for a location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The location to get weather for"}
            },
            "required": ["location"],
        },
    }

    async def execute(self, tool_args: Dict) -> Dict:
        location = tool_args["location"]
        return {"temperature": "72°F", "condition": "Sunny", "location": location}


async def main() -> None:
    chat_manager = ChatManager(storage=LocalChatStorage())
    async with AsyncGemini() as client:
        weather_tool = WeatherTool()
        executor = AsyncToolExecutor[ToolEvent]()
        cache_config = CacheConfig(cache_name="weather_chat", auto_refresh_ttl="1h")
        async for response in client.chat_with_tools(
            query="What's the weather in New York?",
            model="gemini-2.5-flash",
            tools=[weather_tool],
            tool_executor=executor,
            cache_config=cache_config,
            chat_id="weather-demo",
            chat_manager=chat_manager,
        ):
            print(response.type, response.model_dump(exclude={"type"}))
        await executor.shutdown()
        history = await chat_manager.get_history("weather-demo")
        print("stored:", [m.message_type for m in history])


if __name__ == "__main__":
    asyncio.run(main())
