"""Work around a reference-count bug in some PySide6 builds on Python < 3.12.

PySide6 6.12.0 (seen with shiboken6 6.12.0 on CPython 3.11) returns ``None``
from every ``void`` C++ method without taking a reference to it.  Python 3.12+
made ``None`` immortal (PEP 683), so there the bug is invisible; on 3.11 each
call drops ``None``'s count by one, and after a few thousand calls
(``setText``, ``insertText``, timers...) the interpreter aborts with
"Fatal Python error: none_dealloc: deallocating None".

:func:`guard_none_refcount` detects the bug (ten calls of a void method and a
look at ``sys.getrefcount(None)``) and, only when it is present, lifts
``None``'s count by 2**40 -- what PEP 683 does for 3.12 -- so the window can
run for years of calls.  It does nothing on fixed builds or newer Pythons.
"""

from __future__ import annotations

import sys

_BUMP = 1 << 40
_applied = False


def pyside_leaks_none() -> bool:
    """True when a PySide6 void method steals a reference to None."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    from PySide6.QtCore import QPoint

    point = QPoint()
    before = sys.getrefcount(None)
    for _ in range(10):
        point.setX(1)
    return sys.getrefcount(None) < before - 5


def guard_none_refcount() -> bool:
    """Apply the workaround if needed; returns True when it was applied."""
    global _applied
    if _applied:
        return True
    if not pyside_leaks_none():
        return False
    import ctypes

    refcnt = ctypes.c_ssize_t.from_address(id(None))
    refcnt.value += _BUMP
    _applied = True
    return True
