"""Launcher memory with three apps running (the window, the session, no kernels).

    python benchmarks/window_rss.py

Copies the demo to a temporary directory with free ports, adds a third
Tornado app, opens it in the real window (offscreen unless a display is
configured), waits until all three serve over HTTP, sends a few hundred
requests (so the log views hold lines), waits 3 s and prints the launcher's
RSS -- its own process only -- next to the kernels' for context.

Floor (exit 1 when missed): launcher RSS <= 200 MB.
"""

from __future__ import annotations

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

THIRD = '''
app "admin" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  start  = "admin.start()"

  options {
    app_class   = "demo_app.app.DemoApp"
    argv        = ["--port=%d", "--name=admin"]
    threaded    = true
    clear_cache = ["demo_app"]
  }
}
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            r.read()
            return r.status
    except OSError:
        return 599


def rss_mb(pid: int) -> float:
    import psutil
    return psutil.Process(pid).memory_info().rss / 2**20


async def measure(tmp: Path) -> int:
    from tornado_launcher.gui.settings import Settings
    from tornado_launcher.gui.window import MainWindow

    dest = tmp / "demo"
    shutil.copytree(ROOT / "resources" / "demo", dest, ignore=shutil.ignore_patterns("__pycache__"))
    hcl = dest / "jaffle.hcl"
    ports = [free_port() for _ in range(3)]
    text = hcl.read_text().replace("8765", str(ports[0])).replace("8766", str(ports[1]))
    hcl.write_text(text + THIRD % ports[2])

    before = rss_mb(os.getpid())
    window = MainWindow(Settings(str(tmp / "settings.ini")))
    window.resize(1280, 820)
    window.show()
    assert await window.open_config(str(hcl)), window.error_page.messages
    loop = asyncio.get_running_loop()
    urls = [f"http://127.0.0.1:{p}/" for p in ports]
    for _ in range(600):
        codes = [await loop.run_in_executor(None, get, u) for u in urls]
        if codes == [200, 200, 200]:
            break
        await asyncio.sleep(0.05)
    else:
        raise SystemExit(f"not all three apps serve: {codes}")
    for _ in range(100):
        for u in urls:
            await loop.run_in_executor(None, get, u)
    await asyncio.sleep(3)
    running = [r.name for r in window.apps_model.rows if r.state == "running" and r.kind == "tornado"]
    launcher = rss_mb(os.getpid())
    kernels = {name: rss_mb(k.pid) for name, k in window.session.kernels.items() if k.pid}
    window.close()
    while not window.closed:
        await asyncio.sleep(0.05)
    print(f"tornado apps running: {', '.join(running)} (plus the watchdog app), 300 requests served")
    print(f"launcher RSS: {launcher:.0f} MB (Python + Qt before the window: {before:.0f} MB); "
          + ", ".join(f"kernel {n}: {m:.0f} MB" for n, m in kernels.items()))
    ok = launcher <= 200 and len(running) == 3
    print("floor launcher RSS <= 200 MB with three apps:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    import qasync

    from tornado_launcher.gui._compat import MainThreadGC
    from tornado_launcher.gui.app import make_app

    app = make_app()
    collector = MainThreadGC()  # as gui.run does: Python's GC on the GUI thread only
    with tempfile.TemporaryDirectory() as tmp:
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            try:
                return runner.run(measure(Path(tmp)))
            finally:
                collector.stop()


if __name__ == "__main__":
    raise SystemExit(main())
