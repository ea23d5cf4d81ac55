"""What clients see during reloads: tornado-launcher against Tornado's autoreload and watchfiles.

Run:  python benchmarks/reload_probe.py [--reloads N] [--only NAME ...] [--quick]

The app (``tests/prober.py``'s ``PROBE_APP``) answers ``GET /`` with its
version; each reload rewrites ``probeapp/version.py`` (``VERSION = "vN"``) and
waits until the new version is served, then pauses ``--pause`` s.  Meanwhile
two clients request back to back (``tests/prober.py``'s ``Probe``): one opens
a fresh connection per request, one reuses a keep-alive connection.  Counted
per client: answers, refused connections, resets (or connections closed
without an answer), hung requests (no answer within 2 s) and wrong answers
(not ``vN``, or older than the version already served when the request was
sent).  Every variant is driven the same way: the file is saved, nothing else.

Variants:

a. ``shared`` / ``threaded``: tornado-launcher (a Jaffle-style WatchdogApp
   handler running ``web.handle_watchdog_event({event})``), the app on the
   kernel's loop / on its own thread;
b. ``tornado-autoreload``: ``python serve.py --debug`` (``Application(debug=True)``);
c. ``watchfiles``: ``watchfiles 'python serve.py' .`` restarting the process.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    PYTHON,
    ROOT,
    child_env,
    end_process,
    free_port,
    machine_line,
    quiet_engine_logging,
    run_script,
    spawn,
    table,
)

sys.path.insert(0, str(ROOT / "tests"))
from prober import PROBE_APP, SERVE_PY, Probe, probe_hcl, version_source  # noqa: E402

VARIANTS = ("shared", "threaded", "tornado-autoreload", "watchfiles")
MISS_AFTER = 10.0  # seconds: an edit not served by then is saved again (and counted missed)




def write_probe_project(root: Path, port: int, threaded: bool) -> Path:
    (root / "probeapp").mkdir(parents=True, exist_ok=True)
    (root / "probeapp" / "__init__.py").write_text("")
    (root / "probeapp" / "web.py").write_text(PROBE_APP)
    (root / "probeapp" / "version.py").write_text(version_source(1))
    (root / "serve.py").write_text(SERVE_PY)
    (root / "jaffle.hcl").write_text(probe_hcl(port, threaded))
    return root


async def served(probe: Probe, n: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while n not in probe.versions_seen["fresh"]:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


async def edit_loop(root: Path, probe: Probe, reloads: int, pause: float) -> int:
    """Save ``reloads`` new versions, each once the previous one is served; returns edits missed."""
    target, missed = root / "probeapp" / "version.py", 0
    for n in range(2, reloads + 2):
        target.write_text(version_source(n))
        while not await served(probe, n, MISS_AFTER):
            missed += 1
            target.write_text(version_source(n))
        probe.serving(n)
        await asyncio.sleep(pause)
    return missed


async def run_variant(variant: str, reloads: int, pause: float) -> Dict:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tl-probe-") as tmp:
        root = write_probe_project(Path(tmp), port, threaded=variant == "threaded")
        t0 = time.perf_counter()
        if variant in ("shared", "threaded"):
            from tornado_launcher.config import load
            from tornado_launcher.engine.session import Session

            session = Session(load(root / "jaffle.hcl"), auto_reload=True)
            try:
                await session.start()
                with Probe(port) as probe:
                    if not await served(probe, 1, 60):
                        raise RuntimeError("the app did not serve")
                    probe.serving(1)
                    t0 = time.perf_counter()
                    missed = await edit_loop(root, probe, reloads, pause)
            finally:
                await session.shutdown()
        else:
            if variant == "tornado-autoreload":
                args = [PYTHON, "serve.py", f"--port={port}", "--debug"]
            else:
                args = [PYTHON, "-m", "watchfiles", "--target-type", "command",
                        f"{PYTHON} serve.py --port={port}", str(root)]
            log = Path(tmp + "-log")
            proc = await spawn(args, root, child_env(), log_path=log)
            try:
                with Probe(port) as probe:
                    if not await served(probe, 1, 60):
                        raise RuntimeError("the app did not serve")
                    probe.serving(1)
                    await asyncio.sleep(1.0)  # let the watcher note the files first
                    t0 = time.perf_counter()
                    missed = await edit_loop(root, probe, reloads, pause)
            finally:
                await end_process(proc)
                log.unlink(missing_ok=True)
    return {"counts": probe.summary(), "missed": missed, "seconds": time.perf_counter() - t0,
            "problems": probe.problems[:5], "last_old": probe.last_old_answers}


async def main(args: argparse.Namespace) -> int:
    quiet_engine_logging()
    print(f"# What clients see during reloads{' (--quick: a sanity run)' if args.quick else ''}")
    print(f"\n{machine_line()}\n")
    print(f"{args.reloads} reloads by file edits per variant, {args.pause:g} s after each is served; two clients "
          "requesting back to back (fresh connection per request; one keep-alive connection)\n")
    results = {}
    for v in [v for v in VARIANTS if v in args.only]:
        print(f"measuring {v} ...", file=sys.stderr)
        results[v] = await run_variant(v, args.reloads, args.pause)
    rows: List[List[str]] = []
    for v, r in results.items():
        for client in ("fresh", "keepalive"):
            c = r["counts"][client]
            rows.append([f"**{v}**" if v in ("shared", "threaded") else v, client,
                         str(c.get("answer", 0)), str(c.get("refused", 0)), str(c.get("reset", 0)),
                         str(c.get("hung", 0)), str(c.get("wrong", 0)),
                         f"{r['missed']}" if client == "fresh" else "",
                         f"{r['seconds']:.1f} s" if client == "fresh" else ""])
    print(table(["variant", "client", "answered", "refused", "reset / closed unanswered", "hung ≥ 2 s",
                 "wrong", "edits missed", "run time"], rows))
    print("\nKeep-alive answers by the previous version that ended their connection (counted as answered): "
          + ", ".join("%s %d" % (v, r["last_old"]) for v, r in results.items()))
    for v, r in results.items():
        if r["problems"]:
            print(f"\nfirst problems ({v}): {r['problems']}")
    ours_clean = all(set(results[v]["counts"][c]) <= {"answer"} for v in ("shared", "threaded")
                     if v in results for c in ("fresh", "keepalive"))
    print(f"\nVerdict: {'PASS' if ours_clean else 'FAIL'}: tornado-launcher "
          f"{'lost nothing' if ours_clean else 'lost requests'} (goal: 0 refused, 0 reset, 0 hung, 0 wrong).")
    return 0 if ours_clean else 1


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reloads", type=int, default=30, help="reloads per variant (default 30)")
    p.add_argument("--pause", type=float, default=0.6,
                   help="seconds after each reload is served (default 0.6: Tornado's autoreload misses a "
                        "save made before its re-exec'd process first checks the files, 0.5 s after it starts)")
    p.add_argument("--only", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="variants to run")
    p.add_argument("--quick", action="store_true", help="a fast sanity run: 4 reloads per variant")
    a = p.parse_args(argv)
    if a.quick:
        a.reloads = 4
    return a


if __name__ == "__main__":
    sys.exit(run_script(main, parse(), needs=("pandas", "watchfiles"),
                        why="watchfiles is one of the variants; the machine line names pandas"))
