"""Window under a log flood: loop lag and memory while an app logs 10,000 lines/s.

    python benchmarks/window_flood.py [--rate 10000] [--seconds 10] [--fake]

Opens the real window (offscreen unless a display is configured) on a
project whose one Tornado app, in a real kernel, logs ``--rate`` lines a
second (100-line bursts every 10 ms, each with ANSI colors) for ``--seconds``.
A 10 ms QTimer on the window's loop measures the lag (actual interval minus
10 ms); RSS is sampled every second.  ``--fake`` feeds the same number of
LogRecords straight into the window's event handler instead (the window's
own cost, without kernels and comm transport).

Floors (exit 1 when missed): p99 lag <= 100 ms; RSS growth in the last half
of the run <= 30 MB (bounded views: memory must plateau).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import tornado_launcher.gui  # noqa: E402, F401  (PySide6 guard first)

FLOOD_APP = '''
import logging
import tornado.httpserver, tornado.ioloop, tornado.web

log = logging.getLogger("flood")
log.setLevel(logging.INFO)

class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("flood %d" % self.application.n)

class App:
    def __init__(self, argv):
        opts = dict(a[2:].split("=", 1) for a in argv if a.startswith("--"))
        self.port, self.rate, self.seconds = int(opts["port"]), int(opts["rate"]), float(opts["seconds"])

    def start(self):
        self.web = tornado.web.Application([(r"/", Hello)])
        self.web.n = 0
        self.http_server = tornado.httpserver.HTTPServer(self.web)
        self.http_server.listen(self.port, address="127.0.0.1")
        self.io_loop = tornado.ioloop.IOLoop.current()
        self.t0 = self.io_loop.time()
        self.pc = tornado.ioloop.PeriodicCallback(self.burst, 10)
        self.pc.start()
        self.io_loop.start()

    def burst(self):
        due = int((self.io_loop.time() - self.t0) * self.rate)
        total = int(self.seconds * self.rate)
        while self.web.n < min(due, total):
            self.web.n += 1
            log.info("flood line %d \\x1b[32mgreen\\x1b[0m and \\x1b[1mbold\\x1b[0m text", self.web.n)
        if self.web.n >= total:
            self.pc.stop()
            log.warning("flood done: %d lines", self.web.n)

    def stop(self):
        def _stop():
            self.pc.stop()
            self.http_server.stop()
            self.io_loop.stop()
        self.io_loop.add_callback(_stop)
'''


def write_project(root: Path, port: int, rate: int, seconds: float) -> Path:
    (root / "floodproj").mkdir(parents=True)
    (root / "floodproj" / "__init__.py").write_text("")
    (root / "floodproj" / "web.py").write_text(FLOOD_APP)
    hcl = root / "jaffle.hcl"
    hcl.write_text(f'''
kernel "py_kernel" {{}}

app "flood" {{
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  start  = "flood.start()"
  options {{
    app_class = "floodproj.web.App"
    argv      = ["--port={port}", "--rate={rate}", "--seconds={seconds}"]
  }}
}}
''')
    return hcl


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int | None = None) -> float:
    import psutil
    return psutil.Process(pid or os.getpid()).memory_info().rss / 2**20


def pct(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


async def run(args) -> int:
    from PySide6.QtCore import Qt, QTimer

    from tornado_launcher.engine.events import LogRecord
    from tornado_launcher.gui.settings import Settings
    from tornado_launcher.gui.window import MainWindow

    tmp = Path(tempfile.mkdtemp(prefix="tl-flood-"))
    settings = Settings(str(tmp / "settings.ini"))
    settings.set_max_lines(args.max_lines)
    window = MainWindow(settings)
    window.resize(1280, 820)
    window.show()

    received = 0

    def count(ev):
        nonlocal received
        if isinstance(ev, LogRecord) and ev.app == "flood":
            received += 1

    if not args.fake:
        hcl = write_project(tmp, free_port(), args.rate, args.seconds)
        t = time.perf_counter()
        assert await window.open_config(str(hcl)), window.error_page.messages
        window.session.subscribe(count)
        print(f"opened the project in {time.perf_counter() - t:.2f} s; kernel starts flooding")
    # the flooded app's own view is the one on screen (the merged view too gets every line)
    view = window.app_log("flood")
    if args.fake:
        window.stack.setCurrentIndex(window.SESSION)
    window.tabs.setCurrentWidget(view)

    lags: list[float] = []
    rss: list[tuple[float, float]] = []
    last = time.perf_counter()
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)

    def tick():
        nonlocal last
        now = time.perf_counter()
        lags.append(max(0.0, (now - last) - 0.010) * 1000)
        last = now

    timer.timeout.connect(tick)
    timer.start(10)
    t0 = time.perf_counter()
    next_rss = t0

    if args.fake:
        async def feed():
            nonlocal received
            total = int(args.rate * args.seconds)
            start = time.perf_counter()
            while received < total:
                due = min(total, int((time.perf_counter() - start) * args.rate))
                while received < due:
                    received += 1
                    window.on_event(LogRecord(kernel="py_kernel", app="flood", level="INFO",
                                               message=f"flood line {received} \x1b[32mgreen\x1b[0m and "
                                                       "\x1b[1mbold\x1b[0m text"))
                await asyncio.sleep(0.01)
        feeder = asyncio.ensure_future(feed())

    deadline = t0 + args.seconds + 1.0
    while time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
        if time.perf_counter() >= next_rss:
            rss.append((time.perf_counter() - t0, rss_mb()))
            next_rss += 1.0
    timer.stop()
    if args.fake:
        await feeder
    elapsed = time.perf_counter() - t0
    blocks = view.text.document().blockCount()
    kernel_rss = None
    if window.session is not None:
        pid = window.kernels_model.get("py_kernel").pid
        kernel_rss = rss_mb(pid) if pid else None

    window.close()
    while not window.closed:
        await asyncio.sleep(0.05)

    half = [m for t, m in rss if t >= args.seconds / 2]
    growth = (max(half) - min(half)) if half else 0.0
    p50, p99, worst = pct(lags, 50), pct(lags, 99), max(lags) if lags else 0.0
    print(f"mode: {'fake events into the window' if args.fake else 'real kernel + session + window'}")
    print(f"records received by the window: {received} in {elapsed:.1f} s ({received / elapsed:.0f}/s); "
          f"flood view holds {blocks} blocks (limit {args.max_lines})")
    print(f"loop lag over {len(lags)} ticks of a 10 ms timer: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
    print("launcher RSS (MB) per second: " + ", ".join(f"{m:.0f}" for _, m in rss))
    print(f"launcher RSS: peak {max(m for _, m in rss):.0f} MB, growth over the second half {growth:.1f} MB"
          + (f"; kernel RSS {kernel_rss:.0f} MB" if kernel_rss else ""))
    ok = p99 <= 100 and growth <= 30 and blocks <= args.max_lines
    print("floor p99 <= 100 ms, bounded memory:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=10_000, help="lines per second (default 10000)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--max-lines", type=int, default=10_000, help="lines kept per view (default 10000)")
    ap.add_argument("--fake", action="store_true", help="feed events directly, no kernel")
    args = ap.parse_args()

    import qasync

    from tornado_launcher.gui._compat import MainThreadGC
    from tornado_launcher.gui.app import make_app

    app = make_app()
    collector = MainThreadGC()  # as gui.run does: Python's GC on the GUI thread only
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        try:
            return runner.run(run(args))
        finally:
            collector.stop()


if __name__ == "__main__":
    raise SystemExit(main())
