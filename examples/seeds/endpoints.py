"""Dedicated endpoints: per-model key sets with their own queue, backoff and metrics.

Run it with ``python examples/seeds/endpoints.py`` and ``GEMINI_API_KEY`` set, or with
``GEMGATE_UPSTREAM=emulator`` on gemgate's built-in Gemini emulator (no key), or with
``GEMGATE_UPSTREAM_URL`` (plus any ``GEMINI_API_KEY``) on another server such as
``gemgate emulate``.

Two changes to the seed, both so it can run anywhere: ``gemini-pro`` is retired (Google
and the emulator answer 404), so the endpoints serve ``gemini-2.5-flash``; and the keys
come from the environment instead of placeholders (``api_key=None``: the endpoint uses
the client's own keys). The second half is the seed's load balancing example.
"""

import os

from gemgate import Gemini

gemini_api = Gemini()

# Create a dedicated endpoint for a specific model
endpoint_id = gemini_api.create_endpoint(
    model="gemini-2.5-flash",
    api_key=os.environ.get("GEMINI_API_KEY"),
    endpoint_name="my-custom-endpoint",  # Optional
)

# Use the endpoint for requests
response = gemini_api.chat(
    messages=[{"role": "user", "content": "Hello"}],
    endpoint_id=endpoint_id,
)

# Get endpoint status
status = gemini_api.get_endpoint_status(endpoint_id)
print(f"Requests: {status['request_count']}, Error rate: {status['error_rate']}")

# List all endpoints
endpoints = gemini_api.list_endpoints()
for endpoint in endpoints:
    print(f"ID: {endpoint['id']}, Model: {endpoint['model']}, Active: {endpoint['active']}")

# Get endpoint metrics
metrics = gemini_api.get_endpoint_metrics()
for model, stats in metrics.items():
    print(f"Model: {model}, Success rate: {stats['success_rate']:.2%}")

# Load balancing: create multiple endpoints for the same model but different API keys
endpoints = []
api_keys = [os.environ.get(f"GEMINI_API_KEY_{n}") for n in (1, 2, 3)]
for i, api_key in enumerate(api_keys):
    endpoint_id = gemini_api.create_endpoint(
        model="gemini-2.5-flash",
        api_key=api_key,
        endpoint_name=f"gemini-flash-endpoint-{i}",
    )
    endpoints.append(endpoint_id)


# Create a simple load balancer
def get_best_endpoint():
    """The endpoint with the lowest backoff, then the shortest queue."""
    # Get status for all endpoints
    statuses = [gemini_api.get_endpoint_status(eid) for eid in endpoints]

    # Find endpoint with lowest backoff and queue size
    return min(statuses, key=lambda s: (s["backoff"]["current_delay"], s["queue_size"]))["id"]


# Use the best endpoint for each request
for i in range(100):
    best_endpoint = get_best_endpoint()
    response = gemini_api.generate_content(f"Generate text {i}", endpoint_id=best_endpoint)

# Not in the seed: where the 100 requests went.
for endpoint_id in endpoints:
    status = gemini_api.get_endpoint_status(endpoint_id)
    print(f"{status['name']}: {status['request_count']} requests, queue {status['queue_size']}")

gemini_api.close()
