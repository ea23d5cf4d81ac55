"""Frozen app: time from launch to its window on screen, median of N runs,
side by side with the same launcher run from source (a pip install).

    python benchmarks/frozen_startup.py [-n 7] [--app dist/tornado-launcher/tornado-launcher]
                                        [--config resources/demo/jaffle.hcl] [--frozen-only]

Each run starts a fresh process on a private Xvfb server and waits for the
first top-level window the X server maps (a MapNotify event on the root
window, read through Xlib with ctypes: event driven, no polling, and no
change to the app).  The clock starts just before the spawn, so the
bootloader, unpacking-free onedir start, imports and Qt start-up all count.
The window is then closed with SIGTERM (the app's clean-shutdown path) and
the exit status must be 0.  One warm-up run per variant first fills the OS
file cache; then runs of the variants alternate, so that load from other
processes on the machine hits both alike.

"Mapped" is when the window manager would first see the window; the first
paint follows within a frame.  benchmarks/window_startup.py measures the
source build from inside (MainWindow.showEvent) on the offscreen platform.

Needs Xvfb (apt-get install -y xvfb).  Floor (exit 1 when missed): the frozen
app's median <= 2 s.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_APP = ROOT / "dist" / "tornado-launcher" / "tornado-launcher"
FLOOR_S = 2.0

# Xlib constants
SubstructureNotifyMask = 1 << 19
MapNotify = 19


class XMapEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("event", ctypes.c_ulong),
        ("window", ctypes.c_ulong),
        ("override_redirect", ctypes.c_int),
    ]


class XEvent(ctypes.Union):
    _fields_ = [("type", ctypes.c_int), ("xmap", XMapEvent), ("pad", ctypes.c_long * 24)]


class Xvfb:
    """A private X server and an Xlib connection listening for maps on its root."""

    def __init__(self) -> None:
        if not shutil.which("Xvfb"):
            raise SystemExit("frozen_startup.py needs Xvfb: apt-get install -y xvfb")
        lib = ctypes.util.find_library("X11")
        if not lib:
            raise SystemExit("frozen_startup.py needs libX11 (installed with xvfb)")
        self.x = ctypes.CDLL(lib)
        self.x.XOpenDisplay.restype = ctypes.c_void_p
        self.x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x.XDefaultRootWindow.restype = ctypes.c_ulong
        self.x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self.x.XSelectInput.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_long]
        self.x.XConnectionNumber.argtypes = [ctypes.c_void_p]
        self.x.XPending.argtypes = [ctypes.c_void_p]
        self.x.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.POINTER(XEvent)]
        self.x.XFlush.argtypes = [ctypes.c_void_p]
        self.x.XCloseDisplay.argtypes = [ctypes.c_void_p]

        r, w = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(w)
        with os.fdopen(r) as f:
            self.display = ":" + f.readline().strip()
        self.dpy = self.x.XOpenDisplay(self.display.encode())
        if not self.dpy:
            raise SystemExit(f"cannot open X display {self.display}")
        self.x.XSelectInput(self.dpy, self.x.XDefaultRootWindow(self.dpy), SubstructureNotifyMask)
        self.x.XFlush(self.dpy)
        self.fd = self.x.XConnectionNumber(self.dpy)

    def drain(self) -> None:
        ev = XEvent()
        while self.x.XPending(self.dpy):
            self.x.XNextEvent(self.dpy, ctypes.byref(ev))

    def wait_map(self, deadline: float, proc: subprocess.Popen) -> float | None:
        """time.perf_counter() when a top-level, non-override-redirect window was mapped."""
        ev = XEvent()
        while True:
            while self.x.XPending(self.dpy):
                self.x.XNextEvent(self.dpy, ctypes.byref(ev))
                if ev.type == MapNotify and not ev.xmap.override_redirect:
                    return time.perf_counter()
            left = deadline - time.perf_counter()
            if left <= 0 or proc.poll() is not None:
                return None
            select.select([self.fd], [], [], min(left, 0.1))

    def close(self) -> None:
        self.x.XCloseDisplay(self.dpy)
        self.proc.terminate()
        self.proc.wait(10)


def one(argv: list[str], xvfb: Xvfb, env: dict[str, str], cwd: str, linger: float) -> float:
    xvfb.drain()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        t = xvfb.wait_map(t0 + 60, proc)
        if t is None:
            out = proc.communicate(timeout=10)[0].decode(errors="replace") if proc.poll() is not None else ""
            raise SystemExit(f"{argv[0]}: no window within 60 s (exit {proc.returncode})\n{out[-2000:]}")
        if linger:
            time.sleep(linger)
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0].decode(errors="replace")
        if proc.returncode != 0:
            raise SystemExit(f"{argv[0]}: exit {proc.returncode} after SIGTERM\n{out[-2000:]}")
        return t - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def measure(variants: dict[str, tuple[list[str], dict[str, str]]], n: int, xvfb: Xvfb, cwd: str,
            linger: float) -> dict[str, float]:
    """Median per variant.  Runs alternate between the variants, so load from
    other processes on the machine hits all of them alike."""
    for argv, env in variants.values():
        one(argv, xvfb, env, cwd, linger)  # warm-up: OS file cache, .pyc files
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(n):
        for name, (argv, env) in variants.items():
            times[name].append(one(argv, xvfb, env, cwd, linger))
    medians = {}
    for name, ts in times.items():
        medians[name] = med = statistics.median(ts)
        print(f"  {name:<28} median {med * 1000:6.0f} ms   min {min(ts) * 1000:6.0f}   max {max(ts) * 1000:6.0f}")
    return medians


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=7, help="runs per variant (after one warm-up)")
    ap.add_argument("--app", default=os.environ.get("TL_FROZEN_APP") or str(DEFAULT_APP))
    ap.add_argument("--config", default=None, help="also open this project (kernels start in the background)")
    ap.add_argument("--frozen-only", action="store_true", help="skip the from-source comparison")
    args = ap.parse_args()

    app = Path(args.app)
    if not (app.is_file() and os.access(app, os.X_OK)):
        print(f"no frozen app at {app}: run scripts/build_app.sh first", file=sys.stderr)
        return 2
    config = [str(Path(args.config).resolve())] if args.config else []

    tmp = tempfile.mkdtemp(prefix="tl-frozen-startup-")
    xvfb = Xvfb()
    try:
        env = dict(os.environ)
        env.update(
            DISPLAY=xvfb.display,
            QT_QPA_PLATFORM="xcb",
            TORNADO_LAUNCHER_SETTINGS=os.path.join(tmp, "settings.ini"),
            NO_COLOR="1",
        )
        # the frozen app finds the kernels' Python on PATH, as a user's would
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        linger = 0.3 if config else 0.0
        size = sum(f.stat().st_size for f in app.parent.rglob("*") if f.is_file() and not f.is_symlink())
        what = f"opening {args.config}" if args.config else "welcome page"
        print(f"launch to window mapped ({what}; Xvfb, {os.cpu_count()} cores), {args.n} runs each:")
        variants = {"frozen (onedir)": ([str(app), *config], env)}
        if not args.frozen_only:
            variants["from source (python -m)"] = (
                [sys.executable, "-m", "tornado_launcher", *config], dict(env, PYTHONPATH=str(ROOT)))
        frozen = measure(variants, args.n, xvfb, tmp, linger)["frozen (onedir)"]
        print(f"  bundle: {size / 1e6:.0f} MB in {app.parent}")
    finally:
        xvfb.close()
        shutil.rmtree(tmp, ignore_errors=True)

    ok = frozen <= FLOOR_S
    print(f"floor frozen median <= {FLOOR_S:g} s:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
