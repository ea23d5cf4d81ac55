"""Work around a reference-count bug in some PySide6 builds on Python < 3.12.

PySide6 6.12.0 (seen with shiboken6 6.12.0 on CPython 3.11) returns ``None``
from every ``void`` C++ method, and ``True`` from ``Signal.emit()``, without
taking a reference.  Python 3.12+ made these singletons immortal (PEP 683),
so there the bug is invisible; on 3.11 each call drops a count by one, and
after a few thousand calls (``setText``, ``insertText``, timers, emits...)
the interpreter aborts with "Fatal Python error: none_dealloc: deallocating
None" (or ``bool_dealloc``).

:func:`guard_none_refcount` detects the bug (a few calls and a look at
``sys.getrefcount``) and, only when it is present, lifts the counts of
``None``, ``True`` and ``False`` by 2**40 -- what PEP 683 does for 3.12 -- so
the window can run for years of calls.  It does nothing on fixed builds or
newer Pythons.
"""

from __future__ import annotations

import sys

_BUMP = 1 << 40
_applied = False


def pyside_leaks_singletons() -> bool:
    """True when PySide6 steals references to None (void methods) or True (emit)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    from PySide6.QtCore import QObject, QPoint, Signal

    class _Probe(QObject):
        fired = Signal()

    point = QPoint()
    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(10):
        point.setX(1)
        probe.fired.emit()
    return sys.getrefcount(None) < none_before - 5 or sys.getrefcount(True) < true_before - 5


def guard_none_refcount() -> bool:
    """Apply the workaround if needed; returns True when it was applied."""
    global _applied
    if _applied:
        return True
    if not pyside_leaks_singletons():
        return False
    import ctypes

    for singleton in (None, True, False):
        refcnt = ctypes.c_ssize_t.from_address(id(singleton))
        refcnt.value += _BUMP
    _applied = True
    return True


class MainThreadGC:
    """Python's cyclic garbage collector, run only on the GUI thread.

    Automatic collection runs in whichever thread happens to allocate past
    the threshold -- here often a kernel reader thread or jupyter_client's
    heartbeat thread.  A Qt object freed there is destroyed in the wrong
    thread: Qt cannot stop its timers from another thread ("Timers cannot be
    stopped from another thread"), the timer fires later on freed memory, and
    the process dies in ``QTimerInfoList::activateTimers``.  So, as pyqtgraph's
    ``GarbageCollector`` does, automatic collection is switched off and a
    QTimer collects on the GUI thread, generation by generation, with the
    interpreter's own thresholds.
    """

    def __init__(self, interval_ms: int = 500):
        import gc

        from PySide6.QtCore import QTimer

        self._gc = gc
        self._was_enabled = gc.isenabled()
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer()
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def check(self) -> None:
        gc = self._gc
        l0, l1, l2 = gc.get_count()
        if l0 > self.threshold[0]:
            gen = 0
            if l1 > self.threshold[1]:
                gen = 1
                if l2 > self.threshold[2]:
                    gen = 2
            gc.collect(gen)

    def stop(self) -> None:
        """Collect everything now (on this thread) and give collection back."""
        self.timer.stop()
        self._gc.collect()
        if self._was_enabled:
            self._gc.enable()
