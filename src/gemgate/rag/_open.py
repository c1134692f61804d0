"""The backend a URL names: ``sqlite:///file.db`` or ``postgresql://…`` (pgvector).

``gemini://file-search`` is not a backend: it makes ``AsyncGemini.stores`` Gemini's own
File Search (:class:`~gemgate.rag.FileSearchStores`), which stores, chunks, embeds and
searches documents upstream.
"""

from __future__ import annotations

from gemgate.errors import ConfigError
from gemgate.rag._backend import StoreBackend

__all__ = ["DEFAULT_STORES_URL", "is_file_search", "open_backend", "stores_url_of"]

DEFAULT_STORES_URL = "sqlite:///gemgate.db"


def stores_url_of(stores_url: str | None, sessions_url: str) -> str:
    """``stores_url``, else the sessions database when it is SQL, else the default file."""
    if stores_url:
        return stores_url
    if sessions_url.startswith(("sqlite", "postgres")):
        return sessions_url
    return DEFAULT_STORES_URL


def is_file_search(url: str) -> bool:
    """Whether ``url`` selects Gemini's File Search (``gemini://file-search``)."""
    return url.strip().rstrip("/").lower() == "gemini://file-search"


def open_backend(url: str) -> StoreBackend:
    """The store backend at ``url`` (connections are made on first use)."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        from gemgate.rag._sqlite import SQLiteBackend

        return SQLiteBackend.from_url(url)
    if scheme in ("postgres", "postgresql"):
        from gemgate.rag._postgres import PostgresBackend

        return PostgresBackend(url)
    raise ConfigError(
        f"stores_url: unsupported scheme {scheme!r} (use sqlite:///file.db, postgresql://… "
        "or gemini://file-search)"
    )
