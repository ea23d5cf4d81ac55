"""Linux inotify over a pruned tree: watches only the directories a handler can care about.

watchdog's recursive inotify observer places a watch on every directory below
the root, ignored or not (``InotifyWatchGroup._add_all_callbacks`` walks the
whole tree with ``os.walk``): a project with a ``.venv`` of 2,428 directories
costs 0.1 s at start, and ``node_modules`` trees can exhaust
``fs.inotify.max_user_watches``.  watchdog has no option to filter that walk
(up to its main branch, 7.0.0-dev), and the public alternative, one
non-recursive ``schedule()`` per directory, starts one emitter thread per
directory.

So on Linux the :class:`~tornado_launcher.watching.watcher.Watcher` uses this instead:
one inotify instance and one reader thread for all its roots.  A directory is
watched only if some root wants it (its ``prune`` says no: see
``watch._State.prunes``); directories that appear later are watched as their
``IN_CREATE`` / ``IN_MOVED_TO`` arrives (and their contents reported as
created, as watchdog does), directories moved away or into an ignored place
lose their watches.  The events handed on are watchdog's own event classes
(``FileModifiedEvent``, ``FileClosedEvent``, ``FileMovedEvent``, ...), with
watchdog's pairing rules (a rename within the tree is one move; a rename from
outside is a create, to outside a delete), so the Watcher's matching and
timing are the same on either backend.

The reader thread blocks in ``poll()`` without a timeout (it has one, 5 ms,
only while a rename's second half may still come): no CPU at idle.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import select
import struct
import sys
import threading
from typing import Callable, Dict, List, Optional, Tuple

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
)

__all__ = ["InotifyTree", "available"]

log = logging.getLogger(__name__)

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000
IN_CLOEXEC = 0o2000000
IN_NONBLOCK = 0o0004000

#: what each directory watch asks for: no opens, no reads, no closes without writing
MASK = (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
        | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

#: how long an unpaired IN_MOVED_FROM waits for its IN_MOVED_TO before it counts as a delete
MOVE_PAIR_WAIT_MS = 5

_EVENT = struct.Struct("iIII")
_libc: Optional[ctypes.CDLL] = None


def _lib() -> Optional[ctypes.CDLL]:
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.inotify_init1.argtypes = [ctypes.c_int]
            libc.inotify_init1.restype = ctypes.c_int
            libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
            libc.inotify_add_watch.restype = ctypes.c_int
            libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
            libc.inotify_rm_watch.restype = ctypes.c_int
            _libc = libc
        except (OSError, AttributeError):
            return None
    return _libc


def available() -> bool:
    """Whether this system has inotify (Linux with a libc that exposes it)."""
    return _lib() is not None


Prune = Callable[[str], bool]


class InotifyTree:
    """One inotify instance and its reader thread, for several roots.

    ``on_event(event)`` is called on the reader thread with each watchdog
    event, in order.  :meth:`add_root` walks a root (blocking: call it off the
    event loop) and may be called before or after :meth:`start`.  ``stop()``
    then ``join()`` end the thread and close the instance (the names
    watchdog's observer has, so the Watcher stops either the same way).
    """

    def __init__(self, on_event: Callable[[FileSystemEvent], None]) -> None:
        lib = _lib()
        if lib is None:
            raise OSError(errno.ENOSYS, "inotify is not available on this system")
        self._lib = lib
        self._on_event = on_event
        self._fd = lib.inotify_init1(IN_CLOEXEC | IN_NONBLOCK)
        if self._fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)} (fs.inotify.max_user_instances reached?)")
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._lock = threading.RLock()  # the maps below: the reader thread and add_root's caller
        self._path_of: Dict[int, str] = {}
        self._wd_of: Dict[str, int] = {}
        self._roots: List[Tuple[str, Prune]] = []
        self._limit_warned = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="tornado-launcher:inotify", daemon=True)

    # ---------------------------------------------------------------- public
    @property
    def fd(self) -> int:
        return self._fd

    def watched(self) -> List[str]:
        """The directories watched now."""
        with self._lock:
            return sorted(self._wd_of)

    def add_root(self, root: str, prune: Prune) -> None:
        """Watch ``root`` and every directory below it that ``prune`` does not refuse
        (``prune(abs_dir)`` True: neither it nor anything below it matters).
        Raises OSError when ``root`` itself cannot be watched."""
        root = os.path.abspath(root)
        with self._lock:
            self._roots.append((root, prune))
            self._walk(root, root_of_walk=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def join(self, timeout: Optional[float] = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)
        elif not self._thread.ident:  # never started
            self._close()

    # ---------------------------------------------------------------- watches
    def _wanted(self, path: str) -> bool:
        for root, prune in self._roots:
            if path == root:
                return True
            if path.startswith(root + os.sep) and not prune(path):
                return True
        return False

    def _add_watch(self, path: str, must: bool = False) -> bool:
        wd = self._lib.inotify_add_watch(self._fd, os.fsencode(path), MASK)
        if wd < 0:
            err = ctypes.get_errno()
            if err == errno.ENOSPC and not self._limit_warned:
                self._limit_warned = True
                log.warning("the inotify watch limit is reached: %s and other directories are not watched; "
                            "raise it with `sudo sysctl fs.inotify.max_user_watches=524288`", path)
            if must:
                raise OSError(err, f"cannot watch {path}: {os.strerror(err)}")
            return False
        old = self._path_of.get(wd)
        if old is not None and old != path:
            self._wd_of.pop(old, None)
        self._path_of[wd] = path
        self._wd_of[path] = wd
        return True

    def _walk(self, top: str, root_of_walk: bool = False, created: Optional[list] = None) -> None:
        """Watch ``top`` and the wanted directories below it; with ``created``, also
        collect a created event for everything found below ``top``."""
        stack = [top]
        while stack:
            d = stack.pop()
            if not self._add_watch(d, must=root_of_walk and d == top):
                continue
            try:
                it = os.scandir(d)
            except OSError:
                continue
            with it:
                for entry in it:
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        continue
                    if is_dir:
                        if not self._wanted(entry.path):
                            continue
                        stack.append(entry.path)
                        if created is not None:
                            created.append(DirCreatedEvent(entry.path))
                    elif created is not None:
                        created.append(FileCreatedEvent(entry.path))

    def _unwatch_tree(self, top: str) -> None:
        prefix = top + os.sep
        for path in [p for p in self._wd_of if p == top or p.startswith(prefix)]:
            wd = self._wd_of.pop(path)
            self._path_of.pop(wd, None)
            self._lib.inotify_rm_watch(self._fd, wd)

    def _rename_tree(self, src: str, dest: str) -> bool:
        """Move the watches of ``src`` and below to ``dest``; whether ``src`` was watched."""
        if src not in self._wd_of:
            return False
        prefix = src + os.sep
        for path in [p for p in self._wd_of if p == src or p.startswith(prefix)]:
            wd = self._wd_of.pop(path)
            new = dest + path[len(src):]
            self._wd_of[new] = wd
            self._path_of[wd] = new
        return True

    # ---------------------------------------------------------------- reading
    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        moved_from: Dict[int, Tuple[str, bool]] = {}
        try:
            while not self._stopping:
                ready = poller.poll(MOVE_PAIR_WAIT_MS if moved_from else None)
                if self._stopping:
                    break
                if not ready:  # a rename's source whose destination never came: moved away
                    for src, is_dir in moved_from.values():
                        self._moved_away(src, is_dir)
                    moved_from.clear()
                    continue
                try:
                    data = os.read(self._fd, 65536)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    if exc.errno == errno.EINTR:
                        continue
                    raise
                for event in self._events(data, moved_from):
                    try:
                        self._on_event(event)
                    except Exception:
                        log.exception("inotify event handler failed")
        except Exception:
            log.exception("the inotify reader stopped")
        finally:
            self._close()

    def _close(self) -> None:
        for fd in (self._fd, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._fd = -1

    def _moved_away(self, src: str, is_dir: bool) -> None:
        with self._lock:
            if is_dir:
                self._unwatch_tree(src)
        self._on_event(DirDeletedEvent(src) if is_dir else FileDeletedEvent(src))

    def _events(self, data: bytes, moved_from: Dict[int, Tuple[str, bool]]) -> List[FileSystemEvent]:
        out: List[FileSystemEvent] = []
        i = 0
        with self._lock:
            while i + _EVENT.size <= len(data):
                wd, mask, cookie, length = _EVENT.unpack_from(data, i)
                name = data[i + _EVENT.size:i + _EVENT.size + length].rstrip(b"\0")
                i += _EVENT.size + length
                if mask & IN_Q_OVERFLOW:
                    log.warning("the inotify queue overflowed: some file events were lost; watching again")
                    for root, _prune in list(self._roots):
                        self._walk(root)
                    continue
                where = self._path_of.get(wd)
                if where is None:
                    continue
                if mask & IN_IGNORED:
                    if self._wd_of.get(where) == wd:
                        del self._wd_of[where]
                    del self._path_of[wd]
                    continue
                if not name:  # IN_DELETE_SELF / IN_MOVE_SELF: the parent's event says it
                    continue
                path = os.path.join(where, os.fsdecode(name))
                is_dir = bool(mask & IN_ISDIR)
                if mask & IN_MOVED_FROM:
                    moved_from[cookie] = (path, is_dir)
                elif mask & IN_MOVED_TO:
                    src = moved_from.pop(cookie, None)
                    out.extend(self._moved_to(src[0] if src else None, path, is_dir))
                elif mask & IN_CREATE:
                    if is_dir:
                        out.append(DirCreatedEvent(path))
                        if self._wanted(path):
                            self._walk(path, created=out)
                    else:
                        out.append(FileCreatedEvent(path))
                elif mask & IN_DELETE:
                    out.append(DirDeletedEvent(path) if is_dir else FileDeletedEvent(path))
                elif is_dir:
                    continue  # a directory's own modify/attrib: nothing a handler counts
                elif mask & IN_CLOSE_WRITE:
                    out.append(FileClosedEvent(path))
                elif mask & IN_MODIFY:
                    out.append(FileModifiedEvent(path))
                elif mask & IN_ATTRIB:
                    out.append(FileAttribEvent(path))
        return out

    def _moved_to(self, src: Optional[str], dest: str, is_dir: bool) -> List[FileSystemEvent]:
        """The events of a rename into ``dest`` (from ``src`` in the tree, or from outside)."""
        if not is_dir:
            return [FileMovedEvent(src, dest) if src else FileCreatedEvent(dest)]
        out: List[FileSystemEvent] = []
        if src is None:
            out.append(DirCreatedEvent(dest))
            if self._wanted(dest):
                self._walk(dest, created=out)
            return out
        out.append(DirMovedEvent(src, dest))
        was_watched = self._rename_tree(src, dest)
        if not self._wanted(dest):
            self._unwatch_tree(dest)
            return out
        if not was_watched:
            self._walk(dest)
        # what was inside moved too (watchdog's generate_sub_moved_events), as far as it is watched
        below: list = []
        self._walk(dest, created=below)
        for ev in below:
            rel = ev.src_path[len(dest):]
            cls = DirMovedEvent if ev.is_directory else FileMovedEvent
            out.append(cls(src + rel, ev.src_path))
        return out
