"""Open files in the user's editor and URLs in the browser.

``$VISUAL`` or ``$EDITOR`` (a command line, e.g. ``code -w`` or ``gvim``) gets
``+LINE FILE`` (VS Code family: ``--goto FILE:LINE``); without either the
desktop's default application opens the file.  The editor is started detached
and never waited for: the event loop is not blocked.

Widgets call these through the module (``editor.open_file(...)``) so tests can
replace them.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from ..kernels.interpreter import child_env

_GOTO_EDITORS = {"code", "code-insiders", "codium", "vscodium", "cursor"}


def editor_command(path: str, line: Optional[int] = None, env=None) -> Optional[list[str]]:
    """The argv that opens ``path`` at ``line`` with $VISUAL/$EDITOR, or None."""
    env = os.environ if env is None else env
    editor = env.get("VISUAL") or env.get("EDITOR")
    if not editor:
        return None
    argv = shlex.split(editor)
    if not argv:
        return None
    name = Path(argv[0]).name.lower()
    if name.endswith(".exe"):
        name = name[:-4]
    if line and name in _GOTO_EDITORS:
        return argv + ["--goto", f"{path}:{line}"]
    if line:
        return argv + [f"+{line}", path]
    return argv + [path]


def open_file(path: str, line: Optional[int] = None) -> bool:
    argv = editor_command(path, line)
    if argv:
        try:
            subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True, env=child_env())
            return True
        except OSError:
            pass  # fall back to the desktop's default application
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def open_url(url: str) -> bool:
    return QDesktopServices.openUrl(QUrl(url))
