"""Direct content generation: a prompt in, the native Gemini response dict out.

Run it with ``python examples/seeds/direct_generation.py``. With no key configured it runs on
gemgate's built-in Gemini emulator (a one-line notice on stderr says so); set
``GEMINI_API_KEY`` to reach Google, or ``GEMGATE_UPSTREAM_URL`` (plus any
``GEMINI_API_KEY``) to reach another server such as ``gemgate emulate``.
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
