"""Watcher start on a big project: tornado-launcher's watcher against watchdog's
recursive observer (and watchfiles, when installed) on the same tree.

The tree: a small source tree (21 directories, 100 ``.py`` files) next to
100,000 files in 3,000 directories under ``node_modules`` and ``.venv`` (a
virtualenv: it holds ``pyvenv.cfg``), generated in a temporary directory (or
``--dir``).  For each watcher, ``--runs`` times: the time from asking it to
watch the project (``*.py``) to the watches being in place, how many inotify
watches it placed (the ``inotify wd:`` lines of its fd in
``/proc/self/fdinfo``), and the CPU the process used over ``--idle`` seconds
of nothing happening afterwards.

Floor (issue 11): tornado-launcher starts in ≤ 200 ms (median) and places no
watch inside the ignored trees.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import missing_modules, pip_install_command  # noqa: E402

from tornado_launcher.watching import inotify as watch_inotify  # noqa: E402
from tornado_launcher.watching.watcher import Watcher  # noqa: E402

FLOOR_MS = 200.0


def make_tree(root: str, files: int, dirs: int) -> int:
    """Write the project; returns the number of directories in the source tree."""
    n = 1
    for i in range(20):
        d = os.path.join(root, "app", f"pkg{i}")
        os.makedirs(d)
        n += 2 if i == 0 else 1
        for j in range(5):
            with open(os.path.join(d, f"m{j}.py"), "w") as f:
                f.write("x = 1\n")
    per_dir = max(1, files // dirs)
    for k in range(dirs):
        top = "node_modules" if k % 2 else os.path.join(".venv", "lib", "python3.11", "site-packages")
        d = os.path.join(root, top, f"p{k // 20}", f"sub{k % 20}")
        os.makedirs(d)
        for j in range(per_dir):
            os.mknod(os.path.join(d, f"f{j}.js"))
    with open(os.path.join(root, ".venv", "pyvenv.cfg"), "w") as f:
        f.write("home = /usr/bin\n")
    return n


def inotify_fds() -> set:
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify":
                out.add(int(fd))
        except OSError:
            pass
    return out


def watches(fds) -> int:
    n = 0
    for fd in fds:
        try:
            with open(f"/proc/self/fdinfo/{fd}") as f:
                n += sum(1 for line in f if line.startswith("inotify wd:"))
        except OSError:
            pass
    return n


class Handler:
    def __init__(self, root):
        self.watch_path = root
        self.patterns = ["*.py"]
        self.ignore_patterns = []
        self.ignore_directories = True
        self.case_sensitive = True
        self.debounce = self.throttle = None


def idle_cpu(seconds: float) -> float:
    c = time.process_time()
    time.sleep(seconds)  # nothing else runs here: the watcher's threads are measured
    return time.process_time() - c


def run_ours(root: str, idle: float):
    async def main():
        before = inotify_fds()
        w = Watcher([Handler(root)], lambda i, c: None, backend="inotify")
        t = time.perf_counter()
        await w.start()
        took = time.perf_counter() - t
        n = watches(inotify_fds() - before)
        cpu = await asyncio.get_running_loop().run_in_executor(None, idle_cpu, idle)
        await w.stop()
        return took, n, cpu
    return asyncio.run(main())


def run_watchdog(root: str, idle: float):
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    before = inotify_fds()
    obs = Observer()
    t = time.perf_counter()
    obs.schedule(FileSystemEventHandler(), root, recursive=True)
    obs.start()  # the emitter's on_thread_start walks the tree and adds the watches before this returns
    took = time.perf_counter() - t
    n = watches(inotify_fds() - before)
    cpu = idle_cpu(idle)
    obs.stop()
    obs.join()
    return took, n, cpu


def run_watchfiles(root: str, idle: float):
    from watchfiles._rust_notify import RustNotify

    before = inotify_fds()
    t = time.perf_counter()
    notify = RustNotify([root], False, False, 50, True, False)  # debug, force_polling, poll ms, recursive, ignore perm.
    took = time.perf_counter() - t
    n = watches(inotify_fds() - before)
    cpu = idle_cpu(idle)
    notify.close()
    return took, n, cpu


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=100_000, help="files in the ignored trees (default 100,000)")
    p.add_argument("--dirs", type=int, default=3_000, help="directories in the ignored trees (default 3,000)")
    p.add_argument("--runs", type=int, default=5, help="starts per watcher (default 5)")
    p.add_argument("--idle", type=float, default=2.0, help="seconds of idle CPU measured (default 2)")
    p.add_argument("--dir", type=Path, help="write the tree below this directory (default: a temporary one)")
    p.add_argument("--quick", action="store_true", help="a fast sanity run: 10,000 files, 2 runs, 0.5 s idle")
    a = p.parse_args(argv)
    if a.quick:
        a.files, a.dirs, a.runs, a.idle = 10_000, 300, 2, 0.5
    if not watch_inotify.available():
        print("benchmarks/watch_start.py measures inotify watches: it runs on Linux only.", file=sys.stderr)
        return 2
    base = tempfile.mkdtemp(prefix="tl-watch-start-", dir=a.dir)
    try:
        root = os.path.join(base, "project")
        t = time.perf_counter()
        source_dirs = make_tree(root, a.files, a.dirs)
        print(f"tree: {source_dirs} source directories; {a.files:,} files in {a.dirs:,} directories under "
              f"node_modules and .venv (written in {time.perf_counter() - t:.1f} s)", file=sys.stderr)
        variants = [("tornado-launcher (inotify, pruned)", run_ours),
                    ("watchdog Observer, recursive", run_watchdog)]
        note = None
        if missing_modules(["watchfiles"]):
            note = (f"watchfiles is not installed, so it is not compared: "
                    f"`{pip_install_command('bench')}` adds it.")
        else:
            variants.append(("watchfiles (RustNotify, recursive)", run_watchfiles))
        rows, ours = [], None
        for name, fn in variants:
            runs = [fn(root, a.idle if i == 0 else 0.0) for i in range(a.runs)]
            start = statistics.median(r[0] for r in runs) * 1000.0
            n = runs[0][1]
            cpu = runs[0][2] * 1000.0
            rows.append((name, f"{start:.1f} ms", f"{min(r[0] for r in runs) * 1000:.1f}–"
                         f"{max(r[0] for r in runs) * 1000:.1f} ms", f"{n:,}", f"{cpu:.1f} ms / {a.idle:g} s"))
            if ours is None:
                ours = (start, n)
            print(f"  {name}: {start:.1f} ms, {n} watches", file=sys.stderr)
        print(f"\nWatcher start, {a.files:,} files in {a.dirs:,} ignored directories "
              f"+ {source_dirs} source directories, median of {a.runs}:\n")
        print("| watcher | start (median) | range | inotify watches | CPU at idle |")
        print("| --- | --- | --- | --- | --- |")
        for r in rows:
            print("| " + " | ".join(r) + " |")
        if note:
            print(f"\n{note}")
        ok = ours[0] <= FLOOR_MS and ours[1] == source_dirs
        quick = " (a --quick run: does not count)" if a.quick else ""
        print(f"\nVerdict{quick}: {'PASS' if ok else 'FAIL'}: tornado-launcher starts in {ours[0]:.1f} ms "
              f"(floor ≤ {FLOOR_MS:.0f} ms) with {ours[1]} watches, none inside the ignored trees "
              f"({source_dirs} source directories).")
        return 0 if ok else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
