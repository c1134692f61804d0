"""Caching and token usage: a repeated identical request is answered from the cache.

Run it with ``python examples/seeds/caching.py`` and ``GEMINI_API_KEY`` set, or with
``GEMGATE_UPSTREAM=emulator`` on gemgate's built-in Gemini emulator (no key), or with
``GEMGATE_UPSTREAM_URL`` (plus any ``GEMINI_API_KEY``) on another server such as
``gemgate emulate``.

The constructor takes the seed's ``metadata`` dict as it is (``Gemini(cache=True,
cache_max_size=200)`` says the same); a key of ``None`` means "from the environment".
The second half is the seed's token usage tracking example.
"""

import os

from gemgate import Gemini

# Enable response caching for repeated requests
gemini_api = Gemini(
    metadata={
        "gemini_api_key": os.environ.get("GEMINI_API_KEY"),
        "use_cache": True,
        "cache_max_size": 200,  # Cache up to 200 responses
    }
)

# Repeated identical requests will use the cache
response1 = gemini_api.generate_content("What is the speed of light?")
response2 = gemini_api.generate_content("What is the speed of light?")  # Uses cache

# Get token usage statistics
print(gemini_api.get_token_usage())

# Clear cache when needed
gemini_api.clear_cache()

# Not in the seed: the second answer came from the cache, so only one request went out.
print(f"Same answer: {response1 == response2}")
print(f"Requests sent: {len(gemini_api.get_request_history())}")

# Token usage tracking: get current token usage
token_stats = gemini_api.get_token_usage()
print(f"Prompt tokens: {token_stats['prompt_tokens']}")
print(f"Completion tokens: {token_stats['completion_tokens']}")
print(f"Total tokens: {token_stats['total_tokens']}")

# Reset counters when needed
gemini_api.reset_token_usage()

gemini_api.close()
