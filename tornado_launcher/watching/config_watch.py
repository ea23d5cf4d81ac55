"""Apply config edits live: watch every file a config was merged from.

:class:`ConfigWatcher` watches the config's files (``Config.paths``: the main
file and every overlay) with the project's :class:`~tornado_launcher.watching.watcher.Watcher`
(watchdog threads -> the asyncio loop, a completed save fires at once, an
editor's temp-file-and-rename counts as one save) and, on a save, awaits
``on_change()``: the owner's re-read (the window's
:meth:`WindowController.reread_config`, which shows a bad edit in the error
banner; the headless :func:`reread`, which logs it).  Re-reads run one at a
time, and a burst of saves queues at most one more (:class:`SingleFlight`).
``on_change`` returns the new list of files to watch (an edit may add or drop
an overlay), or None to keep the list.

No Qt: the window and ``tornado-launcher start`` share it.  Loop thread only.
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, List, Optional, Sequence, Tuple

from .single_flight import SingleFlight
from .watcher import FileChange, Watcher

log = logging.getLogger(__name__)

OnChange = Callable[[], Awaitable[Optional[Sequence[str]]]]


@dataclass(frozen=True)
class _FilesIn:
    """A :class:`Watcher` handler for some files of one directory."""

    watch_path: str
    patterns: Tuple[str, ...]
    ignore_directories: bool = True
    case_sensitive: bool = True


def handlers_for(paths: Iterable[str]) -> List[_FilesIn]:
    """One handler per directory, matching exactly the given files."""
    by_dir: dict = {}
    for p in paths:
        p = os.path.realpath(p)
        by_dir.setdefault(os.path.dirname(p), []).append(glob.escape(os.path.basename(p)))
    return [_FilesIn(d, tuple(sorted(names))) for d, names in sorted(by_dir.items())]


class ConfigWatcher:
    """Calls ``on_change()`` after each saved edit of ``paths``."""

    def __init__(self, paths: Iterable[str], on_change: OnChange) -> None:
        self.paths: List[str] = [os.path.realpath(p) for p in paths]
        self._on_change = on_change
        self._watcher: Optional[Watcher] = None
        self._flight = SingleFlight()
        self._running = False
        #: how many re-reads ran (for tests and the log)
        self.rereads = 0

    async def start(self) -> None:
        self._running = True
        await self._start_watcher()

    async def _start_watcher(self) -> None:
        handlers = handlers_for(self.paths)
        if not handlers:
            return
        self._watcher = Watcher(handlers, self._changed)
        await self._watcher.start()

    async def stop(self) -> None:
        """Stop watching (a re-read under way finishes on its own)."""
        self._running = False
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            await watcher.stop()

    async def set_paths(self, paths: Iterable[str]) -> None:
        """Watch another set of files (an overlay was added or dropped)."""
        new = [os.path.realpath(p) for p in paths]
        if sorted(new) == sorted(self.paths):
            return
        self.paths = new
        if self._running:
            watcher, self._watcher = self._watcher, None
            if watcher is not None:
                await watcher.stop()
            await self._start_watcher()

    def _changed(self, index: int, changes: List[FileChange]) -> None:
        if not self._running:
            return
        log.info("config changed: %s", ", ".join(sorted({c.dest_path or c.src_path for c in changes})))
        self._flight.request("config", self._reread)

    async def _reread(self) -> Any:
        self.rereads += 1
        try:
            paths = await self._on_change()
        except Exception:  # noqa: BLE001 - a re-read must never stop the watching
            log.exception("applying the edited config failed")
            return None
        if paths is not None and self._running:
            await self.set_paths(paths)
        return paths
