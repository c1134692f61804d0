"""Direct content generation: a prompt in, the native Gemini response dict out.

Run it with ``python examples/seeds/direct_generation.py`` and ``GEMINI_API_KEY`` set, or with
``GEMGATE_UPSTREAM=emulator`` on gemgate's built-in Gemini emulator (no key), or with
``GEMGATE_UPSTREAM_URL`` (plus any ``GEMINI_API_KEY``) on another server such as
``gemgate emulate``.
"""

from gemgate import Gemini

gemini_api = Gemini()

# Generate content directly with a prompt
response = gemini_api.generate_content(
    "Explain quantum computing in simple terms",
    temperature=0.3,  # Lower temperature for more focused, factual response
)

# Extract text from response
text = ""
for candidate in response.get("candidates", []):
    content = candidate.get("content", {})
    for part in content.get("parts", []):
        if "text" in part:
            text += part["text"]

print(text)

gemini_api.close()
