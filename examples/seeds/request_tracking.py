"""Request tracking: explicit request ids, active requests and filtered request history.

Run it with ``python examples/seeds/request_tracking.py`` and ``GEMINI_API_KEY`` set, or with
``GEMGATE_UPSTREAM=emulator`` on gemgate's built-in Gemini emulator (no key), or with
``GEMGATE_UPSTREAM_URL`` (plus any ``GEMINI_API_KEY``) on another server such as
``gemgate emulate``.
"""

from gemgate import Gemini

gemini_api = Gemini()

# Generate with explicit request ID
request_id = "my-request-123"
response = gemini_api.generate_content("Explain quantum computing", request_id=request_id)

# Get active requests (none here: the call above has finished)
active = gemini_api.get_active_requests()
for req_id, info in active.items():
    print(f"ID: {req_id}, Status: {info['status']}, Duration: {info['duration']:.2f}s")

# Get request history
history = gemini_api.get_request_history(limit=5, filter_status="success")
for req_id, info in history.items():
    print(f"ID: {req_id}, Model: {info['model']}, Duration: {info['duration']:.2f}s")

gemini_api.close()
