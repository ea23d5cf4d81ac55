"""Files watched where they are: a watcher inside the kernel (``remote_files``).

For a kernel on another machine the launcher cannot see the project's files;
the kernel can.  The launcher sends its handlers (root on this machine,
patterns, the ignore list, case sensitivity) and this module watches them:
with watchdog's observer if this Python has watchdog, else by comparing
``(mtime_ns, size)`` of the watched tree every :data:`SCAN_INTERVAL` seconds
(the one poll the launcher accepts: without watchdog a remote Python offers
no event we could wait on).  Changes are gathered until :data:`QUIET`
seconds pass without a new one, the changed ``.py`` files are compiled here
(a save that does not compile keeps the old code serving), and one ``files``
record per handler goes out on the comm.  The launcher turns it into the same
``FileChange`` batches its own watcher makes.

The matching rule is the launcher's ``watching.watcher.matches`` (fnmatch on the path
relative to the root, ``*`` spanning ``/``, ignores against the whole path
and each component, virtualenvs skipped); ``tests/unit/test_filewatch.py``
holds both to the same table.
"""

import fnmatch
import os
import re
import threading
import time

from .. import protocol
from .records import emit, kernel_log

#: seconds between two scans of the tree when this Python has no watchdog
SCAN_INTERVAL = 0.5
#: seconds without a new change that end a batch
QUIET = 0.05


def _compile(patterns, case_sensitive):
    if not patterns:
        return None
    return re.compile("|".join(fnmatch.translate(p) for p in patterns), 0 if case_sensitive else re.IGNORECASE)


class Handler:
    """One handler's rule: which paths under ``root`` concern it."""

    def __init__(self, spec):
        self.index = int(spec["handler"])
        self.root = os.path.normpath(spec["root"])
        self.case_sensitive = bool(spec.get("case_sensitive"))
        self.ignore_directories = bool(spec.get("ignore_directories"))
        self.include = _compile(tuple(spec.get("patterns") or ("*",)), self.case_sensitive)
        self.ignore = _compile(tuple(spec.get("ignore_patterns") or ()), self.case_sensitive)

    def relative(self, path):
        prefix = self.root if self.root.endswith(os.sep) else self.root + os.sep
        if not path.startswith(prefix) or len(path) == len(prefix):
            return None
        return path[len(prefix):].replace(os.sep, "/")

    def ignored_dir(self, path):
        """A directory whose tree is never looked into (an ignore pattern, a virtualenv)."""
        rel = self.relative(path)
        if rel is None:
            return False
        name = rel.rsplit("/", 1)[-1]
        if self.ignore is not None and (self.ignore.match(name) or self.ignore.match(rel)):
            return True
        return not protocol.is_project_dir(path)

    def matches(self, path):
        rel = self.relative(path)
        if rel is None:
            return False
        rooted = "/" + rel
        parts = rel.split("/")
        ig = self.ignore
        if ig is not None and (ig.match(rel) or ig.match(rooted) or any(ig.match(p) for p in parts)):
            return False
        if not (self.include.match(rel) or self.include.match(rooted)):
            return False
        d = self.root
        for part in parts[:-1]:
            d = os.path.join(d, part)
            if not protocol.is_project_dir(d):
                return False
        return True


class FileWatch:
    """The handlers of one launcher, watched by watchdog or by scanning; one batcher thread."""

    def __init__(self, specs, backend=None):
        self.handlers = [Handler(s) for s in specs]
        self.backend = backend
        self._lock = threading.Condition()
        self._pending = {}  # (handler index, src path) -> [event_type, src, dest, is_directory]
        self._last = 0.0
        self._stopped = threading.Event()
        self._observer = None
        self._threads = []

    def start(self):
        if not self.handlers:
            return self
        used = None
        if self.backend in (None, "watchdog"):
            used = self._start_watchdog()
        if used is None:
            used = "scan"
            # the first picture before start() returns: a save made right after it is a change
            before = [self._snapshot(h) for h in self.handlers]
            self._spawn(lambda: self._scan_main(before), "tornado-launcher-scan")
        self.backend = used
        self._spawn(self._batch_main, "tornado-launcher-files")
        return self

    def _spawn(self, target, name):
        t = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def stop(self):
        self._stopped.set()
        with self._lock:
            self._lock.notify_all()
        if self._observer is not None:
            try:
                self._observer.stop()
            except Exception:  # noqa: BLE001
                pass

    # ------------------------------------------------------------ changes in
    def _add(self, handler, event_type, src, dest=None, is_directory=False):
        if is_directory and handler.ignore_directories:
            return
        if not (handler.matches(src) or (dest and handler.matches(dest))):
            return
        with self._lock:
            self._pending[(handler.index, src)] = [event_type, src, dest, bool(is_directory)]
            self._last = time.monotonic()
            self._lock.notify_all()

    def _start_watchdog(self):
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            return None
        watch = self

        class _Events(FileSystemEventHandler):
            def __init__(self, handler):
                self.handler = handler

            def on_any_event(self, event):
                kind = event.event_type
                if kind == "closed":
                    kind = "modified"
                if kind not in ("created", "modified", "moved", "deleted"):
                    return
                src = os.fsdecode(event.src_path)
                dest = os.fsdecode(event.dest_path) if getattr(event, "dest_path", None) else None
                watch._add(self.handler, kind, src, dest, event.is_directory)

        observer = Observer()
        try:
            for h in self.handlers:
                observer.schedule(_Events(h), h.root, recursive=True)
            observer.start()
        except Exception as e:  # noqa: BLE001 - e.g. out of inotify watches: scan instead
            kernel_log("WARNING", "watchdog cannot watch here (%s); scanning for changes instead" % e)
            return None
        self._observer = observer
        return "watchdog"

    def _snapshot(self, handler):
        seen = {}
        stack = [handler.root]
        while stack:
            d = stack.pop()
            try:
                it = os.scandir(d)
            except OSError:
                continue
            with it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if not handler.ignored_dir(entry.path):
                                stack.append(entry.path)
                        elif handler.matches(entry.path):
                            st = entry.stat()
                            seen[entry.path] = (st.st_mtime_ns, st.st_size)
                    except OSError:
                        continue
        return seen

    def _scan_main(self, before):
        while not self._stopped.wait(SCAN_INTERVAL):
            for i, h in enumerate(self.handlers):
                now = self._snapshot(h)
                old = before[i]
                for path, sig in now.items():
                    if path not in old:
                        self._add(h, "created", path)
                    elif old[path] != sig:
                        self._add(h, "modified", path)
                for path in old:
                    if path not in now:
                        self._add(h, "deleted", path)
                before[i] = now

    # ------------------------------------------------------------ batches out
    def _batch_main(self):
        while not self._stopped.is_set():
            with self._lock:
                while not self._pending and not self._stopped.is_set():
                    self._lock.wait()
                # wait for a quiet spell: the rest of a save (or of a burst) joins this batch
                while not self._stopped.is_set():
                    left = self._last + QUIET - time.monotonic()
                    if left <= 0:
                        break
                    self._lock.wait(left)
                pending, self._pending = self._pending, {}
            if self._stopped.is_set():
                return
            by_handler = {}
            for (index, _src), change in pending.items():
                by_handler.setdefault(index, []).append(change)
            for index, changes in sorted(by_handler.items()):
                py = sorted({c[2] or c[1] for c in changes
                             if not c[3] and c[0] != "deleted" and (c[2] or c[1]).endswith(".py")})
                emit(protocol.files_record(index, changes, protocol.compile_errors(py)), True)


#: the one watch of this kernel (a new one replaces it)
current = None


def watch(specs, backend=None):
    """Watch ``specs`` (replacing what was watched); an empty list stops watching. Returns the backend."""
    global current
    if current is not None:
        current.stop()
        current = None
    if specs:
        current = FileWatch(specs, backend).start()
        return current.backend
    return None
