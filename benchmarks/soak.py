"""Soak: a real headless launcher under hundreds of mixed operations, clients probing all along.

Run:  python benchmarks/soak.py [--ops 300] [--modes shared threaded] [--seed 19] [--no-config-edits]

Per mode (the app's ``threaded`` at the start), ``tornado-launcher start jaffle.hcl``
runs as its own process with ``tests/prober.py``'s app (``GET /`` answers its
version, ``/ws`` a websocket that answers each message with it).  Meanwhile:

* two clients request back to back (``tests/prober.py``'s ``Probe``): a fresh
  connection per request, and one keep-alive connection;
* one websocket is kept open: after every operation it is asked once (what
  version answers?); closed with 1012/1001 it is opened again.

The operations (``--seed`` fixes the order): a **save** of ``probeapp/version.py``
(``vN``; done once ``GET /`` answers ``vN``), **restart** and **stop then start**
(the control socket, as ``tornado-launcher restart/stop``), **threaded toggle**
and **config edit** (the app's ``logger`` level) by saving ``jaffle.hcl``
(applied live; done once the launcher logs "re-read and applied" and the app
answers), and one **kernel kill** (SIGKILL, at operation 25: done once the app
answers again).

Counted only while the app is meant to serve: from the ``stop`` until the
``start`` answers, and from the kill until the app answers again, refusals are
expected and not counted (they are shown apart; a request in flight when the app
went down counts as down).  Outcomes per operation kind:
refused, reset (or closed unanswered), slow (an answer >= 1 s), hung (>= 2 s),
old (answered by an older version than the one already served when sent), the
websocket answering with an older version than the one served (``ws old``) or
not answering within 2 s (``ws hung``).  Growth of the launcher's and the
kernel's fd count, thread count and RSS from operation 50 to the last (clients
paused, the app running in the same mode at both points; the kill is before 50,
so it is one kernel process).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, ROOT, child_env, descendants, fd_count, free_port, table, thread_count  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from prober import PROBE_APP, Probe, WebSocketTalk, probe_hcl, version_source  # noqa: E402

from tornado_launcher.control.client import request  # noqa: E402

KINDS = ("save", "restart", "stop/start", "toggle", "config")
WEIGHTS = {"save": 45, "restart": 20, "stop/start": 12, "toggle": 10, "config": 13}
KILL_AT = 25  # the operation that kills the kernel (before MEASURE_FROM: one kernel process is measured)
MEASURE_FROM = 50
SLOW = 1.0  # seconds: an answer this late counts
SETTLE = 15.0  # seconds an operation may take to settle before it counts as failed
OUTCOMES = ("refused", "reset", "slow", "hung", "wrong")




def plan(ops: int, seed: int, config_edits: bool) -> List[str]:
    """The operations in order: weighted draws, one kill, an even number of threaded toggles
    from MEASURE_FROM on (so the mode is the same where growth is measured)."""
    kinds = [k for k in KINDS if config_edits or k not in ("toggle", "config")]
    rnd = random.Random(seed)
    out = rnd.choices(kinds, weights=[WEIGHTS[k] for k in kinds], k=ops)
    out[min(KILL_AT, ops // 2)] = "kill"
    toggles = [i for i in range(MEASURE_FROM, ops) if out[i] == "toggle"]
    if len(toggles) % 2:
        out[toggles[-1]] = "config"
    return out


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def http_version(port: int) -> str:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read().decode()
    except OSError:
        return ""
    finally:
        conn.close()


class Soak:
    """One launcher process, its project, the clients; :meth:`run` does the operations."""

    def __init__(self, root: Path, threaded: bool, config_edits: bool):
        self.root, self.threaded, self.config_edits = root, threaded, config_edits
        self.port = free_port()
        self.level = "info"
        self.version = 1
        (root / "probeapp").mkdir(parents=True)
        (root / "probeapp" / "__init__.py").write_text("")
        (root / "probeapp" / "web.py").write_text(PROBE_APP)
        (root / "probeapp" / "version.py").write_text(version_source(1))
        self.config = root / "jaffle.hcl"
        self.config.write_text(probe_hcl(self.port, threaded, "info"))
        self.paths = [str(self.config)]
        self.log = root.parent / (root.name + "-launcher.log")
        self.proc: Optional[subprocess.Popen] = None
        self.down: List[tuple] = []  # (from, to) perf_counter windows the app was meant to be down
        self.spans: List[tuple] = []  # (from, to, kind) of each operation
        self.failed: List[str] = []  # operations that did not settle
        self.ws = None
        self.ws_counts = {"asked": 0, "ws old": 0, "ws hung": 0, "closed 1012": 0, "closed 1001": 0, "closed other": 0}
        self.samples: Dict[str, Dict[str, int]] = {}

    # -- the launcher
    def start(self) -> None:
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([PYTHON, "-m", "tornado_launcher", "start", str(self.config)],
                                         cwd=str(self.root), env=child_env(), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT)
        self.wait(lambda: http_version(self.port) == "v1", 90, "the app to serve v1")

    def stop(self) -> None:
        if self.ws is not None:
            self.ws.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def control(self, req: dict, timeout: float = 30.0) -> dict:
        replies = request(self.paths, req, timeout)
        try:
            return next(replies, {})
        finally:
            replies.close()

    def status(self) -> dict:
        return self.control({"cmd": "status"}, 5)

    def kernel_pid(self) -> Optional[int]:
        kernels = self.status().get("kernels") or []
        return kernels[0].get("pid") if kernels else None

    def applied(self) -> int:
        try:
            return self.log.read_text(errors="replace").count("changed: re-read and applied")
        except OSError:
            return 0

    @staticmethod
    def wait(pred, timeout: float, what: str) -> bool:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                print(f"  (waited {timeout:g} s for {what})", file=sys.stderr)
                return False
            time.sleep(0.005)
        return True

    def serving(self) -> bool:
        return self.wait(lambda: http_version(self.port) == "v%d" % self.version, SETTLE, "v%d" % self.version)

    # -- the operations
    def op(self, kind: str, probe: Probe) -> None:
        t0 = time.perf_counter()
        ok = getattr(self, "_op_" + kind.replace("/", "_"))(probe)
        self.spans.append((t0, time.perf_counter(), kind))
        if not ok:
            self.failed.append(kind)
        self.check_ws()

    def _op_save(self, probe: Probe) -> bool:
        self.version += 1
        (self.root / "probeapp" / "version.py").write_text(version_source(self.version))
        ok = self.serving()
        if ok:
            probe.serving(self.version)  # from now on an answer from an older version is "old"
        return ok

    def _op_restart(self, probe: Probe) -> bool:
        return bool(self.control({"cmd": "restart", "apps": ["web"]}).get("ok")) and self.serving()

    def _op_stop_start(self, probe: Probe) -> bool:
        t0 = time.perf_counter()
        ok = bool(self.control({"cmd": "stop", "apps": ["web"]}).get("ok"))
        ok = bool(self.control({"cmd": "start", "apps": ["web"]}).get("ok")) and ok and self.serving()
        self.down.append((t0, time.perf_counter()))
        return ok

    def _edit_config(self) -> bool:
        before = self.applied()
        self.config.write_text(probe_hcl(self.port, self.threaded, self.level))
        return self.wait(lambda: self.applied() > before, SETTLE, "the config edit to apply") and self.serving()

    def _op_toggle(self, probe: Probe) -> bool:
        self.threaded = not self.threaded
        ok = self._edit_config()
        return ok and self.wait(lambda: any(a["name"] == "web" and a["threaded"] == self.threaded
                                            for a in self.status().get("apps", [])), SETTLE, "the toggle")

    def _op_config(self, probe: Probe) -> bool:
        self.level = "debug" if self.level == "info" else "info"
        return self._edit_config()

    def _op_kill(self, probe: Probe) -> bool:
        t0 = time.perf_counter()
        pid = self.kernel_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        ok = self.wait(lambda: self.kernel_pid() not in (None, pid), 60, "a new kernel")
        ok = ok and self.wait(lambda: http_version(self.port) == "v%d" % self.version, 60, "the app after the kill")
        self.down.append((t0, time.perf_counter()))
        return ok

    # -- the websocket
    def check_ws(self) -> None:
        if self.ws is None:
            try:
                self.ws = WebSocketTalk("ws://127.0.0.1:%d/ws" % self.port)
                self.ws.next(2)  # its greeting
            except Exception:
                self.ws = None
                return
        self.ws_counts["asked"] += 1
        try:
            answer = self.ws.ask("which version?", timeout=2)
        except Exception:
            self.ws_counts["ws hung"] += 1
            self.ws.close()
            self.ws = None
            return
        if answer[0] == "message":
            if answer[1] != "v%d" % self.version:
                self.ws_counts["ws old"] += 1
            return
        code = answer[1]
        self.ws_counts["closed %s" % code if code in (1012, 1001) else "closed other"] += 1
        self.ws.close()
        self.ws = None
        self.check_ws()  # reopened: the new code answers

    # -- growth
    def sample(self, name: str, probe: Probe) -> None:
        probe.pause_clients()
        self.check_ws()
        kpid = self.kernel_pid()
        time.sleep(1.0)  # drained connections closed, the clients' last requests answered, the status one too
        out = {"launcher fds": fd_count(self.proc.pid), "launcher threads": thread_count(self.proc.pid),
               "launcher RSS kB": rss_kb(self.proc.pid)}
        if kpid:
            out.update({"kernel fds": fd_count(kpid), "kernel threads": thread_count(kpid),
                        "kernel RSS kB": rss_kb(kpid)})
        out["threaded"] = int(self.threaded)
        self.samples[name] = out
        probe.resume_clients()

    def run(self, kinds: List[str]) -> Dict:
        self.start()
        with Probe(self.port, slow=SLOW) as probe:
            probe.serving(1)
            self.check_ws()
            for i, kind in enumerate(kinds):
                if i == MEASURE_FROM and len(kinds) > MEASURE_FROM:
                    self.sample("from", probe)
                self.op(kind, probe)
                print(f"  {i + 1}/{len(kinds)} {kind}", file=sys.stderr, end="\r")
            if len(kinds) > MEASURE_FROM:
                self.sample("to", probe)
            time.sleep(0.2)
        print(file=sys.stderr)
        return self.figures(probe)

    def near(self, t: float) -> str:
        """The operations around moment ``t`` (for a problem's detail)."""
        i = next((i for i, (a, b, k) in enumerate(self.spans) if b >= t), len(self.spans))
        return " ".join("%s@%+.3f" % (k, a - t) for a, b, k in self.spans[max(0, i - 2):i + 2])

    def figures(self, probe: Probe) -> Dict:
        def span_of(t):
            for a, b, kind in self.spans:
                if a <= t <= b:
                    return kind
            return "between"

        counted = {k: {o: 0 for o in OUTCOMES} for k in KINDS + ("kill", "between")}
        down = {o: 0 for o in OUTCOMES}
        odd = []  # what went wrong outside the operations that cost connections by design
        for sent, seen, client, outcome, detail in probe.events:
            if outcome not in OUTCOMES:
                continue
            if any(a <= seen and sent <= b for a, b in self.down):  # in flight while the app was down
                down[outcome] += 1
            else:
                kind = span_of(sent)
                counted[kind][outcome] += 1
                if kind not in ("toggle", "config") and len(odd) < 20:
                    odd.append((kind, client, outcome, detail, self.near(sent)))
        answered = sum(c.get("answer", 0) for c in probe.summary().values())
        return {"counted": counted, "down": down, "answered": answered, "ws": dict(self.ws_counts),
                "failed": list(self.failed), "samples": self.samples, "problems": odd,
                "seconds": (self.spans[-1][1] - self.spans[0][0]) if self.spans else 0.0}


def run_mode(threaded: bool, kinds: List[str], config_edits: bool) -> Dict:
    with tempfile.TemporaryDirectory(prefix="tl-soak-") as tmp:
        soak = Soak(Path(tmp) / "project", threaded, config_edits)
        try:
            return soak.run(kinds)
        finally:
            soak.stop()
            try:
                soak.log.unlink()
            except OSError:
                pass


def growth(samples: Dict[str, Dict[str, int]]) -> Dict[str, int]:
    if "from" not in samples or "to" not in samples:
        return {}
    a, b = samples["from"], samples["to"]
    return {k: b[k] - a[k] for k in a if k in b and k != "threaded"}


def verdict(r: Dict) -> List[str]:
    """What falls short of the goal (empty: the goal is met)."""
    bad = []
    for kind, c in r["counted"].items():
        for outcome, n in c.items():
            if n:
                bad.append(f"{n} {outcome} during {kind}")
    for key in ("ws old", "ws hung"):
        if r["ws"][key]:
            bad.append(f"{r['ws'][key]} {key}")
    if r["failed"]:
        bad.append("operations that did not settle: %s" % ", ".join(r["failed"]))
    g = growth(r["samples"])
    for key, limit in (("launcher fds", 0), ("kernel fds", 0), ("launcher threads", 0), ("kernel threads", 0),
                       ("launcher RSS kB", 5 * 1024), ("kernel RSS kB", 5 * 1024)):
        if key in g and g[key] > limit:
            bad.append(f"{key} grew by {g[key]}")
    return bad


def report(results: Dict[str, Dict], kinds: List[str], args) -> bool:
    counts = {k: kinds.count(k) for k in KINDS + ("kill",)}
    print(f"# Soak: {len(kinds)} operations per mode against `tornado-launcher start` (seed {args.seed})\n")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} cores, load avg {load} at the end "
          f"(machine shared with other jobs) · operations: "
          + ", ".join(f"{k} {n}" for k, n in counts.items() if n) + "\n")
    rows = []
    for mode, r in results.items():
        for kind, c in r["counted"].items():
            if kind == "between" and not any(c.values()):
                continue
            n = counts.get(kind, "")
            rows.append([mode, f"{kind} ({n})" if n != "" else kind] + [str(c[o]) for o in OUTCOMES])
        rows.append([mode, "*while meant to be down (not counted)*"] + [str(r["down"][o]) for o in OUTCOMES])
    print(table(["mode", "during", "refused", "reset", "slow ≥ 1 s", "hung ≥ 2 s", "old code"], rows))
    print()
    rows = []
    for mode, r in results.items():
        ws = r["ws"]
        rows.append([mode, str(r["answered"]), str(ws["asked"]), str(ws["ws old"]), str(ws["ws hung"]),
                     str(ws["closed 1012"]), str(ws["closed 1001"]), str(ws["closed other"]),
                     f"{r['seconds']:.0f} s"])
    print(table(["mode", "HTTP answers", "websocket asked", "ws answered by old code", "ws no answer",
                 "ws closed 1012", "ws closed 1001", "ws closed other", "run time"], rows))
    print()
    rows = []
    for mode, r in results.items():
        s = r["samples"]
        if "from" not in s:
            continue
        for key in ("launcher fds", "launcher threads", "launcher RSS kB",
                    "kernel fds", "kernel threads", "kernel RSS kB"):
            if key in s["from"] and key in s["to"]:
                rows.append([mode, key, str(s["from"][key]), str(s["to"][key]),
                             "%+d" % (s["to"][key] - s["from"][key])])
    if rows:
        print(table(["mode", "", f"after op {MEASURE_FROM}", f"after op {len(kinds)}", "growth"], rows))
        print()
    ok = True
    for mode, r in results.items():
        bad = verdict(r)
        ok = ok and not bad
        print(f"{mode}: {'PASS' if not bad else 'FAIL: ' + '; '.join(bad)}")
        if r["problems"]:
            print(f"  first problems: {r['problems']}")
    return ok


def soak(ops: int = 300, modes=("shared", "threaded"), seed: int = 19, config_edits: bool = True) -> Dict[str, Dict]:
    """Run the soak; the figures per mode (what :func:`report` prints)."""
    kinds = plan(ops, seed, config_edits)
    results = {}
    for mode in modes:
        print(f"soak: {mode} ...", file=sys.stderr)
        results[mode] = run_mode(mode == "threaded", kinds, config_edits)
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ops", type=int, default=300, help="operations per mode (default 300)")
    p.add_argument("--modes", nargs="+", choices=("shared", "threaded"), default=["shared", "threaded"])
    p.add_argument("--seed", type=int, default=19)
    p.add_argument("--no-config-edits", dest="config_edits", action="store_false",
                   help="leave out threaded toggles and config edits (jaffle.hcl saves)")
    args = p.parse_args(argv)
    kinds = plan(args.ops, args.seed, args.config_edits)
    results = soak(args.ops, args.modes, args.seed, args.config_edits)
    ok = report(results, kinds, args)
    left = descendants()
    if left:
        print("child processes left: %s" % left)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
