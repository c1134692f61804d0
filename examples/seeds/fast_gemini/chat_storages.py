"""``ChatManager`` with each storage backend: memory, SQLite, Redis and PostgreSQL.

Redis and PostgreSQL are used when reachable (``GEMGATE_EXAMPLE_REDIS``,
``GEMGATE_EXAMPLE_POSTGRES`` override the local defaults). Run it with
``python examples/seeds/fast_gemini/chat_storages.py``.
"""

import asyncio
import os
import socket
import tempfile
import uuid

from gemgate import AsyncGemini
from gemgate.sessions import ChatManager, ChatStorage

REDIS = os.environ.get("GEMGATE_EXAMPLE_REDIS", "redis://127.0.0.1:6379/0")
POSTGRES = os.environ.get("GEMGATE_EXAMPLE_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


async def demo(name: str, storage: ChatStorage, client: AsyncGemini) -> None:
    chat_manager = ChatManager(storage=storage)
    chat_id = f"example-{uuid.uuid4().hex[:8]}"
    for question in ("Tell me about Paris.", "What's the best time to visit?"):
        async for event in client.chat_with_tools(
            query=question, chat_id=chat_id, chat_manager=chat_manager
        ):
            pass
    history = await chat_manager.get_history(chat_id)
    info = await chat_manager.get_chat(chat_id)
    print(
        f"{name}: {len(history)} messages, {info.total_tokens} tokens, last: {history[-1].text[:30]!r}"
    )
    await chat_manager.delete_chat(chat_id)
    await chat_manager.close()


async def main() -> None:
    async with AsyncGemini() as client:
        await demo("memory", ChatStorage.from_url("memory://"), client)
        with tempfile.TemporaryDirectory() as folder:
            await demo("sqlite", ChatStorage.from_url(f"sqlite:///{folder}/chats.db"), client)
        if reachable(6379):
            await demo("redis", ChatStorage.from_url(REDIS), client)
        else:
            print("redis: not reachable, skipped")
        if reachable(5432):
            await demo("postgresql", ChatStorage.from_url(POSTGRES), client)
        else:
            print("postgresql: not reachable, skipped")


if __name__ == "__main__":
    asyncio.run(main())
