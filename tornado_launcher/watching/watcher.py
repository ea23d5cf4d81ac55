"""Watch the project's files and hand changes, batched, to the asyncio loop.

This replaces Jaffle's ``WatchdogApp``: one watcher for every ``handler``
block of the config (on Linux our own inotify tree, :mod:`.watch_inotify`,
which never watches inside ignored directories; elsewhere a watchdog
observer), Jaffle's pattern semantics, and timing tuned
for the product's point (save a file, and the new code serves before you have
switched to the browser).

Three pieces, each small:

* :func:`matches` decides whether a path concerns a handler.  watchdog 7
  matches patterns against absolute paths with full-path semantics, under
  which Jaffle's ``*.py`` matches nothing, so we match ourselves: shell-style
  ``fnmatch`` on the path relative to ``watch_path``, where ``*`` also spans
  ``/``.
* :class:`Watcher` turns raw watchdog events into batches of
  :class:`FileChange` and calls ``callback(handler_index, changes)`` on the
  loop thread.  Timers are ``loop.call_at`` handles; nothing polls or sleeps.
* (:class:`~tornado_launcher.watching.single_flight.SingleFlight`, in its own module, keeps a
  burst of batches from becoming a burst of restarts.)

Threads: the inotify backend runs one reader thread; watchdog runs its own
(observer, emitters, the inotify reader).  The only code of ours that runs
there is the inotify tree's bookkeeping and :meth:`_Dispatch.dispatch`,
which filters the event with :func:`matches` (pure: it reads the immutable
handler settings and, for the virtualenv check, stats files) and hands the
survivors to the loop with ``loop.call_soon_threadsafe``.  Filtering there,
not on the loop, keeps floods the user never asked for (``pip install`` into
``.venv``, ``git`` rewriting ``.git``) off the loop.  All state of a
:class:`Watcher` lives on the loop thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import functools
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from ..bridge.protocol import NON_PROJECT_DIRS, is_project_dir
from ..engine.events import WireStr
from . import inotify as watch_inotify

__all__ = ["BACKENDS", "DEFAULT_IGNORES", "ChangeKind", "FileChange", "Watcher", "matches"]

#: how a Watcher watches: "inotify" (Linux: our pruned tree, see watch_inotify) or
#: "watchdog" (its platform observer, recursive)
BACKENDS = ("inotify", "watchdog")
#: the backend a Watcher uses when not told: None means inotify where available
DEFAULT_BACKEND: Optional[str] = None

log = logging.getLogger(__name__)

#: Names and patterns never watched, whatever the handler says.  Each entry is
#: matched against every component of the relative path and against the whole
#: relative path.  Besides these, any directory holding a ``pyvenv.cfg`` (a
#: virtualenv, whatever its name) is ignored.
DEFAULT_IGNORES: tuple[str, ...] = (
    # Python and tool caches
    "__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".tox", ".nox", "*.egg-info", ".ipynb_checkpoints",
    # version control
    ".git", ".hg", ".svn",
    # dependencies, caches and build output: protocol.NON_PROJECT_DIRS (one list for
    # the watcher, the import hook and clear_cache's default), spliced in below
    # editors' swap, backup, lock and temporary files
    ".*.sw?",          # vim swap files: .x.py.swp, .swo, .swx ...
    "*~",              # vim/emacs backups, "x.py.tmp~"
    ".#*",             # emacs lock files
    "#*#",             # emacs auto-save files
    "4913",            # vim's "can I write here?" probe file
    "*.tmp",
    "*___jb_tmp___", "*___jb_old___",  # JetBrains safe write
    ".goutputstream-*",                # GNOME (gedit) safe write
) + tuple(sorted(NON_PROJECT_DIRS))

# Trailing coalescing after a fire never holds a batch longer than this, so a
# file rewritten every few ms (a log in the tree) still gets through.
_MAX_WAIT = 1.0

# watchdog event classes we ask for.  Leaving out opened / closed-without-write
# / directory-modified keeps every read of a file (the kernel importing the
# app!) from waking us at all.
_EVENT_FILTER = [
    FileCreatedEvent, FileModifiedEvent, FileAttribEvent, FileClosedEvent,
    FileMovedEvent, FileDeletedEvent, DirCreatedEvent, DirDeletedEvent, DirMovedEvent,
]


class ChangeKind(WireStr):
    """What happened to a file (:attr:`FileChange.event_type`): watchdog's and Jaffle's words."""

    CREATED = "created"
    MODIFIED = "modified"
    MOVED = "moved"
    DELETED = "deleted"


@dataclass(frozen=True)
class FileChange:
    """One file system change, as a handler's callback receives it.

    ``event_type`` is ``"created"``, ``"modified"``, ``"moved"`` or
    ``"deleted"``; ``dest_path`` is set for moves only.  ``time`` is
    ``time.monotonic()`` when the watcher thread last saw an event for this
    change (for a save, its final close), so ``time.monotonic() - change.time``
    in the callback is the watcher's own latency.
    """

    event_type: ChangeKind
    src_path: str
    dest_path: Optional[str]
    is_directory: bool
    time: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_type", ChangeKind.coerce(self.event_type))

    def as_event_dict(self, relative_to: Optional[str] = None) -> dict:
        """Jaffle's ``{event}``: ``event_type``, ``src_path``, ``dest_path``, ``is_directory``.

        Paths are absolute unless ``relative_to`` is given (Jaffle made them
        relative to its working directory).
        """

        def rel(p: Optional[str]) -> Optional[str]:
            return os.path.relpath(p, relative_to) if p and relative_to else p

        return {
            "event_type": str(self.event_type),  # a plain str for the handler's code
            "src_path": rel(self.src_path),
            "dest_path": rel(self.dest_path),
            "is_directory": self.is_directory,
        }


# ---------------------------------------------------------------- matching


@functools.lru_cache(maxsize=256)
def _compile(patterns: tuple[str, ...], case_sensitive: bool) -> Optional[re.Pattern]:
    """One regex for a tuple of fnmatch patterns (None when there are none)."""
    if not patterns:
        return None
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.compile("|".join(fnmatch.translate(p) for p in patterns), flags)


def _relative(path: str, root: str) -> Optional[str]:
    """``path`` relative to ``root`` with ``/`` separators, or None if outside."""
    root = root.rstrip("/" + os.sep) or os.sep
    prefix = root if root.endswith(os.sep) else root + os.sep
    if not path.startswith(prefix) or len(path) == len(prefix):
        return None
    rel = path[len(prefix):]
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def _in_virtualenv(root: str, parts: Sequence[str]) -> bool:
    """True if a directory on the way from ``root`` to the path is a virtualenv."""
    d = root
    for part in parts[:-1]:
        d = os.path.join(d, part)
        if not is_project_dir(d):
            return True
    return False


def matches(
    path: str,
    root: str,
    patterns: Iterable[str] = ("*",),
    ignore_patterns: Iterable[str] = (),
    case_sensitive: bool = False,
) -> bool:
    """Whether ``path`` concerns a handler watching ``root``, the Jaffle way.

    ``patterns`` are shell-style (``fnmatch``) patterns matched against the
    path relative to ``root`` with ``/`` separators, where ``*`` also spans
    ``/``: ``*.py`` matches every Python file below ``root``, ``*/tests/*.py``
    the tests, ``app/*.py`` everything below ``app/``.  The path is also tried
    as ``"/" + relative`` so that a leading ``*/`` matches at the top of
    ``root`` too (``*/tests/*.py`` matches ``tests/test_a.py``), as it did when
    Jaffle matched absolute paths; the absolute path itself is never tried,
    so directories above ``root`` cannot make a pattern match.  An empty
    ``patterns`` means ``("*",)``, as watchdog's ``None`` did.

    The path is ignored if the relative path or any of its components matches
    an ``ignore_patterns`` entry or a :data:`DEFAULT_IGNORES` entry, or if a
    directory on its way is a virtualenv (holds ``pyvenv.cfg``).  Paths outside
    ``root``, and ``root`` itself, never match.  ``case_sensitive`` applies to
    all patterns.

    Thread-safe; it may stat a few files (the virtualenv check).
    """
    rel = _relative(path, root)
    if rel is None:
        return False
    rooted = "/" + rel
    ignore = _compile(tuple(ignore_patterns) + DEFAULT_IGNORES, case_sensitive)
    parts = rel.split("/")
    if ignore.match(rel) or ignore.match(rooted) or any(ignore.match(p) for p in parts):
        return False
    include = _compile(tuple(patterns) or ("*",), case_sensitive)
    if not (include.match(rel) or include.match(rooted)):
        return False
    return not _in_virtualenv(root.rstrip("/" + os.sep) or os.sep, parts)


# ---------------------------------------------------------------- watcher


class _State:
    """One handler's settings and its pending batch.  Loop thread only,
    except ``accepts``, which reads immutable settings (any thread)."""

    def __init__(self, index: int, handler: Any) -> None:
        self.index = index
        self.handler = handler
        self.root = os.path.abspath(handler.watch_path)
        self.patterns = tuple(getattr(handler, "patterns", None) or ("*",))
        self.ignore_patterns = tuple(getattr(handler, "ignore_patterns", None) or ())
        self.ignore_directories = bool(getattr(handler, "ignore_directories", False))
        self.case_sensitive = bool(getattr(handler, "case_sensitive", False))
        self.debounce = getattr(handler, "debounce", None)
        self.throttle = getattr(handler, "throttle", None)
        # the batch, keyed so that repeats of one change collapse into one entry
        self.pending: dict[tuple, FileChange] = {}
        self.timer: Optional[asyncio.TimerHandle] = None
        self.due = 0.0
        self.last_fire = float("-inf")
        # while loop.time() < quiet_until, a burst that already fired goes on:
        # new events are coalesced into one trailing batch
        self.quiet_until = float("-inf")
        self.first_pending = 0.0

    def prunes(self, directory: str) -> bool:
        """Whether nothing at or below ``directory`` can concern this handler, so
        it need not be watched at all: a component of its path is ignored, an
        ignore pattern ending in ``*`` matches ``<dir>/`` (and so everything
        below), or it is a virtualenv.  The rules of :func:`matches`."""
        rel = _relative(directory, self.root)
        if rel is None:
            return True
        ignores = self.ignore_patterns + DEFAULT_IGNORES
        ignore = _compile(ignores, self.case_sensitive)
        if any(ignore.match(p) for p in rel.split("/")):
            return True
        star = _compile(tuple(p for p in ignores if p.endswith("*")), self.case_sensitive)
        if star is not None and (star.match(rel + "/") or star.match("/" + rel + "/")):
            return True
        return not is_project_dir(directory)

    def _match(self, path: str) -> bool:
        return bool(path) and matches(path, self.root, self.patterns, self.ignore_patterns, self.case_sensitive)

    def accepts(self, event: FileSystemEvent) -> Optional[bool]:
        """None if ``event`` does not concern this handler, else whether it is
        a rename *into* a matched path (a completed save).  Any thread."""
        if event.is_directory and self.ignore_directories:
            return None
        if event.event_type == "moved":
            if self._match(event.dest_path):
                return True
            return False if self._match(event.src_path) else None
        return False if self._match(event.src_path) else None

    def add(self, change: FileChange) -> None:
        """Merge ``change`` into the batch (repeats update the time only)."""
        if change.event_type == "modified" and ("created", change.src_path, None) in self.pending:
            key = ("created", change.src_path, None)  # a new file being written
        elif change.event_type == "moved":
            # a file born in this batch and renamed away was a temporary file:
            # the move alone says what happened
            if ("created", change.src_path, None) in self.pending:
                self.pending.pop(("created", change.src_path, None))
                self.pending.pop(("modified", change.src_path, None), None)
            key = ("moved", change.src_path, change.dest_path)
        else:
            key = (change.event_type, change.src_path, change.dest_path)
        old = self.pending.pop(key, None)
        self.pending[key] = dataclasses.replace(old, time=change.time) if old else change


class _Dispatch(FileSystemEventHandler):
    """The watchdog-side handler of one watched directory.

    ``dispatch`` runs on watchdog's observer thread: it only filters (pure) and
    calls ``loop.call_soon_threadsafe``.
    """

    def __init__(self, watcher: "Watcher", loop: asyncio.AbstractEventLoop, states: list[_State]) -> None:
        self._watcher = watcher
        self._loop = loop
        self._states = states

    def prunes(self, directory: str) -> bool:
        """For the inotify backend: no handler of this root needs ``directory`` watched."""
        return all(s.prunes(directory) for s in self._states)

    def dispatch(self, event: FileSystemEvent) -> None:
        seen = time.monotonic()
        if event.is_directory and event.event_type == "modified":
            return
        hits = []
        for s in self._states:
            renamed_in = s.accepts(event)
            if renamed_in is not None:
                hits.append((s.index, renamed_in))
        if hits:
            try:
                self._loop.call_soon_threadsafe(self._watcher._on_raw_event, hits, event, seen)
            except RuntimeError:  # the loop is closed: we are shutting down
                pass


class Watcher:
    """Watch the handlers' directories; call ``callback`` with batches of changes.

    ``handlers`` are config handler objects (duck-typed): ``watch_path``
    (directory), ``patterns`` (default ``["*"]``), ``ignore_patterns``,
    ``ignore_directories``, ``case_sensitive``, ``debounce`` and ``throttle``
    (seconds or None).  ``callback(handler_index, changes)`` is called on the
    loop thread, never on a watchdog thread, with a non-empty
    ``list[FileChange]``, one entry per distinct change (repeats, and the
    close that ends a write, fold into it), ordered by each one's latest event:
    ``changes[-1]`` is the freshest.  A temporary file created and renamed
    away within the batch shows only as the move.  Exceptions the callback
    raises are logged and the watcher goes on.

    Counted: files created, modified (including attribute changes: ``touch``),
    closed after writing, moved (if the source or the destination matches)
    and deleted; directories created, moved, deleted unless
    ``ignore_directories``.  Not counted: opens, closes without writing,
    directory-modified events, anything ignored (see :func:`matches`).

    Timing, when the handler sets neither ``debounce`` nor ``throttle``: a
    *completed* save fires at once (the next loop iteration): a close after
    writing (Linux) or a rename into a matched path.  The close of a file
    created in the same batch waits ``settle`` seconds (default 10 ms) in case
    it is an editor's temporary file about to be renamed over the original.
    Anything else (a modification with no close yet, a create, a delete, a
    rename away) fires after ``default_delay`` seconds (default 50 ms) unless a
    completed save comes first and takes it along.  Events that arrive within
    ``default_delay`` of a fire are coalesced into one trailing batch, sent
    once they have been quiet for ``default_delay`` (at most 1 s after the
    first of them).

    ``debounce``: fire once the events have been quiet for that long.
    ``throttle``: fire at most once per that period; the first batch goes as
    above, later ones at the end of the period.

    ``loop`` defaults to the loop running :meth:`start`.  Use the instance from
    that loop's thread only.
    """

    def __init__(
        self,
        handlers: Sequence[Any],
        callback: Callable[[int, list[FileChange]], None],
        *,
        loop: Optional[asyncio.AbstractEventLoop] = None,
        default_delay: float = 0.05,
        settle: float = 0.01,
        backend: Optional[str] = None,
    ) -> None:
        if backend is None:
            backend = DEFAULT_BACKEND or ("inotify" if watch_inotify.available() else "watchdog")
        if backend not in BACKENDS:
            raise ValueError(f"unknown watch backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        self.backend = backend
        self._routes: list[tuple[str, _Dispatch]] = []  # inotify backend: (root, dispatch) per schedule
        self._states = [_State(i, h) for i, h in enumerate(handlers)]
        self._callback = callback
        self._loop = loop
        self._default_delay = default_delay
        self._settle = settle
        self._observer: Any = None
        self._running = False

    async def start(self) -> None:
        """Start watching every handler's ``watch_path``, recursively.

        On Linux (backend ``"inotify"``, see :mod:`.watch_inotify`) one inotify
        instance watches only the directories some handler can care about: none
        inside ignored trees (``node_modules``, ``.venv``, ``.git``, a handler's
        own ignore patterns).  Elsewhere (backend ``"watchdog"``) one watchdog
        observer, one recursive watch per distinct ``watch_path``.

        Setting the watches walks the trees, so it runs in the loop's default
        executor.  Raises ``FileNotFoundError`` for a missing ``watch_path``.
        """
        if self._running:
            return
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        by_root: dict[str, list[_State]] = {}
        for s in self._states:
            if not os.path.isdir(s.root):
                raise FileNotFoundError(
                    f"watch path {s.root} is not a directory: fix the handler's `watch_path` in the config"
                )
            by_root.setdefault(s.root, []).append(s)
        self._running = True
        try:
            self._observer = await self._loop.run_in_executor(None, self._start_observer, by_root)
        except BaseException:
            self._running = False
            raise

    def _start_observer(self, by_root: dict[str, list[_State]]) -> Any:
        if self.backend == "inotify":
            tree = watch_inotify.InotifyTree(self._route)
            try:
                for root, states in by_root.items():
                    self._schedule_root(tree, root, states)
            except BaseException:
                tree.join()  # never started: closes the instance
                raise
            tree.start()
            return tree
        from watchdog.observers import Observer

        observer = Observer()
        for root, states in by_root.items():
            observer.schedule(_Dispatch(self, self._loop, states), root, recursive=True, event_filter=_EVENT_FILTER)
        observer.start()
        return observer

    def _schedule_root(self, tree: Any, root: str, states: list[_State]) -> None:
        dispatch = _Dispatch(self, self._loop, states)
        tree.add_root(root, dispatch.prunes)
        self._routes = self._routes + [(root, dispatch)]  # read by the reader thread: replaced, never mutated

    def _route(self, event: FileSystemEvent) -> None:
        """inotify reader thread: hand ``event`` to the dispatch of each root it is under."""
        paths = [os.fsdecode(event.src_path)]
        if event.event_type == "moved" and event.dest_path:
            paths.append(os.fsdecode(event.dest_path))
        for root, dispatch in self._routes:
            prefix = root.rstrip(os.sep) + os.sep
            if any(p.startswith(prefix) for p in paths):
                dispatch.dispatch(event)

    async def add(self, handler: Any) -> int:
        """Watch one more handler (same duck type as the constructor's) and return
        its index, as the callback will receive it.  Loop thread; the watch is in
        place when this returns."""
        state = _State(len(self._states), handler)
        if not os.path.isdir(state.root):
            raise FileNotFoundError(
                f"watch path {state.root} is not a directory: fix the handler's `watch_path` in the config")
        self._states.append(state)
        if self._running and self._observer is not None:
            observer = self._observer

            def schedule() -> None:
                if self.backend == "inotify":
                    self._schedule_root(observer, state.root, [state])
                else:
                    observer.schedule(_Dispatch(self, self._loop, [state]), state.root, recursive=True,
                                      event_filter=_EVENT_FILTER)

            await self._loop.run_in_executor(None, schedule)
        return state.index

    def handler(self, index: int) -> Any:
        """The handler object the callback's ``index`` stands for."""
        return self._states[index].handler

    def watched_directories(self) -> list[str]:
        """inotify backend: the directories watched now (for tests and benchmarks)."""
        observer = self._observer
        return observer.watched() if self.backend == "inotify" and observer is not None else []

    async def stop(self) -> None:
        """Stop watching; pending batches are dropped.  Returns once every
        watchdog thread has ended (joined in the default executor)."""
        self._running = False
        for s in self._states:
            if s.timer is not None:
                s.timer.cancel()
                s.timer = None
            s.pending.clear()
        observer, self._observer = self._observer, None
        if observer is not None:
            await self._loop.run_in_executor(None, _stop_observer, observer)
        self._routes = []

    # -- loop thread from here on

    def _on_raw_event(self, hits: list[tuple[int, bool]], event: FileSystemEvent, seen: float) -> None:
        if not self._running:
            return
        etype = event.event_type
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if event.dest_path else None
        if etype in ("closed", "attrib"):
            etype = "modified"
        change = FileChange(etype, src, dest if event.event_type == "moved" else None, event.is_directory, seen)
        for i, renamed_in in hits:
            s = self._states[i]
            if not s.pending:
                s.first_pending = self._loop.time()
            if event.event_type == "closed":
                new_file = ("created", src, None) in s.pending
                wait = self._settle if new_file else 0.0
            elif renamed_in:
                wait = 0.0
            else:
                wait = self._default_delay
            s.add(change)
            self._schedule(s, wait)

    def _schedule(self, s: _State, wait: float) -> None:
        now = self._loop.time()
        if s.debounce is not None:
            self._arm(s, now + s.debounce, replace=True)
        elif s.throttle is not None:
            self._arm(s, max(now + wait, s.last_fire + s.throttle))
        elif now < s.quiet_until:
            # the burst that fired goes on: one trailing batch once it is quiet
            s.quiet_until = now + self._default_delay
            self._arm(s, min(now + self._default_delay, s.first_pending + _MAX_WAIT), replace=True)
        else:
            self._arm(s, now + wait)

    def _arm(self, s: _State, due: float, replace: bool = False) -> None:
        """Set the handler's single timer to ``due`` (keep an earlier one unless ``replace``)."""
        if s.timer is not None:
            if not replace and s.due <= due:
                return
            s.timer.cancel()
        s.due = due
        s.timer = self._loop.call_at(due, self._fire, s)

    def _fire(self, s: _State) -> None:
        s.timer = None
        if not s.pending or not self._running:
            return
        changes = list(s.pending.values())
        s.pending.clear()
        now = self._loop.time()
        s.last_fire = now
        s.quiet_until = now + self._default_delay
        try:
            self._callback(s.index, changes)
        except Exception:
            log.exception("watch callback failed for handler %d", s.index)


def _stop_observer(observer: Any) -> None:
    """Stop and join the observer (blocking: runs in an executor thread)."""
    observer.stop()
    observer.join()
