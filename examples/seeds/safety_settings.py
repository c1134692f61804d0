"""Safety settings: per-category blocking thresholds sent with a request.

Run it with ``python examples/seeds/safety_settings.py`` and ``GEMINI_API_KEY`` set, or with
``GEMGATE_UPSTREAM=emulator`` on gemgate's built-in Gemini emulator (no key), or with
``GEMGATE_UPSTREAM_URL`` (plus any ``GEMINI_API_KEY``) on another server such as
``gemgate emulate``.
Thresholds: BLOCK_NONE, OFF, BLOCK_ONLY_HIGH, BLOCK_MEDIUM_AND_ABOVE and
BLOCK_LOW_AND_ABOVE (the seed's BLOCK_ALL is not a value the API knows).
"""

from gemgate import Gemini

gemini_api = Gemini()

# Customize safety settings
custom_safety_settings = [
    {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"},
    {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_MEDIUM_AND_ABOVE"},
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "threshold": "BLOCK_LOW_AND_ABOVE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_MEDIUM_AND_ABOVE"},
]

response = gemini_api.generate_content(
    "Write a story about conflict resolution",
    safety_settings=custom_safety_settings,
)

# Not in the seed: show what came back.
candidate = response["candidates"][0]
print(f"Finish reason: {candidate.get('finishReason')}")
print("".join(part.get("text", "") for part in candidate.get("content", {}).get("parts", [])))

gemini_api.close()
