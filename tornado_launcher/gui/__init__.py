"""The Qt window.  :func:`run` is what ``tornado-launcher [gui] [CONFIG]`` calls.

Everything Qt lives under this package; the engine never imports it.
``controller.py`` is the exception inside it: the window's logic, Qt-free.
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
