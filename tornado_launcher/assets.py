"""Files that ship inside the package: the demo project, the icons, the .desktop file.

They live in ``tornado_launcher/resources/`` (package data, so a wheel and
``pip install`` carry them) and are found with :mod:`importlib.resources`;
in a PyInstaller bundle they are unpacked under
``sys._MEIPASS/tornado_launcher/resources``.  A demo must be a real directory
on disk (its kernel runs there), so a package that is not on the file system
(a zip import) reports no demo rather than a path that does not exist.
Nothing here imports Qt.

One copy, no build step and no symlinks: the PNG/ICO/ICNS files are rendered from the SVGs
beside them by ``scripts/render_icons.py`` and committed. The top-level ``resources/`` keeps a
README that points here; ``gui/paths.py`` re-exports this module for the window.
"""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path
from typing import Optional


def resources_dir() -> Path:
    """The package's ``resources/`` directory, frozen or not."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "tornado_launcher" / "resources"
    return Path(str(files("tornado_launcher") / "resources"))


def demo_config() -> Optional[Path]:
    """``resources/demo/jaffle.hcl``, or None when this build has no demo."""
    path = resources_dir() / "demo" / "jaffle.hcl"
    return path if path.is_file() else None


def icon_file(name: str) -> Optional[Path]:
    """A file in ``resources/icons/`` (e.g. ``tornado-launcher.svg``), or None."""
    path = resources_dir() / "icons" / name
    return path if path.is_file() else None


def desktop_file() -> Optional[Path]:
    """``resources/tornado-launcher.desktop``, or None."""
    path = resources_dir() / "tornado-launcher.desktop"
    return path if path.is_file() else None
