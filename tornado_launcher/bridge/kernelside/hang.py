"""Noticing a blocked loop, from a thread, and saying where it is stuck.

A handler that spins (``while True: pass``) or sleeps (``time.sleep(30)``)
blocks the loop it runs on: the kernel's own loop for an app in shared mode
(every app of the kernel and the launcher's cells wait), the app's own loop in
threaded mode.  Nothing on that loop can report it, so:

* each watched loop *beats*: a callback on it notes the time every
  :data:`BEAT` s (``call_later``, a few microseconds each);
* one monitor thread (which keeps running while a loop is blocked: a blocked
  Python thread releases the GIL at each switch interval) looks every
  :data:`CHECK` s.  A loop that has not beaten for :data:`BLOCKED_AFTER` s
  (:data:`IMPORT_BLOCKED_AFTER` s while the thread is importing: slow, not stuck) is
  reported with the innermost frame of the project's code in the loop's thread
  (``sys._current_frames()``), as a ``hang`` record sent at once; when it
  beats again, a second record says how long it was blocked.

Interrupt: ipykernel turns SIGINT into ``KeyboardInterrupt`` only while a
cell executes; between cells it ignores SIGINT, so an interrupt could not reach
a handler that blocks the loop outside a cell.  The monitor installs its own
SIGINT handler in the gap (from the kernel's loop, whenever it finds SIGINT
ignored there: ipykernel saves and restores it around each cell).  When the
kernel's loop is blocked it raises :class:`Interrupted` in the blocked frame
(an ``Exception``: Tornado answers the request with a 500 and the loop goes on;
a ``KeyboardInterrupt`` raised in a callback or task would end the kernel's
loop, asyncio re-raises it); blocked threaded apps get it asynchronously in
their thread (``PyThreadState_SetAsyncExc``: at the next bytecode, so after a
C call such as ``time.sleep`` returns).  With no loop blocked, SIGINT stays
ignored, as ipykernel has it.
"""

import ctypes
import os
import signal
import sys
import threading
import time

from .. import protocol
from . import state
from .records import emit

BEAT = 0.5  # seconds between a loop's beats
CHECK = 0.25  # seconds between the monitor's looks
BLOCKED_AFTER = 2.0  # seconds without a beat: reported as blocked
#: seconds without a beat while the blocked thread is importing: an app's start (or a lazy import)
#: that imports hundreds of modules is slow, not stuck (jupyter_server's start takes 1.5 s here, more
#: under load, with the kernel's loop parked while its main runs in lockstep); a module whose import
#: never ends is still reported, later
IMPORT_BLOCKED_AFTER = 30.0
_IMPORTLIB = "<frozen importlib._bootstrap"
#: the kernel's loop as a watch key (threaded apps' loops are keyed by app name)
KERNEL_LOOP = protocol.KERNEL_LOOP


class Interrupted(Exception):
    """Raised in a blocked loop's frame by the launcher's Interrupt (SIGINT)."""


class Watch:
    """One loop the monitor watches: its last beat and whether it was reported blocked."""

    def __init__(self, key, loop, thread_id, run=None):
        self.key = key
        self.loop = loop
        self.thread_id = thread_id
        self.run = run  # the threaded app's run; None for the kernel's loop
        self.last = time.monotonic()
        self.reported = False
        self.apps = ()
        self.since = self.last  # the last beat before it was reported blocked
        self.stopped = False

    def beat(self):
        """On the watched loop: note the time, beat again in BEAT s."""
        self.last = time.monotonic()
        if self.key == KERNEL_LOOP:
            _ensure_sigint_handler()
        if not self.stopped:
            try:
                self.loop.call_later(BEAT, self.beat)
            except RuntimeError:
                self.stopped = True  # the loop is closing

    def age(self, now):
        return now - self.last


class Monitor:
    """The monitor thread and its watches (the kernel's loop and each threaded app's)."""

    def __init__(self):
        self.watches = {}
        self.thread = None
        self.lock = threading.Lock()

    def start(self):
        """Watch the kernel's loop (bound by install) and start the thread; idempotent."""
        if self.thread is not None:
            return
        kernel = state.kernel
        w = Watch(KERNEL_LOOP, kernel.loop, kernel.thread)
        self.watches[KERNEL_LOOP] = w
        kernel.loop.call_soon_threadsafe(w.beat)
        self.thread = threading.Thread(target=self._main, name="tornado-launcher-hang", daemon=True)
        self.thread.start()

    def _main(self):
        wake = threading.Event()
        last_look = time.monotonic()
        while True:
            wake.wait(CHECK)
            now = time.monotonic()
            if now - last_look > BLOCKED_AFTER:
                # this thread did not run either: the whole process was stopped (SIGSTOP)
                # or starved; the loops get a fresh start instead of a false report
                for w in list(self.watches.values()):
                    if not w.reported:
                        w.last = max(w.last, now - CHECK)
            last_look = now
            try:
                self._look(now)
            except Exception as exc:  # never let the monitor die
                sys.__stderr__.write("tornado-launcher: hang monitor: %r\n" % (exc,))

    def _sync_threaded(self):
        """Add a watch for each threaded app's running loop; drop those of ended runs."""
        live = {}
        for name, app in list(state.apps.items()):
            run = getattr(app, "_run", None)
            if run is None or not getattr(run, "threaded", False) or not getattr(run, "loop_started", False):
                continue
            loop, thread = run.loop, run.thread
            if loop is None or thread is None or thread.ident is None or loop.is_closed():
                continue
            live[name] = run
        with self.lock:
            for key in [k for k in self.watches if k != KERNEL_LOOP]:
                w = self.watches[key]
                if live.get(key) is not w.run:
                    w.stopped = True
                    del self.watches[key]
                    if w.reported:
                        self._report(w, False, time.monotonic(), "its loop ended")
            for name, run in live.items():
                if name not in self.watches:
                    w = Watch(name, run.loop, run.thread.ident, run)
                    try:
                        run.loop.call_soon_threadsafe(w.beat)
                    except RuntimeError:
                        continue
                    self.watches[name] = w

    def _look(self, now):
        self._sync_threaded()
        for w in list(self.watches.values()):
            age = w.age(now)
            if age >= BLOCKED_AFTER and not w.reported:
                if age < IMPORT_BLOCKED_AFTER and importing(w.thread_id):
                    continue
                w.reported = True
                w.apps = tuple(self._apps_on(w))
                self._report(w, True, now)
            elif w.reported and age < BLOCKED_AFTER:
                w.reported = False
                self._report(w, False, now)

    def _apps_on(self, w):
        if w.key != KERNEL_LOOP:
            return [w.key]
        names = []
        for name, app in list(state.apps.items()):
            run = getattr(app, "_run", None)
            if run is not None and getattr(run, "threaded", False):
                continue  # on its own loop: not held up by this one
            names.append(name)
        return names

    def _report(self, w, blocked, now, why=None):
        if blocked:
            w.since = w.last
            seconds = now - w.last
            where = where_blocked(w.thread_id)
        else:
            seconds = now - w.since
            where = why
        emit(protocol.hang_record(w.key, list(w.apps), blocked, round(seconds, 1), where), True)

    def blocked(self, key=KERNEL_LOOP, now=None):
        """Whether the loop ``key`` has not beaten for more than two beats."""
        w = self.watches.get(key)
        return w is not None and w.age(time.monotonic() if now is None else now) > 2 * BEAT

    def interrupt(self):
        """SIGINT arrived (main thread): interrupt blocked threaded apps; True if the kernel's loop is blocked."""
        now = time.monotonic()
        for key, w in list(self.watches.items()):
            if key != KERNEL_LOOP and w.age(now) > 2 * BEAT:
                _raise_in_thread(w.thread_id, Interrupted)
        return self.blocked(KERNEL_LOOP, now)


monitor = Monitor()


def _on_sigint(signum, frame):
    if monitor.interrupt():
        w = monitor.watches.get(KERNEL_LOOP)
        blocked = time.monotonic() - w.last if w is not None else 0.0
        raise Interrupted("interrupted from the launcher: the kernel's loop had been blocked here for %.1f s"
                          % blocked)
    # no loop blocked: ignore it, as ipykernel does between cells


def _ensure_sigint_handler():
    """On the kernel's loop, between cells: take SIGINT where ipykernel ignores it."""
    try:
        if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None):
            signal.signal(signal.SIGINT, _on_sigint)
    except (ValueError, OSError):
        pass  # not the main thread (a kernel whose loop runs elsewhere): no interrupt then


def _raise_in_thread(thread_id, exc_type):
    try:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))
    except Exception:
        pass


def _ours(path):
    """Whether ``path`` is the bridge's own code (never the place to blame)."""
    return path.startswith("<tornado_launcher") or protocol.MODULE_NAME in path


#: thread id -> the thread that runs in its place while it waits (the kernel's loop thread while
#: an app's main thread runs in lockstep with it, ``mainthread.MainThread.step``)
running_for = {}


def importing(thread_id):
    """Whether the thread that holds ``thread_id``'s loop is inside an ``import`` now."""
    f = sys._current_frames().get(running_for.get(thread_id, thread_id))
    while f is not None:
        if f.f_code.co_filename.startswith(_IMPORTLIB):
            return True
        f = f.f_back
    return False


def where_blocked(thread_id):
    """``"acme/handlers.py:31 in get"``: the innermost frame of the project's code in that thread
    (else the innermost frame), the path relative to the project directory; None if unknown."""
    frame = sys._current_frames().get(running_for.get(thread_id, thread_id))
    if frame is None:
        return None
    project = state.kernel.settings.get("project_dir")
    root = os.path.realpath(project) if project else None
    innermost = None
    f = frame
    while f is not None:
        path = f.f_code.co_filename
        if not _ours(path):
            if innermost is None:
                innermost = f
            if root and os.path.isabs(path):
                real = os.path.realpath(path)
                inside = real.startswith(root + os.sep) and os.sep + "site-packages" + os.sep not in real
                if inside:
                    return "%s:%d in %s" % (os.path.relpath(real, root), f.f_lineno, f.f_code.co_name)
        f = f.f_back
    f = innermost or frame
    return "%s:%d in %s" % (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)
