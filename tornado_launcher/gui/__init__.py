"""The Qt window.  :func:`run` is what ``tornado-launcher [gui] [CONFIG]`` calls.

Everything Qt lives under this package; the engine never imports it.
``controller.py`` is the exception inside it: the window's logic, Qt-free.

| ``gui/pages.py`` | the welcome page (no config yet) and the config error panel | |
``gui/editor.py`` | files opened in the user's editor (``$VISUAL``/``$EDITOR``), URLs in the
browser | | ``gui/icons.py`` | vector icons drawn in the theme's text color | |
``gui/settings.py`` | what the window remembers between runs (QSettings) |
``gui.run(config_path, auto_reload=True)`` builds a ``QApplication``, then runs everything on
``asyncio.Runner(loop_factory=qasync.QEventLoop)``: not ``qasync.run``, whose global event-loop
policy on Python 3.11 gives jupyter_client's heartbeat thread a Qt loop ("QApplication::exec:
Must be called from the main thread"). Widgets only render: ``AppsModel`` / ``KernelsModel`` are
fed by session events, log views batch on a 50 ms timer and keep a bounded number of blocks, so
a flood never freezes the window. Python's garbage collector runs only on the GUI thread
(``MainThreadGC``): collected in a kernel reader thread, Qt objects were freed there and their
timers fired on freed memory. PySide6 6.12.0 returns ``None`` without a reference on Python 3.11
(it aborts after a few thousand calls): pyproject excludes it and ``gui/_compat.py`` guards
against it. A ``not responding`` app or kernel has its own badge; an app's row then shows where
it is stuck instead of its URL and enables its Interrupt button (``APP_ACTIONS["interrupt"]``:
``interrupt_kernel`` of the app's kernel). Note: ``loop.stop()`` on a running qasync loop calls
``QApplication.exit()``; no Qt timer fires after that.

The window is split in two. ``gui/controller.py``'s ``WindowController`` is Qt-free (imports
without PySide6; tested under plain asyncio in
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_API", "pyside6")  # before qasync picks a binding

from ._compat import guard_none_refcount  # noqa: E402

try:
    guard_none_refcount()
except ImportError:  # no PySide6: only the Qt-free parts (controller.py) can be used
    pass

__all__ = ["run"]


def run(config_path: "str | None" = None, *, auto_reload: bool = True,
        settings_path: "str | None" = None, overlays: "list[str] | None" = None,
        variables: "dict[str, str] | None" = None, generated: "tuple[str, str, str] | None" = None) -> int:
    """Open the window (on ``config_path``, or the welcome page), run until
    the user quits, and return the exit code (0 after a clean shutdown).

    ``auto_reload`` False starts every app with auto-reload off (``--no-reload``);
    ``settings_path`` (an ini file) replaces the user's settings store.
    ``overlays`` (more config files, deep-merged over it) and ``variables``
    (``--variables``) apply to ``config_path`` only, also when it is re-read;
    another config opened from the window is read as it is.  ``generated``
    ``(name, text, directory)``: run that config text, never written to disk
    (``tornado-launcher run TARGET --gui``)."""
    from .app import run as _run
    return _run(config_path, auto_reload=auto_reload, settings_path=settings_path,
                overlays=overlays, variables=variables, generated=generated)
