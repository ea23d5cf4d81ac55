"""The launcher loop's worker threads: a fixed pool, all started up front.

Blocking work (loading a config, compile checks, joining a dead kernel's reader threads, the
file sync's reads) goes to the loop's default executor. asyncio's own default starts its
threads one at a time as work overlaps, up to ``min(32, cores + 4)``, and keeps them: a long run
then shows the launcher's thread count creeping up for hours (a soak read it as a leak: one
more thread between operation 50 and 300). :func:`ensure_workers` gives the loop a pool of
:data:`WORKERS` threads, every one started at once (each first task waits for all of them), so
the count is what it is from the first second; it never blocks the loop. Headless only
(``headless.run``): the window's qasync loop has its own executor of QThreads, all started
when it is made, and must keep it (a QThread destroyed while running aborts the process).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

#: worker threads of the launcher's loop (enough for the few blocking calls that overlap)
WORKERS = 4
#: seconds the start-up tasks wait for each other (a machine too busy to start 4 threads in time
#: simply starts them later, as asyncio's pool would)
START_WAIT = 10.0


def ensure_workers(loop: asyncio.AbstractEventLoop) -> None:
    """Give ``loop`` its fixed, started pool (once per loop)."""
    if getattr(loop, "_tornado_launcher_workers", None) is not None:
        return
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="tornado-launcher worker")
    barrier = threading.Barrier(WORKERS)

    def meet() -> None:
        try:
            barrier.wait(START_WAIT)
        except threading.BrokenBarrierError:
            pass

    for _ in range(WORKERS):  # no worker is idle until all have met: each submit starts a thread
        pool.submit(meet)
    loop.set_default_executor(pool)
    loop._tornado_launcher_workers = pool  # type: ignore[attr-defined]
