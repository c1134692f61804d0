"""Usage: the request log (SQLite or PostgreSQL), prices per model, and sums over the log.

Example::

    from gemgate.usage import PriceTable, RequestLog

    log = RequestLog("sqlite:///gemgate.db")
    rows = await log.summary(group_by="model", start=time.time() - 86_400)
"""

from __future__ import annotations

from gemgate.usage._log import GROUPS, RequestLog, UsageEntry, UsageRow, entry_of
from gemgate.usage._prices import DEFAULT_PRICES, Price, PriceTable

__all__ = [
    "DEFAULT_PRICES",
    "GROUPS",
    "Price",
    "PriceTable",
    "RequestLog",
    "UsageEntry",
    "UsageRow",
    "entry_of",
]
