"""The second seed's ``CacheManager``: create a cache, refresh its TTL, use it, delete it.

Run it with ``python examples/seeds/fast_gemini/cache_manager.py``.
"""

import asyncio

from gemgate import AsyncGemini
from gemgate.caching import CacheConfig

MANUAL = "You are a helpful assistant for the Acme 3000 coffee machine. " + (
    "The machine descales every 200 cups and brews at 93 degrees. " * 120
)


async def main() -> None:
    async with AsyncGemini() as client:
        cache_manager = client.cache_manager
        cache_name = await cache_manager.create_cache(
            model="gemini-2.5-flash", content=MANUAL, ttl="1h", cache_name="my_cache"
        )
        print("created:", cache_name)
        before = (await cache_manager.get_cache(cache_name)).expire_time
        await cache_manager.update_cache_ttl(cache_name, "2h")
        refreshed = await cache_manager.get_and_refresh(cache_name, "1h")
        print(
            "display name:",
            refreshed.display_name,
            "| expiry moved:",
            before != refreshed.expire_time,
        )
        cache_config = CacheConfig(cache_name=cache_name, auto_refresh_ttl="1h")
        async for event in client.chat_with_tools(
            query="How often does it descale?", cache_config=cache_config
        ):
            if event.type == "usage":
                print("usage:", event.usage)
            elif event.type == "final_answer":
                print("answer:", event.text[:50])
        response = await client.generate_content("How hot?", cached_content=cache_name)
        print("cached tokens:", response["usageMetadata"].get("cachedContentTokenCount", 0))
        await cache_manager.delete_cache(cache_name)
        print("caches left:", len(await cache_manager.list_caches()))


if __name__ == "__main__":
    asyncio.run(main())
