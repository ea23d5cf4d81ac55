"""A print flood through `tornado-launcher start`: how far behind its output falls, and its memory.

Run:  python benchmarks/print_flood.py [--seconds 20] [--after 10]

An app prints ``FLOOD <time> <n>`` lines as fast as a thread of the kernel can for ``--seconds``;
this script reads the launcher's stdout as a terminal would (as fast as it comes) and samples the
launcher's RSS every 0.2 s.  Printed: lines printed by the app, lines shown, lines the launcher
reported dropped (the kernel side's "log records dropped" and the output's "lines not shown"),
the lag of shown lines (now - printed) at the worst and at the end of the flood, how long after
the flood the output caught up, and the launcher's RSS before, at peak and ``--after`` s later.
Issue 19 measured the launcher before its bounded output: 66k lines/s for 20 s left the output
10 s behind, still 10 s behind 10 s after, RSS 40 -> 141 MB.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers import free_port  # noqa: E402

APP = '''
import threading, time
import tornado.httpserver, tornado.ioloop, tornado.web

STATE = {"printed": 0}

def flood(seconds):
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        print("FLOOD %.6f %d" % (time.time(), n))
        n += 1
    STATE["printed"] = n
    print("FLOOD-END %d" % n)

class Flood(tornado.web.RequestHandler):
    def get(self):
        threading.Thread(target=flood, args=(float(self.get_argument("seconds")),), daemon=True).start()
        self.write("started")

class Done(tornado.web.RequestHandler):
    def get(self):
        self.write(str(STATE["printed"]))

class App:
    def __init__(self, argv):
        self.port = int(argv[0].split("=")[1])

    def start(self):
        web = tornado.web.Application([(r"/flood", Flood), (r"/done", Done)])
        tornado.httpserver.HTTPServer(web).listen(self.port, address="127.0.0.1")
        tornado.ioloop.IOLoop.current().start()
'''

HCL = '''
kernel "k" {}
app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "k"
  start  = "web.start()"
  options {
    app_class = "flood.App"
    argv      = ["--port=%d"]
  }
}
'''


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--after", type=float, default=10.0)
    ns = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="flood-"))
    port = free_port()
    (root / "flood.py").write_text(APP)
    (root / "jaffle.hcl").write_text(HCL % port)
    env = dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "tornado_launcher", "start", "--no-reload"], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    stats = {"shown": 0, "worst": 0.0, "last_lag": 0.0, "dropped": 0, "last_seen": 0.0, "serving": False}
    drop_re = re.compile(rb"(\d+) (?:log records dropped|log lines dropped|lines not shown)")

    def read() -> None:
        for line in proc.stdout:
            now = time.time()
            if b"serving at" in line:
                stats["serving"] = True
            m = drop_re.search(line)
            if m:
                stats["dropped"] += int(m.group(1))
            i = line.find(b"FLOOD ")
            if i >= 0:
                lag = now - float(line[i:].split()[1])
                stats["shown"] += 1
                stats["worst"] = max(stats["worst"], lag)
                stats["last_lag"] = lag
                stats["last_seen"] = now

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 90
        while not stats["serving"]:
            if time.monotonic() > deadline:
                print("the app never served")
                return 1
            time.sleep(0.1)
        time.sleep(1)
        before = rss_mb(proc.pid)
        peak = before
        urllib.request.urlopen(f"http://127.0.0.1:{port}/flood?seconds={ns.seconds}", timeout=30).read()
        t0 = time.time()
        end_flood = t0 + ns.seconds
        lag_at_end = None
        while time.time() < end_flood + ns.after:
            peak = max(peak, rss_mb(proc.pid))
            if lag_at_end is None and time.time() >= end_flood:
                lag_at_end = stats["last_lag"]
            time.sleep(0.2)
        after = rss_mb(proc.pid)
        printed = int(urllib.request.urlopen(f"http://127.0.0.1:{port}/done", timeout=30).read() or 0)
        caught_up = stats["last_seen"] - end_flood
        print(f"flood: {ns.seconds:g} s, {printed} lines printed by the app ({printed / ns.seconds:,.0f}/s)")
        print(f"shown {stats['shown']}, reported dropped {stats['dropped']}, unaccounted "
              f"{printed - stats['shown'] - stats['dropped']}")
        print(f"lag of shown lines: worst {stats['worst']:.2f} s, at the flood's end {lag_at_end or 0:.2f} s; "
              f"last flood line shown {caught_up:+.2f} s after the flood ended")
        print(f"launcher RSS: {before:.0f} MB before, {peak:.0f} MB peak, {after:.0f} MB {ns.after:g} s after")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
