"""Multi-turn conversation: a system message and earlier turns shape the next answer.

Run it with ``python examples/seeds/multi_turn.py`` and ``GEMINI_API_KEY`` set, or with
``GEMGATE_UPSTREAM=emulator`` on gemgate's built-in Gemini emulator (no key), or with
``GEMGATE_UPSTREAM_URL`` (plus any ``GEMINI_API_KEY``) on another server such as
``gemgate emulate``.
"""

from gemgate import Gemini

gemini_api = Gemini()

# Multi-turn conversation with system message
messages = [
    {
        "role": "system",
        "content": "You are a helpful travel assistant that provides concise information.",
    },
    {"role": "user", "content": "Tell me about Paris."},
    {
        "role": "assistant",
        "content": "Paris is the capital of France and known for the Eiffel Tower, "
        "Louvre museum, and rich history.",
    },
    {"role": "user", "content": "What's the best time to visit?"},
]

response = gemini_api.chat(messages)
print(response["choices"][0]["message"]["content"])

gemini_api.close()
