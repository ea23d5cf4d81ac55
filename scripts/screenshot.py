"""Take docs/screenshot.png: the window running the demo.

    python scripts/screenshot.py [--out docs/screenshot.png] [--dark]

Runs offscreen unless DISPLAY is set and QT_QPA_PLATFORM says otherwise.
Uses a throwaway settings file, opens tornado_launcher/resources/demo/jaffle.hcl (a copy with
free ports when 8765/8766 are taken), sends a few requests so the logs have
lines, grabs the window with QWidget.grab(), then quits cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import tornado_launcher.gui  # noqa: E402, F401  (PySide6 guard first)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_config(tmp: Path) -> Path:
    demo = ROOT / "tornado_launcher" / "resources" / "demo"
    if _port_free(8765) and _port_free(8766):
        return demo / "jaffle.hcl"
    dest = tmp / "demo"
    shutil.copytree(demo, dest, ignore=shutil.ignore_patterns("__pycache__"))
    hcl = dest / "jaffle.hcl"
    hcl.write_text(hcl.read_text().replace("8765", str(_free_port())).replace("8766", str(_free_port())))
    return hcl


def _get(url: str) -> None:
    try:
        urllib.request.urlopen(url, timeout=3).read()
    except OSError:
        pass


async def shoot(out: Path, tmp: Path, dark: bool) -> None:
    from PySide6.QtWidgets import QApplication

    from tornado_launcher.gui.settings import Settings
    from tornado_launcher.gui.window import MainWindow

    window = MainWindow(Settings(str(tmp / "settings.ini")))
    window.resize(1280, 820)
    window.show()
    ok = await window.open_config(str(demo_config(tmp)))
    if not ok:
        raise SystemExit(f"the demo did not open: {window.error_page.messages}")
    loop = asyncio.get_running_loop()
    for _ in range(200):
        if all(r.state == "running" for r in window.apps_model.rows):
            break
        await asyncio.sleep(0.05)
    for row in window.apps_model.rows:
        for url in row.urls:
            for path in ("", "status", "", "missing"):
                await loop.run_in_executor(None, _get, url + path)
    await asyncio.sleep(0.6)
    window.apps_view.selectRow(window.apps_model.row_of("web"))
    window.tabs.setCurrentIndex(0)
    await asyncio.sleep(0.3)
    QApplication.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    print(f"wrote {out} ({window.width()}x{window.height()})")
    window.close()
    while not window.closed:
        await asyncio.sleep(0.05)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    ap.add_argument("--dark", action="store_true", help="use a dark palette (Fusion style)")
    args = ap.parse_args()

    import qasync

    from tornado_launcher.gui._compat import MainThreadGC
    from tornado_launcher.gui.app import make_app

    app = make_app()
    collector = MainThreadGC()  # as gui.run does: Python's GC on the GUI thread only
    if args.dark:
        from PySide6.QtGui import QColor, QPalette
        app.setStyle("Fusion")
        pal = QPalette()
        R = QPalette.ColorRole
        for role, color in ((R.Window, "#1f2328"), (R.WindowText, "#e6edf3"), (R.Base, "#0d1117"),
                            (R.AlternateBase, "#161b22"), (R.Text, "#e6edf3"), (R.Button, "#21262d"),
                            (R.ButtonText, "#e6edf3"), (R.Highlight, "#1f6feb"), (R.HighlightedText, "#ffffff"),
                            (R.ToolTipBase, "#161b22"), (R.ToolTipText, "#e6edf3"), (R.PlaceholderText, "#8b949e")):
            pal.setColor(role, QColor(color))
        app.setPalette(pal)
    with tempfile.TemporaryDirectory() as tmp:
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            try:
                runner.run(shoot(Path(args.out), Path(tmp), args.dark))
            finally:
                collector.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
