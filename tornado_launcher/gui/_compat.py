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
