"""Where the window finds files that ship with the launcher.

In a source checkout or an installed wheel the resources sit next to the
package (``<repo>/resources``); in a PyInstaller bundle they are unpacked
under ``sys._MEIPASS``.  Nothing here imports Qt.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import tornado_launcher


def resources_dir() -> Path:
    """The ``resources/`` directory, frozen or not."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(tornado_launcher.__file__).resolve().parent.parent / "resources"


def demo_config() -> Optional[Path]:
    """``resources/demo/jaffle.hcl``, or None when this build has no demo."""
    path = resources_dir() / "demo" / "jaffle.hcl"
    return path if path.is_file() else None


def icon_file(name: str) -> Optional[Path]:
    """A file in ``resources/icons/`` (e.g. ``tornado-launcher.svg``), or None."""
    path = resources_dir() / "icons" / name
    return path if path.is_file() else None
