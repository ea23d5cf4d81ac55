"""One run at a time per key, and at most one queued behind it.

:class:`SingleFlight` keeps a burst of requests (a burst of saves, of config
edits) from becoming a burst of runs: the Reloader restarts an app through one,
the config watcher re-reads the config through one.  Not a watching concept,
so not in :mod:`tornado_launcher.watching.watcher`.  Loop thread only.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)


class _Queued:
    __slots__ = ("factory", "futures")

    def __init__(self, factory: Callable[[], Awaitable]) -> None:
        self.factory = factory
        self.futures: list[asyncio.Future] = []


class SingleFlight:
    """Per-key runner: at most one run at a time per key and at most one queued
    behind it; requests arriving while one is queued merge into it (the queued
    run sees the latest state: it calls the factory of the latest request).

    Each :meth:`request` gets its own future, resolved with the result (or
    exception) of the run that covers it, so cancelling one caller's wait
    cancels neither the run nor the others' waits.  A failed run never wedges
    the key: the queued run starts all the same.  Exceptions nobody awaits
    are logged at DEBUG, not warned about: the factory reports its own errors.

    Loop thread only (create and use it from the loop it runs on).
    """

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Task] = {}
        self._queued: dict[Hashable, _Queued] = {}

    def request(self, key: Hashable, factory: Callable[[], Awaitable]) -> asyncio.Future:
        """Run ``factory()`` for ``key`` now, or once the current run has ended.

        Returns a future resolved when the run that covers this request has
        finished.  Must be called on the loop thread, from a running loop.
        """
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        fut.add_done_callback(_quiet)
        if key in self._running:
            queued = self._queued.get(key)
            if queued is None:
                queued = self._queued[key] = _Queued(factory)
            queued.factory = factory
            queued.futures.append(fut)
        else:
            self._start(key, factory, [fut])
        return fut

    def busy(self, key: Hashable) -> bool:
        """Whether a run for ``key`` is running (or queued)."""
        return key in self._running or key in self._queued

    def _start(self, key: Hashable, factory: Callable[[], Awaitable], futures: list) -> None:
        self._running[key] = asyncio.get_running_loop().create_task(self._run(key, factory, futures))

    async def _run(self, key: Hashable, factory: Callable[[], Awaitable], futures: list) -> None:
        try:
            result = await factory()
        except asyncio.CancelledError:
            for f in futures:
                f.cancel()
            del self._running[key]
            queued = self._queued.pop(key, None)
            for f in queued.futures if queued else ():
                f.cancel()
            raise
        except Exception as e:
            log.debug("single-flight run for %r failed", key, exc_info=True)
            for f in futures:
                if not f.done():
                    f.set_exception(e)
        else:
            for f in futures:
                if not f.done():
                    f.set_result(result)
        del self._running[key]
        queued = self._queued.pop(key, None)
        if queued is not None:
            self._start(key, queued.factory, queued.futures)


def _quiet(fut: asyncio.Future) -> None:
    """Mark a future's exception as retrieved (it stays raised for awaiters)."""
    if not fut.cancelled():
        fut.exception()
