"""Context caching: ``CacheManager`` and ``CacheConfig``."""

from __future__ import annotations

from gemgate.caching._manager import CacheConfig, CacheManager, normalize_ttl

__all__ = ["CacheConfig", "CacheManager", "normalize_ttl"]
