"""``tornado-launcher install-desktop``: the menu entry, icon and ``.hcl`` association.

For a launcher installed with pip / pipx (the desktop app's
``scripts/build_app.sh --install-user`` does the same for the bundle): writes
under ``$XDG_DATA_HOME`` (``~/.local/share``) by default, or under
``--prefix`` (e.g. ``/usr/local/share``):

- ``applications/tornado-launcher.desktop``, its ``Exec`` pointing at this
  installation's ``tornado-launcher-gui`` script (or this Python with
  ``-m tornado_launcher`` when the script is not found);
- ``icons/hicolor/NxN/apps/tornado-launcher.png`` and the scalable SVG;
- ``mime/packages/tornado-launcher.xml``: ``*.hcl`` as ``text/x-hcl``;

then refreshes the desktop, MIME and icon caches when their tools exist.
``--uninstall`` removes those files.  No Qt.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

from . import assets
from .kernels.interpreter import child_env

NAME = "tornado-launcher"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
MIME_XML = """<?xml version="1.0" encoding="UTF-8"?>
<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">
  <mime-type type="text/x-hcl">
    <sub-class-of type="text/plain"/>
    <comment>HCL configuration (Jaffle / tornado-launcher)</comment>
    <glob pattern="*.hcl"/>
  </mime-type>
</mime-info>
"""


def launch_command() -> List[str]:
    """How the menu entry starts this installation's window."""
    here = Path(sys.executable).parent
    for name in ("tornado-launcher-gui", "tornado-launcher"):
        script = here / name
        if script.is_file() and os.access(script, os.X_OK):
            return [str(script)]
    found = shutil.which("tornado-launcher-gui")
    if found:
        return [found]
    return [sys.executable, "-m", "tornado_launcher"]


def desktop_entry(command: List[str]) -> str:
    src = assets.desktop_file()
    if src is None:
        raise FileNotFoundError("this installation ships no tornado-launcher.desktop (reinstall the package)")
    exec_line = " ".join(shlex.quote(c) for c in command)
    out = []
    for line in src.read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = f"Exec={exec_line} %f"
        elif line.startswith("TryExec="):
            line = f"TryExec={command[0]}"
        out.append(line)
    return "\n".join(out) + "\n"


def targets(data: Path) -> List[Path]:
    files = [data / "applications" / f"{NAME}.desktop", data / "mime" / "packages" / f"{NAME}.xml",
             data / "icons" / "hicolor" / "scalable" / "apps" / f"{NAME}.svg"]
    files += [data / "icons" / "hicolor" / f"{s}x{s}" / "apps" / f"{NAME}.png" for s in SIZES]
    return files


def install(data: Path, command: Optional[List[str]] = None) -> List[Path]:
    """Write the entry, icons and MIME type under ``data``; returns the files written."""
    written = []
    entry = data / "applications" / f"{NAME}.desktop"
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(desktop_entry(command or launch_command()), encoding="utf-8")
    written.append(entry)
    mime = data / "mime" / "packages" / f"{NAME}.xml"
    mime.parent.mkdir(parents=True, exist_ok=True)
    mime.write_text(MIME_XML, encoding="utf-8")
    written.append(mime)
    icons = [(assets.icon_file(f"{NAME}.svg"), data / "icons" / "hicolor" / "scalable" / "apps" / f"{NAME}.svg")]
    icons += [(assets.icon_file(f"{NAME}-{s}.png"), data / "icons" / "hicolor" / f"{s}x{s}" / "apps" / f"{NAME}.png")
              for s in SIZES]
    for src, dest in icons:
        if src is None:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        written.append(dest)
    _refresh(data)
    return written


def uninstall(data: Path) -> List[Path]:
    removed = []
    for f in targets(data):
        if f.is_file():
            f.unlink()
            removed.append(f)
    _refresh(data)
    return removed


def _refresh(data: Path) -> None:
    """The caches desktops read; each tool is optional (a missing one changes nothing we wrote)."""
    for tool, arg in (("update-desktop-database", data / "applications"), ("update-mime-database", data / "mime"),
                      ("gtk-update-icon-cache", data / "icons" / "hicolor")):
        exe = shutil.which(tool)
        if exe is None or not arg.is_dir():
            continue
        cmd = [exe, "-q", "-t", str(arg)] if tool == "gtk-update-icon-cache" else [exe, str(arg)]
        try:
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=False,
                           env=child_env())
        except (OSError, subprocess.TimeoutExpired):
            pass


def main(argv: List[str]) -> int:
    p = argparse.ArgumentParser(prog="tornado-launcher install-desktop",
                                description="Add the menu entry, icon and .hcl file association for this installation.")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true",
                       help="for this user, under $XDG_DATA_HOME or ~/.local/share (default)")
    where.add_argument("--prefix", metavar="DIR", help="under DIR instead (e.g. /usr/local/share, for every user)")
    p.add_argument("--uninstall", action="store_true", help="remove what install-desktop wrote there")
    ns = p.parse_args(argv)
    data = Path(ns.prefix) if ns.prefix else Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    try:
        if ns.uninstall:
            for f in uninstall(data):
                print(f"removed {f}")
            return 0
        files = install(data)
    except OSError as e:
        sys.stderr.write(f"tornado-launcher install-desktop: could not write under {data}: {e}; "
                         "pick a directory you can write with --prefix, or run it as the user it is for\n")
        return 1
    for f in files:
        print(f"wrote {f}")
    return 0
