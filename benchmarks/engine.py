"""Engine benchmark: cold start, in-kernel restart, and resource growth over restarts.

Run:  python benchmarks/engine.py [--runs N] [--cold N] [--leak N] [--quick]

Prints three Markdown tables and one verdict line against the issue's floors:

* cold start ≤ 1.5 s median: ``Session.start()`` called (kernel spawn
  included) → first 200 from the app, against the same app as a new
  ``python -c`` process (spawn → first 200);
* in-kernel restart ≤ 30 ms median: ``session.restart_app(name)`` called →
  first 200 from the *new* app (a new ``boot`` id in the body), measured by
  the client, in shared and threaded mode, next to the bridge's own
  ``elapsed_ms``; against a process restart (SIGTERM, wait, spawn, first
  200), for a plain app and one that imports pandas at module level;
* no growth in the kernel's open files or threads over 200 restarts (±2);
* a restart row per entry style (issue 10: ``main``, ``script``, an Application
  factory / subclass / instance, a traitlets app), both modes, ≤ 30 ms median.

``--styles`` runs only the per-style rows.

All figures are wall-clock on this machine, whatever else it is running.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    PYTHON,
    PYTHON_C,
    PollTimeout,
    app_hcl,
    boot_of,
    end_process,
    fd_count,
    free_port,
    is_200,
    machine_line,
    median,
    ms,
    new_boot,
    p90,
    poll,
    quiet_engine_logging,
    run_script,
    secs,
    spawn,
    table,
    thread_count,
    write_project,
)
from _entry_styles import STYLES, write_styles_project  # noqa: E402

from tornado_launcher.config import load  # noqa: E402
from tornado_launcher.engine.events import AppState, KernelState  # noqa: E402
from tornado_launcher.engine.session import Session  # noqa: E402

COLD_FLOOR_MS = 1500.0
RESTART_FLOOR_MS = 30.0
LEAK_NOISE = 2
WARMUP = 3  # restarts before measuring (first imports, caches)


# ------------------------------------------------------------------ helpers


class Stamps:
    """Subscriber noting perf_counter() of the first event of interest."""

    def __init__(self) -> None:
        self.kernel_idle: Optional[float] = None
        self.app_running: Optional[float] = None
        self.failed: List[str] = []

    def __call__(self, ev) -> None:
        now = time.perf_counter()
        if isinstance(ev, KernelState) and ev.state == "idle" and self.kernel_idle is None:
            self.kernel_idle = now
        elif isinstance(ev, AppState) and ev.state == "running" and self.app_running is None:
            self.app_running = now
        elif isinstance(ev, AppState) and ev.state == "failed":
            self.failed.append(ev.reason or "?")


class LauncherApp:
    """A Session on a fresh project with one app; use as ``async with``."""

    def __init__(self, *, heavy: bool, threaded: bool) -> None:
        self.heavy, self.threaded = heavy, threaded
        self.port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="tl-bench-")
        self.root = write_project(Path(self._tmp.name), heavy=heavy,
                                  hcl=app_hcl(self.port, threaded=threaded))
        self.session = Session(load(self.root / "jaffle.hcl"), auto_reload=False)
        self.stamps = Stamps()
        self.session.subscribe(self.stamps)

    async def __aenter__(self) -> "LauncherApp":
        try:
            await self.session.start()
            await poll(self.port, is_200, timeout=60)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            await self.session.shutdown()
        finally:
            self._tmp.cleanup()

    @property
    def kernel_pid(self) -> int:
        pid = self.session.kernels["py_kernel"].pid
        assert pid, "kernel has no pid"
        return pid


class ProcessApp:
    """The same app as a plain ``python -c`` process; restart = SIGTERM + spawn."""

    def __init__(self, *, heavy: bool) -> None:
        self.port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="tl-bench-")
        self.root = write_project(Path(self._tmp.name), heavy=heavy)
        self.proc: Optional[asyncio.subprocess.Process] = None

    async def start(self) -> float:
        """Spawn; return ms from spawn to the first 200."""
        t0 = time.perf_counter()
        self.proc = await spawn([PYTHON, "-c", PYTHON_C, f"--port={self.port}"], self.root)
        t1, *_ = await poll(self.port, is_200, timeout=60)
        return (t1 - t0) * 1000.0

    async def restart(self, old_boot: Optional[str]) -> tuple:
        t0 = time.perf_counter()
        assert self.proc is not None
        await end_process(self.proc)
        self.proc = await spawn([PYTHON, "-c", PYTHON_C, f"--port={self.port}"], self.root)
        t1, body, _, hung = await poll(self.port, new_boot(old_boot), timeout=60)
        return (t1 - t0) * 1000.0, boot_of(body), hung

    async def close(self) -> None:
        try:
            if self.proc is not None:
                await end_process(self.proc)
        finally:
            self._tmp.cleanup()


# --------------------------------------------------------------- cold start


async def cold_launcher(n: int, heavy: bool) -> Dict[str, List[float]]:
    first, idle, returned = [], [], []
    for _ in range(n):
        la = LauncherApp(heavy=heavy, threaded=False)
        try:
            t0 = time.perf_counter()
            start = asyncio.ensure_future(la.session.start())
            try:
                t1, *_ = await poll(la.port, is_200, timeout=60, interval=0.002)
            finally:
                await start
            t2 = time.perf_counter()
            first.append((t1 - t0) * 1000.0)
            returned.append((t2 - t0) * 1000.0)
            if la.stamps.kernel_idle:
                idle.append((la.stamps.kernel_idle - t0) * 1000.0)
        finally:
            await la.close()
    return {"first": first, "idle": idle, "returned": returned}


async def cold_process(n: int, heavy: bool) -> List[float]:
    out = []
    for _ in range(n):
        pa = ProcessApp(heavy=heavy)
        try:
            out.append(await pa.start())
        finally:
            await pa.close()
    return out


# ------------------------------------------------------------------ restarts


async def restarts_launcher(n: int, heavy: bool, threaded: bool) -> Dict[str, list]:
    """n restarts, a client probing all along; also the kernel's fds before and after."""
    client, bridge, returned, hung = [], [], [], 0
    async with LauncherApp(heavy=heavy, threaded=threaded) as la:
        _, body, *_ = await poll(la.port, is_200)
        boot = boot_of(body)
        fds = [fd_count(la.kernel_pid)]
        for i in range(WARMUP + n):
            t0 = time.perf_counter()
            call = asyncio.ensure_future(la.session.restart_app("web"))
            try:
                t1, body, _, h = await poll(la.port, new_boot(boot), timeout=30)
            finally:
                st = await call
            t2 = time.perf_counter()
            boot = boot_of(body)
            if st is None or st.state != "running":
                raise RuntimeError(f"restart {i} did not end running: {st!r}")
            if i >= WARMUP:
                hung += h
                client.append((t1 - t0) * 1000.0)
                returned.append((t2 - t0) * 1000.0)
                if st.elapsed_ms is not None:
                    bridge.append(st.elapsed_ms)
        await asyncio.sleep(0.2)
        fds.append(fd_count(la.kernel_pid))
    return {"client": client, "bridge": bridge, "returned": returned, "hung": [hung], "fds": fds}


async def restarts_process(n: int, heavy: bool) -> Dict[str, list]:
    pa = ProcessApp(heavy=heavy)
    out, hung = [], 0
    try:
        await pa.start()
        _, body, *_ = await poll(pa.port, is_200)
        boot = boot_of(body)
        for _ in range(n):
            t, boot, h = await pa.restart(boot)
            out.append(t)
            hung += h
    finally:
        await pa.close()
    return {"client": out, "hung": [hung]}


# ---------------------------------------------------------------------- leak


async def leak(n: int, threaded: bool, every: int = 20) -> Dict[str, List[int]]:
    import os

    series: Dict[str, List[int]] = {"at": [], "k_fds": [], "k_threads": [], "l_fds": [], "l_threads": []}
    async with LauncherApp(heavy=True, threaded=threaded) as la:
        pid, me = la.kernel_pid, os.getpid()
        _, body, *_ = await poll(la.port, is_200)
        boot = boot_of(body)

        async def sample(i: int) -> None:
            await asyncio.sleep(0.2)  # let closing sockets and ending threads finish
            series["at"].append(i)
            series["k_fds"].append(fd_count(pid))
            series["k_threads"].append(thread_count(pid))
            series["l_fds"].append(fd_count(me))
            series["l_threads"].append(thread_count(me))

        await sample(0)
        for i in range(1, n + 1):
            st = await la.session.restart_app("web")
            if st is None or st.state != "running":
                raise RuntimeError(f"restart {i} did not end running: {st!r}")
            _, body, *_ = await poll(la.port, new_boot(boot), timeout=30)
            boot = boot_of(body)
            if i % every == 0:
                await sample(i)
    return series


# ---------------------------------------------------------------------- main


async def restarts_styles(n: int) -> Dict[str, Dict[str, List[float]]]:
    """n restarts of each entry style's app per mode, one kernel holding them all:
    ``restart_app`` called → first 200 from the new app (a new ``boot``), seen by a client."""
    out: Dict[str, Dict[str, List[float]]] = {}
    ports = {style: free_port() for style in STYLES}
    with tempfile.TemporaryDirectory(prefix="tl-bench-styles-") as tmp:
        config, names = write_styles_project(Path(tmp), ports)
        session = Session(load(config), auto_reload=False)
        try:
            await session.start()
            for threaded in (False, True):
                mode = "threaded" if threaded else "shared"
                for style, name in names.items():
                    if threaded:
                        await session.set_threaded(name, True)
                    _, body, *_ = await poll(ports[style], is_200, timeout=60)
                    boot = boot_of(body)
                    client: List[float] = []
                    for i in range(WARMUP + n):
                        t0 = time.perf_counter()
                        call = asyncio.ensure_future(session.restart_app(name))
                        try:
                            t1, body, *_ = await poll(ports[style], new_boot(boot), timeout=30)
                        except PollTimeout as e:
                            raise PollTimeout(f"{style} ({mode}), restart {i}: {e}") from None
                        finally:
                            st = await call
                        if st is None or st.state != "running":
                            raise RuntimeError(f"{style}: restart {i} did not end running: {st!r}")
                        boot = boot_of(body)
                        if i >= WARMUP:
                            client.append((t1 - t0) * 1000.0)
                    out[f"{style}/{mode}"] = {"client": client}
        finally:
            await session.shutdown()
    return out


def styles_table(styles: Dict[str, Dict[str, List[float]]], runs: int) -> str:
    rows = []
    for style in STYLES:
        sh, th = styles[f"{style}/shared"]["client"], styles[f"{style}/threaded"]["client"]
        rows.append([style, f"{ms(median(sh))} / {ms(p90(sh))}", f"{ms(median(th))} / {ms(p90(th))}"])
    return (f"## Restart per entry style: `restart_app` → first HTTP 200 from the new app ({runs} per row)\n\n"
            + table(["entry style", "shared, median / p90", "threaded, median / p90"], rows))


def styles_ok(styles: Dict[str, Dict[str, List[float]]]) -> Tuple[bool, float]:
    worst = max(median(r["client"]) for r in styles.values())
    return worst <= RESTART_FLOOR_MS, worst


def growth(xs: List[int]) -> int:
    return xs[-1] - xs[0]


async def main(args: argparse.Namespace) -> int:
    quiet_engine_logging()
    print(f"# tornado-launcher engine benchmark{' (--quick: a sanity run, not a measurement)' if args.quick else ''}")
    print(f"\n{machine_line()}\n")
    print(f"cold starts: {args.cold} per row · restarts: {args.runs} per row (after {WARMUP} unmeasured) · "
          f"leak check: {args.leak} restarts per mode\n")
    t_all = time.perf_counter()
    if args.styles:
        print("measuring restarts per entry style ...", file=sys.stderr)
        styles = await restarts_styles(args.runs)
        print(styles_table(styles, args.runs))
        ok, worst = styles_ok(styles)
        print(f"\nVerdict: {'PASS' if ok else 'FAIL'}: slowest entry style's restart median {ms(worst)} "
              f"({'≤' if ok else '>'} 30 ms). (total run time {time.perf_counter() - t_all:.0f} s)")
        return 0 if ok else 1

    # 1. cold start
    print("measuring cold start ...", file=sys.stderr)
    cold_rows = []
    cold: Dict[str, Dict[str, List[float]]] = {}
    for heavy in (False, True):
        kind = "pandas" if heavy else "plain"
        cl = await cold_launcher(args.cold, heavy)
        cp = await cold_process(args.cold, heavy)
        cold[kind] = {"launcher": cl["first"], "process": cp}
        cold_rows.append([
            f"{kind} app",
            f"{secs(median(cl['first']))} / {secs(p90(cl['first']))}",
            secs(median(cl["idle"])) if cl["idle"] else "-",
            secs(median(cl["returned"])),
            f"{secs(median(cp))} / {secs(p90(cp))}",
            f"{median(cl['first']) / median(cp):.1f}x",
        ])

    # 2. restarts
    rs_rows = []
    restart: Dict[str, Dict[str, List[float]]] = {}
    for heavy in (False, True):
        kind = "pandas" if heavy else "plain"
        print(f"measuring restarts ({kind}) ...", file=sys.stderr)
        proc = await restarts_process(args.runs, heavy)
        pc = proc["client"]
        for threaded in (False, True):
            mode = "threaded" if threaded else "shared"
            r = await restarts_launcher(args.runs, heavy, threaded)
            restart[f"{kind}/{mode}"] = r
            rs_rows.append([
                f"{kind} app", mode,
                f"{ms(median(r['client']))} / {ms(p90(r['client']))}",
                f"{ms(median(r['bridge']))} / {ms(p90(r['bridge']))}" if r["bridge"] else "-",
                ms(median(r["returned"])),
                f"{ms(median(pc))} / {ms(p90(pc))}",
                f"{median(pc) / median(r['client']):.0f}x",
                f"{r['hung'][0]} / {proc['hung'][0]}",
                f"{r['fds'][0]} → {r['fds'][1]}",
            ])

    # 3. leak
    leak_rows = []
    leaks = {}
    for threaded in (False, True):
        mode = "threaded" if threaded else "shared"
        print(f"leak check ({mode}) ...", file=sys.stderr)
        s = await leak(args.leak, threaded)
        leaks[mode] = s
        for who, fk, tk in (("kernel", "k_fds", "k_threads"), ("launcher", "l_fds", "l_threads")):
            leak_rows.append([
                mode, who,
                " ".join(map(str, s[fk])), f"{growth(s[fk]):+d}",
                " ".join(map(str, s[tk])), f"{growth(s[tk]):+d}",
            ])
    every = leaks["shared"]["at"]

    # 4. a restart row per entry style (issue 10)
    print("measuring restarts per entry style ...", file=sys.stderr)
    styles = await restarts_styles(args.runs)

    print("## Cold start: start called → first HTTP 200\n")
    print(table(["app", "tornado-launcher `Session.start()` → 200, median / p90",
                 "of which kernel ready (median)", "`start()` returned (median)",
                 "plain `python -c` spawn → 200, median / p90", "launcher / plain"], cold_rows))
    print(f"\n## Restart: request → first HTTP 200 from the new app ({args.runs} restarts per row)\n")
    print(table(["app", "mode", "tornado-launcher `restart_app` → 200 (client), median / p90",
                 "bridge `elapsed_ms`, median / p90", "`restart_app` returned (median)",
                 "process restart (SIGTERM + spawn → 200), median / p90", "process / launcher",
                 "probes hung ≥ 1 s (launcher / process)", "kernel fds before → after"], rs_rows))
    print(f"\n## Open files and threads over {args.leak} restarts (pandas app; sampled at restarts "
          f"{every[0]}, {every[1] if len(every) > 1 else ''} … {every[-1]})\n")
    print(table(["mode", "process", "open fds", "growth", "threads", "growth"], leak_rows))
    print("\n" + styles_table(styles, args.runs))

    # verdict
    cold_med = median(cold["plain"]["launcher"])
    sh = median(restart["plain/shared"]["client"])
    th = median(restart["plain/threaded"]["client"])
    shp = median(restart["pandas/shared"]["client"])
    thp = median(restart["pandas/threaded"]["client"])
    worst_growth = max(max(growth(leaks[m][k]), 0) for m in leaks for k in ("k_fds", "k_threads"))
    ok_cold = cold_med <= COLD_FLOOR_MS
    ok_restart = max(sh, th, shp, thp) <= RESTART_FLOOR_MS
    ok_leak = worst_growth <= LEAK_NOISE
    ok_styles, worst_style = styles_ok(styles)
    verdict = "PASS" if ok_cold and ok_restart and ok_leak and ok_styles else "FAIL"
    print(f"\nVerdict: {verdict}: cold start {secs(cold_med)} median "
          f"({'≤' if ok_cold else '>'} 1.5 s); in-kernel restart median {ms(sh)} shared / {ms(th)} threaded "
          f"(plain), {ms(shp)} / {ms(thp)} (pandas) ({'≤' if ok_restart else '>'} 30 ms); kernel growth over "
          f"{args.leak} restarts {worst_growth:+d} fds/threads at most ({'≤' if ok_leak else '>'} ±{LEAK_NOISE}); "
          f"slowest entry style's restart median {ms(worst_style)} ({'≤' if ok_styles else '>'} 30 ms)."
          + (" [--quick: too few runs to count]" if args.quick else ""))
    print(f"(total run time {time.perf_counter() - t_all:.0f} s)")
    return 0 if verdict == "PASS" else 1


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=50, help="restarts per row, in-kernel and process (default 50)")
    p.add_argument("--cold", type=int, default=5, help="cold starts per row (default 5)")
    p.add_argument("--leak", type=int, default=200, help="restarts per mode in the leak check (default 200)")
    p.add_argument("--styles", action="store_true", help="only the restart rows per entry style (issue 10)")
    p.add_argument("--quick", action="store_true", help="a fast sanity run (< 60 s): 2 cold, 8 restarts, 40 leak")
    a = p.parse_args(argv)
    if a.quick:
        a.runs, a.cold, a.leak = 8, 2, 40
    return a


if __name__ == "__main__":
    sys.exit(run_script(main, parse(), needs=("pandas",), why="the measured app imports it"))
