"""Custom generation parameters: temperature, top_p, top_k, max_tokens and stop sequences.

Run it with ``python examples/seeds/custom_parameters.py`` and ``GEMINI_API_KEY`` set, or with
``GEMGATE_UPSTREAM=emulator`` on gemgate's built-in Gemini emulator (no key), or with
``GEMGATE_UPSTREAM_URL`` (plus any ``GEMINI_API_KEY``) on another server such as
``gemgate emulate``.
"""

from gemgate import Gemini

gemini_api = Gemini()

# Control generation with custom parameters
messages = [{"role": "user", "content": "Generate a creative slogan for a coffee shop."}]
response = gemini_api.chat(
    messages,
    temperature=0.9,  # Higher temperature for more creative output
    top_p=0.95,
    top_k=40,
    max_tokens=100,
    stop_sequences=[".", "!"],  # Stop at end of sentence
)

print(response["choices"][0]["message"]["content"])

gemini_api.close()
