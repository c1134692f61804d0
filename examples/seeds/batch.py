"""Batch processing: many prompts, ``batch_size`` at a time, results in prompt order.

Run it with ``python examples/seeds/batch.py`` and ``GEMINI_API_KEY`` set, or with
``GEMGATE_UPSTREAM=emulator`` on gemgate's built-in Gemini emulator (no key), or with
``GEMGATE_UPSTREAM_URL`` (plus any ``GEMINI_API_KEY``) on another server such as
``gemgate emulate``.
A prompt that fails gives ``{"error": {...}}`` in its place instead of raising.
"""

from gemgate import Gemini

gemini_api = Gemini()

# Process multiple prompts efficiently
prompts = [
    "Write a haiku about mountains",
    "Describe a sunset in one sentence",
    "List three facts about dolphins",
]

batch_results = gemini_api.batch_generate_content(
    prompts,
    temperature=0.7,
    batch_size=3,  # Process in batches of 3
)

for i, result in enumerate(batch_results):
    print(f"Prompt {i + 1} result:")
    candidates = result.get("candidates", [])
    if candidates:
        content = candidates[0].get("content", {})
        parts = content.get("parts", [])
        text = " ".join([part.get("text", "") for part in parts if "text" in part])
        print(text)

gemini_api.close()
