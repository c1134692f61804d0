"""Embeddings: OpenAI-shaped ``data[i]["embedding"]`` vectors for several texts at once.

Run it with ``python examples/seeds/embeddings.py`` and ``GEMINI_API_KEY`` set, or with
``GEMGATE_UPSTREAM=emulator`` on gemgate's built-in Gemini emulator (no key), or with
``GEMGATE_UPSTREAM_URL`` (plus any ``GEMINI_API_KEY``) on another server such as
``gemgate emulate``.
The default embedding model, ``gemini-embedding-001``, returns 3072 dimensions.
"""

from gemgate import Gemini

gemini_api = Gemini()

# Generate embeddings for semantic search
texts = [
    "What is machine learning?",
    "How does quantum computing work?",
    "Explain neural networks",
]

embeddings = gemini_api.generate_embeddings(texts)

# Access the embedding vectors
for item in embeddings["data"]:
    vector = item["embedding"]
    print(f"Vector dimension: {len(vector)}")

gemini_api.close()
