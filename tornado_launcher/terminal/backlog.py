"""Log records that come faster than the launcher can show them: dropped, counted, said.

A kernel that prints flat out (tens of thousands of lines a second) sends
batches of log records faster than the launcher turns them into events and
lines; unread batches would pile up in the iopub socket's queue (memory) and
everything shown would fall further behind (latency).  :class:`Backlog`
measures how long each batch waited: ``now - header date``, less the
smallest such delay seen (so a remote kernel's clock offset cancels out).
While batches arrive more than :data:`MAX_LAG` seconds late, their *log*
records are dropped and counted (state, hang and file records are never
dropped); the first batch on time again carries one WARNING with the count.
The kernel side bounds its own queue the same way (``records.QUEUE_MAX``).
"""

from __future__ import annotations

import datetime
import time
from typing import Any, Optional

#: seconds a batch of log records may arrive late before its log records are dropped
MAX_LAG = 1.0


class Backlog:
    def __init__(self, max_lag: float = MAX_LAG) -> None:
        self.max_lag = max_lag
        self.dropped = 0  # not yet said
        self._base: Optional[float] = None

    def behind(self, header: Any) -> bool:
        """Whether the message with this header arrived more than ``max_lag`` late."""
        date = header.get("date") if isinstance(header, dict) else None
        if isinstance(date, datetime.datetime):
            sent = date.timestamp() if date.tzinfo is not None else date.replace(
                tzinfo=datetime.timezone.utc).timestamp()
        elif isinstance(date, (int, float)):
            sent = float(date)
        else:
            return False
        delay = time.time() - sent
        if self._base is None or delay < self._base:
            self._base = delay
        return delay - self._base > self.max_lag

    def said(self) -> Optional[str]:
        """The sentence for the records dropped since the last one (None: none were)."""
        if not self.dropped:
            return None
        n, self.dropped = self.dropped, 0
        return (f"{n} log lines dropped: they came faster than the launcher can show them "
                f"(more than {self.max_lag:g} s behind)")
