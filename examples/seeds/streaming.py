"""Streaming: print OpenAI-shaped ``chat.completion.chunk`` deltas as they arrive.

Run it with ``python examples/seeds/streaming.py`` and ``GEMINI_API_KEY`` set, or with
``GEMGATE_UPSTREAM=emulator`` on gemgate's built-in Gemini emulator (no key), or with
``GEMGATE_UPSTREAM_URL`` (plus any ``GEMINI_API_KEY``) on another server such as
``gemgate emulate``.
"""

from gemgate import Gemini

gemini_api = Gemini()

# Stream response chunks for real-time output
messages = [{"role": "user", "content": "Write a short story about a robot."}]
for chunk in gemini_api.stream_chat(messages):
    content = chunk["choices"][0]["delta"].get("content", "")
    print(content, end="", flush=True)
print()

gemini_api.close()
