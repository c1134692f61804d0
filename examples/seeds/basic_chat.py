"""Basic chat: one question in OpenAI message format, the answer printed.

Run it with ``python examples/seeds/basic_chat.py`` and ``GEMINI_API_KEY`` set, or with
``GEMGATE_UPSTREAM=emulator`` on gemgate's built-in Gemini emulator (no key), or with
``GEMGATE_UPSTREAM_URL`` (plus any ``GEMINI_API_KEY``) on another server such as
``gemgate emulate``.
"""

from gemgate import Gemini

# Initialize with API key from .env file or environment variable
gemini_api = Gemini()

# Simple chat with Gemini
messages = [{"role": "user", "content": "What is the capital of France?"}]
response = gemini_api.chat(messages)

print(response["choices"][0]["message"]["content"])

gemini_api.close()
